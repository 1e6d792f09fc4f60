// Types of @reverify/server.

/** What kind of verification a policy asks for. */
export type Level = 'first_factor' | 'second_factor' | 'multi_factor';

/** The four named presets (case-sensitive). */
export type Preset = 'strict_mfa' | 'strict' | 'moderate' | 'lax';

/** A custom policy: a level and a freshness window in minutes (finite, > 0, fractions allowed). */
export interface CustomPolicy {
  level: Level;
  afterMinutes: number;
}

/** A reverification policy: a preset name or a custom policy. */
export type Policy = Preset | CustomPolicy;

/** The claims the decision reads (a verified token's payload). */
export interface FactorClaims {
  /** Clerk-compatible `[firstFactorAgeMinutes, secondFactorAgeMinutes]`, `-1` = no such factor. */
  fva?: unknown;
  /** `[firstFactorVerifiedAt, secondFactorVerifiedAt]` in unix seconds, `-1` = not enabled, `0` = never verified. */
  fvt?: unknown;
  [claim: string]: unknown;
}

/** The reference's 403 body. */
export interface ReverificationErrorBody {
  clerk_error: {
    type: 'forbidden';
    reason: 'reverification-error';
    metadata: { reverification: Policy };
  };
}

export declare const LEVELS: readonly Level[];
export declare const PRESETS: Readonly<Record<Preset, Readonly<CustomPolicy>>>;
export declare const REVERIFICATION_ERROR_CODE: 'reverification-error';
export declare const INSUFFICIENT_USER_AUTHENTICATION: 'insufficient_user_authentication';

/** Why a policy is invalid. */
export declare class PolicyError extends TypeError {
  readonly name: 'PolicyError';
  readonly code: 'policy_invalid';
}

/** Parses and validates a policy; returns its normalized form. Throws `PolicyError` when invalid. */
export declare function parsePolicy(value: unknown): Policy;
/** Whether `value` is a valid policy. */
export declare function isValidPolicy(value: unknown): value is Policy;
/** The level a policy asks for. Throws `PolicyError` when invalid. */
export declare function policyLevel(policy: Policy): Level;
/** The freshness window in minutes. Throws `PolicyError` when invalid. */
export declare function policyAfterMinutes(policy: Policy): number;
/** The window in whole seconds, rounded down (RFC 9470 `max_age`). Throws `PolicyError` when invalid. */
export declare function policyMaxAge(policy: Policy): number;
/** A short human description of a policy. Throws `PolicyError` when invalid. */
export declare function describePolicy(policy: Policy): string;

/** The current time in unix seconds. */
export declare function nowSeconds(): number;
/**
 * Whether `claims` satisfy `policy` at `now` (unix seconds; default: now). An invalid policy
 * or missing/malformed claims are `false`.
 */
export declare function has(claims: FactorClaims | null | undefined, policy: Policy, now?: number): boolean;

/** The reference's 403 body for `policy`. Throws `PolicyError` when invalid. */
export declare function reverificationError(policy: Policy): ReverificationErrorBody;
/** The 403 `Response`: the body, `Content-Type: application/json`, the RFC 9470 challenge. */
export declare function reverificationErrorResponse(policy: Policy): Response;
/** The RFC 9470 `WWW-Authenticate` challenge for `policy`. */
export declare function stepUpChallenge(policy: Policy): string;

/** The stable machine codes of a failed verification (the Rust SDK's `Error::code`). */
export type TokenErrorCode =
  | 'token_missing'
  | 'token_malformed'
  | 'token_algorithm_unsupported'
  | 'token_algorithm_mismatch'
  | 'token_key_unknown'
  | 'token_signature_invalid'
  | 'token_claims_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_issuer_invalid'
  | 'token_azp_invalid'
  | 'token_type_invalid'
  | 'jwks_unavailable'
  | 'verifier_config_invalid';

/** Why a session could not be established. */
export declare class TokenError extends Error {
  readonly name: 'TokenError';
  readonly code: TokenErrorCode;
  /** 401 for anything wrong with the token, 503 when the keys are unavailable, 500 for a misconfigured verifier. */
  readonly status: 401 | 500 | 503;
  /** The JSON error body (configuration details are not echoed). */
  readonly body: { code: TokenErrorCode; message: string };
  /** The RFC 6750 `WWW-Authenticate` value for a 401, else `null`. */
  readonly wwwAuthenticate: string | null;
}

/** A public JSON Web Key (RFC 7517): the members the verifier reads. */
export interface Jwk {
  kty: string;
  kid?: string;
  use?: string;
  alg?: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  [member: string]: unknown;
}

/** A JWK Set, as served at `/.well-known/jwks.json`. */
export interface JwkSet {
  keys: Jwk[];
}

/** Options of every verifier. */
export interface VerifierBaseOptions {
  /** The exact `iss` tokens must carry. */
  issuer: string;
  /** When non-empty, a token whose `azp` is present and not listed is refused. */
  authorizedParties?: readonly string[];
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in whole seconds (default 5). */
  clockSkewSeconds?: number;
  /** How many verified tokens to remember (default 10,000; 0 disables the cache). */
  cacheCapacity?: number;
  /** The current time in unix seconds (default: the system clock); tests pass their own. */
  clock?: () => number;
  /** The longest a fetched key set is used, in whole seconds (default 300); `Cache-Control: max-age` may shorten it. */
  jwksMaxTtlSeconds?: number;
  /** The least time between two JWKS fetches, whatever their cause, and the shortest lifetime of a fetched set (default 30). */
  jwksRefetchFloorSeconds?: number;
}

/** A verifier with a fixed key set. */
export interface StaticKeysVerifierOptions extends VerifierBaseOptions {
  /** A static key set; every key must be usable (OKP/Ed25519, EC/P-256, RSA ≥ 2048 bits, with a `kid`). */
  jwks: JwkSet;
  jwksUrl?: undefined;
}

/** A verifier that fetches the key set over HTTP(S) and caches it with the Rust SDK's rules. */
export interface RemoteKeysVerifierOptions extends VerifierBaseOptions {
  /** Where the issuer publishes its JWK set, e.g. `https://auth.example.com/.well-known/jwks.json`. */
  jwksUrl: string | URL;
  jwks?: undefined;
  /** Timeout of one JWKS fetch, in milliseconds (default 5,000). */
  httpTimeoutMs?: number;
  /** The `fetch` to use (default `globalThis.fetch`): edge runtimes, proxies, tests. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Hears about failed fetches and skipped keys (default `console.warn`). */
  onWarning?: (message: string) => void;
}

export type VerifierOptions = StaticKeysVerifierOptions | RemoteKeysVerifierOptions;

/** The claims of a verified session token. */
export interface SessionClaims extends FactorClaims {
  iss: string;
  sub: string;
  sid?: string | null;
  iat: number;
  nbf?: number | null;
  exp: number;
  jti?: string | null;
  azp?: string | null;
  auth_time?: unknown;
  amr?: unknown;
  acr?: unknown;
  apr?: unknown;
}

export interface Verifier {
  readonly issuer: string;
  /**
   * The token's claims (frozen: a repeated token gets the same object from the cache),
   * verified at `now` (unix seconds; default: the clock's). Rejects with a `TokenError`.
   */
  verifyToken(token: string | null | undefined, options?: { now?: number }): Promise<Readonly<SessionClaims>>;
  /** How many verified tokens the cache holds right now (for metrics). */
  cachedTokens(): number;
}

/** A verifier of session tokens. Throws a `TokenError` (`verifier_config_invalid`) for an unusable configuration. */
export declare function createVerifier(options: VerifierOptions): Verifier;

// ---- The auth object (src/auth.js), shared by the framework adapters

/** The cookie that carries the session token by default. */
export declare const SESSION_COOKIE: '__session';
/** The code of a cross-site refusal. */
export declare const CROSS_SITE_REQUEST: 'cross_site_request';

/**
 * A state-changing request authenticated by the session cookie came from another site:
 * 403 `{"code": "cross_site_request", ...}`, as the Rust SDK's `CsrfGuard`.
 */
export declare class CrossSiteRequestError extends Error {
  constructor();
  readonly name: 'CrossSiteRequestError';
  readonly code: 'cross_site_request';
  readonly status: 403;
  readonly body: { code: 'cross_site_request'; message: string };
  /** Always `null`: a 403 carries no challenge. */
  readonly wwwAuthenticate: null;
}

/** Why a request is signed out. */
export type AuthError = TokenError | CrossSiteRequestError;

/** Request headers: Web `Headers`, Node's `IncomingHttpHeaders` or a plain object. */
export type HeadersLike = Headers | { readonly [name: string]: string | readonly string[] | undefined };

/** What `authenticateRequest` reads of a request. */
export interface RequestLike {
  method?: string;
  headers: HeadersLike | null | undefined;
}

export interface AuthenticateOptions {
  /** Origins besides the request's own whose cookie-authenticated state-changing requests pass. */
  allowedOrigins?: readonly string[];
  /** The only scheme accepted for the request's own host (e.g. `'https'`); default: https and http. */
  hostScheme?: string;
  /** The cookie that carries the session token (default `__session`). */
  cookieName?: string;
}

/** What `has` checks: reverification only (any other check is `false`, so it does not compile). */
export interface HasParams {
  reverification: Policy;
}

/** The auth object of a verified session (the reference's shape). */
export interface SignedInAuthObject {
  readonly isAuthenticated: true;
  /** The token's `sub`. */
  readonly userId: string;
  /** The token's `sid`, or `null`. */
  readonly sessionId: string | null;
  readonly sessionClaims: SessionClaims;
  readonly error: null;
  /** The session token the request carried. */
  getToken(): Promise<string>;
  /** `has({ reverification: 'strict' })`: the Rust SDK's decision at this instant. */
  has(params: HasParams): boolean;
}

/** The auth object of a request without a valid session; `error` says why. */
export interface SignedOutAuthObject {
  readonly isAuthenticated: false;
  readonly userId: null;
  readonly sessionId: null;
  readonly sessionClaims: null;
  readonly error: AuthError;
  getToken(): Promise<null>;
  has(params: HasParams): false;
}

/** The authentication state of one request; narrow on `isAuthenticated` (or `userId`). */
export type AuthObject = SignedInAuthObject | SignedOutAuthObject;

/**
 * The options of the framework adapters: the verifier's options (`issuer`, the keys,
 * `authorizedParties`, …) or a prebuilt `verifier`, plus the request check's options.
 */
export type ReverifyOptions = AuthenticateOptions &
  ((VerifierOptions & { verifier?: undefined }) | ({ verifier: Verifier } & { [K in keyof VerifierOptions]?: never }));

/** The session token of a request and where it came from (`Authorization: Bearer` first), or `null`. */
export declare function tokenFromHeaders(
  headers: HeadersLike | null | undefined,
  cookieName?: string,
): { token: string; source: 'bearer' | 'cookie' } | null;
/** `scheme://host[:port]` in a canonical form, or `null` (the Rust SDK's `normalize_origin`). */
export declare function normalizeOrigin(raw: unknown): string | null;
/** Whether a request comes from its own origin, an allowed one, or from no browser at all. */
export declare function fromAllowedOrigin(
  headers: HeadersLike | null | undefined,
  options?: Pick<AuthenticateOptions, 'allowedOrigins' | 'hostScheme'>,
): boolean;
/** The auth object of verified claims; `now` (unix seconds) is read at each `has`. */
export declare function authObject(claims: SessionClaims, token: string, now?: () => number): SignedInAuthObject;
/**
 * Authenticates one request. Never rejects for anything the client sent: the result's
 * `error` says why it is signed out.
 */
export declare function authenticateRequest(
  verifier: Pick<Verifier, 'verifyToken'>,
  request: RequestLike,
  options?: AuthenticateOptions,
): Promise<AuthObject>;
/** The answer to a signed-out request: 401 (+ RFC 6750 challenge), 403 or 503, `{code, message}`. */
export declare function authErrorResponse(auth: { readonly error: AuthError | null } | null | undefined): Response;
