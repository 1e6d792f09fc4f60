// Types of @reverify/server/nextjs.
import type { AuthObject, JwkSet, RemoteKeysVerifierOptions, Verifier } from './index.js';

export {
  reverificationError,
  reverificationErrorResponse,
  stepUpChallenge,
  TokenError,
  TokenErrorCode,
} from './index.js';

export {
  authErrorResponse,
  CROSS_SITE_REQUEST,
  CrossSiteRequestError,
  SESSION_COOKIE,
  type HasParams,
} from './index.js';

/** The authentication state of the current request, the reference's shape (the auth object of every adapter). */
export type Auth = AuthObject;

/**
 * The options of `createReverify`: the verifier's (`createVerifier`), every one optional but
 * `issuer`, with `jwksUrl` defaulting to the issuer's; and the adapter's own.
 */
export interface ReverifyOptions extends Partial<Omit<RemoteKeysVerifierOptions, 'jwks' | 'jwksUrl'>> {
  /** Where the keys are (default: `<issuer>/.well-known/jwks.json`). */
  jwksUrl?: string | URL;
  /** A static key set instead of `jwksUrl`. */
  jwks?: JwkSet;
  /** Origins besides the request's own whose cookie-authenticated state-changing requests pass. */
  allowedOrigins?: readonly string[];
  /** `'https'`: the request's own origin counts with this scheme only. */
  hostScheme?: 'https' | 'http';
  /** The cookie carrying the token (default `__session`). */
  cookieName?: string;
  /** A ready verifier (then the verifier options are ignored). */
  verifier?: Verifier;
}

/** The options `auth()` reads from the environment. */
export interface EnvOptions {
  issuer: string;
  jwksUrl: string | undefined;
  authorizedParties: string[];
  allowedOrigins: string[];
}

/**
 * The auth object of the current request (route handler, server action, server component),
 * configured by `REVERIFY_ISSUER`, `REVERIFY_JWKS_URL`, `REVERIFY_AUTHORIZED_PARTIES` and
 * `REVERIFY_ALLOWED_ORIGINS`. Rejects with a `TokenError` (`verifier_config_invalid`) when
 * the configuration is missing or invalid.
 */
export declare function auth(): Promise<Auth>;

/** An `auth()` with explicit options; its verifier is created on first use and kept. */
export declare function createReverify(options?: ReverifyOptions): {
  auth(): Promise<Auth>;
  /** The auth object of a request with these headers (outside Next's request scope: tests, `proxy.ts`). */
  authenticate(headers: Headers): Promise<Auth>;
  readonly verifier: Verifier;
};

/** Reads the options of `auth()` from `env` (default `process.env`). Throws a `TokenError` without `REVERIFY_ISSUER`. */
export declare function optionsFromEnv(env?: Record<string, string | undefined>): EnvOptions;

/** `<issuer>/.well-known/jwks.json`. */
export declare function defaultJwksUrl(issuer: string): string;

/** Authenticates a request from its headers with the adapter's rules (method from `Origin`, `X-Forwarded-Host`). */
export declare function authenticateNextRequest(
  verifier: Verifier,
  headers: Headers,
  options?: Pick<ReverifyOptions, 'allowedOrigins' | 'hostScheme' | 'cookieName'>,
): Promise<Auth>;
