// Fetching the key set over HTTP, with the Rust SDK's rules (crates/reverify/tests/it/
// jwks_fetch.rs tests the same): caching driven by the issuer's `Cache-Control` and `Age`,
// clamped; refetch on an unknown `kid` with a floor; single flight; rotation, revocation and
// outages, and the bound on how long a key that left the set is still accepted. A real HTTP
// server on 127.0.0.1 serves the set with the headers each test chooses and counts requests;
// the verifier reads a clock the test moves.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TokenError, createVerifier, has } from '../src/index.js';
import { jwksLifetime } from '../src/jwks.js';
import { ISSUER, TestKey, jwkSet, manualClock, startJwksServer } from './support/issuer.js';

async function setup(t, { keys = [new TestKey()], headers = {}, ...options } = {}) {
  const server = await startJwksServer();
  t.after(() => server.close());
  server.serve(jwkSet(...keys));
  server.state.headers = headers;
  const clock = manualClock();
  const warnings = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    jwksUrl: server.url,
    clock,
    onWarning: (message) => warnings.push(message),
    ...options,
  });
  return { server, clock, verifier, warnings, key: keys[0] };
}

const rejectsWith = (promise, code) =>
  assert.rejects(promise, (e) => {
    assert.ok(e instanceof TokenError, `a TokenError, got ${e}`);
    assert.equal(e.code, code);
    return true;
  });

test('the set is fetched on first use, then served from the cache', async (t) => {
  const { server, clock, verifier, key } = await setup(t);
  assert.equal(server.fetches, 0, 'nothing is fetched before the first verification');
  for (let i = 0; i < 20; i++) {
    const claims = await verifier.verifyToken(key.token(clock.now, { sub: `user_${i}` }));
    assert.equal(claims.sub, `user_${i}`);
    assert.equal(has(claims, 'strict', clock.now), true);
  }
  assert.equal(server.fetches, 1);
});

test('100 concurrent first verifications share one fetch', async (t) => {
  const { server, clock, verifier, key } = await setup(t);
  server.state.delayMs = 50; // all hundred are waiting while the one fetch is in flight
  const tokens = Array.from({ length: 100 }, (_, i) => key.token(clock.now, { sub: `user_${i}` }));
  const claims = await Promise.all(tokens.map((token) => verifier.verifyToken(token)));
  assert.deepEqual(
    claims.map((c) => c.sub),
    tokens.map((_, i) => `user_${i}`),
  );
  assert.equal(server.fetches, 1);
});

test('single flight does not rest on the floor: with a floor of 0, concurrent verifications still share one fetch', async (t) => {
  const { server, clock, verifier, key } = await setup(t, { jwksRefetchFloorSeconds: 0 });
  server.state.delayMs = 50;
  const unknown = new TestKey();
  const tokens = Array.from({ length: 50 }, (_, i) => key.token(clock.now, { sub: `user_${i}` }));
  await Promise.all(tokens.map((token) => verifier.verifyToken(token)));
  assert.equal(server.fetches, 1);
  // Fifty unknown kids at once: one refetch between them, not fifty.
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, () => verifier.verifyToken(unknown.token(clock.now))),
  );
  assert.ok(results.every((r) => r.status === 'rejected' && r.reason.code === 'token_key_unknown'));
  assert.equal(server.fetches, 2);
});

test('an unknown kid refetches, at most once per floor', async (t) => {
  const old = new TestKey();
  const fresh = new TestKey();
  const { server, clock, verifier } = await setup(t, { keys: [old] });
  await verifier.verifyToken(old.token(clock.now));
  assert.equal(server.fetches, 1);

  // The issuer publishes a new key; a token signed with it triggers a refetch…
  clock.advance(31);
  server.serve(jwkSet(old, fresh));
  assert.equal((await verifier.verifyToken(fresh.token(clock.now))).sub, 'user_1');
  assert.equal(server.fetches, 2);

  // …but a stream of random kids within the floor does not hammer the issuer.
  for (let i = 0; i < 10; i++)
    await rejectsWith(verifier.verifyToken(new TestKey().token(clock.now)), 'token_key_unknown');
  assert.equal(server.fetches, 2);
  clock.advance(29);
  await rejectsWith(verifier.verifyToken(new TestKey().token(clock.now)), 'token_key_unknown');
  assert.equal(server.fetches, 2, 'still within the floor');
  clock.advance(1);
  await rejectsWith(verifier.verifyToken(new TestKey().token(clock.now)), 'token_key_unknown');
  assert.equal(server.fetches, 3, 'after the floor, one more fetch');
});

test('a key published ahead is picked up by the refresh within the lifetime (rotation)', async (t) => {
  const old = new TestKey();
  const next = new TestKey();
  const { server, clock, verifier } = await setup(t, { keys: [old], headers: { 'cache-control': 'max-age=120' } });
  await verifier.verifyToken(old.token(clock.now));
  server.serve(jwkSet(old, next)); // published ahead of signing
  clock.advance(90); // three quarters of 120 s: the next verification refreshes
  await verifier.verifyToken(old.token(clock.now));
  assert.equal(server.fetches, 2);
  // The new key verifies without any further fetch, and the old one still does.
  clock.advance(1);
  assert.equal((await verifier.verifyToken(next.token(clock.now))).sub, 'user_1');
  assert.equal((await verifier.verifyToken(old.token(clock.now))).sub, 'user_1');
  assert.equal(server.fetches, 2);
});

test('without Cache-Control the set lives for the ceiling: refreshed from 3/4, never used past it', async (t) => {
  const { server, clock, verifier, key } = await setup(t);
  const cached = key.token(clock.now, { lifetime: 3600 });
  await verifier.verifyToken(cached);
  clock.advance(224);
  await verifier.verifyToken(cached);
  assert.equal(server.fetches, 1, 'fresh for three quarters of 300 s');
  clock.advance(1);
  server.serve(null); // the issuer answers 500 from now on
  await verifier.verifyToken(cached);
  assert.equal(server.fetches, 2, 'refreshed ahead; the failure keeps the set');
  clock.advance(74); // t = 299
  await verifier.verifyToken(cached);
  await verifier.verifyToken(key.token(clock.now));
  assert.equal(server.fetches, 3, 'retried once per floor');
  clock.advance(1); // t = 300: the set's lifetime is over
  for (const token of [cached, key.token(clock.now)]) {
    const error = await verifier.verifyToken(token).catch((e) => e);
    assert.equal(error.code, 'jwks_unavailable');
    assert.equal(error.status, 503);
    assert.equal(error.wwwAuthenticate, null);
    assert.deepEqual(error.body, { code: 'jwks_unavailable', message: 'the signing keys are unavailable' });
  }
  assert.equal(server.fetches, 3, 'no more than one fetch per floor');
  server.serve(jwkSet(key));
  clock.advance(28); // t = 328: the last try was at 299
  await rejectsWith(verifier.verifyToken(cached), 'jwks_unavailable');
  clock.advance(1);
  assert.equal((await verifier.verifyToken(cached)).sub, 'user_1');
  assert.equal(server.fetches, 4, 'recovered with the issuer');
});

test('a failed refresh keeps the set and is retried at most once per floor', async (t) => {
  const { server, clock, verifier, key } = await setup(t, { headers: { 'cache-control': 'max-age=300' } });
  const token = key.token(clock.now, { lifetime: 3600 });
  await verifier.verifyToken(token);
  clock.advance(225);
  server.serve(null);
  // One verification per second until just before the lifetime ends (t = 225 … 299):
  // attempts at 225, 255, 285 only.
  for (let s = 225; s < 300; s++) {
    assert.equal((await verifier.verifyToken(token)).sub, 'user_1', `at t = ${s}`);
    assert.equal((await verifier.verifyToken(key.token(clock.now))).sub, 'user_1', `at t = ${s}`);
    clock.advance(1);
  }
  assert.equal(server.fetches, 1 + 3);
});

test('while a refresh is in flight, the request that started it waits and the others use the current set', async (t) => {
  const old = new TestKey();
  const next = new TestKey();
  const { server, clock, verifier } = await setup(t, { keys: [old] });
  const token = old.token(clock.now, { lifetime: 3600 });
  await verifier.verifyToken(token);
  clock.advance(225);
  server.serve(jwkSet(old, next));
  server.state.delayMs = 300;
  const order = [];
  const first = verifier.verifyToken(old.token(clock.now)).then(() => order.push('refreshing'));
  const others = Promise.all(
    Array.from({ length: 10 }, () => verifier.verifyToken(old.token(clock.now)).then(() => order.push('other'))),
  );
  await Promise.all([first, others]);
  assert.deepEqual(order, [...Array(10).fill('other'), 'refreshing']);
  assert.equal(server.fetches, 2);
  // The refreshed set holds the new key.
  server.state.delayMs = 0;
  assert.equal((await verifier.verifyToken(next.token(clock.now))).sub, 'user_1');
  assert.equal(server.fetches, 2);
});

test('no keys at all is a 503, not a 401; an unreachable URL too', async (t) => {
  const { server, clock, verifier, key } = await setup(t);
  server.serve(null);
  const error = await verifier.verifyToken(key.token(clock.now)).catch((e) => e);
  assert.equal(error.code, 'jwks_unavailable');
  assert.equal(error.status, 503);
  // Within the floor, no new fetch; afterwards the recovered issuer is used.
  await rejectsWith(verifier.verifyToken(key.token(clock.now)), 'jwks_unavailable');
  assert.equal(server.fetches, 1);
  server.serve(jwkSet(key));
  clock.advance(30);
  assert.equal((await verifier.verifyToken(key.token(clock.now))).sub, 'user_1');

  // Nothing listens on port 9 of the loopback.
  const dead = createVerifier({ issuer: ISSUER, jwksUrl: 'http://127.0.0.1:9/jwks.json', onWarning: () => {} });
  await rejectsWith(dead.verifyToken(key.token(Math.floor(Date.now() / 1000))), 'jwks_unavailable');
});

test('a removed key stops verifying at once, cached tokens included (revocation)', async (t) => {
  const old = new TestKey();
  const fresh = new TestKey();
  const { server, clock, verifier } = await setup(t, { keys: [old, fresh] });
  const oldToken = old.token(clock.now, { lifetime: 600 });
  await verifier.verifyToken(oldToken);
  await verifier.verifyToken(oldToken);
  assert.equal(verifier.cachedTokens(), 1);
  const freshToken = fresh.token(clock.now, { lifetime: 600 });
  await verifier.verifyToken(freshToken);
  assert.equal(verifier.cachedTokens(), 2);

  // The old key is withdrawn (compromised); a token with an unknown key makes us refetch.
  server.serve(jwkSet(fresh));
  clock.advance(31);
  await rejectsWith(verifier.verifyToken(new TestKey().token(clock.now)), 'token_key_unknown');
  assert.equal(server.fetches, 2);
  assert.equal(verifier.cachedTokens(), 0, 'the refetch that dropped a kid cleared the token cache');
  await rejectsWith(verifier.verifyToken(oldToken), 'token_key_unknown');
  assert.equal((await verifier.verifyToken(freshToken)).sub, 'user_1');
});

test('a refetch that drops no kid keeps the token cache', async (t) => {
  const key = new TestKey();
  const added = new TestKey();
  const { server, clock, verifier } = await setup(t, { keys: [key] });
  await verifier.verifyToken(key.token(clock.now, { lifetime: 600 }));
  server.serve(jwkSet(key, added));
  clock.advance(31);
  await verifier.verifyToken(added.token(clock.now));
  assert.equal(server.fetches, 2);
  assert.equal(verifier.cachedTokens(), 2);
});

test('a key dropped from the JWKS is refused within the bound (max-age=300)', async (t) => {
  const old = new TestKey();
  const fresh = new TestKey();
  const { server, clock, verifier } = await setup(t, {
    keys: [old, fresh],
    headers: { 'cache-control': 'public, max-age=300' },
  });
  const oldToken = old.token(clock.now, { lifetime: 3600 });
  await verifier.verifyToken(oldToken);
  clock.advance(10);
  const leftAt = clock.now;
  server.serve(jwkSet(fresh)); // the old key is retired (or revoked)
  let refusedAt = null;
  for (let i = 0; i < 300; i++) {
    await verifier.verifyToken(fresh.token(clock.now));
    const ok = await verifier.verifyToken(oldToken).then(
      () => true,
      () => false,
    );
    if (!ok) {
      refusedAt = clock.now;
      break;
    }
    clock.advance(1);
  }
  assert.notEqual(refusedAt, null, 'the dropped key must be refused');
  assert.ok(refusedAt - leftAt <= 300, `refused ${refusedAt - leftAt} s after it left`);
  await rejectsWith(verifier.verifyToken(oldToken), 'token_key_unknown');
  assert.equal(server.fetches, 2, 'one refresh found it gone');
});

test('a dropped key is not kept alive by an unreachable JWKS', async (t) => {
  const { server, clock, verifier, key } = await setup(t, { headers: { 'cache-control': 'public, max-age=300' } });
  const leaked = key.token(clock.now, { lifetime: 3600 });
  await verifier.verifyToken(leaked);
  clock.advance(1);
  server.serve(null); // key revoked and the JWKS unreachable from here on
  for (let s = 1; s <= 400; s++) {
    const accepted = await verifier.verifyToken(leaked).then(
      () => true,
      () => false,
    );
    assert.equal(accepted, s < 300, `at t = ${s}`);
    clock.advance(1);
  }
  assert.ok(server.fetches <= 1 + 400 / 30 + 1, `${server.fetches} fetches`);
});

test('max-age drives the lifetime, less the Age header', async (t) => {
  {
    const { server, clock, verifier, key } = await setup(t, { headers: { 'cache-control': 'public, max-age=120' } });
    const token = key.token(clock.now, { lifetime: 3600 });
    await verifier.verifyToken(token);
    clock.advance(89);
    await verifier.verifyToken(token);
    assert.equal(server.fetches, 1);
    clock.advance(1); // three quarters of 120 s
    server.serve(null);
    await verifier.verifyToken(token);
    assert.equal(server.fetches, 2);
    clock.advance(30); // t = 120
    await rejectsWith(verifier.verifyToken(token), 'jwks_unavailable');
    assert.equal(server.fetches, 3);
  }
  {
    // A response that already spent 100 of its 300 s in a shared cache lives 200 s here.
    const { server, clock, verifier, key } = await setup(t, {
      headers: { 'cache-control': 'max-age=300', age: '100' },
    });
    const token = key.token(clock.now, { lifetime: 3600 });
    await verifier.verifyToken(token);
    server.serve(null);
    clock.advance(199);
    await verifier.verifyToken(token);
    clock.advance(1);
    await rejectsWith(verifier.verifyToken(token), 'jwks_unavailable');
  }
});

test('Cache-Control is clamped: a day is the ceiling; no-store, no-cache, tiny or invalid max-age the floor', async (t) => {
  // [Cache-Control, Age, the lifetime the set must get with floor 30 s and ceiling 300 s]
  const cases = [
    ['public, max-age=86400', null, 300],
    ['max-age=1', null, 30],
    ['no-store', null, 30],
    ['public, no-cache', null, 30],
    ['max-age=200, no-store', null, 30],
    ['max-age=abc', null, 30],
    ['max-age=', null, 30],
    ['max-age', null, 30],
    ['max-age="200"', null, 200],
    ['max-age=250, max-age=60', null, 60],
    ['MAX-AGE=100', null, 100],
    ['private', null, 300],
    ['max-age=200', '250', 30],
    ['max-age=200', 'abc', 200],
    ['max-age=99999999999999999999999', null, 300],
  ];
  for (const [cacheControl, age, lifetime] of cases) {
    const headers = { 'cache-control': cacheControl, ...(age === null ? {} : { age }) };
    const { server, clock, verifier, key } = await setup(t, { headers });
    const token = key.token(clock.now, { lifetime: 3600 });
    await verifier.verifyToken(token);
    server.serve(null);
    clock.advance(lifetime - 1);
    assert.equal((await verifier.verifyToken(token)).sub, 'user_1', `${cacheControl}: usable for ${lifetime} s`);
    clock.advance(1);
    await rejectsWith(verifier.verifyToken(token), 'jwks_unavailable');
  }
});

test('jwksLifetime: the Rust SDK parse of Cache-Control and Age', () => {
  const cases = [
    [null, null, 300],
    ['', null, 300],
    ['max-age=120', null, 120],
    ['max-age=120', '20', 100],
    ['max-age=120', ' 20 ', 100],
    ['max-age=120', '20, 20', 120], // two Age headers: not all digits, ignored
    ['max-age=120', '-5', 120],
    ['max-age = 120', null, 120],
    ['s-maxage=10, max-age=100', null, 100],
    ['no-cache="set-cookie", max-age=100', null, 30],
    ['No-Store', null, 30],
    ['max-age=-1', null, 30],
    ['max-age=1.5', null, 30],
    ['max-age=""100""', null, 100],
    ['max-age=300', '99999999999999999999', 30],
    ['max-age=99999999999999999999', '99999999999999999999', 30],
  ];
  for (const [cacheControl, age, expected] of cases) {
    assert.equal(jwksLifetime(cacheControl, age, 30, 300), expected, `${cacheControl} / ${age}`);
  }
  // Never below one second, and the ceiling never below the floor.
  assert.equal(jwksLifetime('no-store', null, 0, 300), 1);
  assert.equal(jwksLifetime(null, null, 30, 10), 30);
});

test('a fetch that takes longer than httpTimeoutMs fails with jwks_unavailable', async (t) => {
  const { server, clock, verifier, key, warnings } = await setup(t, { httpTimeoutMs: 200 });
  server.state.hang = true;
  const started = Date.now();
  await rejectsWith(verifier.verifyToken(key.token(clock.now)), 'jwks_unavailable');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 2_000, `gave up after ${elapsed} ms`);
  assert.match(warnings.join('\n'), /no answer within 200 ms/);
  // A slow answer is as good as none; a prompt one after the floor is used.
  server.state.hang = false;
  server.state.delayMs = 1_000;
  clock.advance(30);
  await rejectsWith(verifier.verifyToken(key.token(clock.now)), 'jwks_unavailable');
  server.state.delayMs = 0;
  clock.advance(30);
  assert.equal((await verifier.verifyToken(key.token(clock.now))).sub, 'user_1');
  assert.equal(server.fetches, 3);
});

test('a non-2xx answer, invalid JSON or a document that is not a JWK set: jwks_unavailable', async (t) => {
  const key = new TestKey();
  const good = JSON.stringify(jwkSet(key));
  const cases = [
    [404, good, /status 404/],
    [500, good, /status 500/],
    [302, good, /status 302/], // a redirect without Location
    [200, '{"keys": [', /not a JSON document/],
    [200, `\ufeff${good}`, /not a JSON document/], // a byte-order mark is not JSON
    [200, '[]', /not a JWK set/],
    [200, '{"keys": {}}', /not a JWK set/],
    [200, '{}', /not a JWK set/],
    [200, '{"keys": []}', /no usable key/],
    [200, JSON.stringify({ keys: [key.jwk(), { ...key.jwk(), kid: 7 }] }), /kid is not a string/],
    [200, JSON.stringify({ keys: [key.jwk(), { kid: 'no-kty' }] }), /kty is not a string/],
    [200, JSON.stringify({ keys: [key.jwk(), 'a string'] }), /not an object/],
    [200, JSON.stringify({ keys: [{ ...key.jwk(), use: 'enc' }] }), /no usable key/],
  ];
  for (const [status, body, why] of cases) {
    const { server, clock, verifier, warnings } = await setup(t, { keys: [key] });
    server.state.raw = body;
    server.state.status = status;
    const error = await verifier.verifyToken(key.token(clock.now)).catch((e) => e);
    assert.equal(error.code, 'jwks_unavailable', `${status} ${body}`);
    assert.equal(error.status, 503);
    assert.match(warnings.join('\n'), why, `${status} ${body}`);
  }
});

test('a body larger than 1 MiB is not read', async (t) => {
  const key = new TestKey();
  const { server, clock, verifier, warnings } = await setup(t, { keys: [key] });
  server.state.raw = JSON.stringify({ keys: [key.jwk()], padding: 'x'.repeat(1024 * 1024) });
  await rejectsWith(verifier.verifyToken(key.token(clock.now)), 'jwks_unavailable');
  assert.match(warnings.join('\n'), /larger than 1 MiB/);
});

test('unusable keys in a fetched set are skipped with a warning; the good ones load', async (t) => {
  const key = new TestKey();
  const rsaSmall = { kty: 'RSA', kid: 'small', n: 'AQAB', e: 'AQAB' };
  const set = {
    keys: [
      { ...key.jwk(), kid: undefined },
      { ...key.jwk(), kid: 'enc-key', use: 'enc' },
      { ...key.jwk(), kid: 'wrong-alg', alg: 'ES256' },
      rsaSmall,
      { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' },
      key.jwk(),
      { ...new TestKey().jwk(), kid: key.kid }, // a duplicate kid: the first one wins
    ],
  };
  const { server, clock, verifier, warnings } = await setup(t, { keys: [key] });
  server.serve(set);
  assert.equal((await verifier.verifyToken(key.token(clock.now))).sub, 'user_1');
  assert.equal(warnings.length, 6, warnings.join('\n'));
  assert.match(warnings.join('\n'), /without kid/);
  assert.match(warnings.join('\n'), /duplicate kid/);
  // A skipped key verifies nothing (and, within the floor, asks for no new fetch).
  await rejectsWith(verifier.verifyToken(new TestKey('enc-key').token(clock.now)), 'token_key_unknown');
  assert.equal(server.fetches, 1);
});

test('the fetch option replaces the global fetch (edge runtimes)', async (t) => {
  const key = new TestKey();
  const calls = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    jwksUrl: 'https://keys.example.test/jwks.json',
    fetch: async (url, init) => {
      calls.push({ url: String(url), accept: init.headers.accept, signal: init.signal instanceof AbortSignal });
      return new Response(JSON.stringify(jwkSet(key)), { headers: { 'cache-control': 'max-age=60' } });
    },
    clock: manualClock(),
  });
  const now = 1_900_000_000;
  assert.equal((await verifier.verifyToken(key.token(now))).sub, 'user_1');
  assert.deepEqual(calls, [{ url: 'https://keys.example.test/jwks.json', accept: 'application/json', signal: true }]);
  // A fetch that throws or rejects is a failed fetch, not a crash.
  for (const fetch of [
    () => {
      throw new Error('boom');
    },
    async () => {
      throw new Error('boom');
    },
    async () => 'not a Response',
  ]) {
    const broken = createVerifier({ issuer: ISSUER, jwksUrl: 'https://x.test/', fetch, onWarning: () => {} });
    await rejectsWith(broken.verifyToken(key.token(now), { now }), 'jwks_unavailable');
  }
});

test('configuration: one key source, sane durations, an http(s) URL', () => {
  const bad = [
    {},
    { jwksUrl: 'http://127.0.0.1:9/', jwks: { keys: [new TestKey().jwk()] } },
    { jwksUrl: 'not a url' },
    { jwksUrl: 'ftp://example.test/jwks.json' },
    { jwksUrl: 'http://127.0.0.1:9/', jwksMaxTtlSeconds: 10 }, // below the floor (30)
    { jwksUrl: 'http://127.0.0.1:9/', jwksRefetchFloorSeconds: -1 },
    { jwksUrl: 'http://127.0.0.1:9/', jwksMaxTtlSeconds: 1.5 },
    { jwksUrl: 'http://127.0.0.1:9/', httpTimeoutMs: 0 },
    { jwksUrl: 'http://127.0.0.1:9/', cacheCapacity: -1 },
    { jwksUrl: 'http://127.0.0.1:9/', fetch: 'fetch' },
    { jwksUrl: 'http://127.0.0.1:9/', clock: 5 },
    { jwks: { keys: [new TestKey().jwk()] }, jwksMaxTtlSeconds: 10 },
  ];
  for (const options of bad) {
    assert.throws(
      () => createVerifier({ issuer: ISSUER, ...options }),
      (e) => e instanceof TokenError && e.code === 'verifier_config_invalid' && e.status === 500,
      JSON.stringify(options),
    );
  }
  createVerifier({ issuer: ISSUER, jwksUrl: 'https://auth.example.test/.well-known/jwks.json' });
  createVerifier({
    issuer: ISSUER,
    jwksUrl: 'http://127.0.0.1:9/',
    jwksMaxTtlSeconds: 30,
    jwksRefetchFloorSeconds: 30,
  });
});

test('a verification in flight when a refetch drops its key does not put its token in the cache', async (t) => {
  const old = new TestKey();
  const fresh = new TestKey();
  const { server, clock, verifier } = await setup(t, { keys: [old, fresh] });
  await verifier.verifyToken(fresh.token(clock.now));
  clock.advance(225); // a refresh is due
  server.serve(jwkSet(fresh)); // and it drops the old key
  server.state.delayMs = 50;
  // Signature checks take 200 ms from now on, so the one below is still running when the
  // refresh (50 ms) clears the token cache.
  const subtle = globalThis.crypto.subtle;
  const original = subtle.verify;
  subtle.verify = function (...args) {
    return new Promise((resolve) => setTimeout(resolve, 200)).then(() => original.apply(this, args));
  };
  let inFlight;
  try {
    const refreshing = verifier.verifyToken(fresh.token(clock.now));
    inFlight = old.token(clock.now, { lifetime: 3600 });
    // Verified against the set it started with (the old key was still there then)…
    assert.equal((await verifier.verifyToken(inFlight)).sub, 'user_1');
    await refreshing;
  } finally {
    delete subtle.verify;
    if (subtle.verify !== original) subtle.verify = original;
  }
  assert.equal(server.fetches, 2);
  // …but not remembered: the next time it takes the full path, and its key is gone.
  await rejectsWith(verifier.verifyToken(inFlight), 'token_key_unknown');
});
