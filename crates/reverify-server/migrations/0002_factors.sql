-- Second factors, passkeys, verifications, lockout counters and audit events.
-- Portable: TEXT and BIGINT only, as 0001.
--
-- sessions.second_factor_at now has three states: NULL = the user has no second factor,
-- 0 = the user has one but has not verified it in this session, > 0 = the last time.

-- One TOTP authenticator per user. Pending until confirmed by a first valid code.
CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    confirmed_at BIGINT,
    last_used_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Backup codes, stored hashed; each can be used once. Regenerating replaces the set.
CREATE TABLE backup_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX backup_codes_by_user ON backup_codes (user_id);

-- WebAuthn credentials. `credential` is the serialised credential (public key, counter).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- Pending WebAuthn ceremonies (registration, passkey sign-in), any instance can finish them.
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);

-- Reverifications: one session, one level, a few minutes.
CREATE TABLE verifications (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    first_factor_at BIGINT,
    second_factor_at BIGINT,
    amr TEXT NOT NULL,
    code_hash TEXT,
    code_expires_at BIGINT,
    passkey_state TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX verifications_by_session ON verifications (session_id);

-- Sign-in flows that wait for a second factor remember what the first step verified.
ALTER TABLE flows ADD COLUMN stage TEXT;
ALTER TABLE flows ADD COLUMN amr TEXT;

-- Failures per guessable secret and account (`password:<email>`, `totp:<user id>`, ...).
CREATE TABLE lockouts (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Who did what, when, from where.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    session_id TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (created_at);
CREATE INDEX audit_events_by_user ON audit_events (user_id, created_at);
