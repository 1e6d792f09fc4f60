-- Known devices, pending reservations, and a fix of second-factor times.

-- Browsers that signed in to an account before (a device cookie, stored hashed). Guesses
-- from a known device count in that device's own lockout lane, so that anonymous guessing
-- cannot lock the owner out of the browsers they already use.
CREATE TABLE known_devices (
    secret_hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (secret_hash, user_id)
);
CREATE INDEX known_devices_by_user ON known_devices (user_id);

-- Sessions of users without a second factor must say "none" (NULL). Before this version a
-- passkey sign-in or verification with user verification stored a second-factor time for
-- them, which a later password verification could not refresh.
UPDATE sessions SET second_factor_at = NULL
WHERE second_factor_at IS NOT NULL
  AND user_id NOT IN (SELECT user_id FROM totp_factors WHERE confirmed_at IS NOT NULL);

-- Attempts reserved and not yet decided (their secret is being checked). A lane grants a
-- reservation while failures + pending < the limit: honest requests in flight wait their
-- turn (429, retry at once) instead of locking the lane, and failures alone lock it.
ALTER TABLE lockouts ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;
