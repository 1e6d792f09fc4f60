// Offline verification of Reverify session tokens against a JWK set, with exactly the Rust
// SDK's rules, order of checks and error codes (crates/reverify/src/verifier.rs, jwt.rs,
// jwk.rs, error.rs, claims.rs; docs/sdk.md "Verification" and "Errors"). WebCrypto only.
//
// In order: size (≤ 16 KiB) and shape (three base64url parts); the header (`alg` must be
// EdDSA, ES256 or RS256 — `none`, HMAC and anything else are refused before any key lookup;
// `kid` required; any `crit` refused); the key by `kid`; the key's own algorithm (pinned
// when the key is loaded: OKP/Ed25519 → EdDSA, EC/P-256 → ES256, RSA ≥ 2048 bits → RS256)
// must equal the header's `alg`; the signature; the claims' JSON and types; `iss`; `sub`;
// `exp`; `nbf`/`iat`; `azp`. Held to the shared vectors (vectors/tokens.json).

import { RemoteKeys, warn } from './jwks.js';
import { TokenCache } from './cache.js';
import { TokenError } from './token-error.js';

export { TokenError };

const fail = (code) => new TokenError(code);
const configError = (detail) => new TokenError('verifier_config_invalid', detail);

/** Tokens longer than this (in UTF-8 bytes) are rejected before any decoding. */
const MAX_TOKEN_LEN = 16 * 1024;
/** The largest signature accepted: RSA-8192. */
const MAX_SIGNATURE_LEN = 1024;
const I64_LIMIT = 2 ** 63;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SEXTETS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SEXTETS[ALPHABET.charCodeAt(i)] = i;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Node's (and Bun's) native decoder when there is one; the text is validated before it decodes. */
const NodeBuffer = typeof globalThis.Buffer?.from === 'function' ? globalThis.Buffer : null;

/**
 * Strict base64url without padding, as the Rust SDK decodes it: no `=`, no other alphabet,
 * no impossible length, and the unused bits of the last character must be zero. `null` when
 * the text is not such base64url.
 */
export function decodeBase64Url(text) {
  if (!isStrictBase64Url(text)) return null;
  if (NodeBuffer === null) return decodeValidBase64Url(text);
  const bytes = NodeBuffer.from(text, 'base64url');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

function isStrictBase64Url(text) {
  const rem = text.length % 4;
  if (rem === 1 || !BASE64URL.test(text)) return false;
  if (rem === 0) return true;
  // The unused low bits of the last character must be zero: 4 of them after 2 characters
  // of a group, 2 after 3.
  return (SEXTETS[text.charCodeAt(text.length - 1)] & (rem === 2 ? 0x0f : 0x03)) === 0;
}

/** The bytes of valid base64url text, with the Web's `atob` (edge runtimes). */
function decodeValidBase64Url(text) {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** `decodeBase64Url` without Node's decoder, as on edge runtimes (for the tests). */
export function decodeBase64UrlPortable(text) {
  return isStrictBase64Url(text) ? decodeValidBase64Url(text) : null;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();

/** base64url → UTF-8 → JSON, with the text kept for the duplicate-member check; `null` on any failure. */
function decodeJson(part) {
  const bytes = decodeBase64Url(part);
  if (bytes === null) return null;
  try {
    const text = UTF8.decode(bytes);
    return { text, value: JSON.parse(text) };
  } catch {
    return null;
  }
}

const WHITESPACE = ' \t\n\r';

function skipString(text, i) {
  i++;
  while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipValue(text, i) {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (;;) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') depth--;
      i++;
      if (depth === 0) return i;
    }
  }
  while (i < text.length && !',}] \t\n\r'.includes(text[i])) i++;
  return i;
}

/** The member names of the JSON object `text` (valid JSON: JSON.parse accepted it), unescaped, in order. */
function memberNames(text) {
  const names = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && WHITESPACE.includes(text[i])) i++;
  };
  ws();
  i++; // {
  ws();
  if (text[i] === '}') return names;
  for (;;) {
    ws();
    const start = i;
    i = skipString(text, i);
    names.push(JSON.parse(text.slice(start, i)));
    ws();
    i++; // :
    ws();
    i = skipValue(text, i);
    ws();
    if (text[i] !== ',') return names;
    i++;
  }
}

/** Whether one of `fields` appears twice among the object's members (serde refuses that; JSON.parse keeps the last). */
function hasDuplicateField(text, fields) {
  if (!mayHaveDuplicateField(text, fields)) return false;
  const seen = new Set();
  for (const name of memberNames(text)) {
    if (!fields.includes(name)) continue;
    if (seen.has(name)) return true;
    seen.add(name);
  }
  return false;
}

/**
 * A quick pass for the common case, JSON without any backslash: every quote then opens or
 * closes a string, and a member name is a string followed by `:`. Names at every depth are
 * seen, so `true` only means "perhaps" (a nested member may share a name): the exact walk
 * decides then. `false` is certain.
 */
function mayHaveDuplicateField(text, fields) {
  if (text.includes('\\')) return true;
  let seen = 0;
  let open = text.indexOf('"');
  while (open !== -1) {
    const close = text.indexOf('"', open + 1);
    let j = close + 1;
    let c = text.charCodeAt(j);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++j);
    if (c === 58 && close - open <= 10) {
      const index = fields.indexOf(text.slice(open + 1, close));
      if (index >= 0) {
        const bit = 1 << index;
        if (seen & bit) return true;
        seen |= bit;
      }
    }
    open = text.indexOf('"', close + 1);
  }
  return false;
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a decoded JSON value as serde reads it into a struct with these fields: an object
 * by member name, or an array by position (serde's sequence form). Returns the fields as
 * an object (absent ones `undefined`), `'syntax'` for too many array elements (a syntax
 * error in serde_json), `'data'` for anything else that is not a struct.
 */
function readStruct(value, text, fields) {
  if (Array.isArray(value)) {
    if (value.length > fields.length) return 'syntax';
    const out = {};
    fields.forEach((f, i) => {
      if (i < value.length) out[f] = value[i];
    });
    return out;
  }
  if (!isObject(value)) return 'data';
  if (hasDuplicateField(text, fields)) return 'data';
  const out = {};
  for (const f of fields) if (Object.hasOwn(value, f)) out[f] = value[f];
  return out;
}

const HEADER_FIELDS = ['alg', 'kid', 'crit', 'typ'];

/** RFC 9068 §4: `at+jwt` or `application/at+jwt`, in any case — an access token's type. */
const isAccessTokenType = (typ) => typeof typ === 'string' && /^(application\/)?at\+jwt$/i.test(typ);

/**
 * Accepted headers, by their base64url text: a header is read once, then found again (an
 * issuer's tokens share a few headers). Bounded: when full, it starts over.
 */
const HEADERS = new Map();
const HEADERS_MAX = 256;

/** The header's `{alg, kid}`, or throws the Rust SDK's error for it. */
function parseHeader(headerB64) {
  const known = HEADERS.get(headerB64);
  if (known !== undefined) return known;
  const decoded = decodeJson(headerB64);
  if (decoded === null) throw fail('token_malformed');
  const header = readStruct(decoded.value, decoded.text, HEADER_FIELDS);
  if (typeof header !== 'object' || typeof header.alg !== 'string') throw fail('token_malformed');
  if (header.kid !== undefined && header.kid !== null && typeof header.kid !== 'string') throw fail('token_malformed');
  if (header.crit !== undefined && header.crit !== null) throw fail('token_malformed');
  if (header.typ !== undefined && header.typ !== null && typeof header.typ !== 'string') throw fail('token_malformed');
  // `none`, HMAC and anything else are refused here, before any key is looked up.
  if (!ALGORITHMS.includes(header.alg)) throw fail('token_algorithm_unsupported');
  if (typeof header.kid !== 'string') throw fail('token_key_unknown');
  const parsed = Object.freeze({ alg: header.alg, kid: header.kid, accessToken: isAccessTokenType(header.typ) });
  if (HEADERS.size >= HEADERS_MAX) HEADERS.clear();
  HEADERS.set(headerB64, parsed);
  return parsed;
}

function parseCompact(token) {
  if (token.length > MAX_TOKEN_LEN / 3 && ENCODER.encode(token).length > MAX_TOKEN_LEN) throw fail('token_malformed');
  const firstDot = token.indexOf('.');
  const secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
  if (secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) throw fail('token_malformed');
  const { alg, kid, accessToken } = parseHeader(token.slice(0, firstDot));
  const signatureB64 = token.slice(secondDot + 1);
  if (signatureB64.length > (MAX_SIGNATURE_LEN * 4) / 3 + 4) throw fail('token_malformed');
  const signature = decodeBase64Url(signatureB64);
  if (signature === null || signature.length > MAX_SIGNATURE_LEN) throw fail('token_malformed');
  return {
    alg,
    kid,
    accessToken,
    signingInput: ENCODER.encode(token.slice(0, secondDot)),
    payloadB64: token.slice(firstDot + 1, secondDot),
    signature,
  };
}

const CLAIM_FIELDS = [
  'iss',
  'sub',
  'sid',
  'iat',
  'nbf',
  'exp',
  'jti',
  'azp',
  'fva',
  'fvt',
  'auth_time',
  'amr',
  'acr',
  'apr',
];
const isI64 = (v) => Number.isInteger(v) && Math.abs(v) < I64_LIMIT;
const absent = (v) => v === undefined || v === null;

const isOptionalString = (v) => v === undefined || v === null || typeof v === 'string';

/** The claims, typed as the Rust SDK types them (claims.rs), or a `TokenError`. */
function parseClaims(payloadB64) {
  const decoded = decodeJson(payloadB64);
  if (decoded === null) throw fail('token_malformed');
  const { value } = decoded;
  let fields = value;
  if (Array.isArray(value)) {
    fields = readStruct(value, decoded.text, CLAIM_FIELDS);
    if (fields === 'syntax') throw fail('token_malformed');
  } else if (!isObject(value) || hasDuplicateField(decoded.text, CLAIM_FIELDS)) {
    throw fail('token_claims_invalid');
  }
  // (None of the claims' names is a property of Object.prototype: reading them reads own members.)
  const valid =
    typeof fields.iss === 'string' &&
    typeof fields.sub === 'string' &&
    isI64(fields.iat) &&
    isI64(fields.exp) &&
    (absent(fields.nbf) || isI64(fields.nbf)) &&
    isOptionalString(fields.sid) &&
    isOptionalString(fields.jti) &&
    isOptionalString(fields.azp);
  if (!valid) throw fail('token_claims_invalid');
  // An object payload is returned as it is (informational claims of another type stay,
  // and read as absent to `has()`); a positional one as the object it stands for.
  if (fields !== value) {
    const claims = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) claims[k] = v;
    return claims;
  }
  return value;
}

// --- Keys --------------------------------------------------------------------------------

const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'];

const JWK_STRING_MEMBERS = ['kid', 'use', 'alg', 'crv', 'x', 'y', 'n', 'e'];

/** Throws unless `jwk` has the shape the Rust SDK's `Jwk` deserializes (a `kty` string; the other members strings or absent). */
function checkJwkShape(jwk) {
  if (!isObject(jwk)) throw new Error('a key is not an object');
  for (const name of JWK_STRING_MEMBERS) {
    if (!absent(jwk[name]) && typeof jwk[name] !== 'string') throw new Error(`${name} is not a string`);
  }
  if (typeof jwk.kty !== 'string') throw new Error('kty is not a string');
}

/** A usable JWK → `{ alg, material }`, pinned to one algorithm; throws the reason it is unusable. */
function loadJwk(jwk) {
  checkJwkShape(jwk);
  if (absent(jwk.kid)) throw new Error('a key has no kid');
  if (!absent(jwk.use) && jwk.use !== 'sig') throw new Error(`use is ${JSON.stringify(jwk.use)}, not "sig"`);
  const b64 = (name) => {
    if (absent(jwk[name])) throw new Error(`missing ${name}`);
    const bytes = decodeBase64Url(jwk[name]);
    if (bytes === null) throw new Error(`${name} is not base64url`);
    return bytes;
  };
  let key;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const x = b64('x');
    if (x.length !== 32) throw new Error('x is not 32 bytes');
    key = { alg: 'EdDSA', x };
  } else if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const x = b64('x');
    const y = b64('y');
    if (x.length !== 32 || y.length !== 32) throw new Error('P-256 coordinates must be 32 bytes');
    const point = new Uint8Array(65);
    point[0] = 4;
    point.set(x, 1);
    point.set(y, 33);
    key = { alg: 'ES256', point };
  } else if (jwk.kty === 'RSA') {
    let n = b64('n');
    const e = b64('e');
    let zeros = 0;
    while (zeros < n.length && n[zeros] === 0) zeros++;
    n = n.subarray(zeros);
    if (n.length < 256) throw new Error('RSA keys shorter than 2048 bits are not accepted');
    key = { alg: 'RS256', n, e };
  } else {
    throw new Error(`unsupported key type ${jwk.kty} / ${jwk.crv ?? 'no curve'}`);
  }
  if (!absent(jwk.alg) && jwk.alg !== key.alg) throw new Error(`alg ${jwk.alg} does not fit a ${key.alg} key`);
  key.verifyAlgorithm = VERIFY_ALGORITHMS[key.alg];
  key.signatureLength = signatureLength(key);
  return key;
}

/** The keys of a developer-given JWK set, by kid: every key must be usable (as the Rust SDK's static sets). */
function loadStaticKeys(jwks) {
  if (!isObject(jwks) || !Array.isArray(jwks.keys)) throw configError('jwks must be a JWK set {keys: [...]}');
  const keys = new Map();
  for (const jwk of jwks.keys) {
    let key;
    try {
      key = loadJwk(jwk);
    } catch (e) {
      throw configError(`the static JWK set holds an unusable key (${e.message})`);
    }
    if (keys.has(jwk.kid)) throw configError(`the static JWK set holds the kid ${JSON.stringify(jwk.kid)} twice`);
    keys.set(jwk.kid, key);
  }
  if (keys.size === 0) throw configError('the static JWK set is empty');
  return keys;
}

/**
 * The usable keys of a fetched JWK set, by kid. A document that is not a JWK set (not an
 * object with a `keys` array, or a key of the wrong shape: the Rust SDK's serde refuses the
 * whole document then) throws; unusable keys (no `kid`, `use` other than `sig`, an
 * unsupported type, a duplicate `kid`) are skipped with a warning, so that one odd key
 * cannot take the whole set down.
 */
function loadFetchedKeys(json, onWarning) {
  if (!isObject(json) || !Array.isArray(json.keys)) throw new Error('not a JWK set {keys: [...]}');
  json.keys.forEach(checkJwkShape);
  const keys = new Map();
  for (const jwk of json.keys) {
    if (absent(jwk.kid)) {
      warn(onWarning, `skipping a JWK without kid (kty ${jwk.kty})`);
      continue;
    }
    if (keys.has(jwk.kid)) {
      warn(onWarning, `skipping a JWK with a duplicate kid ${JSON.stringify(jwk.kid)}`);
      continue;
    }
    try {
      keys.set(jwk.kid, loadJwk(jwk));
    } catch (e) {
      warn(onWarning, `skipping an unusable JWK ${JSON.stringify(jwk.kid)}: ${e.message}`);
    }
  }
  return keys;
}

function toBase64Url(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += ALPHABET[(chunk >> (18 - 6 * j)) & 63];
  }
  return out;
}

const bigEndian = (bytes) => bytes.reduce((acc, b) => acc * 256n + BigInt(b), 0n);

/** The WebCrypto key for a loaded key, or `null` when WebCrypto refuses it (no token verifies then). */
async function importKey(key) {
  const { subtle } = globalThis.crypto;
  try {
    if (key.alg === 'EdDSA') return await subtle.importKey('raw', key.x, { name: 'Ed25519' }, false, ['verify']);
    if (key.alg === 'ES256') {
      return await subtle.importKey('raw', key.point, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    }
    // What ring accepts (RSA_PKCS1_2048_8192_SHA256): 2048 to 8192 bits, an odd exponent
    // from 3 to 2^33 - 1.
    const e = bigEndian(key.e);
    if (key.n.length > 1024 || e < 3n || e % 2n === 0n || e >= 2n ** 33n) return null;
    return await subtle.importKey(
      'jwk',
      { kty: 'RSA', n: toBase64Url(key.n), e: toBase64Url(key.e), alg: 'RS256', ext: true },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false,
      ['verify'],
    );
  } catch {
    return null;
  }
}

/** How WebCrypto checks a signature of each pinned algorithm. */
const VERIFY_ALGORITHMS = {
  EdDSA: 'Ed25519',
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  RS256: 'RSASSA-PKCS1-v1_5',
};

/** The signature length a key's algorithm produces (ES256 as the JWS raw `r‖s`). */
const signatureLength = (key) => (key.alg === 'RS256' ? key.n.length : 64);

// --- The verifier --------------------------------------------------------------------------

const nowSeconds = () => Math.floor(Date.now() / 1000);
const { subtle } = globalThis.crypto;
const defaultWarning = (message) => console.warn(`[@reverify/server] ${message}`);

/** The WebCrypto key of a loaded key, imported once (`null` when WebCrypto refuses it). */
function cryptoKeyOf(key) {
  if (key.importing === undefined) {
    key.importing = importKey(key).then((cryptoKey) => {
      key.cryptoKey = cryptoKey;
      return cryptoKey;
    });
  }
  return key.importing;
}

/** Freezes the verified claims and what they hold: the same object may be handed out again from the cache. */
function deepFreeze(value) {
  Object.freeze(value);
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const member = value[keys[i]];
    if (typeof member === 'object' && member !== null) deepFreeze(member);
  }
  return value;
}

const isWholeSeconds = (v) => Number.isSafeInteger(v) && v >= 0;

function readOptions(options) {
  if (!isObject(options)) throw configError('options must be an object');
  const {
    issuer,
    jwks,
    jwksUrl,
    authorizedParties = [],
    clockSkewSeconds = 5,
    cacheCapacity = 10_000,
    jwksMaxTtlSeconds = 300,
    jwksRefetchFloorSeconds = 30,
    httpTimeoutMs = 5_000,
    fetch = globalThis.fetch,
    clock = nowSeconds,
    onWarning = defaultWarning,
  } = options;
  if (typeof issuer !== 'string' || issuer === '') throw configError('the issuer must not be empty');
  if (jwks !== undefined && jwksUrl !== undefined) throw configError('pass either jwks or jwksUrl, not both');
  if (jwks === undefined && jwksUrl === undefined) throw configError('no key set: pass jwks or jwksUrl');
  if (!Array.isArray(authorizedParties) || !authorizedParties.every((p) => typeof p === 'string')) {
    throw configError('authorizedParties must be an array of strings');
  }
  for (const [name, value] of Object.entries({
    clockSkewSeconds,
    cacheCapacity,
    jwksMaxTtlSeconds,
    jwksRefetchFloorSeconds,
  })) {
    if (!isWholeSeconds(value)) throw configError(`${name} must be a whole number, >= 0`);
  }
  if (!Number.isSafeInteger(httpTimeoutMs) || httpTimeoutMs <= 0) {
    throw configError('httpTimeoutMs must be a whole number of milliseconds, > 0');
  }
  if (jwksMaxTtlSeconds < jwksRefetchFloorSeconds) {
    throw configError('jwksMaxTtlSeconds must not be shorter than jwksRefetchFloorSeconds');
  }
  if (typeof clock !== 'function') throw configError('clock must be a function returning unix seconds');
  if (typeof onWarning !== 'function') throw configError('onWarning must be a function');
  let url = null;
  if (jwksUrl !== undefined) {
    try {
      url = new URL(jwksUrl);
    } catch {
      throw configError('jwksUrl is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw configError('jwksUrl must be http(s)');
    if (typeof fetch !== 'function') throw configError('no fetch: pass a fetch function');
  }
  return {
    issuer,
    jwks,
    url: url?.href ?? null,
    parties: [...authorizedParties],
    leeway: clockSkewSeconds,
    cacheCapacity,
    floor: jwksRefetchFloorSeconds,
    ceiling: jwksMaxTtlSeconds,
    httpTimeoutMs,
    fetch,
    clock,
    onWarning,
  };
}

/**
 * A verifier of session tokens from `issuer` (exact `iss`), against a static JWK set
 * (`jwks`; every key must be usable) or the set at `jwksUrl`, fetched and cached with the
 * Rust SDK's rules (see jwks.js). Options as the Rust SDK's builder, in JavaScript style:
 * `authorizedParties`, `clockSkewSeconds` (5), `cacheCapacity` (10,000; 0 disables),
 * `jwksMaxTtlSeconds` (300), `jwksRefetchFloorSeconds` (30), `httpTimeoutMs` (5,000),
 * `fetch` (default `globalThis.fetch`), `clock` (unix seconds), `onWarning`.
 * Throws a `TokenError` (`verifier_config_invalid`) for an unusable configuration.
 */
export function createVerifier(options) {
  const config = readOptions(options);
  const { issuer, parties, leeway, clock, onWarning } = config;
  const staticKeys = config.jwks === undefined ? null : loadStaticKeys(config.jwks);
  const remote =
    config.url === null
      ? null
      : new RemoteKeys({
          url: config.url,
          fetch: config.fetch,
          floor: config.floor,
          ceiling: config.ceiling,
          timeoutMs: config.httpTimeoutMs,
          loadSet: (json) => loadFetchedKeys(json, onWarning),
          onWarning,
        });
  const cache = config.cacheCapacity > 0 ? new TokenCache(config.cacheCapacity) : null;
  /** Bumped each time the cache is cleared: a verification that began before does not insert. */
  let cacheEpoch = 0;
  const clearCache = () => {
    cacheEpoch++;
    cache?.clear();
  };

  function checkClaims(claims, now) {
    if (claims.iss !== issuer) throw fail('token_issuer_invalid');
    if (claims.sub === '') throw fail('token_claims_invalid');
    if (now >= claims.exp + leeway) throw fail('token_expired');
    const notBefore = Math.max(absent(claims.nbf) ? -Infinity : claims.nbf, claims.iat);
    if (now + leeway < notBefore) throw fail('token_not_yet_valid');
    if (!absent(claims.azp) && parties.length > 0 && !parties.includes(claims.azp)) throw fail('token_azp_invalid');
    return notBefore - leeway;
  }

  /**
   * Verifies `token` at `now` (unix seconds, default the clock's): its claims (frozen), or
   * throws a `TokenError` with the Rust SDK's code.
   */
  async function verifyToken(token, options) {
    const now = options === undefined || options.now === undefined ? clock() : options.now;
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('now must be a finite number of unix seconds');
    }
    if (token === undefined || token === null || token === '') throw fail('token_missing');
    if (typeof token !== 'string') throw fail('token_malformed');
    // A cached token is answered only while its keys need no refresh: when a refresh is
    // due, the token takes the full path, so that a key that has left the JWKS (or a key
    // set that can no longer be refreshed) stops it.
    if (cache !== null && (remote === null || remote.usableWithoutFetch(now))) {
      const claims = cache.get(token, now);
      if (claims !== undefined) return claims;
    }
    const compact = parseCompact(token);
    const epoch = cacheEpoch;
    const keys = remote === null ? staticKeys : await remote.keysFor(compact.kid, now, clearCache);
    const key = keys.get(compact.kid);
    if (key === undefined) throw fail('token_key_unknown');
    if (key.alg !== compact.alg) throw fail('token_algorithm_mismatch');
    const cryptoKey = key.cryptoKey !== undefined ? key.cryptoKey : await cryptoKeyOf(key);
    // WebCrypto checks the signature on another thread: the claims are read meanwhile, and
    // their verdict is only used once the signature has passed, so the order of the checks
    // (and of the errors) stays the Rust SDK's.
    let verifying = null;
    if (cryptoKey !== null && compact.signature.length === key.signatureLength) {
      try {
        verifying = subtle.verify(key.verifyAlgorithm, cryptoKey, compact.signature, compact.signingInput);
      } catch {
        verifying = null;
      }
    }
    let claims;
    let validFrom;
    let claimsError = null;
    try {
      claims = parseClaims(compact.payloadB64);
      // A session token has no audience: one with an `aud` is an OpenID Connect ID token
      // (which a client could replay as the user's session) or an access token.
      if (!absent(claims.aud)) throw fail('token_type_invalid');
      validFrom = checkClaims(claims, now);
      deepFreeze(claims);
    } catch (e) {
      claimsError = e;
    }
    let valid = false;
    if (verifying !== null) {
      try {
        valid = await verifying;
      } catch {
        valid = false;
      }
    }
    if (valid !== true) throw fail('token_signature_invalid');
    // After the signature: an RFC 9068 access token (`typ: at+jwt`) is not a session token.
    if (compact.accessToken) throw fail('token_type_invalid');
    if (claimsError !== null) throw claimsError;
    if (cache !== null && epoch === cacheEpoch) cache.insert(token, claims, validFrom, claims.exp + leeway, now);
    return claims;
  }

  return {
    issuer,
    verifyToken,
    /** How many verified tokens the cache holds right now (for metrics). */
    cachedTokens: () => cache?.size ?? 0,
  };
}
