// @reverify/server/hono: Hono middleware (Hono 4; nothing from Hono is imported). The auth
// object is the context variable `reverifyAuth`; answers are Web `Response`s, so handlers can
// `return reverificationErrorResponse('strict')` as they are.
//
//   app.use('*', reverifyMiddleware({ issuer, jwks }));   // c.get('reverifyAuth')
//   app.get('/api/me', requireAuth(), handler);
//   app.post('/api/transfer', requireReverification('strict'), handler);

import { adapterSetup, preparedPolicy, toResponse } from './adapter.js';
import { authErrorResponse } from './auth.js';
import { reverificationErrorResponse } from './errors.js';

export { authErrorResponse, reverificationErrorResponse };

/** The context variable holding the auth object. */
export const AUTH_KEY = 'reverifyAuth';

const MISSING = "reverifyMiddleware() must run before this: app.use('*', reverifyMiddleware({ issuer, jwks }))";

/**
 * The middleware that authenticates every request and sets `c.get('reverifyAuth')` (the auth
 * object; signed out with its `error` when there is no valid session). It never answers by
 * itself. Options: the verifier options (`issuer`, `jwks` or `jwksUrl`, `authorizedParties`,
 * …) or a prebuilt `verifier`, plus `allowedOrigins`, `hostScheme` and `cookieName`.
 */
export function reverifyMiddleware(options) {
  const { authenticate } = adapterSetup(options);
  return async function reverify(c, next) {
    const headers = c.req.raw.headers;
    c.set(AUTH_KEY, await authenticate(c.req.method, headers, headers.has('host') ? null : urlHost(c.req.url)));
    await next();
  };
}

function urlHost(url) {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

/** The request's auth object. Throws when `reverifyMiddleware()` did not run. */
export function getAuth(c) {
  const auth = c?.get(AUTH_KEY);
  if (auth == null || typeof auth.has !== 'function') throw new Error(MISSING);
  return auth;
}

/** Middleware that answers signed-out requests with their error (401 / 403 / 503). */
export function requireAuth() {
  return async function requireAuthMiddleware(c, next) {
    const auth = getAuth(c);
    if (!auth.isAuthenticated) return authErrorResponse(auth);
    await next();
  };
}

/**
 * Middleware that answers signed-out requests with their auth error and sessions that do
 * not satisfy `policy` with the reverification 403. The policy is checked here (a
 * `PolicyError` when the route is declared).
 */
export function requireReverification(policy) {
  const prepared = preparedPolicy(policy);
  return async function requireReverificationMiddleware(c, next) {
    const auth = getAuth(c);
    if (!auth.isAuthenticated) return authErrorResponse(auth);
    if (!auth.has({ reverification: prepared.policy })) return toResponse(prepared.answer);
    await next();
  };
}
