//! A bounded in-memory cache of tokens that already passed signature verification.
//!
//! A browser reuses its session token for about a minute, so most requests carry a token
//! the verifier has already seen. The cache maps the *whole token string* to its verified
//! claims; an entry dies at the token's `exp` (plus the allowed clock skew, so that a
//! cached and an uncached check agree). Lookups hash only the signature segment (cheap,
//! and unpredictable to an attacker without the signing key) but compare the whole
//! token, so a forged token that reuses a real signature never hits.
//!
//! The cache is sharded to keep lock contention low; each shard holds at most
//! `capacity / SHARDS` entries. When a shard is full, expired entries are swept, and if
//! it is still full an arbitrary entry is evicted.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

const SHARDS: usize = 16;

pub(crate) struct TokenCache<T> {
    shards: Box<[Mutex<Shard<T>>]>,
    per_shard: usize,
    hasher: RandomState,
    /// Bumped by every [`TokenCache::clear`]: a verification that began before a clear
    /// (with a key set the clear was for) must not insert its token after it.
    generation: AtomicU64,
}

/// Entries by the keyed hash of their signature segment. A bucket almost always holds one
/// entry; it holds more only on a 64-bit hash collision.
struct Shard<T> {
    buckets: HashMap<u64, Vec<Entry<T>>>,
    len: usize,
    /// No entry dies before this instant: sweeping earlier would find nothing.
    earliest_death: i64,
}

struct Entry<T> {
    token: Box<str>,
    verified: Arc<T>,
    /// The entry is usable while `now < dies_at`.
    dies_at: i64,
}

fn signature_segment(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or(token)
}

impl<T> TokenCache<T> {
    pub(crate) fn new(capacity: usize) -> TokenCache<T> {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        TokenCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        len: 0,
                        earliest_death: 0,
                    })
                })
                .collect(),
            per_shard,
            hasher: RandomState::new(),
            generation: AtomicU64::new(0),
        }
    }

    fn locate(&self, token: &str) -> (MutexGuard<'_, Shard<T>>, u64) {
        let hash = self.hasher.hash_one(signature_segment(token).as_bytes());
        let shard = &self.shards[(hash as usize) % SHARDS];
        (shard.lock().unwrap_or_else(|e| e.into_inner()), hash)
    }

    pub(crate) fn get(&self, token: &str, now: i64) -> Option<Arc<T>> {
        let (shard, hash) = self.locate(token);
        let entry = shard
            .buckets
            .get(&hash)?
            .iter()
            .find(|e| &*e.token == token)?;
        (now < entry.dies_at).then(|| Arc::clone(&entry.verified))
    }

    /// The current generation: read it before looking up the keys, and pass it to
    /// [`TokenCache::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a verified token, unless the cache was cleared since `generation` was
    /// read: the keys that verified it may be the ones the clear was for (a refetch that
    /// dropped a `kid` while this verification ran).
    pub(crate) fn insert(
        &self,
        token: &str,
        verified: Arc<T>,
        dies_at: i64,
        now: i64,
        generation: u64,
    ) {
        if dies_at <= now {
            return;
        }
        let (mut shard, hash) = self.locate(token);
        // Checked under the shard's lock: `clear` bumps the generation before it empties
        // the shards, so an entry inserted before the bump is removed by it, and none
        // after it gets in.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if shard.len >= self.per_shard {
            // A sweep walks the whole shard, so only do it when something has died;
            // that is at most once per second per shard, however busy the cache is.
            if now >= shard.earliest_death {
                shard.sweep(now);
            }
            if shard.len >= self.per_shard {
                shard.evict_one();
            }
        }
        let bucket = shard.buckets.entry(hash).or_default();
        let before = bucket.len();
        bucket.retain(|e| &*e.token != token);
        let replaced = before - bucket.len();
        bucket.push(Entry {
            token: token.into(),
            verified,
            dies_at,
        });
        shard.len = shard.len + 1 - replaced;
        shard.earliest_death = if shard.len == 1 {
            dies_at
        } else {
            shard.earliest_death.min(dies_at)
        };
    }

    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.buckets.clear();
            shard.len = 0;
            shard.earliest_death = i64::MAX;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len)
            .sum()
    }
}

impl<T> Shard<T> {
    fn sweep(&mut self, now: i64) {
        self.buckets.retain(|_, bucket| {
            bucket.retain(|e| now < e.dies_at);
            !bucket.is_empty()
        });
        self.len = self.buckets.values().map(Vec::len).sum();
        self.earliest_death = self
            .buckets
            .values()
            .flatten()
            .map(|e| e.dies_at)
            .min()
            .unwrap_or(i64::MAX);
    }

    fn evict_one(&mut self) {
        if let Some(&hash) = self.buckets.keys().next() {
            if let Some(bucket) = self.buckets.remove(&hash) {
                self.len -= bucket.len();
            }
        }
    }
}
