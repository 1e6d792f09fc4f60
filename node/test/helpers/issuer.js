// A test issuer: an Ed25519 key made with WebCrypto, its static JWK set, and session tokens
// signed with it (or deliberately broken), for the adapters' end-to-end tests.
import { webcrypto } from 'node:crypto';

const { subtle } = webcrypto;
const b64 = (bytes) => Buffer.from(bytes).toString('base64url');
const json64 = (value) => b64(Buffer.from(JSON.stringify(value)));

export const ISSUER = 'https://auth.example.test';
export const KID = 'test-ed25519';

export async function createIssuer() {
  const { privateKey, publicKey } = await subtle.generateKey('Ed25519', true, ['sign', 'verify']);
  const other = await subtle.generateKey('Ed25519', true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', publicKey);
  const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: KID, use: 'sig', alg: 'EdDSA' }] };
  const now = () => Math.floor(Date.now() / 1000);
  let serial = 0;

  /** The claims of a session whose factors were verified `ageSeconds` ago. */
  function claims({ ageSeconds = 30, sub = 'user_7', ...overrides } = {}) {
    const t = now();
    return {
      iss: ISSUER,
      sub,
      sid: `sess_${sub}`,
      iat: t - 5,
      exp: t + 300,
      jti: `jti_${++serial}`,
      fvt: [t - ageSeconds, t - ageSeconds],
      ...overrides,
    };
  }

  async function sign(payload, { header = { alg: 'EdDSA', typ: 'JWT', kid: KID }, key = privateKey } = {}) {
    const input = `${json64(header)}.${json64(payload)}`;
    const signature = new Uint8Array(await subtle.sign('Ed25519', key, Buffer.from(input)));
    return `${input}.${b64(signature)}`;
  }

  return {
    jwks,
    claims,
    sign,
    /** A session verified 30 s ago: passes `strict`. */
    fresh: (sub) => sign(claims({ sub })),
    /** A session verified an hour ago: signed in, but not `strict`. */
    stale: (sub) => sign(claims({ sub, ageSeconds: 3600 })),
    expired: () => sign(claims({ iat: now() - 600, exp: now() - 60 })),
    wrongIssuer: () => sign(claims({ iss: 'https://evil.example' })),
    /** Signed with another key under the same `kid`. */
    forged: () => sign(claims(), { key: other.privateKey }),
    algNone: () => `${json64({ alg: 'none', typ: 'JWT', kid: KID })}.${json64(claims())}.`,
  };
}
