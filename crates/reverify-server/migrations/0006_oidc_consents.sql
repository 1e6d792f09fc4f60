-- OpenID provider: what users allowed third-party clients, and the consent screen's
-- binding to the waiting request.

-- One row per (user, client, scope) the user allowed: granting more scopes adds rows
-- (INSERT … ON CONFLICT DO NOTHING, so that concurrent grants never lose one), revoking
-- a client deletes its rows. `created_at`: when that scope was allowed.
CREATE TABLE oidc_consents (
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id, scope)
);
CREATE INDEX oidc_consents_client ON oidc_consents (client_id);

-- A request waiting on the consent screen: `consent_hash` is SHA-256 of the screen's
-- one-time token, `session_id` the session it was shown to. The decision deletes the row
-- in the statement that checks both (DELETE … RETURNING): one decision per screen.
ALTER TABLE oidc_pending_requests ADD COLUMN consent_hash TEXT;
ALTER TABLE oidc_pending_requests ADD COLUMN session_id TEXT;
