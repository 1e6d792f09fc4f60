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

-- One-time authorization codes: `code_hash` is SHA-256 of the code; `used_at` is set by
-- the one exchange that wins (UPDATE … WHERE used_at IS NULL). `family_id` names every
-- token issued from the code, so that a replay revokes them all; `family_revoked_at` marks
-- the family revoked, so that tokens stored after a replay are stored revoked.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    scope TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    family_revoked_at BIGINT
);
CREATE INDEX oidc_codes_family ON oidc_codes (family_id);

-- Tokens issued by the token endpoint: refresh tokens and access tokens (JWTs; `id` is
-- their `jti`), each by the SHA-256 of the token as presented (`token_hash`), for
-- introspection, userinfo and revocation; `used_at`: a refresh token rotated. `auth_time`, `acr`, `amr` are the
-- authentication's, carried unchanged through refreshes.
CREATE TABLE oidc_tokens (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family_id);

-- Authorization requests waiting for the user (sign-in, reverification, consent) on the
-- hosted page: the validated request as JSON, until `expires_at`.
CREATE TABLE oidc_pending_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
