// @reverify/server/express: Express middleware (tested with Express 5; only Node's
// `req`/`res` are used, so nothing from Express is imported).
//
//   app.use(reverifyMiddleware({ issuer, jwks }));      // sets req.auth, never answers
//   app.get('/api/me', requireAuth(), handler);          // 401 / 403 / 503 when signed out
//   app.post('/api/transfer', requireReverification('strict'), handler);
//   // or in the handler: if (!getAuth(req).has({ reverification: 'strict' }))
//   //                      return sendReverificationError(res, 'strict');

import { adapterSetup, authErrorParts, preparedPolicy, reverificationParts, writeNode } from './adapter.js';

const MISSING = 'reverifyMiddleware() must run before this: app.use(reverifyMiddleware({ issuer, jwks }))';

/**
 * The middleware that authenticates every request and sets `req.auth` (the auth object;
 * signed out with its `error` when there is no valid session). It never answers by itself:
 * routes decide, with `getAuth(req)`, `requireAuth()` or `requireReverification(policy)`.
 * Options: the verifier options (`issuer`, `jwks` or `jwksUrl`, `authorizedParties`, …) or
 * a prebuilt `verifier`, plus `allowedOrigins`, `hostScheme` and `cookieName`.
 */
export function reverifyMiddleware(options) {
  const { authenticate } = adapterSetup(options);
  return function reverify(req, res, next) {
    authenticate(req.method, req.headers, req.headers[':authority']).then((auth) => {
      req.auth = auth;
      next();
    }, next);
  };
}

/** The request's auth object. Throws when `reverifyMiddleware()` did not run. */
export function getAuth(req) {
  const auth = req?.auth;
  if (auth == null || typeof auth.has !== 'function') throw new Error(MISSING);
  return auth;
}

/**
 * Answers a signed-out request: its error's status (401 with the RFC 6750 challenge, 403
 * `cross_site_request`, 503 `jwks_unavailable`) and `{code, message}`.
 */
export function sendAuthError(res, auth) {
  writeNode(res, authErrorParts(auth));
}

/** Answers 403 with the reference's body and the RFC 9470 challenge for `policy`. */
export function sendReverificationError(res, policy) {
  writeNode(res, reverificationParts(policy));
}

/** Route middleware: lets signed-in requests through, answers the others with their error. */
export function requireAuth() {
  return function requireAuthMiddleware(req, res, next) {
    let auth;
    try {
      auth = getAuth(req);
    } catch (e) {
      return next(e);
    }
    if (!auth.isAuthenticated) return sendAuthError(res, auth);
    next();
  };
}

/**
 * Route middleware: signed-out requests get their auth error, sessions that do not satisfy
 * `policy` the reverification 403. The policy is checked here (a `PolicyError` at startup).
 */
export function requireReverification(policy) {
  const prepared = preparedPolicy(policy);
  return function requireReverificationMiddleware(req, res, next) {
    let auth;
    try {
      auth = getAuth(req);
    } catch (e) {
      return next(e);
    }
    if (!auth.isAuthenticated) return sendAuthError(res, auth);
    if (!auth.has({ reverification: prepared.policy })) return writeNode(res, prepared.answer);
    next();
  };
}
