-- OpenID provider, token side: resource indicators (RFC 8707) and purging.
-- (Version 6 belongs to another change; each migration only depends on 0005.)

-- The resource indicators a client may ask access tokens for (JSON array of strings).
ALTER TABLE oidc_clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

-- Codes and refresh tokens: the resource the grant was restricted to by its authorization
-- request (NULL: any of the client's registered resources may be named at the token
-- endpoint), carried unchanged through refreshes. Access tokens: their audience (NULL: the
-- client id).
ALTER TABLE oidc_codes ADD COLUMN resource TEXT;
ALTER TABLE oidc_tokens ADD COLUMN resource TEXT;

-- The purge (`crate::oidc::purge`) finds expired rows by these.
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);
CREATE INDEX oidc_pending_requests_expires ON oidc_pending_requests (expires_at);
