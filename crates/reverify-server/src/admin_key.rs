//! The admin API key: how strong it must be, how to make one, and how a request's key is
//! checked.
//!
//! The key is a bearer secret with full power over every account, so it must be
//! unguessable: at least [`MIN_LENGTH`] printable characters, not a repetition or a run
//! of characters. Wrong keys are limited per client IP ([`FAILURES_PER_MINUTE`], then 429
//! `rate_limited`), in memory on each instance; a key of that strength cannot be guessed
//! at any rate, the limit keeps a scan from costing the server anything.
//!
//! ```
//! let key = reverify_server::admin_key::generate();
//! assert_eq!(reverify_server::admin_key::weakness(&key), None);
//! assert!(reverify_server::admin_key::weakness("admin").is_some());
//! ```

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secrets;

/// The shortest accepted key, in characters (hex of 128 bits; `generate` gives 256).
pub const MIN_LENGTH: usize = 32;

/// Wrong keys one client IP may send per minute (a bucket refilling at this rate).
pub const FAILURES_PER_MINUTE: u32 = 10;

/// A new key: 256 random bits, base64url (43 characters).
pub fn generate() -> String {
    loop {
        let key = URL_SAFE_NO_PAD.encode(secrets::random_bytes::<32>());
        // Randomness can spell a "weak" key, about never; then draw again.
        if weakness(&key).is_none() {
            return key;
        }
    }
}

/// Why `key` is too weak to protect the admin API, or `None` when it is acceptable.
pub fn weakness(key: &str) -> Option<String> {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < MIN_LENGTH {
        return Some(format!(
            "it has {} characters, at least {MIN_LENGTH} are needed",
            chars.len()
        ));
    }
    if !chars.iter().all(|c| c.is_ascii_graphic()) {
        return Some(
            "it must be printable ASCII without spaces (it is sent in an HTTP header)".into(),
        );
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        return Some("it uses fewer than 8 different characters".into());
    }
    let periodic =
        (1..=chars.len() / 2).any(|p| chars.iter().zip(&chars[p..]).all(|(a, b)| a == b));
    if periodic {
        return Some("it repeats a shorter pattern".into());
    }
    // `abcdef…`, `0123456789…`, `zyxw…`: random keys have few neighbouring characters.
    let neighbours = chars
        .windows(2)
        .filter(|w| u32::from(w[0]).abs_diff(u32::from(w[1])) == 1)
        .count();
    if neighbours * 2 > chars.len() - 1 {
        return Some("it is mostly runs of consecutive characters".into());
    }
    None
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 9110 §11.1), and more than one space may follow it.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `given` is `key`, in time independent of where they differ and of `given`'s
/// length (both are hashed, the digests compared in constant time).
pub(crate) fn matches(given: &str, key: &str) -> bool {
    secrets::ct_eq(&secrets::sha256_hex(&[given]), &secrets::sha256_hex(&[key]))
}
