// Where the verifier's keys come from when it is given a URL: the JWK set fetched over
// HTTP(S), with exactly the Rust SDK's rules (crates/reverify/src/jwks.rs; docs/sdk.md,
// "Key rotation and revocation"):
//
// - fetched on first use; single-flight (one request fetches, the others wait for it);
// - a fetched set has a lifetime T: the response's `Cache-Control: max-age` less its `Age`,
//   clamped to [floor, ceiling] (default 30 s and 300 s); `no-store`, `no-cache` or an
//   invalid `max-age` give the floor, no `max-age` the ceiling, several the smallest;
// - from three quarters of T, the next verification refetches (that one waits; concurrent
//   ones go on with the current set); a failed refetch keeps the set;
// - the set is never used past T: every verification then fails `jwks_unavailable` (503)
//   until a fetch succeeds;
// - a token whose `kid` is not in the set triggers a refetch;
// - whatever the cause, at most one fetch per floor;
// - a refetch that drops a `kid` calls `onKeysRemoved` (the verifier clears its token cache).
//
// Times are unix seconds, read from the verification's `now`, as in the Rust SDK.

import { TokenError } from './token-error.js';

/** Responses larger than this are not read. */
const MAX_JWKS_BYTES = 1024 * 1024;
const I64_MAX = 2n ** 63n - 1n;

/** An all-digits header value as the Rust SDK reads it (`parse::<i64>()`, saturating). */
function digits(text) {
  const value = BigInt(text);
  return value > I64_MAX ? I64_MAX : value;
}
const allDigits = (text) => text !== '' && /^[0-9]+$/.test(text);

/**
 * The lifetime in seconds of a fetched set, from its response's `Cache-Control` and `Age`
 * header values (`null` when absent; several headers joined with commas), clamped to
 * `[floor, ceiling]` (and never below one second).
 */
export function jwksLifetime(cacheControl, age, floor, ceiling) {
  floor = Math.max(floor, 1);
  ceiling = Math.max(ceiling, floor);
  let maxAge = null;
  for (const directive of (cacheControl ?? '').split(',')) {
    const eq = directive.indexOf('=');
    const name = (eq < 0 ? directive : directive.slice(0, eq)).trim().toLowerCase();
    if (name === 'no-store' || name === 'no-cache') return floor;
    if (name === 'max-age') {
      // RFC 9111: an invalid value means stale; of several, the shortest wins here.
      const value =
        eq < 0
          ? null
          : directive
              .slice(eq + 1)
              .trim()
              .replace(/^"+|"+$/g, '');
      const seconds = value !== null && allDigits(value) ? digits(value) : 0n;
      maxAge = maxAge === null || seconds < maxAge ? seconds : maxAge;
    }
  }
  if (maxAge === null) return ceiling;
  const ageText = age?.trim();
  const already = ageText !== undefined && allDigits(ageText) ? digits(ageText) : 0n;
  const left = maxAge - already;
  if (left <= BigInt(floor)) return floor;
  if (left >= BigInt(ceiling)) return ceiling;
  return Number(left);
}

/** Reports `message` to the developer's `onWarning`; a throwing handler does not break verification. */
export function warn(onWarning, message) {
  try {
    onWarning(message);
  } catch {
    // ignored
  }
}

/** A set's lifetime is as good as spent from this instant on: before any fetch, nothing is usable. */
const NEVER = -Infinity;

/**
 * The JWK set at `url`, fetched and cached. `loadSet(json)` turns a fetched document into
 * a `Map` of usable keys by kid (throwing when the document is not a JWK set);
 * `onWarning(message)` hears about failed fetches.
 */
export class RemoteKeys {
  constructor({ url, fetch, floor, ceiling, timeoutMs, loadSet, onWarning }) {
    this.url = url;
    this.fetchImpl = fetch;
    this.floor = floor;
    this.ceiling = ceiling;
    this.timeoutMs = timeoutMs;
    this.loadSet = loadSet;
    this.onWarning = onWarning;
    /** The current keys by kid (empty before the first successful fetch). */
    this.current = new Map();
    /** From here on, the next verification refetches the set. */
    this.refreshAt = NEVER;
    /** From here on, the set is not used at all (fail closed). */
    this.expiresAt = NEVER;
    this.lastAttempt = NEVER;
    /** Bumped when a fetch attempt ends, successful or not. */
    this.generation = 0;
    /** The fetch in flight, if any (the Rust SDK's refresh lock). */
    this.inflight = null;
  }

  mayFetch(now) {
    return now - this.lastAttempt >= this.floor;
  }

  expired(now) {
    return now >= this.expiresAt;
  }

  /**
   * True when no fetch is due at `now`: the set is within its first three quarters, or a
   * fetch was just tried and the set has not expired. A verified token can then be
   * answered from the token cache.
   */
  usableWithoutFetch(now) {
    return now < this.refreshAt || (!this.expired(now) && !this.mayFetch(now));
  }

  /** The keys in which `kid` should be looked up, refreshing them first if needed; throws a `TokenError` (`jwks_unavailable`, `token_key_unknown`). */
  async keysFor(kid, now, onKeysRemoved) {
    await this.ensureFresh(now, onKeysRemoved);
    if (this.current.has(kid)) return this.current;
    // Unknown kid: perhaps a key published since the last fetch.
    if (this.mayFetch(now)) {
      await this.refresh(this.generation, now, onKeysRemoved);
    } else if (this.inflight !== null) {
      // A fetch may be in flight right now: wait for it rather than fail.
      await this.inflight;
    }
    if (this.current.size === 0 || this.expired(now)) throw new TokenError('jwks_unavailable');
    if (this.current.has(kid)) return this.current;
    throw new TokenError('token_key_unknown');
  }

  /** Refreshes the set when it is due; throws `jwks_unavailable` when it has expired and could not be refreshed. */
  async ensureFresh(now, onKeysRemoved) {
    if (now < this.refreshAt) return;
    const seen = this.generation;
    if (!this.expired(now)) {
      // Refresh ahead: one request fetches, the others use the set meanwhile.
      if (this.mayFetch(now) && this.inflight === null) await this.refresh(seen, now, onKeysRemoved);
      return;
    }
    if (this.mayFetch(now)) {
      await this.refresh(seen, now, onKeysRemoved);
    } else if (this.inflight !== null) {
      // A fetch may be in flight (the first requests after start-up).
      await this.inflight;
    }
    if (this.expired(now)) throw new TokenError('jwks_unavailable');
  }

  /**
   * Fetches the set once, even when many requests ask at the same time. `seen` is the
   * generation the caller decided on: if another fetch completed since, skip.
   */
  async refresh(seen, now, onKeysRemoved) {
    while (this.inflight !== null) await this.inflight;
    if (this.generation !== seen) return; // another request refreshed while we waited
    this.lastAttempt = now;
    const run = (async () => {
      try {
        await this.attempt(now, onKeysRemoved);
      } finally {
        this.generation++;
        this.inflight = null;
      }
    })();
    this.inflight = run;
    await run;
  }

  async attempt(now, onKeysRemoved) {
    let fetched;
    try {
      fetched = await this.fetchSet();
    } catch (e) {
      warn(this.onWarning, `JWKS fetch from ${this.url} failed: ${e?.message ?? e}`);
      return;
    }
    const { keys, lifetime } = fetched;
    const old = this.current;
    this.current = keys;
    // `now` is when the fetch started: the set is as old as that, or newer.
    this.expiresAt = now + lifetime;
    this.refreshAt = now + lifetime - Math.floor(lifetime / 4);
    for (const kid of old.keys()) {
      if (!keys.has(kid)) {
        onKeysRemoved();
        break;
      }
    }
  }

  /** One GET of the set, within the timeout: `{keys, lifetime}`, or throws why not. */
  async fetchSet() {
    const controller = new AbortController();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`no answer within ${this.timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([this.get(controller.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async get(signal) {
    const response = await this.fetchImpl(this.url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      signal,
    });
    if (!(response.status >= 200 && response.status <= 299)) {
      response.body?.cancel?.().catch(() => {});
      throw new Error(`status ${response.status}`);
    }
    const lifetime = jwksLifetime(
      response.headers.get('cache-control'),
      response.headers.get('age'),
      this.floor,
      this.ceiling,
    );
    const body = await readBody(response);
    let json;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body));
    } catch (e) {
      throw new Error(`not a JSON document (${e.message})`);
    }
    const keys = this.loadSet(json);
    if (keys.size === 0) throw new Error('no usable key in the set');
    return { keys, lifetime };
  }
}

/** The response body, at most `MAX_JWKS_BYTES`. */
async function readBody(response) {
  const tooLarge = () => new Error('response larger than 1 MiB');
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_JWKS_BYTES) {
    response.body?.cancel?.().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null || typeof response.body?.getReader !== 'function') {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > MAX_JWKS_BYTES) throw tooLarge();
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > MAX_JWKS_BYTES) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
