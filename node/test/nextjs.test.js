// @reverify/server/nextjs: `auth()` reading the request through `next/headers` (here a
// stand-in, test/nextjs/headers.mjs: only a Next app provides the real module; the real
// one is exercised end to end by examples/nextjs/e2e). Tokens are minted here with an
// Ed25519 key of the test's own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { register } from 'node:module';

register('./nextjs/hook.mjs', import.meta.url);
const { withHeaders, calls } = await import('./nextjs/headers.mjs');
const nextjs = await import('../src/nextjs.js');
const { auth, createReverify, optionsFromEnv, defaultJwksUrl, reverificationErrorResponse, TokenError } = nextjs;

const ISSUER = 'http://localhost:3000/auth';
const { subtle } = globalThis.crypto;
let keyPair, jwks;

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

async function mint(claims = {}, { kid = 'k1' } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: ISSUER,
    sub: 'user_1',
    sid: 'sess_1',
    iat: now - 5,
    nbf: now - 5,
    exp: now + 60,
    fvt: [now - 60, now - 60], // both factors a minute ago: strict holds
    ...claims,
  };
  const input = `${b64({ alg: 'EdDSA', kid, typ: 'JWT' })}.${b64(payload)}`;
  const signature = await subtle.sign('Ed25519', keyPair.privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

const stale = () => {
  const now = Math.floor(Date.now() / 1000);
  return mint({ fvt: [now - 60, now - 11 * 60] }); // second factor 11 minutes ago
};

before(async () => {
  keyPair = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', keyPair.publicKey);
  jwks = { keys: [{ ...jwk, kid: 'k1', use: 'sig', alg: 'EdDSA' }] };
});

/** The announcement's handler, verbatim after its import line. */
async function POST() {
  const { has } = await auth();
  if (!has({ reverification: 'strict' })) return reverificationErrorResponse('strict');
  return new Response('success');
}

// A same-origin fetch('/api/transfer', {method: 'POST'}) from the app's page.
const sameOrigin = (cookie) => ({
  host: 'localhost:3000',
  origin: 'http://localhost:3000',
  'sec-fetch-site': 'same-origin',
  cookie,
});

let jwksServer;
let jwksFetches = 0;
const saved = {};

before(async () => {
  jwksServer = createServer((req, res) => {
    jwksFetches++;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'public, max-age=270');
    res.end(JSON.stringify(jwks));
  });
  await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  for (const name of [
    'REVERIFY_ISSUER',
    'REVERIFY_JWKS_URL',
    'REVERIFY_AUTHORIZED_PARTIES',
    'REVERIFY_ALLOWED_ORIGINS',
  ]) {
    saved[name] = process.env[name];
  }
  process.env.REVERIFY_ISSUER = ISSUER;
  process.env.REVERIFY_JWKS_URL = `http://127.0.0.1:${jwksServer.address().port}/.well-known/jwks.json`;
  process.env.REVERIFY_ALLOWED_ORIGINS = 'https://admin.example.com, https://ops.example.com';
  delete process.env.REVERIFY_AUTHORIZED_PARTIES;
});

after(() => {
  jwksServer?.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

test("the announcement's handler: 200 'success' on a fresh session, the reference's 403 on a stale one", async () => {
  const fresh = await withHeaders(sameOrigin(`theme=dark; __session=${await mint()}`), POST);
  assert.equal(fresh.status, 200);
  assert.equal(await fresh.text(), 'success');

  const old = await withHeaders(sameOrigin(`__session=${await stale()}`), POST);
  assert.equal(old.status, 403);
  assert.equal(old.headers.get('content-type'), 'application/json');
  assert.match(old.headers.get('www-authenticate'), /insufficient_user_authentication/);
  assert.deepEqual(await old.json(), {
    clerk_error: { type: 'forbidden', reason: 'reverification-error', metadata: { reverification: 'strict' } },
  });
});

test('auth(): one verifier per process, configured by the environment; the JWK set is fetched once', async () => {
  const before = jwksFetches;
  const headersBefore = calls.headers;
  for (let i = 0; i < 3; i++) {
    const a = await withHeaders(sameOrigin(`__session=${await mint({ sub: `user_${i}` })}`), auth);
    assert.equal(a.isAuthenticated, true);
    assert.equal(a.userId, `user_${i}`);
    assert.equal(a.sessionId, 'sess_1');
    assert.equal(a.error, null);
    assert.equal(a.has({ reverification: 'strict' }), true);
  }
  assert.equal(calls.headers - headersBefore, 3, 'the request is read through next/headers');
  assert.ok(jwksFetches - before <= 1, `fetched ${jwksFetches - before} times`);
});

test('the token: Authorization Bearer first, then the __session cookie; getToken() gives it back', async () => {
  const bearer = await mint({ sub: 'by_bearer' });
  const cookie = await mint({ sub: 'by_cookie' });
  const a = await withHeaders({ authorization: `Bearer ${bearer}`, cookie: `__session=${cookie}` }, auth);
  assert.equal(a.userId, 'by_bearer');
  assert.equal(await a.getToken(), bearer);
  const b = await withHeaders({ cookie: `__session=${cookie}` }, auth);
  assert.equal(b.userId, 'by_cookie');
  assert.equal(await b.getToken(), cookie);
});

test('no token: signed out (token_missing), has() false, and so the handler answers the 403', async () => {
  const a = await withHeaders({ host: 'localhost:3000' }, auth);
  assert.equal(a.isAuthenticated, false);
  assert.equal(a.userId, null);
  assert.equal(a.error.code, 'token_missing');
  assert.equal(a.has({ reverification: 'strict' }), false);
  assert.equal(await a.getToken(), null);
  assert.equal((await withHeaders({ host: 'localhost:3000' }, POST)).status, 403);
  // A forged or expired token is signed out the same way, with its own code.
  const expired = await mint({ exp: Math.floor(Date.now() / 1000) - 3600, iat: 1, nbf: 1 });
  assert.equal((await withHeaders({ cookie: `__session=${expired}` }, auth)).error.code, 'token_expired');
  const forged = (await mint()).slice(0, -4) + 'AAAA';
  assert.equal((await withHeaders({ cookie: `__session=${forged}` }, auth)).error.code, 'token_signature_invalid');
});

test('cross-site: a request with Origin riding on the cookie from another origin is signed out', async () => {
  const cookie = `__session=${await mint()}`;
  // A sibling origin of the same site (the cookie is SameSite=Lax: it goes along).
  const attack = { host: 'localhost:3000', origin: 'http://localhost:4000', 'sec-fetch-site': 'same-site', cookie };
  const a = await withHeaders(attack, auth);
  assert.equal(a.isAuthenticated, false);
  assert.equal(a.error.code, 'cross_site_request');
  assert.equal(a.error.status, 403);
  assert.equal(a.has({ reverification: 'strict' }), false);
  const refused = await withHeaders(attack, POST);
  assert.equal(refused.status, 403, 'the handler does not transfer');
  // `Origin: null` (sandboxed frames) too; a server action's POST is the same request.
  assert.equal((await withHeaders({ ...attack, origin: 'null' }, auth)).error.code, 'cross_site_request');
  const action = { ...attack, 'next-action': 'abc123', 'sec-fetch-site': 'cross-site' };
  assert.equal((await withHeaders(action, auth)).error.code, 'cross_site_request');
  // The same request with the token as Bearer is no forgery: a page must hold the token.
  const bearer = { ...attack, cookie: undefined, authorization: `Bearer ${await mint()}` };
  delete bearer.cookie;
  assert.equal((await withHeaders(bearer, auth)).isAuthenticated, true);
  // REVERIFY_ALLOWED_ORIGINS lists origins that may.
  const allowed = { ...attack, origin: 'https://ops.example.com', 'sec-fetch-site': 'cross-site' };
  assert.equal((await withHeaders(allowed, auth)).isAuthenticated, true);
});

test('a request without Origin is read as a GET: a link followed from another site keeps its session', async () => {
  const cookie = `__session=${await mint()}`;
  const navigation = {
    host: 'localhost:3000',
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    cookie,
  };
  assert.equal((await withHeaders(navigation, auth)).isAuthenticated, true);
  // Not a browser at all (no Origin, no Sec-Fetch-Site): no victim's cookie to ride on.
  assert.equal((await withHeaders({ cookie }, auth)).isAuthenticated, true);
});

test("the request's own origin: Host, or the first X-Forwarded-Host entry, as Next's own check", async () => {
  const cookie = `__session=${await mint()}`;
  // Behind a proxy: Next listens on an internal address; the browser asked for app.example.com.
  const proxied = { host: '10.0.0.7:3000', 'x-forwarded-host': 'app.example.com, 10.0.0.7:3000', cookie };
  assert.equal((await withHeaders({ ...proxied, origin: 'https://app.example.com' }, auth)).isAuthenticated, true);
  assert.equal(
    (await withHeaders({ ...proxied, origin: 'https://evil.example.com' }, auth)).error.code,
    'cross_site_request',
  );
  // Only the first entry: a later one is not the host the browser asked for.
  const second = { ...proxied, 'x-forwarded-host': 'app.example.com, other.example.com' };
  assert.equal(
    (await withHeaders({ ...second, origin: 'https://other.example.com' }, auth)).error.code,
    'cross_site_request',
  );
  // Without a proxy, Host.
  assert.equal(
    (await withHeaders({ host: 'localhost:3000', origin: 'http://localhost:3000', cookie }, auth)).isAuthenticated,
    true,
  );
  // hostScheme pins the scheme of the request's own origin.
  const { auth: httpsOnly } = createReverify({ issuer: ISSUER, jwks, hostScheme: 'https' });
  const plain = { host: 'app.example.com', origin: 'http://app.example.com', cookie };
  assert.equal((await withHeaders(plain, httpsOnly)).error.code, 'cross_site_request');
  assert.equal((await withHeaders({ ...plain, origin: 'https://app.example.com' }, httpsOnly)).isAuthenticated, true);
});

test('createReverify(options): explicit configuration, its own verifier, created on first use', async () => {
  const issuer = 'https://auth.example.com';
  const { auth: explicitAuth, verifier } = createReverify({
    issuer,
    jwks,
    authorizedParties: ['https://app.example.com'],
  });
  assert.equal(verifier.issuer, issuer);
  const token = await mint({ iss: issuer, azp: 'https://app.example.com' });
  assert.equal((await withHeaders({ authorization: `Bearer ${token}` }, explicitAuth)).isAuthenticated, true);
  const otherParty = await mint({ iss: issuer, azp: 'https://elsewhere.example.com' });
  const refused = await withHeaders({ authorization: `Bearer ${otherParty}` }, explicitAuth);
  assert.equal(refused.error.code, 'token_azp_invalid');
  // The env's issuer is not this one.
  assert.equal((await withHeaders({ authorization: `Bearer ${token}` }, auth)).error.code, 'token_issuer_invalid');
  // A ready verifier is used as is; a custom cookie name.
  const custom = createReverify({ verifier, cookieName: 'app_token' });
  assert.equal((await withHeaders({ cookie: `app_token=${token}` }, custom.auth)).isAuthenticated, true);
  assert.throws(
    () => createReverify({}).verifier,
    (e) => e instanceof TokenError && e.code === 'verifier_config_invalid',
  );
});

test('optionsFromEnv: the variables, lists, the JWKS URL default; a missing issuer is a configuration error', () => {
  assert.deepEqual(
    optionsFromEnv({
      REVERIFY_ISSUER: ' https://auth.example.com ',
      REVERIFY_AUTHORIZED_PARTIES: 'https://a.example.com,https://b.example.com',
      REVERIFY_ALLOWED_ORIGINS: '',
    }),
    {
      issuer: 'https://auth.example.com',
      jwksUrl: undefined,
      authorizedParties: ['https://a.example.com', 'https://b.example.com'],
      allowedOrigins: [],
    },
  );
  assert.equal(defaultJwksUrl('https://auth.example.com/'), 'https://auth.example.com/.well-known/jwks.json');
  assert.equal(defaultJwksUrl('http://localhost:3000/auth'), 'http://localhost:3000/auth/.well-known/jwks.json');
  assert.throws(
    () => optionsFromEnv({}),
    (e) => e instanceof TokenError && e.code === 'verifier_config_invalid' && /REVERIFY_ISSUER/.test(e.message),
  );
});

test('auth() asks Next for the request before it reads the configuration (prerendering needs no REVERIFY_ISSUER)', async () => {
  // A fresh instance of the module: no verifier yet.
  const fresh = await import('../src/nextjs.js?no-verifier-yet');
  const issuer = process.env.REVERIFY_ISSUER;
  delete process.env.REVERIFY_ISSUER;
  try {
    // Outside a request (Next prerendering a page): Next's own signal (here the stand-in's
    // error) comes first, not a configuration error.
    await assert.rejects(fresh.auth(), /outside a request scope/);
    // In a request, the missing configuration is loud: a rejection, never a signed-out user.
    await assert.rejects(
      withHeaders({ cookie: `__session=${await mint()}` }, fresh.auth),
      (e) => e instanceof fresh.TokenError && e.code === 'verifier_config_invalid' && e.status === 500,
    );
  } finally {
    process.env.REVERIFY_ISSUER = issuer;
  }
  // Configured, the same instance works (a failed configuration is not kept).
  const a = await withHeaders({ cookie: `__session=${await mint()}` }, fresh.auth);
  assert.equal(a.isAuthenticated, true);
});

test('the entry point exports exactly its API', () => {
  assert.deepEqual(Object.keys(nextjs).sort(), [
    'CROSS_SITE_REQUEST',
    'CrossSiteRequestError',
    'SESSION_COOKIE',
    'TokenError',
    'auth',
    'authErrorResponse',
    'authenticateNextRequest',
    'createReverify',
    'defaultJwksUrl',
    'optionsFromEnv',
    'reverificationError',
    'reverificationErrorResponse',
    'stepUpChallenge',
  ]);
});
