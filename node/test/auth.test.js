// The auth object (src/auth.js): where the token is read from, the Rust SDK's origin
// normalization and cross-site rule (crates/reverify/src/axum/csrf.rs and its route tests in
// crates/reverify/tests/it/axum_routes.rs), and the answers to signed-out requests.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  CrossSiteRequestError,
  TokenError,
  authErrorResponse,
  authObject,
  authenticateRequest,
  fromAllowedOrigin,
  normalizeOrigin,
  tokenFromHeaders,
} from '../src/index.js';

const NOW = 1_800_000_000;
const CLAIMS = Object.freeze({ iss: 'https://auth.test', sub: 'user_7', sid: 'sess_1', iat: NOW, exp: NOW + 60 });

/** A verifier that accepts any token `good…` and records what it was asked. */
function fakeVerifier() {
  const seen = [];
  return {
    seen,
    issuer: 'https://auth.test',
    async verifyToken(token) {
      seen.push(token);
      if (token.startsWith('good')) return { ...CLAIMS, jti: token };
      throw new TokenError('token_malformed');
    },
  };
}

describe('the token: Authorization Bearer first, then the __session cookie', () => {
  test('precedence and schemes', () => {
    const both = { authorization: 'Bearer b1', cookie: '__session=c1' };
    assert.deepEqual(tokenFromHeaders(both), { token: 'b1', source: 'bearer' });
    assert.deepEqual(tokenFromHeaders({ authorization: 'bearer b1' }), { token: 'b1', source: 'bearer' });
    assert.deepEqual(tokenFromHeaders({ authorization: 'BEARER  b1 ' }), { token: 'b1', source: 'bearer' });
    // Not a usable bearer token: the cookie is used.
    for (const authorization of ['Bearer ', 'Bearer    ', 'Basic dXNlcjpwdw==', 'Bearer', 'Token b1']) {
      assert.deepEqual(tokenFromHeaders({ authorization, cookie: '__session=c1' }), { token: 'c1', source: 'cookie' });
    }
    assert.equal(tokenFromHeaders({}), null);
    assert.equal(tokenFromHeaders(undefined), null);
  });

  test('cookie parsing', () => {
    const cookie = (value, name) => tokenFromHeaders({ cookie: value }, name)?.token ?? null;
    assert.equal(cookie('theme=dark; __session=abc.def.ghi; lang=en'), 'abc.def.ghi');
    assert.equal(cookie('theme=dark;__session=abc'), 'abc');
    assert.equal(cookie('  __session=abc  '), 'abc');
    // The first non-empty value of the exact name, as the Rust SDK's find_map.
    assert.equal(cookie('__session=; __session=second'), 'second');
    assert.equal(cookie('__session=first; __session=second'), 'first');
    assert.equal(cookie('x__session=abc; __session_old=def; __Session=ghi'), null);
    assert.equal(cookie('__session'), null);
    assert.equal(cookie('__session='), null);
    // A value may contain `=` (only the first one splits).
    assert.equal(cookie('__session=a=b'), 'a=b');
    assert.equal(cookie('app_token=t1; __session=t2', 'app_token'), 't1');
    // Node's headers object (repeated headers as an array) and Web Headers.
    assert.equal(tokenFromHeaders({ cookie: ['a=1', '__session=arr'] })?.token, 'arr');
    const web = new Headers({ Cookie: 'a=1; __session=web' });
    assert.deepEqual(tokenFromHeaders(web), { token: 'web', source: 'cookie' });
    assert.deepEqual(tokenFromHeaders(new Headers({ Authorization: 'Bearer w' })), { token: 'w', source: 'bearer' });
  });
});

test('normalizeOrigin: the Rust normalize_origin', () => {
  const cases = [
    ['https://Admin.example.com:443/', 'https://admin.example.com'],
    ['https://BANK.example.com:443', 'https://bank.example.com'],
    ['HTTPS://BANK.EXAMPLE.COM', 'https://bank.example.com'],
    ['http://bank.example.com:80', 'http://bank.example.com'],
    ['http://bank.example.com:443', 'http://bank.example.com:443'],
    ['https://bank.example.com:80', 'https://bank.example.com:80'],
    ['https://bank.example.com:8443', 'https://bank.example.com:8443'],
    ['  https://bank.example.com  ', 'https://bank.example.com'],
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
    ['http://[::1]', 'http://[::1]'],
    ['https://[::1]:443', 'https://[::1]'],
    ['chrome-extension://abcdef', 'chrome-extension://abcdef'],
    ['null', null],
    ['', null],
    ['bank.example.com', null],
    ['https://', null],
    ['https:///', null],
    ['://bank.example.com', null],
    ['ht tp://bank.example.com', null],
    ['ht_tp://bank.example.com', null],
    ['https://bank.example.com/path', null],
    ['https://bank.example.com//', null],
    ['https://bank.example.com?x=1', null],
    ['https://bank.example.com#x', null],
    ['https://user@bank.example.com', null],
    ['https://bank example.com', null],
    ['https://:443', null],
    ['https://bank.example.com:', null],
    ['https://bank.example.com:44x', null],
    ['https://bank.example.com:-1', null],
  ];
  for (const [raw, want] of cases) assert.equal(normalizeOrigin(raw), want, JSON.stringify(raw));
  for (const raw of [null, undefined, 42, {}]) assert.equal(normalizeOrigin(raw), null);
});

describe('the cross-site rule (CsrfGuard)', () => {
  const HOST = { host: 'bank.example.com' };
  const options = { allowedOrigins: ['https://Admin.example.com:443/'] };
  const from = (headers, opts = options) => fromAllowedOrigin({ ...HOST, ...headers }, opts);

  test('what passes: same origin, allowed origins, no browser', () => {
    assert.equal(from({ 'sec-fetch-site': 'same-origin' }), true);
    assert.equal(from({ 'sec-fetch-site': 'same-origin', origin: 'https://bank.example.com' }), true);
    // Sec-Fetch-Site same-origin wins even over a mismatching Origin, as in Rust.
    assert.equal(from({ 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }), true);
    assert.equal(from({ 'sec-fetch-site': 'none' }), true);
    assert.equal(from({ 'sec-fetch-site': ' same-origin ' }), true);
    assert.equal(from({ origin: 'https://bank.example.com' }), true);
    assert.equal(from({ origin: 'https://BANK.example.com:443' }), true);
    assert.equal(from({ origin: 'http://bank.example.com' }), true);
    assert.equal(from({ origin: 'https://admin.example.com', 'sec-fetch-site': 'same-site' }), true);
    assert.equal(from({}), true, 'neither header: not a browser');
  });

  test('what is refused', () => {
    assert.equal(from({ origin: 'https://evil.example' }), false);
    assert.equal(from({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }), false);
    assert.equal(from({ 'sec-fetch-site': 'cross-site' }), false, 'Sec-Fetch-Site without Origin');
    assert.equal(from({ 'sec-fetch-site': 'same-site' }), false);
    assert.equal(from({ 'sec-fetch-site': 'same-site', origin: 'https://bank.example.com:8443' }), false);
    assert.equal(from({ origin: 'null' }), false);
    assert.equal(from({ origin: 'https://bank.example.com/path' }), false);
    assert.equal(fromAllowedOrigin({ origin: 'https://bank.example.com' }, options), false, 'no Host');
    // hostScheme: only that scheme counts as the request's own origin.
    assert.equal(from({ origin: 'http://bank.example.com' }, { hostScheme: 'https' }), false);
    assert.equal(from({ origin: 'https://bank.example.com' }, { hostScheme: 'HTTPS' }), true);
  });

  test('only state-changing requests riding on the cookie are refused', async () => {
    const verifier = fakeVerifier();
    const evil = { ...HOST, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
    const cookie = { ...evil, cookie: '__session=good1' };
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'PROPFIND']) {
      const auth = await authenticateRequest(verifier, { method, headers: cookie }, options);
      assert.equal(auth.isAuthenticated, false, method);
      assert.ok(auth.error instanceof CrossSiteRequestError, method);
      assert.deepEqual(auth.error.body, {
        code: 'cross_site_request',
        message: 'this request came from another site; it is refused to protect your session',
      });
      assert.equal(auth.error.status, 403);
    }
    assert.deepEqual(verifier.seen, [], 'a refused request is not verified');
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'get', undefined]) {
      const auth = await authenticateRequest(verifier, { method, headers: cookie }, options);
      assert.equal(auth.isAuthenticated, true, String(method));
    }
    const bearer = await authenticateRequest(
      verifier,
      { method: 'POST', headers: { ...evil, authorization: 'Bearer good2', cookie: '__session=good1' } },
      options,
    );
    assert.equal(bearer.isAuthenticated, true);
    assert.equal(await bearer.getToken(), 'good2');
    const anonymous = await authenticateRequest(verifier, { method: 'POST', headers: evil }, options);
    assert.equal(anonymous.error.code, 'token_missing');
    const allowed = await authenticateRequest(
      verifier,
      { method: 'POST', headers: { ...HOST, origin: 'https://admin.example.com', cookie: '__session=good3' } },
      options,
    );
    assert.equal(allowed.userId, 'user_7');
    // The cookie name follows the option, for the token and for the rule.
    const named = await authenticateRequest(
      verifier,
      { method: 'POST', headers: { ...evil, cookie: '__session=good1; app=good4' } },
      { cookieName: 'app' },
    );
    assert.equal(named.error.code, 'cross_site_request');
  });
});

describe('the auth object', () => {
  test('signed in: the reference shape, frozen, has({ reverification }) only', async () => {
    const fvt = [NOW - 30, NOW - 30];
    const auth = authObject({ ...CLAIMS, fvt }, 'tok', () => NOW);
    assert.ok(Object.isFrozen(auth));
    assert.equal(auth.isAuthenticated, true);
    assert.equal(auth.userId, 'user_7');
    assert.equal(auth.sessionId, 'sess_1');
    assert.equal(auth.error, null);
    assert.equal(await auth.getToken(), 'tok');
    assert.equal(auth.has({ reverification: 'strict' }), true);
    assert.equal(auth.has({ reverification: { level: 'second_factor', afterMinutes: 0.25 } }), false);
    assert.equal(auth.has({ reverification: 'Strict' }), false, 'an invalid policy is false');
    assert.equal(auth.has({ reverification: 'strict', permission: 'org:admin' }), false);
    assert.equal(auth.has({ role: 'admin' }), false);
    assert.equal(auth.has(null), false);
    assert.equal(auth.has('strict'), false);
    const stale = authObject({ ...CLAIMS, fvt: [NOW - 3600, NOW - 3600] }, 'tok', () => NOW);
    assert.equal(stale.has({ reverification: 'strict' }), false);
    assert.equal(stale.has({ reverification: 'lax' }), true);
    assert.equal(authObject({ ...CLAIMS, sid: undefined }, 't').sessionId, null);
  });

  test('signed out: why, and the answer', async () => {
    const verifier = fakeVerifier();
    const missing = await authenticateRequest(verifier, { method: 'GET', headers: {} });
    assert.ok(Object.isFrozen(missing));
    assert.deepEqual(
      { ...missing, error: missing.error.code, getToken: undefined, has: undefined },
      {
        isAuthenticated: false,
        userId: null,
        sessionId: null,
        sessionClaims: null,
        error: 'token_missing',
        getToken: undefined,
        has: undefined,
      },
    );
    assert.equal(await missing.getToken(), null);
    assert.equal(missing.has({ reverification: 'lax' }), false);
    const bad = await authenticateRequest(verifier, { method: 'GET', headers: { authorization: 'Bearer bad' } });
    assert.equal(bad.error.code, 'token_malformed');

    let r = authErrorResponse(missing);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(await r.json(), { code: 'token_missing', message: 'no session token was sent' });
    r = authErrorResponse(bad);
    assert.equal(
      r.headers.get('www-authenticate'),
      'Bearer error="invalid_token", error_description="the session token is malformed"',
    );
    r = authErrorResponse({ error: new CrossSiteRequestError() });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('www-authenticate'), null);
    r = authErrorResponse({ error: new TokenError('jwks_unavailable') });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('www-authenticate'), null);
    assert.deepEqual(await r.json(), { code: 'jwks_unavailable', message: 'the signing keys are unavailable' });
  });

  test('an unexpected verifier failure is not turned into a signed-out request', async () => {
    const broken = {
      verifyToken: async () => {
        throw new RangeError('bug');
      },
    };
    await assert.rejects(
      authenticateRequest(broken, { method: 'GET', headers: { authorization: 'Bearer x' } }),
      RangeError,
    );
  });
});
