//! The `Idempotency-Key` header (IETF httpapi idempotency-key draft).

/// The request header that carries the key.
///
/// ```
/// assert_eq!(reverify::idempotency::IDEMPOTENCY_KEY, "idempotency-key");
/// ```
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The response header of a replayed answer (value `true`).
///
/// ```
/// assert_eq!(reverify::idempotency::IDEMPOTENT_REPLAYED, "idempotent-replayed");
/// ```
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// The longest key accepted, in characters.
const MAX_LEN: usize = 255;

/// Parses a header value: a structured-field string (`"8e03978e-40d5"`, with `\"` and
/// `\\` escapes) or a bare token (`8e03978e-40d5`). The key is 1..=255 printable ASCII
/// characters; `None` otherwise.
///
/// ```
/// use reverify::idempotency::parse_key;
/// assert_eq!(parse_key(br#""8e03978e-40d5""#).as_deref(), Some("8e03978e-40d5"));
/// assert_eq!(parse_key(b"8e03978e-40d5").as_deref(), Some("8e03978e-40d5"));
/// assert_eq!(parse_key(br#""a \"b\"""#).as_deref(), Some(r#"a "b""#));
/// assert_eq!(parse_key(br#""""#), None);          // empty
/// assert_eq!(parse_key(br#""open"#), None);       // unterminated
/// assert_eq!(parse_key("\"caf\u{e9}\"".as_bytes()), None); // not ASCII
/// ```
pub fn parse_key(value: &[u8]) -> Option<String> {
    let value = value.trim_ascii();
    let key = match value.split_first() {
        Some((b'"', rest)) => {
            let mut key = String::new();
            let mut chars = rest.iter();
            loop {
                match chars.next()? {
                    b'"' => break,
                    b'\\' => match chars.next()? {
                        c @ (b'"' | b'\\') => key.push(char::from(*c)),
                        _ => return None,
                    },
                    c @ 0x20..=0x7e => key.push(char::from(*c)),
                    _ => return None,
                }
            }
            if chars.next().is_some() {
                return None;
            }
            key
        }
        Some(_) => {
            if !value
                .iter()
                .all(|c| (0x21..=0x7e).contains(c) && !matches!(c, b'"' | b'\\' | b','))
            {
                return None;
            }
            String::from_utf8(value.to_vec()).ok()?
        }
        None => return None,
    };
    (1..=MAX_LEN).contains(&key.len()).then_some(key)
}
