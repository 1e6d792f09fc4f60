-- The last time a session was verified by a passkey that verified its user (OpenID's
-- `phr`, phishing-resistant). The provider needs its time, not only that it happened once:
-- an `acr` is reported with the time of the factors that make it (design note 56).
-- NULL: never in this session (and every session before this migration).
ALTER TABLE sessions ADD COLUMN phr_at BIGINT;
