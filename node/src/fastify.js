// @reverify/server/fastify: a Fastify plugin (tested with Fastify 5; nothing from Fastify
// is imported). It is not encapsulated (the `skip-override` symbol, what `fastify-plugin`
// sets), so `request.auth` is there in every route of the instance it is registered on.
//
//   await app.register(reverifyPlugin, { issuer, jwks });   // request.auth, onRequest
//   app.get('/api/me', { preHandler: requireAuth() }, handler);
//   app.post('/api/transfer', { preHandler: requireReverification('strict') }, handler);

import { adapterSetup, authErrorParts, preparedPolicy, reverificationParts } from './adapter.js';

const MISSING = 'reverifyPlugin must be registered before this: app.register(reverifyPlugin, { issuer, jwks })';

/**
 * The plugin: decorates the request with `auth` and sets it in an `onRequest` hook (the
 * auth object; signed out with its `error` when there is no valid session). It never
 * answers by itself. Options: the verifier options (`issuer`, `jwks` or `jwksUrl`,
 * `authorizedParties`, …) or a prebuilt `verifier`, plus `allowedOrigins`, `hostScheme`
 * and `cookieName`.
 */
export function reverifyPlugin(fastify, options, done) {
  let authenticate;
  try {
    // Fastify's own register options are not the plugin's.
    const { prefix, logLevel, logSerializers, ...own } = options ?? {}; // eslint-disable-line no-unused-vars
    ({ authenticate } = adapterSetup(own));
  } catch (e) {
    done(e);
    return;
  }
  if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', null);
  fastify.addHook('onRequest', async (request) => {
    request.auth = await authenticate(request.method, request.headers, request.headers[':authority']);
  });
  done();
}
reverifyPlugin[Symbol.for('skip-override')] = true;
reverifyPlugin[Symbol.for('fastify.display-name')] = '@reverify/server';
reverifyPlugin[Symbol.for('plugin-meta')] = { name: '@reverify/server', fastify: '4.x || 5.x' };

/** The request's auth object. Throws when the plugin is not registered. */
export function getAuth(request) {
  const auth = request?.auth;
  if (auth == null || typeof auth.has !== 'function') throw new Error(MISSING);
  return auth;
}

function send(reply, { status, headers, body }) {
  // A Buffer, so Fastify sends the bytes and the Content-Type as they are (no charset added).
  return reply.code(status).headers(headers).send(Buffer.from(body));
}

/**
 * Answers a signed-out request: its error's status (401 with the RFC 6750 challenge, 403
 * `cross_site_request`, 503 `jwks_unavailable`) and `{code, message}`.
 */
export function sendAuthError(reply, auth) {
  return send(reply, authErrorParts(auth));
}

/** Answers 403 with the reference's body and the RFC 9470 challenge for `policy`. */
export function sendReverificationError(reply, policy) {
  return send(reply, reverificationParts(policy));
}

/** A `preHandler` (or `onRequest`, after the plugin's) that answers signed-out requests. */
export function requireAuth() {
  return async function requireAuthHook(request, reply) {
    const auth = getAuth(request);
    if (!auth.isAuthenticated) return sendAuthError(reply, auth);
  };
}

/**
 * A `preHandler` that answers signed-out requests with their auth error and sessions that
 * do not satisfy `policy` with the reverification 403. The policy is checked here (a
 * `PolicyError` when the route is declared).
 */
export function requireReverification(policy) {
  const prepared = preparedPolicy(policy);
  return async function requireReverificationHook(request, reply) {
    const auth = getAuth(request);
    if (!auth.isAuthenticated) return sendAuthError(reply, auth);
    if (!auth.has({ reverification: prepared.policy })) return send(reply, prepared.answer);
  };
}
