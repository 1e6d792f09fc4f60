// Why a session could not be established: the Rust SDK's error codes, statuses, messages
// and bodies (crates/reverify/src/error.rs; docs/sdk.md, "Errors").

const MESSAGES = {
  token_missing: 'no session token was sent',
  token_malformed: 'the session token is malformed',
  token_algorithm_unsupported: "the session token's algorithm is not accepted",
  token_algorithm_mismatch: "the session token's algorithm does not match its key",
  token_key_unknown: 'the session token was signed with an unknown key',
  token_signature_invalid: "the session token's signature is invalid",
  token_claims_invalid: "the session token's claims are invalid",
  token_expired: 'the session token has expired',
  token_not_yet_valid: 'the session token is not valid yet',
  token_issuer_invalid: 'the session token was issued by another issuer',
  token_azp_invalid: 'the session token was issued for another origin',
  token_type_invalid: 'the token is not of the expected type',
  jwks_unavailable: 'the signing keys are unavailable',
  verifier_config_invalid: 'the token verifier is misconfigured',
};

/**
 * Why a session could not be established: `code` is the Rust SDK's stable machine code
 * (`token_expired`, …), `status` its HTTP status (401 for anything wrong with the token,
 * 503 when the keys are unavailable, 500 for a misconfigured verifier).
 */
export class TokenError extends Error {
  constructor(code, detail) {
    const message = MESSAGES[code] ?? MESSAGES.verifier_config_invalid;
    super(detail ? `${message}: ${detail}` : message);
    this.name = 'TokenError';
    this.code = code;
    this.status = code === 'jwks_unavailable' ? 503 : code === 'verifier_config_invalid' ? 500 : 401;
  }

  /** The JSON error body `{code, message}` (configuration details are not echoed). */
  get body() {
    const message = this.status === 500 ? 'internal server error' : this.message;
    return { code: this.code, message };
  }

  /** The RFC 6750 `WWW-Authenticate` value for a 401, else `null`. */
  get wwwAuthenticate() {
    if (this.status !== 401) return null;
    if (this.code === 'token_missing') return 'Bearer';
    return `Bearer error="invalid_token", error_description="${this.message}"`;
  }
}
