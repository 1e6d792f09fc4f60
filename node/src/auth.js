// The authentication state of one request, as every framework adapter hands it to its
// handlers: the token found where the Rust SDK looks for it (`Authorization: Bearer`
// first, then the `__session` cookie), verified, and refused when a state-changing request
// rides on the cookie from another site (the Rust SDK's `CsrfGuard` rule, in
// crates/reverify/src/axum/csrf.rs). The adapters only read their framework's request.

import { has as decide, nowSeconds } from './decision.js';
import { TokenError } from './verify.js';

/** The cookie that carries the session token, as on the Rust verifier. */
export const SESSION_COOKIE = '__session';

/** The stable code of a cross-site refusal. */
export const CROSS_SITE_REQUEST = 'cross_site_request';

/**
 * A state-changing request authenticated by the session cookie came from another site:
 * 403 `{"code": "cross_site_request", ...}`, as the Rust SDK's `CsrfGuard`.
 */
export class CrossSiteRequestError extends Error {
  constructor() {
    super('this request came from another site; it is refused to protect your session');
    this.name = 'CrossSiteRequestError';
    this.code = CROSS_SITE_REQUEST;
    this.status = 403;
  }

  get body() {
    return { code: this.code, message: this.message };
  }

  get wwwAuthenticate() {
    return null;
  }
}

/**
 * One header of a Web `Headers`, of Node's `IncomingHttpHeaders` (lower-case keys, arrays
 * for repeated headers) or of a plain object; `null` when absent.
 */
export function readHeader(headers, name) {
  if (!headers) return null;
  if (typeof headers.get === 'function') return headers.get(name);
  const value = headers[name] ?? headers[name.toLowerCase()];
  if (value == null) return null;
  if (Array.isArray(value)) return value.join(name === 'cookie' ? '; ' : ', ');
  return String(value);
}

function bearerToken(authorization) {
  if (!authorization) return null;
  const space = authorization.indexOf(' ');
  if (space < 0) return null;
  const scheme = authorization.slice(0, space);
  const token = authorization.slice(space + 1).trim();
  return scheme.toLowerCase() === 'bearer' && token !== '' ? token : null;
}

function cookieValue(cookie, name) {
  if (!cookie) return null;
  for (const pair of cookie.split(';')) {
    const trimmed = pair.trim();
    const eq = trimmed.indexOf('=');
    if (eq < 0) continue;
    if (trimmed.slice(0, eq) === name && eq + 1 < trimmed.length) return trimmed.slice(eq + 1);
  }
  return null;
}

/**
 * The session token of a request and where it came from: `Authorization: Bearer` first,
 * then the cookie (`{ token, source: 'bearer' | 'cookie' }`), or `null`.
 */
export function tokenFromHeaders(headers, cookieName = SESSION_COOKIE) {
  const bearer = bearerToken(readHeader(headers, 'authorization'));
  if (bearer) return { token: bearer, source: 'bearer' };
  const cookie = cookieValue(readHeader(headers, 'cookie'), cookieName);
  return cookie ? { token: cookie, source: 'cookie' } : null;
}

/**
 * `scheme://host[:port]` in a canonical form (lower case, no default port), or `null` for
 * anything else (`null`, a path, credentials) — the Rust SDK's `normalize_origin`.
 */
export function normalizeOrigin(raw) {
  if (typeof raw !== 'string') return null;
  let text = raw.trim();
  if (text.endsWith('/')) text = text.slice(0, -1);
  const sep = text.indexOf('://');
  if (sep < 0) return null;
  const scheme = text.slice(0, sep).toLowerCase();
  let authority = text.slice(sep + 3);
  if (!/^[a-z0-9+.-]+$/.test(scheme) || authority === '' || /[/?#@ ]/.test(authority)) {
    return null;
  }
  authority = authority.toLowerCase();
  let host = authority;
  let port = null;
  const colon = authority.lastIndexOf(':');
  if (colon >= 0 && !authority.slice(colon).includes(']')) {
    host = authority.slice(0, colon);
    port = authority.slice(colon + 1);
  }
  if (host === '') return null;
  if (port !== null) {
    if (!/^[0-9]+$/.test(port)) return null;
    if ((port === '80' && scheme === 'http') || (port === '443' && scheme === 'https')) port = null;
  }
  return port === null ? `${scheme}://${host}` : `${scheme}://${host}:${port}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Whether a request comes from this origin, an allowed one, or from no browser at all
 * (`Sec-Fetch-Site`, then `Origin` against the allowed origins and the request's `Host`).
 */
export function fromAllowedOrigin(headers, { allowedOrigins = [], hostScheme } = {}) {
  const site = readHeader(headers, 'sec-fetch-site')?.trim() ?? null;
  if (site === 'same-origin' || site === 'none') return true;
  const rawOrigin = readHeader(headers, 'origin');
  // No browser sends Sec-Fetch-Site without Origin on a cross-origin request; neither
  // header: not a browser, so not a forgery riding on a victim's cookie.
  if (rawOrigin == null) return site === null;
  const origin = normalizeOrigin(rawOrigin);
  if (origin === null) return false; // `null` (sandboxed frames, some redirects) or garbage
  if (allowedOrigins.some((allowed) => normalizeOrigin(allowed) === origin)) return true;
  const host = readHeader(headers, 'host')?.trim();
  if (!host) return false;
  const schemes = hostScheme ? [hostScheme.toLowerCase()] : ['https', 'http'];
  return schemes.some((scheme) => normalizeOrigin(`${scheme}://${host}`) === origin);
}

const signedOut = (error) =>
  Object.freeze({
    isAuthenticated: false,
    userId: null,
    sessionId: null,
    sessionClaims: null,
    error,
    getToken: async () => null,
    has: () => false,
  });

/**
 * The auth object of a verified session: `userId` (`sub`), `sessionId` (`sid`),
 * `sessionClaims`, `getToken()` and `has({ reverification })`, the reference's shape.
 */
export function authObject(claims, token, now = nowSeconds) {
  return Object.freeze({
    isAuthenticated: true,
    userId: claims.sub,
    sessionId: claims.sid ?? null,
    sessionClaims: claims,
    error: null,
    getToken: async () => token,
    /**
     * `has({ reverification: 'strict' })`: the Rust SDK's decision at this instant.
     * Checks this package does not model (roles, permissions, features, plans) are
     * `false`, never an exception.
     */
    has(params) {
      if (params == null || typeof params !== 'object') return false;
      const keys = Object.keys(params);
      if (keys.length !== 1 || keys[0] !== 'reverification') return false;
      return decide(claims, params.reverification, now());
    },
  });
}

/**
 * Authenticates one request. `request` is `{ method, headers }` (Web `Headers`, Node's
 * headers object or a plain one). Never throws for anything the client sent: the result's
 * `error` says why it is signed out (`token_missing`, `token_expired`, …,
 * `cross_site_request`, `jwks_unavailable`).
 *
 * Options: `allowedOrigins` (origins besides the request's own whose cookie-authenticated
 * state-changing requests pass), `hostScheme` (`'https'` to accept only that scheme for
 * the request's own host), `cookieName` (default `__session`).
 */
export async function authenticateRequest(verifier, request, options = {}) {
  const { cookieName = SESSION_COOKIE } = options;
  const headers = request?.headers;
  const found = tokenFromHeaders(headers, cookieName);
  if (!found) return signedOut(new TokenError('token_missing'));
  const method = String(request.method ?? 'GET').toUpperCase();
  if (found.source === 'cookie' && !SAFE_METHODS.has(method) && !fromAllowedOrigin(headers, options)) {
    return signedOut(new CrossSiteRequestError());
  }
  try {
    const claims = await verifier.verifyToken(found.token);
    return authObject(claims, found.token);
  } catch (e) {
    if (e instanceof TokenError) return signedOut(e);
    throw e;
  }
}

/**
 * The answer to a request whose auth object is signed out: its error's status (401, 403
 * for a cross-site request, 503 when the keys are unavailable), `{code, message}` and,
 * for a 401, the RFC 6750 `WWW-Authenticate` challenge.
 */
export function authErrorResponse(auth) {
  const error = auth?.error ?? new TokenError('token_missing');
  const headers = { 'content-type': 'application/json' };
  if (error.wwwAuthenticate) headers['www-authenticate'] = error.wwwAuthenticate;
  return new Response(JSON.stringify(error.body), { status: error.status, headers });
}
