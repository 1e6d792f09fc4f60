// A bounded in-memory cache of tokens that already passed verification, with the Rust
// SDK's rules (crates/reverify/src/cache.rs; docs/sdk.md, "Token cache"): the whole token
// string maps to its verified claims until the token's `exp` plus the allowed clock skew, so
// that a cached and an uncached check agree. Because `verifyToken` takes any `now`, an entry
// also remembers from when the token is valid (`max(nbf, iat)` less the skew): a `now`
// before that misses, and the full path answers `token_not_yet_valid` as without the cache. The key is the whole token, so a forged token
// that reuses a real signature never hits.
//
// One `Map` (JavaScript runs one request at a time, so the Rust SDK's 16 locked shards buy
// nothing here). When it is full, expired entries are swept (only when one has died since
// the last sweep, so at most once per second however busy the cache is), and if it is still
// full the oldest entry is evicted.

export class TokenCache {
  constructor(capacity) {
    this.capacity = capacity;
    /** token → { claims, bornAt, diesAt }: usable while `bornAt <= now < diesAt`. */
    this.entries = new Map();
    /** No entry dies before this instant: sweeping earlier would find nothing. */
    this.earliestDeath = Infinity;
  }

  get size() {
    return this.entries.size;
  }

  /** The claims of `token` if it is cached and alive at `now`, else `undefined`. */
  get(token, now) {
    const entry = this.entries.get(token);
    return entry !== undefined && now < entry.diesAt && now >= entry.bornAt ? entry.claims : undefined;
  }

  insert(token, claims, bornAt, diesAt, now) {
    if (!(diesAt > now)) return;
    const entries = this.entries;
    if (entries.size >= this.capacity && !entries.has(token)) {
      if (now >= this.earliestDeath) this.sweep(now);
      if (entries.size >= this.capacity) entries.delete(entries.keys().next().value);
    }
    entries.set(token, { claims, bornAt, diesAt });
    this.earliestDeath = entries.size === 1 ? diesAt : Math.min(this.earliestDeath, diesAt);
  }

  sweep(now) {
    let earliest = Infinity;
    for (const [token, entry] of this.entries) {
      if (now < entry.diesAt) earliest = Math.min(earliest, entry.diesAt);
      else this.entries.delete(token);
    }
    this.earliestDeath = earliest;
  }

  clear() {
    this.entries.clear();
    this.earliestDeath = Infinity;
  }
}
