import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ReverifyClient, fromBase64url, toBase64url, parseCreationOptions, parseRequestOptions } from '../src/index.js';
import { fakeFetch, session, user } from './fake.js';

afterEach(() => {
  delete globalThis.navigator;
  delete globalThis.PublicKeyCredential;
});

const bytes = (...b) => new Uint8Array(b).buffer;
const text = (buf) => Buffer.from(buf).toString();

test('base64url both ways, without padding, with - and _', () => {
  const b = bytes(0xfb, 0xff, 0xbf, 0x00);
  assert.equal(toBase64url(b), '-_-_AA');
  assert.deepEqual(new Uint8Array(fromBase64url('-_-_AA')), new Uint8Array(b));
  assert.equal(toBase64url(new Uint8Array([104, 105])), 'aGk');
});

test('options fallback: challenge, user id and credential ids become ArrayBuffers', () => {
  const c = parseCreationOptions({
    challenge: toBase64url(bytes(1, 2, 3)),
    rp: { name: 'Reverify' },
    user: { id: toBase64url(bytes(9)), name: 'a@example.com', displayName: 'a' },
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    excludeCredentials: [{ type: 'public-key', id: toBase64url(bytes(7, 7)) }],
  });
  assert.ok(c.challenge instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(c.challenge), new Uint8Array([1, 2, 3]));
  assert.deepEqual(new Uint8Array(c.user.id), new Uint8Array([9]));
  assert.equal(c.user.name, 'a@example.com');
  assert.deepEqual(new Uint8Array(c.excludeCredentials[0].id), new Uint8Array([7, 7]));
  const r = parseRequestOptions({ challenge: 'AQID', rpId: 'app.test', userVerification: 'preferred' });
  assert.deepEqual(new Uint8Array(r.challenge), new Uint8Array([1, 2, 3]));
  assert.equal(r.allowCredentials, undefined);
  assert.equal(r.rpId, 'app.test');
});

/** A fake authenticator (no JSON helpers: the fallback path). */
function fakeAuthenticator() {
  const seen = {};
  globalThis.navigator = {
    credentials: {
      async get({ publicKey }) {
        seen.get = publicKey;
        return {
          id: 'cred-1',
          rawId: bytes(1),
          type: 'public-key',
          authenticatorAttachment: 'platform',
          response: {
            clientDataJSON: new TextEncoder().encode('{"type":"webauthn.get"}').buffer,
            authenticatorData: bytes(5),
            signature: bytes(6),
            userHandle: bytes(9),
          },
          getClientExtensionResults: () => ({}),
        };
      },
      async create({ publicKey }) {
        seen.create = publicKey;
        return {
          id: 'cred-2',
          rawId: bytes(2),
          type: 'public-key',
          authenticatorAttachment: null,
          response: { clientDataJSON: bytes(3), attestationObject: bytes(4), getTransports: () => ['internal'] },
          getClientExtensionResults: () => ({ credProps: { rk: true } }),
        };
      },
    },
  };
  return seen;
}

test('passkey sign-in: options to the browser, the assertion back as JSON, signed in', async () => {
  const seen = fakeAuthenticator();
  const f = fakeFetch({
    'POST /v1/sign_ins/passkey': () => ({
      id: 'psi_1',
      publicKey: { challenge: 'AQID', rpId: 'app.test' },
      expires_at: 1,
    }),
    'POST /v1/sign_ins/passkey/psi_1': () => ({ status: 'complete', user, session, token: 'tok' }),
  });
  const client = new ReverifyClient({ fetch: f });
  await client.signInWithPasskey();
  assert.deepEqual(new Uint8Array(seen.get.challenge), new Uint8Array([1, 2, 3]));
  const { credential } = f.calls.at(-1).body;
  assert.deepEqual(credential, {
    id: 'cred-1',
    rawId: 'AQ',
    type: 'public-key',
    authenticatorAttachment: 'platform',
    clientExtensionResults: {},
    response: {
      clientDataJSON: toBase64url(new TextEncoder().encode('{"type":"webauthn.get"}')),
      authenticatorData: 'BQ',
      signature: 'Bg',
      userHandle: 'CQ',
    },
  });
  assert.equal(client.user.id, 'usr_1');
  assert.equal(await client.getToken(), 'tok');
});

test('registering a passkey: create options converted, credential and name sent', async () => {
  const seen = fakeAuthenticator();
  const f = fakeFetch({
    'POST /v1/me/passkeys/registrations': () => ({
      id: 'reg_1',
      publicKey: {
        challenge: 'AQID',
        rp: { name: 'R' },
        user: { id: 'CQ', name: 'a', displayName: 'a' },
        pubKeyCredParams: [],
      },
    }),
    'POST /v1/me/passkeys/registrations/reg_1': (b) => ({ id: 'pk_1', name: b.name }),
  });
  const out = await new ReverifyClient({ fetch: f }).registerPasskey('Laptop');
  assert.deepEqual(out, { id: 'pk_1', name: 'Laptop' });
  assert.deepEqual(new Uint8Array(seen.create.user.id), new Uint8Array([9]));
  const { credential, name } = f.calls.at(-1).body;
  assert.equal(name, 'Laptop');
  assert.deepEqual(credential.response, { clientDataJSON: 'Aw', attestationObject: 'BA', transports: ['internal'] });
  assert.deepEqual(credential.clientExtensionResults, { credProps: { rk: true } });
});

test('verifying with a passkey uses the prepared challenge; native JSON helpers are preferred', async () => {
  const used = [];
  globalThis.PublicKeyCredential = { parseRequestOptionsFromJSON: (o) => (used.push(o), { native: true }) };
  globalThis.navigator = {
    credentials: { get: async (o) => ({ toJSON: () => ({ id: 'native', options: o.publicKey }) }) },
  };
  const f = fakeFetch({
    'POST /v1/sessions/current/verifications/ver_1/prepare': (b) => ({
      id: 'ver_1',
      status: 'needs_first_factor',
      strategy: b.strategy,
      passkey: { publicKey: { challenge: 'Zm9v' } },
    }),
    'POST /v1/sessions/current/verifications/ver_1/attempt': (b) => ({
      verification: { id: 'ver_1', status: 'complete' },
      session,
      token: 't',
      echo: b,
    }),
  });
  const out = await new ReverifyClient({ fetch: f }).verifyWithPasskey('ver_1');
  assert.deepEqual(f.calls[0].body, { strategy: 'passkey' });
  assert.deepEqual(used, [{ challenge: 'Zm9v' }]);
  assert.deepEqual(out.echo, { strategy: 'passkey', credential: { id: 'native', options: { native: true } } });
});
