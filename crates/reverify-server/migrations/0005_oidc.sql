-- OpenID Connect provider: registered clients, and a purpose for signing keys (ID tokens
-- are signed by keys of their own, RS256 by default, whatever signs session tokens).

-- `purpose`: `session` (session tokens; every key before this migration) or `oidc`
-- (ID tokens and access tokens of the OpenID provider). Each purpose rotates on its own.
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'session';

-- A registered relying party. `secret_hash` is SHA-256 of the secret (NULL: a public
-- client, which must use PKCE). Lists are JSON arrays of strings. `source` is `config`
-- (from `[[oidc.clients]]`, rewritten at every start) or `admin` (API and CLI).
CREATE TABLE oidc_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    token_endpoint_auth_method TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    allowed_scopes TEXT NOT NULL,
    first_party BIGINT NOT NULL,
    id_token_signed_response_alg TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
