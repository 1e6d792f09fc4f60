// The verified-token cache: bounded, per token string, never a way around verification, and
// answering exactly as the full path would (crates/reverify/tests/it/cache.rs tests the same
// in Rust).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createVerifier, has } from '../src/index.js';
import { ISSUER, TestKey, jwkSet } from './support/issuer.js';

const NOW = 1_900_000_000;
const key = new TestKey();
const verifierWith = (options = {}) => createVerifier({ issuer: ISSUER, jwks: jwkSet(key), ...options });

/** Counts WebCrypto signature checks while `body` runs. */
async function countVerifies(body) {
  const subtle = globalThis.crypto.subtle;
  const original = subtle.verify;
  let calls = 0;
  subtle.verify = function (...args) {
    calls++;
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    delete subtle.verify;
    if (subtle.verify !== original) subtle.verify = original;
  }
  return calls;
}

test('a repeated token is verified once, then answered from the cache', async () => {
  const verifier = verifierWith();
  const token = key.token(NOW);
  const calls = await countVerifies(async () => {
    const first = await verifier.verifyToken(token, { now: NOW });
    for (let i = 0; i < 5; i++) assert.equal(await verifier.verifyToken(token, { now: NOW + i }), first);
  });
  assert.equal(calls, 1, 'one signature check for six verifications');
  assert.equal(verifier.cachedTokens(), 1);
});

test('the claims handed out are frozen, nested values too', async () => {
  const verifier = verifierWith();
  const claims = await verifier.verifyToken(key.token(NOW, { amr: ['pwd', 'otp'] }), { now: NOW });
  assert.ok(Object.isFrozen(claims) && Object.isFrozen(claims.fvt) && Object.isFrozen(claims.amr));
  assert.throws(() => {
    claims.fvt[1] = NOW;
  }, TypeError);
  assert.equal(has(claims, 'strict', NOW), true);
});

test('a forged token reusing a real signature never hits', async () => {
  const verifier = verifierWith();
  const real = key.token(NOW, { sub: 'user_1' });
  await verifier.verifyToken(real, { now: NOW });
  const [header, , signature] = real.split('.');
  const forgedPayload = key.token(NOW, { sub: 'admin' }).split('.')[1];
  await assert.rejects(verifier.verifyToken(`${header}.${forgedPayload}.${signature}`, { now: NOW }), {
    code: 'token_signature_invalid',
  });
  // A prefix or an extension of a cached token is another token.
  await assert.rejects(verifier.verifyToken(`${real}A`, { now: NOW }), { code: 'token_signature_invalid' });
  await assert.rejects(verifier.verifyToken(real.slice(0, -2), { now: NOW }), (e) => e.code !== undefined);
  assert.equal(verifier.cachedTokens(), 1);
});

test('a cached token answers as the full path would: expired at exp + skew, not valid before nbf - skew', async () => {
  for (const cacheCapacity of [10_000, 0]) {
    const verifier = verifierWith({ cacheCapacity });
    const token = key.token(NOW, { lifetime: 60 });
    await verifier.verifyToken(token, { now: NOW });
    assert.equal((await verifier.verifyToken(token, { now: NOW + 64 })).sub, 'user_1');
    await assert.rejects(verifier.verifyToken(token, { now: NOW + 65 }), { code: 'token_expired' });
    assert.equal((await verifier.verifyToken(token, { now: NOW - 5 })).sub, 'user_1');
    await assert.rejects(verifier.verifyToken(token, { now: NOW - 6 }), { code: 'token_not_yet_valid' });
  }
});

test('the cache is bounded', async () => {
  const verifier = verifierWith({ cacheCapacity: 32 });
  for (let i = 0; i < 500; i++) {
    assert.equal((await verifier.verifyToken(key.token(NOW, { sub: `user_${i}` }), { now: NOW })).sub, `user_${i}`);
    assert.ok(verifier.cachedTokens() <= 32);
  }
  assert.equal(verifier.cachedTokens(), 32);
});

test('expired entries make room for new ones', async () => {
  const verifier = verifierWith({ cacheCapacity: 16 });
  const old = Array.from({ length: 16 }, (_, i) => key.token(NOW, { sub: `old_${i}`, lifetime: 60 }));
  for (const token of old) await verifier.verifyToken(token, { now: NOW });
  const keeper = key.token(NOW, { sub: 'keeper', lifetime: 3600 });
  await verifier.verifyToken(keeper, { now: NOW }); // evicts the oldest
  assert.equal(verifier.cachedTokens(), 16);
  const later = NOW + 120;
  await verifier.verifyToken(key.token(later, { sub: 'new' }), { now: later });
  // The expired ones were swept, so the long-lived one stayed.
  assert.equal(verifier.cachedTokens(), 2);
  const calls = await countVerifies(() => verifier.verifyToken(keeper, { now: later }));
  assert.equal(calls, 0);
  for (const token of old) await assert.rejects(verifier.verifyToken(token, { now: later }), { code: 'token_expired' });
});

test('cacheCapacity 0 disables the cache', async () => {
  const verifier = verifierWith({ cacheCapacity: 0 });
  const token = key.token(NOW);
  const calls = await countVerifies(async () => {
    await verifier.verifyToken(token, { now: NOW });
    await verifier.verifyToken(token, { now: NOW });
  });
  assert.equal(calls, 2);
  assert.equal(verifier.cachedTokens(), 0);
});

test('refused tokens are not cached', async () => {
  const verifier = verifierWith();
  const other = createVerifier({ issuer: 'https://other.example.test', jwks: jwkSet(key) });
  const token = key.token(NOW);
  await assert.rejects(other.verifyToken(token, { now: NOW }), { code: 'token_issuer_invalid' });
  await assert.rejects(other.verifyToken(token, { now: NOW }), { code: 'token_issuer_invalid' });
  assert.equal(other.cachedTokens(), 0);
  await assert.rejects(verifier.verifyToken(token, { now: NOW + 3600 }), { code: 'token_expired' });
  assert.equal(verifier.cachedTokens(), 0);
});

test('without `now`, the clock option gives the time; a `now` that is not a finite number is refused', async () => {
  let clockNow = NOW;
  const verifier = verifierWith({ clock: () => clockNow, cacheCapacity: 0 });
  const token = key.token(NOW, { lifetime: 60 });
  assert.equal((await verifier.verifyToken(token)).sub, 'user_1');
  clockNow = NOW + 65;
  await assert.rejects(verifier.verifyToken(token), { code: 'token_expired' });
  assert.equal((await verifier.verifyToken(token, { now: NOW })).sub, 'user_1');
  for (const now of [null, NaN, Infinity, '1900000000']) {
    await assert.rejects(verifier.verifyToken(token, { now }), TypeError, String(now));
  }
});

test('a bad signature is reported before anything wrong in the claims (they are read meanwhile)', async () => {
  const verifier = verifierWith();
  const real = key.token(NOW);
  const [header, , signature] = real.split('.');
  const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  for (const payload of [
    b64({ iss: 'https://elsewhere.test', sub: 'u', iat: NOW, exp: NOW + 60 }),
    b64({ iss: ISSUER, sub: 'u', iat: NOW - 600, exp: NOW - 300 }),
    b64({ iss: ISSUER, sub: 7, iat: NOW, exp: NOW + 60 }),
    b64('{"iss":'),
    'not base64!',
  ]) {
    await assert.rejects(verifier.verifyToken(`${header}.${payload}.${signature}`, { now: NOW }), {
      code: 'token_signature_invalid', // the payload is decoded only after the signature, as in Rust
    });
  }
  // With a good signature, the claims' own error.
  await assert.rejects(verifier.verifyToken(key.token(NOW, { iss: 'https://elsewhere.test' }), { now: NOW }), {
    code: 'token_issuer_invalid',
  });
});
