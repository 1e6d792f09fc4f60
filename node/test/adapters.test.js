// The Express, Fastify and Hono adapters, each in a real app listening on an ephemeral port
// and driven with fetch: session tokens signed with a fresh Ed25519 key against a static
// JWK set, and every answer checked to the byte (status, body, WWW-Authenticate).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';

import * as expressAdapter from '../src/express.js';
import * as fastifyAdapter from '../src/fastify.js';
import * as honoAdapter from '../src/hono.js';
import { PolicyError, TokenError, reverificationErrorResponse, stepUpChallenge } from '../src/index.js';
import { ISSUER, createIssuer } from './helpers/issuer.js';
import { listen, serveFetch } from './helpers/serve.js';

const CUSTOM = { level: 'second_factor', afterMinutes: 0.25 };
const ALLOWED = 'https://admin.example.test';

/** The same routes in each framework's own style. */
const FRAMEWORKS = {
  async express(options) {
    const { reverifyMiddleware, getAuth, requireAuth, requireReverification, sendReverificationError } = expressAdapter;
    const app = express();
    app.use(reverifyMiddleware(options));
    app.get('/api/public', (req, res) => {
      const auth = getAuth(req);
      res.json({ signedIn: auth.isAuthenticated, userId: auth.userId, code: auth.error?.code ?? null });
    });
    app.get('/api/me', requireAuth(), (req, res) => res.json({ userId: getAuth(req).userId }));
    app.post('/api/transfer', requireReverification('strict'), (req, res) => {
      res.type('text').send(`transferred for ${req.auth.userId}`);
    });
    app.post('/api/custom', requireReverification(CUSTOM), (req, res) => res.type('text').send('ok'));
    app.post('/api/transfer-inline', (req, res) => {
      const { has, userId } = getAuth(req);
      if (!has({ reverification: 'strict' })) return sendReverificationError(res, 'strict');
      res.type('text').send(`transferred for ${userId}`);
    });
    return listen(app.listen(0, '127.0.0.1'));
  },

  async fastify(options) {
    const { reverifyPlugin, getAuth, requireAuth, requireReverification, sendReverificationError } = fastifyAdapter;
    const app = Fastify();
    await app.register(reverifyPlugin, options);
    app.get('/api/public', async (request) => {
      const auth = getAuth(request);
      return { signedIn: auth.isAuthenticated, userId: auth.userId, code: auth.error?.code ?? null };
    });
    // Routes in an encapsulated child context still see request.auth (skip-override).
    await app.register(async (child) => {
      child.get('/api/me', { preHandler: requireAuth() }, async (request) => ({ userId: getAuth(request).userId }));
    });
    app.post('/api/transfer', { preHandler: requireReverification('strict') }, async (request, reply) =>
      reply.type('text/plain').send(`transferred for ${request.auth.userId}`),
    );
    app.post('/api/custom', { preHandler: requireReverification(CUSTOM) }, async (request, reply) =>
      reply.type('text/plain').send('ok'),
    );
    app.post('/api/transfer-inline', async (request, reply) => {
      const { has, userId } = getAuth(request);
      if (!has({ reverification: 'strict' })) return sendReverificationError(reply, 'strict');
      return reply.type('text/plain').send(`transferred for ${userId}`);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${app.server.address().port}`, close: () => app.close() };
  },

  async hono(options) {
    const { reverifyMiddleware, getAuth, requireAuth, requireReverification } = honoAdapter;
    const app = new Hono();
    app.use('*', reverifyMiddleware(options));
    app.get('/api/public', (c) => {
      const auth = getAuth(c);
      return c.json({ signedIn: auth.isAuthenticated, userId: auth.userId, code: auth.error?.code ?? null });
    });
    app.get('/api/me', requireAuth(), (c) => c.json({ userId: getAuth(c).userId }));
    app.post('/api/transfer', requireReverification('strict'), (c) =>
      c.text(`transferred for ${c.get('reverifyAuth').userId}`),
    );
    app.post('/api/custom', requireReverification(CUSTOM), (c) => c.text('ok'));
    app.post('/api/transfer-inline', (c) => {
      const { has, userId } = getAuth(c);
      if (!has({ reverification: 'strict' })) return honoAdapter.reverificationErrorResponse('strict');
      return c.text(`transferred for ${userId}`);
    });
    return serveFetch(app.fetch);
  },
};

const issuer = await createIssuer();
const tokens = {
  fresh: await issuer.fresh('user_7'),
  stale: await issuer.stale('user_7'),
  expired: await issuer.expired(),
  forged: await issuer.forged(),
  algNone: issuer.algNone(),
  wrongIssuer: await issuer.wrongIssuer(),
};
const EVIL = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

/** The reverification answer as the core package builds it. */
async function expected403(policy) {
  const response = reverificationErrorResponse(policy);
  return { body: await response.text(), challenge: response.headers.get('www-authenticate') };
}

async function assertReverification(response, policy) {
  const want = await expected403(policy);
  assert.equal(response.status, 403);
  assert.equal(response.headers.get('content-type'), 'application/json');
  assert.equal(response.headers.get('www-authenticate'), want.challenge);
  assert.equal(response.headers.get('www-authenticate'), stepUpChallenge(policy));
  assert.equal(await response.text(), want.body);
}

async function assertTokenError(response, code) {
  const error = new TokenError(code);
  assert.equal(response.status, error.status, code);
  assert.equal(response.headers.get('content-type'), 'application/json');
  assert.equal(response.headers.get('www-authenticate'), error.wwwAuthenticate);
  assert.deepEqual(await response.json(), { code, message: error.message });
}

async function assertCrossSite(response) {
  assert.equal(response.status, 403);
  assert.equal(response.headers.get('www-authenticate'), null);
  assert.deepEqual(await response.json(), {
    code: 'cross_site_request',
    message: 'this request came from another site; it is refused to protect your session',
  });
}

for (const [name, build] of Object.entries(FRAMEWORKS)) {
  describe(`${name} adapter`, () => {
    let app;
    const call = (path, { method = 'GET', bearer, cookie, headers = {} } = {}) => {
      const h = { ...headers };
      if (bearer) h.authorization = `Bearer ${bearer}`;
      if (cookie) h.cookie = `theme=dark; __session=${cookie}`;
      return fetch(`${app.url}${path}`, { method, headers: h });
    };
    before(async () => {
      app = await build({ issuer: ISSUER, jwks: issuer.jwks, allowedOrigins: [ALLOWED] });
    });
    after(() => app.close());

    test('a fresh session passes the strict route, by bearer or cookie', async () => {
      for (const path of ['/api/transfer', '/api/transfer-inline']) {
        const byBearer = await call(path, { method: 'POST', bearer: tokens.fresh });
        assert.equal(byBearer.status, 200, path);
        assert.equal(await byBearer.text(), 'transferred for user_7');
        const byCookie = await call(path, { method: 'POST', cookie: tokens.fresh });
        assert.equal(byCookie.status, 200, path);
        assert.equal(await byCookie.text(), 'transferred for user_7');
      }
    });

    test('a stale session gets the exact reverification 403', async () => {
      await assertReverification(await call('/api/transfer', { method: 'POST', bearer: tokens.stale }), 'strict');
      await assertReverification(
        await call('/api/transfer-inline', { method: 'POST', bearer: tokens.stale }),
        'strict',
      );
      // A custom policy is named in the body as { level, afterMinutes }.
      const custom = await call('/api/custom', { method: 'POST', bearer: tokens.fresh });
      assert.equal(custom.status, 403);
      assert.equal(custom.headers.get('www-authenticate'), stepUpChallenge(CUSTOM));
      assert.deepEqual((await custom.json()).clerk_error.metadata.reverification, CUSTOM);
    });

    test('no token: 401 token_missing on protected routes; the middleware alone never answers', async () => {
      await assertTokenError(await call('/api/me'), 'token_missing');
      await assertTokenError(await call('/api/transfer', { method: 'POST' }), 'token_missing');
      const open = await call('/api/public');
      assert.equal(open.status, 200);
      assert.deepEqual(await open.json(), { signedIn: false, userId: null, code: 'token_missing' });
      const signedIn = await call('/api/public', { bearer: tokens.stale });
      assert.deepEqual(await signedIn.json(), { signedIn: true, userId: 'user_7', code: null });
    });

    test('bad tokens: 401 with their code', async () => {
      const cases = {
        expired: 'token_expired',
        forged: 'token_signature_invalid',
        algNone: 'token_algorithm_unsupported',
        wrongIssuer: 'token_issuer_invalid',
      };
      for (const [kind, code] of Object.entries(cases)) {
        await assertTokenError(await call('/api/me', { bearer: tokens[kind] }), code);
        await assertTokenError(await call('/api/transfer', { method: 'POST', bearer: tokens[kind] }), code);
        const open = await call('/api/public', { cookie: tokens[kind] });
        assert.equal((await open.json()).code, code, kind);
      }
    });

    test('a cross-site POST riding on the cookie is refused; bearer, reads and allowed origins pass', async () => {
      for (const headers of [EVIL, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
        await assertCrossSite(await call('/api/transfer', { method: 'POST', cookie: tokens.fresh, headers }));
      }
      // The handler sees a signed-out request, whatever it checks.
      const open = await call('/api/transfer-inline', { method: 'POST', cookie: tokens.fresh, headers: EVIL });
      assert.equal(open.status, 403);
      assert.equal((await open.json()).clerk_error.reason, 'reverification-error');
      const bearer = await call('/api/transfer', { method: 'POST', bearer: tokens.fresh, headers: EVIL });
      assert.equal(bearer.status, 200);
      const read = await call('/api/me', { cookie: tokens.fresh, headers: EVIL });
      assert.deepEqual(await read.json(), { userId: 'user_7' });
      const sameOrigin = await call('/api/transfer', {
        method: 'POST',
        cookie: tokens.fresh,
        headers: { origin: app.url, 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(sameOrigin.status, 200);
      const ownOrigin = await call('/api/transfer', {
        method: 'POST',
        cookie: tokens.fresh,
        headers: { origin: app.url },
      });
      assert.equal(ownOrigin.status, 200);
      const allowed = await call('/api/transfer', {
        method: 'POST',
        cookie: tokens.fresh,
        headers: { origin: ALLOWED, 'sec-fetch-site': 'same-site' },
      });
      assert.equal(allowed.status, 200);
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const r = await call('/api/public', { method, cookie: tokens.fresh, headers: EVIL });
        assert.equal(r.status, 404, `${method}: no such route, but not refused either way`);
      }
    });

    test('100 parallel requests each get their own answer', async () => {
      const kinds = ['fresh', 'stale', 'none', 'crossSite'];
      const users = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => ({
          i,
          kind: kinds[i % 4],
          fresh: await issuer.fresh(`user_${i}`),
          stale: await issuer.stale(`user_${i}`),
        })),
      );
      const results = await Promise.all(
        users.map(async (u) => {
          const options = { method: 'POST' };
          if (u.kind === 'fresh') options.bearer = u.fresh;
          if (u.kind === 'stale') options.bearer = u.stale;
          if (u.kind === 'crossSite') Object.assign(options, { cookie: u.fresh, headers: EVIL });
          const r = await call('/api/transfer', options);
          return { u, status: r.status, text: await r.text() };
        }),
      );
      const counts = {};
      for (const { u, status, text } of results) {
        const outcome =
          status === 200 && text === `transferred for user_${u.i}`
            ? 'fresh'
            : status === 403 && JSON.parse(text).clerk_error?.reason === 'reverification-error'
              ? 'stale'
              : status === 401 && JSON.parse(text).code === 'token_missing'
                ? 'none'
                : status === 403 && JSON.parse(text).code === 'cross_site_request'
                  ? 'crossSite'
                  : `unexpected ${status} ${text}`;
        assert.equal(outcome, u.kind, `request ${u.i}`);
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
      assert.deepEqual(counts, { fresh: 25, stale: 25, none: 25, crossSite: 25 });
    });
  });
}

describe('adapter options', () => {
  test('a prebuilt verifier; jwks_unavailable is 503 with no challenge', async () => {
    const unavailable = {
      issuer: ISSUER,
      verifyToken: async () => {
        throw new TokenError('jwks_unavailable');
      },
    };
    for (const [name, build] of Object.entries(FRAMEWORKS)) {
      const app = await build({ verifier: unavailable });
      try {
        const r = await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${tokens.fresh}` } });
        await assertTokenError(r, 'jwks_unavailable');
        assert.equal(r.status, 503, name);
      } finally {
        await app.close();
      }
    }
  });

  test('cookieName and hostScheme reach the request check', async () => {
    for (const [name, build] of Object.entries(FRAMEWORKS)) {
      const app = await build({ issuer: ISSUER, jwks: issuer.jwks, cookieName: 'app_token', hostScheme: 'https' });
      try {
        const post = (cookie, origin) =>
          fetch(`${app.url}/api/transfer`, { method: 'POST', headers: { cookie, origin } });
        // Plain HTTP on the request's own host is another origin when only https is accepted.
        await assertCrossSite(await post(`app_token=${tokens.fresh}`, app.url));
        assert.equal((await post(`app_token=${tokens.fresh}`, app.url.replace('http:', 'https:'))).status, 200, name);
        // The default cookie is no longer read.
        await assertTokenError(await post(`__session=${tokens.fresh}`, app.url), 'token_missing');
      } finally {
        await app.close();
      }
    }
  });

  test("without a Host header, the request URL's authority is its own origin (Hono on fetch runtimes)", async () => {
    const app = new Hono();
    app.use('*', honoAdapter.reverifyMiddleware({ issuer: ISSUER, jwks: issuer.jwks }));
    app.post('/t', honoAdapter.requireAuth(), (c) => c.text('ok'));
    const post = (origin) =>
      app.fetch(
        new Request('https://bank.example.test/t', {
          method: 'POST',
          headers: { origin, cookie: `__session=${tokens.fresh}` },
        }),
      );
    const own = await post('https://bank.example.test');
    assert.equal(own.status, 200);
    await assertCrossSite(await post('https://evil.example'));
    // An explicit Host header still wins over the URL.
    const hosted = await app.fetch(
      new Request('https://bank.example.test/t', {
        method: 'POST',
        headers: {
          host: 'other.example.test',
          origin: 'https://bank.example.test',
          cookie: `__session=${tokens.fresh}`,
        },
      }),
    );
    await assertCrossSite(hosted);
  });

  test('misconfigurations fail when the app is set up, not on a request', async () => {
    for (const adapter of [expressAdapter, honoAdapter]) {
      assert.throws(() => adapter.reverifyMiddleware({ jwks: issuer.jwks }), { code: 'verifier_config_invalid' });
      assert.throws(() => adapter.reverifyMiddleware(), { code: 'verifier_config_invalid' });
      assert.throws(() => adapter.reverifyMiddleware({ verifier: {} }), { code: 'verifier_config_invalid' });
      assert.throws(
        () => adapter.reverifyMiddleware({ verifier: { verifyToken() {} }, issuer: ISSUER }),
        /either a verifier or its options/,
      );
      assert.throws(
        () => adapter.reverifyMiddleware({ issuer: ISSUER, jwks: issuer.jwks, allowedOrigins: 'https://a.test' }),
        /allowedOrigins/,
      );
    }
    for (const adapter of [expressAdapter, fastifyAdapter, honoAdapter]) {
      assert.throws(() => adapter.requireReverification('Strict'), PolicyError);
      assert.throws(() => adapter.requireReverification({ level: 'second_factor', afterMinutes: 0 }), PolicyError);
    }
    // Fastify's own register options are not taken for verifier options.
    const withLogLevel = Fastify();
    await withLogLevel.register(fastifyAdapter.reverifyPlugin, {
      verifier: { verifyToken: async () => ({}) },
      logLevel: 'warn',
    });
    await withLogLevel.close();
    const app = Fastify();
    await assert.rejects(
      app.register(fastifyAdapter.reverifyPlugin, { issuer: ISSUER }).ready(),
      (e) => e.code === 'verifier_config_invalid',
    );
  });

  test('getAuth without the middleware is a programming error, answered 500', async () => {
    const xapp = express();
    xapp.get('/x', expressAdapter.requireAuth(), (req, res) => res.send('no'));
    xapp.use((err, req, res, next) => res.status(500).send(err.message)); // eslint-disable-line no-unused-vars
    const x = await listen(xapp.listen(0, '127.0.0.1'));
    const h = new Hono();
    h.get('/x', honoAdapter.requireAuth(), (c) => c.text('no'));
    h.onError((err, c) => c.text(err.message, 500));
    const hs = await serveFetch(h.fetch);
    const f = Fastify();
    f.get('/x', { preHandler: fastifyAdapter.requireAuth() }, async () => 'no');
    await f.listen({ port: 0, host: '127.0.0.1' });
    try {
      for (const url of [x.url, hs.url, `http://127.0.0.1:${f.server.address().port}`]) {
        const r = await fetch(`${url}/x`);
        assert.equal(r.status, 500, url);
        assert.match(await r.text(), /must (run|be registered) before this/);
      }
      assert.throws(() => expressAdapter.getAuth({}), /reverifyMiddleware\(\) must run/);
    } finally {
      await Promise.all([x.close(), hs.close(), f.close()]);
    }
  });
});
