// A session verifier takes session tokens only: an RFC 9068 access token (`typ: at+jwt`)
// and an OpenID Connect ID token (it has an `aud`) are refused with `token_type_invalid`,
// as by the Rust SDK (crates/reverify/tests/it/access_tokens.rs), in the same order of
// checks: the signature first, then the type, then the claims.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createVerifier } from '../src/index.js';
import { ISSUER, KID, createIssuer } from './helpers/issuer.js';

const issuer = await createIssuer();
const verifier = createVerifier({ issuer: ISSUER, jwks: issuer.jwks, cacheCapacity: 0 });

async function code(token) {
  try {
    await verifier.verifyToken(token);
    return 'ok';
  } catch (e) {
    return e.code;
  }
}

test('an access token is not a session token, whatever the case of its type', async () => {
  for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT', 'Application/At+Jwt']) {
    const token = await issuer.sign(issuer.claims(), { header: { alg: 'EdDSA', typ, kid: KID } });
    assert.equal(await code(token), 'token_type_invalid', typ);
  }
  for (const typ of ['JWT', 'jwt', 'at+jwt2', 'xat+jwt', null]) {
    const token = await issuer.sign(issuer.claims(), { header: { alg: 'EdDSA', typ, kid: KID } });
    assert.equal(await code(token), 'ok', String(typ));
  }
});

test('an ID token (or anything with an audience) is not a session token', async () => {
  for (const aud of ['client_test', ['client_test', 'other']]) {
    for (const header of [
      { alg: 'EdDSA', typ: 'JWT', kid: KID },
      { alg: 'EdDSA', kid: KID },
    ]) {
      const token = await issuer.sign(issuer.claims({ aud, nonce: 'n-0S6_WzA2Mj' }), { header });
      assert.equal(await code(token), 'token_type_invalid', JSON.stringify({ aud, header }));
    }
  }
  // `aud: null` is no audience.
  assert.equal(await code(await issuer.sign(issuer.claims({ aud: null }))), 'ok');
});

test('the order: signature, then type, then claims', async () => {
  const forged = await issuer.sign(issuer.claims(), { header: { alg: 'EdDSA', typ: 'at+jwt', kid: KID } });
  const [head, payload] = forged.split('.');
  assert.equal(await code(`${head}.${payload}.${'A'.repeat(86)}`), 'token_signature_invalid');
  // An access token with invalid claims: the type is reported.
  const typed = await issuer.sign(issuer.claims({ sub: 7 }), { header: { alg: 'EdDSA', typ: 'at+jwt', kid: KID } });
  assert.equal(await code(typed), 'token_type_invalid');
  // An audience with an expired token or a wrong issuer: the type first, as in Rust.
  const old = await issuer.sign(issuer.claims({ aud: 'x', iat: 1, exp: 2 }));
  assert.equal(await code(old), 'token_type_invalid');
  // Invalid claim types come before the audience.
  const badTypes = await issuer.sign(issuer.claims({ aud: 'x', sub: 7 }));
  assert.equal(await code(badTypes), 'token_claims_invalid');
});

test('a typ that is not a string is a malformed header', async () => {
  for (const typ of [1, true, ['JWT'], {}]) {
    const token = await issuer.sign(issuer.claims(), { header: { alg: 'EdDSA', typ, kid: KID } });
    assert.equal(await code(token), 'token_malformed', JSON.stringify(typ));
  }
});
