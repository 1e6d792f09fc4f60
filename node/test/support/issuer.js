// Test helpers: an issuer that signs EdDSA session tokens with a fresh key, and a real HTTP
// server (node:http on 127.0.0.1) that serves a JWK set with the headers a test chooses and
// counts the requests it receives.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';

export const ISSUER = 'https://auth.example.test';

/** A signing key of the issuer: `jwk()` is its public JWK, `token(claims)` a signed session token. */
export class TestKey {
  constructor(kid = `key_${randomUUID()}`) {
    this.kid = kid;
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    this.publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'EdDSA' };
  }

  jwk() {
    return { ...this.publicJwk };
  }

  /** A token issued at `now` (unix seconds), valid `lifetime` seconds, with a fresh second factor. */
  token(now, { lifetime = 60, sub = 'user_1', ...extra } = {}) {
    const header = { alg: 'EdDSA', kid: this.kid, typ: 'JWT' };
    const claims = {
      iss: ISSUER,
      sub,
      sid: 'sess_1',
      iat: now,
      nbf: now,
      exp: now + lifetime,
      jti: randomUUID(),
      fvt: [now - 30, now - 30],
      ...extra,
    };
    const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${sign(null, Buffer.from(input), this.privateKey).toString('base64url')}`;
  }
}

/** A JWK set of these keys. */
export const jwkSet = (...keys) => ({ keys: keys.map((k) => k.jwk()) });

/**
 * A JWKS endpoint on a real HTTP server. `serve(set)` chooses what it answers (`null`: 500),
 * `headers` extra response headers, `delayMs` a delay before answering, `raw` a body sent
 * as is (with `status`). `fetches` counts the requests.
 */
export async function startJwksServer() {
  const state = { set: null, headers: {}, delayMs: 0, raw: null, status: 200, fetches: 0, hang: false };
  const server = createServer((req, res) => {
    state.fetches++;
    if (state.hang) return; // never answers
    const answer = () => {
      if (state.raw !== null) {
        res.writeHead(state.status, { 'content-type': 'application/json', ...state.headers });
        res.end(state.raw);
      } else if (state.set === null) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('down');
      } else {
        res.writeHead(200, { 'content-type': 'application/json', ...state.headers });
        res.end(JSON.stringify(state.set));
      }
    };
    if (state.delayMs > 0) setTimeout(answer, state.delayMs);
    else answer();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    state,
    serve(set) {
      state.set = set;
      state.raw = null;
    },
    get fetches() {
      return state.fetches;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A clock the test moves: `clock.now` in unix seconds, `clock.advance(seconds)`. */
export function manualClock(start = 1_900_000_000) {
  const clock = () => clock.now;
  clock.now = start;
  clock.advance = (seconds) => {
    clock.now += seconds;
  };
  return clock;
}
