// @reverify/server/nextjs: `auth()` for Next.js route handlers, server actions and server
// components, reading the request through `next/headers`. The announcement's handler works
// with only its import line changed:
//
//   import { auth, reverificationErrorResponse } from '@reverify/server/nextjs';
//   export async function POST() {
//     const { has } = await auth();
//     if (!has({ reverification: 'strict' })) return reverificationErrorResponse('strict');
//     return new Response('success');
//   }
//
// Configured by environment variables (REVERIFY_ISSUER, REVERIFY_JWKS_URL,
// REVERIFY_AUTHORIZED_PARTIES, REVERIFY_ALLOWED_ORIGINS) or explicitly with
// `createReverify(options)`. One verifier per configuration, created on first use and kept
// for the life of the process: the JWK set and the cache of verified tokens are shared by
// every request.

import { headers as nextHeaders } from 'next/headers';

import { authenticateRequest, readHeader } from './auth.js';
import { TokenError } from './token-error.js';
import { createVerifier } from './verify.js';

export { authErrorResponse, CROSS_SITE_REQUEST, CrossSiteRequestError, SESSION_COOKIE } from './auth.js';
export { reverificationError, reverificationErrorResponse, stepUpChallenge } from './errors.js';
export { TokenError } from './token-error.js';

const list = (value) =>
  String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

const configError = (message) => new TokenError('verifier_config_invalid', `@reverify/server/nextjs: ${message}`);

/**
 * The options `auth()` uses, read from the environment: `REVERIFY_ISSUER` (required: the
 * server's `server.public_url`, the `iss` of its tokens), `REVERIFY_JWKS_URL` (default:
 * `<issuer>/.well-known/jwks.json`), `REVERIFY_AUTHORIZED_PARTIES` and
 * `REVERIFY_ALLOWED_ORIGINS` (comma-separated).
 */
export function optionsFromEnv(env = globalThis.process?.env ?? {}) {
  const issuer = env.REVERIFY_ISSUER?.trim();
  if (!issuer) {
    throw configError(
      'REVERIFY_ISSUER is not set (the Reverify server public URL), or call createReverify({ issuer })',
    );
  }
  return {
    issuer,
    jwksUrl: env.REVERIFY_JWKS_URL?.trim() || undefined,
    authorizedParties: list(env.REVERIFY_AUTHORIZED_PARTIES),
    allowedOrigins: list(env.REVERIFY_ALLOWED_ORIGINS),
  };
}

/** `<issuer>/.well-known/jwks.json`, where a Reverify server publishes its keys. */
export function defaultJwksUrl(issuer) {
  return `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
}

// `headers()` does not tell the method. Every current browser sends `Origin` on any request
// whose method is not GET or HEAD (the Fetch standard), so a request without it is read as a
// GET (a link followed from another site keeps its session, as SameSite=Lax intends) and a
// request with it as state-changing: a cross-origin one riding on the cookie is refused.
// A cross-origin GET with `Origin` (a CORS read) is therefore checked too: stricter, never
// weaker. A server action always has `Origin` from a browser (it is a POST).
function methodOf(headers) {
  return readHeader(headers, 'origin') == null ? 'GET' : 'POST';
}

// Next answers on its own host, or behind a proxy that says which host the browser asked
// for in `X-Forwarded-Host` (Next sets it to `Host` when absent). As Next's own check of
// server actions, the request's origin is either: the first `X-Forwarded-Host` entry counts
// like `Host`. A browser cannot set that header on a cross-origin request without a CORS
// preflight, which a route handler does not grant.
function forwardedOrigins(headers, hostScheme) {
  const forwarded = readHeader(headers, 'x-forwarded-host')?.split(',')[0]?.trim();
  if (!forwarded) return [];
  const schemes = hostScheme ? [hostScheme] : ['https', 'http'];
  return schemes.map((scheme) => `${scheme}://${forwarded}`);
}

/**
 * Authenticates the request whose `headers` (a Web `Headers`, as `await headers()` gives)
 * are passed, with Next's conventions: the method inferred from `Origin`, and
 * `X-Forwarded-Host` counting as the request's host.
 */
export function authenticateNextRequest(verifier, headers, options = {}) {
  const { allowedOrigins = [], hostScheme, cookieName } = options;
  return authenticateRequest(
    verifier,
    { method: methodOf(headers), headers },
    {
      allowedOrigins: [...allowedOrigins, ...forwardedOrigins(headers, hostScheme)],
      hostScheme,
      cookieName,
    },
  );
}

/**
 * An `auth()` with explicit options: `issuer`, `jwksUrl` (default: the issuer's) or a static
 * `jwks`, `authorizedParties`, `clockSkewSeconds`, `allowedOrigins`, `hostScheme`,
 * `cookieName`, or a ready `verifier`. The verifier is created on the first call and kept.
 */
export function createReverify(options = {}) {
  const { allowedOrigins = [], hostScheme, cookieName, verifier: given, ...verifierOptions } = options;
  let verifier = given ?? null;
  const getVerifier = () => {
    if (verifier === null) {
      if (!verifierOptions.issuer) throw configError('createReverify needs an issuer');
      const { jwks, jwksUrl } = verifierOptions;
      verifier = createVerifier({
        ...verifierOptions,
        ...(jwks === undefined ? { jwksUrl: jwksUrl ?? defaultJwksUrl(verifierOptions.issuer) } : {}),
      });
    }
    return verifier;
  };
  const authenticate = (headers) =>
    authenticateNextRequest(getVerifier(), headers, { allowedOrigins, hostScheme, cookieName });
  return {
    /** The auth object of the current request (route handler, server action, server component). */
    async auth() {
      return authenticate(await nextHeaders());
    },
    /** The auth object of a request with these headers (a Web `Headers`). */
    authenticate,
    /** The verifier (created now if it was not yet). */
    get verifier() {
      return getVerifier();
    },
  };
}

let fromEnv = null;

/**
 * The auth object of the current request, configured by the environment (see
 * `optionsFromEnv`): `{ isAuthenticated, userId, sessionId, sessionClaims, error, getToken(),
 * has({ reverification }) }`. Signed out (`has` always false) without a valid token or for a
 * cross-site state-changing request on the cookie. Throws a `TokenError`
 * (`verifier_config_invalid`) when the configuration is missing or invalid.
 */
export async function auth() {
  // The request first: while Next prerenders a page at build time, `headers()` is what tells
  // it the page is dynamic, and the app's configuration may not be there yet.
  const headers = await nextHeaders();
  fromEnv ??= createReverify(optionsFromEnv());
  return fromEnv.authenticate(headers);
}
