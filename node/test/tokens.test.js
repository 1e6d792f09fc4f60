// The shared session-token vectors (vectors/tokens.json), minted with the Rust SDK's keys
// and asserted by its tests (crates/reverify/tests/it/vectors.rs): this package's verifier
// must agree with every case.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { TokenError, createVerifier, has } from '../src/index.js';
import { decodeBase64Url, decodeBase64UrlPortable } from '../src/verify.js';

const vectors = JSON.parse(readFileSync(new URL('../../vectors/tokens.json', import.meta.url), 'utf8'));

const verifier = createVerifier({
  issuer: vectors.issuer,
  jwks: vectors.jwks,
  authorizedParties: vectors.authorizedParties,
  clockSkewSeconds: vectors.clockSkewSeconds,
});

test('the vectors cover every algorithm and every token error', () => {
  const ok = vectors.tokens.filter((c) => c.expect.ok);
  for (const alg of ['EdDSA', 'ES256', 'RS256']) {
    assert.ok(
      ok.some((c) => JSON.parse(Buffer.from(c.token.split('.')[0], 'base64url')).alg === alg),
      `a valid ${alg} token`,
    );
  }
  const codes = new Set(vectors.tokens.map((c) => c.expect.code).filter(Boolean));
  for (const code of [
    'token_missing',
    'token_malformed',
    'token_algorithm_unsupported',
    'token_algorithm_mismatch',
    'token_key_unknown',
    'token_signature_invalid',
    'token_claims_invalid',
    'token_expired',
    'token_not_yet_valid',
    'token_issuer_invalid',
    'token_azp_invalid',
  ]) {
    assert.ok(codes.has(code), code);
  }
});

// As the Rust test, without the token cache; and with it (the cache must answer as the full
// path would, whatever the order of the vectors' `now`s).
const uncached = createVerifier({
  issuer: vectors.issuer,
  jwks: vectors.jwks,
  authorizedParties: vectors.authorizedParties,
  clockSkewSeconds: vectors.clockSkewSeconds,
  cacheCapacity: 0,
});

for (const c of vectors.tokens) {
  test(`token: ${c.name}`, async () => {
    for (const v of [uncached, verifier]) {
      if (c.expect.ok) {
        const claims = await v.verifyToken(c.token, { now: c.now });
        assert.equal(claims.sub, c.expect.sub);
        assert.equal(claims.sid ?? null, c.expect.sid);
        continue;
      }
      await assert.rejects(v.verifyToken(c.token, { now: c.now }), (e) => {
        assert.ok(e instanceof TokenError, `a TokenError, got ${e}`);
        assert.equal(e.code, c.expect.code);
        assert.equal(e.status, 401);
        return true;
      });
    }
  });
}

const validEdDSA = vectors.tokens.find((c) => c.name === 'valid EdDSA');

test('a verified token decides with has()', async () => {
  const claims = await verifier.verifyToken(validEdDSA.token, { now: validEdDSA.now });
  assert.equal(claims.iss, vectors.issuer);
  assert.equal(has(claims, 'strict', validEdDSA.now), true);
  assert.equal(has(claims, 'strict_mfa', validEdDSA.now), true);
  // The second factor (verified 60 s before `now`) is too old for strict 10 minutes later.
  assert.equal(has(claims, 'strict', validEdDSA.now + 600), false);
});

test('keys are imported once and verify again (cached per kid)', async () => {
  for (const name of ['valid EdDSA', 'valid ES256', 'valid RS256']) {
    const c = vectors.tokens.find((t) => t.name === name);
    for (let i = 0; i < 3; i++) assert.equal((await verifier.verifyToken(c.token, { now: c.now })).sub, 'user_1');
  }
});

test('the default time is the current time', async () => {
  // Without `now`, the current time: the vector token (valid from 2027-01-15T08:00:00Z for a
  // minute) is either not valid yet or expired.
  const now = Math.floor(Date.now() / 1000);
  const expected = now >= validEdDSA.now + 65 ? 'token_expired' : 'token_not_yet_valid';
  await assert.rejects(verifier.verifyToken(validEdDSA.token), { code: expected });
});

test('TokenError: code, status, body, WWW-Authenticate', async () => {
  const missing = await verifier.verifyToken('').catch((e) => e);
  assert.equal(missing.code, 'token_missing');
  assert.equal(missing.status, 401);
  assert.equal(missing.wwwAuthenticate, 'Bearer');
  assert.deepEqual(missing.body, { code: 'token_missing', message: 'no session token was sent' });
  const expired = await verifier.verifyToken(validEdDSA.token, { now: validEdDSA.now + 65 }).catch((e) => e);
  assert.equal(expired.name, 'TokenError');
  assert.equal(expired.message, 'the session token has expired');
  assert.equal(
    expired.wwwAuthenticate,
    'Bearer error="invalid_token", error_description="the session token has expired"',
  );
  for (const token of [undefined, null]) await assert.rejects(verifier.verifyToken(token), { code: 'token_missing' });
  for (const token of [42, {}, ['a.b.c']])
    await assert.rejects(verifier.verifyToken(token), { code: 'token_malformed' });
  await assert.rejects(verifier.verifyToken(validEdDSA.token, { now: Number.NaN }), TypeError);
});

test('authorizedParties empty: azp is not checked', async () => {
  const lenient = createVerifier({ issuer: vectors.issuer, jwks: vectors.jwks });
  const c = vectors.tokens.find((t) => t.name === 'azp not allowed');
  assert.equal((await lenient.verifyToken(c.token, { now: c.now })).azp, 'https://evil.example');
});

test('clockSkewSeconds moves the boundaries', async () => {
  const strict = createVerifier({ issuer: vectors.issuer, jwks: vectors.jwks, clockSkewSeconds: 0 });
  await assert.rejects(strict.verifyToken(validEdDSA.token, { now: validEdDSA.now + 60 }), { code: 'token_expired' });
  assert.ok(await strict.verifyToken(validEdDSA.token, { now: validEdDSA.now + 59 }));
  await assert.rejects(strict.verifyToken(validEdDSA.token, { now: validEdDSA.now - 1 }), {
    code: 'token_not_yet_valid',
  });
});

test('an unusable configuration is refused when the verifier is created', () => {
  const [ed, ec, rsa] = vectors.jwks.keys;
  const config = (options) => () => createVerifier({ issuer: vectors.issuer, jwks: vectors.jwks, ...options });
  const refused = { name: 'TokenError', code: 'verifier_config_invalid', status: 500 };
  for (const bad of [
    { issuer: '' },
    { issuer: 1 },
    { jwks: undefined },
    { jwks: { keys: [] } },
    { jwks: [ed] },
    { jwks: { keys: [ed, ed] } },
    { jwks: { keys: [{ ...ed, kid: undefined }] } },
    { jwks: { keys: [{ ...ed, use: 'enc' }] } },
    { jwks: { keys: [{ ...ed, alg: 'ES256' }] } },
    { jwks: { keys: [{ ...ed, x: ed.x.slice(0, 20) }] } },
    { jwks: { keys: [{ ...ed, x: `${ed.x}=` }] } },
    { jwks: { keys: [{ ...ec, y: undefined }] } },
    { jwks: { keys: [{ ...ec, crv: 'P-384' }] } },
    { jwks: { keys: [{ ...rsa, n: rsa.n.slice(0, 300) }] } },
    { jwks: { keys: [{ ...rsa, kid: 7 }] } },
    { jwks: { keys: [{ kty: 'oct', kid: 'h', k: 'c2VjcmV0' }] } },
    { jwksUrl: 'https://issuer.example/.well-known/jwks.json' },
    { authorizedParties: 'https://app.example' },
    { clockSkewSeconds: -1 },
    { clockSkewSeconds: 1.5 },
  ]) {
    assert.throws(config(bad), refused, JSON.stringify(bad));
  }
  assert.throws(() => createVerifier(), refused);
  const error = (() => {
    try {
      config({ jwks: { keys: [] } })();
    } catch (e) {
      return e;
    }
  })();
  assert.deepEqual(error.body, { code: 'verifier_config_invalid', message: 'internal server error' });
  assert.equal(error.wwwAuthenticate, null);
});

test('decodeBase64Url is strict, with the Node decoder and without it (edge runtimes)', () => {
  for (const decode of [decodeBase64Url, decodeBase64UrlPortable]) {
    assert.deepEqual([...decode('AQID')], [1, 2, 3]);
    assert.deepEqual([...decode('-_8')], [251, 255]);
    assert.deepEqual([...decode('')], []);
    for (const bad of ['AQID=', 'A', 'AQ==', '+/8', 'AR', 'AQJ', 'a b', 'é', 'AQID\n', ' AQID', 'AQ\u0000D'])
      assert.equal(decode(bad), null, bad);
    assert.ok(decode('AQID') instanceof Uint8Array);
  }
  // Both agree with Node's encoder on every length and every byte.
  for (let length = 0; length < 70; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length * 11) % 256);
    const text = Buffer.from(bytes).toString('base64url');
    assert.deepEqual([...decodeBase64Url(text)], [...bytes], text);
    assert.deepEqual([...decodeBase64UrlPortable(text)], [...bytes], text);
  }
});
