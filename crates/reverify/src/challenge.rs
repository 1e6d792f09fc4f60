//! RFC 9470 step-up challenges in `WWW-Authenticate`, and a parser for Rust clients.
//!
//! ```
//! use reverify::{StepUpChallenge, STRICT};
//!
//! let header = StepUpChallenge::for_policy(&STRICT).to_string();
//! let parsed = StepUpChallenge::from_www_authenticate(&header).unwrap();
//! assert_eq!(parsed.max_age, Some(600));
//! assert_eq!(parsed.acr_values, ["second_factor"]);
//!
//! // Several challenges in one header are fine; only the Bearer step-up one counts.
//! let other = r#"Basic realm="x", Bearer error="insufficient_user_authentication", max_age=300"#;
//! assert_eq!(StepUpChallenge::from_www_authenticate(other).unwrap().max_age, Some(300));
//! ```

use std::fmt;

use crate::policy::Policy;

/// The RFC 9470 error code.
pub const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";

/// One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`bearer`).
    pub scheme: String,
    /// A token68, if the challenge carries one instead of parameters.
    pub token68: Option<String>,
    /// Parameters in order, names lowercased, quoted values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parses every challenge of a header value; `None` if it is not well-formed.
    pub fn parse_all(header: &str) -> Option<Vec<Challenge>> {
        Parser {
            s: header.as_bytes(),
            i: 0,
        }
        .challenges()
    }
}

/// An RFC 9470 `insufficient_user_authentication` challenge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepUpChallenge {
    /// Seconds since the last authentication that the resource accepts.
    pub max_age: Option<u64>,
    /// Acceptable authentication context classes; Reverify sends the policy's level.
    pub acr_values: Vec<String>,
    /// Human-readable explanation.
    pub error_description: Option<String>,
}

impl StepUpChallenge {
    /// The challenge Reverify sends for `policy`.
    pub fn for_policy(policy: &Policy) -> Self {
        StepUpChallenge {
            max_age: Some(policy.max_age_seconds()),
            acr_values: vec![policy.level().as_str().to_owned()],
            error_description: Some(capitalize(&format!("{} is required", policy.describe()))),
        }
    }

    /// Finds a `Bearer` challenge with `error="insufficient_user_authentication"` in a
    /// `WWW-Authenticate` value.
    pub fn from_www_authenticate(header: &str) -> Option<Self> {
        Challenge::parse_all(header)?
            .into_iter()
            .find(|c| {
                c.scheme == "bearer" && c.param("error") == Some(INSUFFICIENT_USER_AUTHENTICATION)
            })
            .map(|c| StepUpChallenge {
                max_age: c.param("max_age").and_then(|v| v.parse().ok()),
                acr_values: c
                    .param("acr_values")
                    .map(|v| {
                        v.split(' ')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                error_description: c.param("error_description").map(str::to_owned),
            })
    }
}

impl fmt::Display for StepUpChallenge {
    /// The header value: `Bearer error="insufficient_user_authentication", ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bearer error=\"{INSUFFICIENT_USER_AUTHENTICATION}\"")?;
        if let Some(d) = &self.error_description {
            write!(f, ", error_description=\"{}\"", quote(d))?;
        }
        if let Some(age) = self.max_age {
            write!(f, ", max_age={age}")?;
        }
        if !self.acr_values.is_empty() {
            write!(f, ", acr_values=\"{}\"", quote(&self.acr_values.join(" ")))?;
        }
        Ok(())
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Escapes a quoted-string body; control characters (not allowed in headers) become spaces.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// Whether a `name =` parameter starts here (without consuming anything).
    fn at_param(&self) -> bool {
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == self.i {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        j += 1;
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        // `abc==` is a token68 with padding, not a parameter.
        !matches!(self.s.get(j), None | Some(b'=' | b','))
    }

    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    fn param(&mut self) -> Option<(String, String)> {
        let name = self.token()?.to_ascii_lowercase();
        self.skip_ws();
        self.i += 1; // '='
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            self.token()?
        };
        Some((name, value))
    }

    fn challenges(mut self) -> Option<Vec<Challenge>> {
        let mut out = Vec::new();
        self.skip_ws_and_commas();
        while self.peek().is_some() {
            let scheme = self.token()?.to_ascii_lowercase();
            let mut challenge = Challenge {
                scheme,
                token68: None,
                params: Vec::new(),
            };
            self.skip_ws();
            if self.peek().is_some_and(is_token68) && !self.at_param() {
                let start = self.i;
                while self.peek().is_some_and(is_token68) {
                    self.i += 1;
                }
                while self.peek() == Some(b'=') {
                    self.i += 1;
                }
                challenge.token68 =
                    Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned());
            } else {
                while self.at_param() {
                    challenge.params.push(self.param()?);
                    self.skip_ws();
                    match self.peek() {
                        None => break,
                        Some(b',') => {
                            self.skip_ws_and_commas();
                        }
                        Some(_) => return None,
                    }
                }
            }
            out.push(challenge);
            self.skip_ws();
            match self.peek() {
                None => break,
                Some(b',') => self.skip_ws_and_commas(),
                // The next challenge's scheme directly after parameters and a comma is
                // handled above; anything else here is garbage.
                Some(_) if out.last().is_some_and(|c| !c.params.is_empty()) => {}
                Some(_) => return None,
            }
        }
        Some(out)
    }
}
