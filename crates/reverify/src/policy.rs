//! Reverification policies: the four presets and custom `{level, afterMinutes}` policies.
//!
//! A [`Policy`] can only be built valid: parsing (from a preset string, from JSON, or with
//! [`Policy::custom`]) applies the reference's validation rules, so an invalid policy never
//! reaches a decision. The decision itself lives in [`crate::decision`].

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// What kind of verification a policy asks for.
///
/// Serialized in snake_case (`first_factor`, `second_factor`, `multi_factor`), exactly as
/// the reference spells them; camelCase spellings are invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A recent first-factor verification (password, email code, passkey).
    FirstFactor,
    /// A recent second-factor verification (TOTP, backup code); users without a second
    /// factor fall back to a first-factor verification.
    SecondFactor,
    /// Recent first- *and* second-factor verifications; users without a second factor
    /// fall back to a first-factor verification.
    MultiFactor,
}

impl Level {
    /// The wire name: `first_factor`, `second_factor` or `multi_factor`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::FirstFactor => "first_factor",
            Level::SecondFactor => "second_factor",
            Level::MultiFactor => "multi_factor",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "first_factor" => Ok(Level::FirstFactor),
            "second_factor" => Ok(Level::SecondFactor),
            "multi_factor" => Ok(Level::MultiFactor),
            other => Err(PolicyError::UnknownLevel(other.to_owned())),
        }
    }
}

/// The four named presets. Names are case-sensitive on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// `strict_mfa`: multi-factor within 10 minutes.
    StrictMfa,
    /// `strict`: second factor within 10 minutes.
    Strict,
    /// `moderate`: second factor within 60 minutes.
    Moderate,
    /// `lax`: second factor within 24 hours.
    Lax,
}

impl Preset {
    /// Every preset, strictest first.
    pub const ALL: [Preset; 4] = [
        Preset::StrictMfa,
        Preset::Strict,
        Preset::Moderate,
        Preset::Lax,
    ];

    /// The wire name (`strict_mfa`, `strict`, `moderate`, `lax`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Preset::StrictMfa => "strict_mfa",
            Preset::Strict => "strict",
            Preset::Moderate => "moderate",
            Preset::Lax => "lax",
        }
    }

    /// The level this preset asks for.
    pub const fn level(self) -> Level {
        match self {
            Preset::StrictMfa => Level::MultiFactor,
            _ => Level::SecondFactor,
        }
    }

    /// How many minutes a verification stays fresh under this preset.
    pub const fn after_minutes(self) -> u32 {
        match self {
            Preset::StrictMfa | Preset::Strict => 10,
            Preset::Moderate => 60,
            Preset::Lax => 1440,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Preset {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| PolicyError::UnknownPreset(s.to_owned()))
    }
}

/// A reverification policy: a preset, or a custom level with a freshness window.
///
/// Build one from a constant ([`STRICT`] …), by parsing a preset name, by deserializing
/// the reference's JSON forms, or with [`Policy::custom`]. Every constructor validates, so
/// a `Policy` value is always valid.
///
/// ```
/// use reverify::{Level, Policy, STRICT};
///
/// assert_eq!("strict".parse::<Policy>().unwrap(), STRICT);
/// let custom: Policy = serde_json::from_str(r#"{"level":"first_factor","afterMinutes":5}"#).unwrap();
/// assert_eq!(custom, Policy::custom(Level::FirstFactor, 5.0).unwrap());
/// assert!(Policy::custom(Level::FirstFactor, 0.0).is_err());
/// assert!("Strict".parse::<Policy>().is_err()); // preset names are case-sensitive
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy(Kind);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Preset(Preset),
    Custom { level: Level, after_minutes: f64 },
}

/// `strict_mfa`: first and second factor verified within the last 10 minutes.
pub const STRICT_MFA: Policy = Policy(Kind::Preset(Preset::StrictMfa));
/// `strict`: second factor verified within the last 10 minutes.
pub const STRICT: Policy = Policy(Kind::Preset(Preset::Strict));
/// `moderate`: second factor verified within the last hour.
pub const MODERATE: Policy = Policy(Kind::Preset(Preset::Moderate));
/// `lax`: second factor verified within the last day.
pub const LAX: Policy = Policy(Kind::Preset(Preset::Lax));

impl Policy {
    /// The policy of a preset.
    pub const fn preset(preset: Preset) -> Policy {
        Policy(Kind::Preset(preset))
    }

    /// A custom policy. `after_minutes` must be a finite number greater than zero
    /// (fractions are allowed: `0.5` is 30 seconds).
    pub fn custom(level: Level, after_minutes: f64) -> Result<Policy, PolicyError> {
        if after_minutes.is_finite() && after_minutes > 0.0 {
            Ok(Policy(Kind::Custom {
                level,
                after_minutes,
            }))
        } else {
            Err(PolicyError::InvalidAfterMinutes(after_minutes.to_string()))
        }
    }

    /// The level asked for.
    pub fn level(&self) -> Level {
        match self.0 {
            Kind::Preset(p) => p.level(),
            Kind::Custom { level, .. } => level,
        }
    }

    /// The freshness window in minutes (may be fractional for custom policies).
    pub fn after_minutes(&self) -> f64 {
        match self.0 {
            Kind::Preset(p) => f64::from(p.after_minutes()),
            Kind::Custom { after_minutes, .. } => after_minutes,
        }
    }

    /// The freshness window in whole seconds, rounded down: the RFC 9470 `max_age`.
    pub fn max_age_seconds(&self) -> u64 {
        // Saturating float-to-int conversion; the window is finite and positive.
        (self.after_minutes() * 60.0).floor() as u64
    }

    /// The preset, if this policy is one.
    pub fn as_preset(&self) -> Option<Preset> {
        match self.0 {
            Kind::Preset(p) => Some(p),
            Kind::Custom { .. } => None,
        }
    }

    /// Whether the policy is valid. Always true for values built through this API; the
    /// decision checks it again anyway so that an invalid policy can never pass.
    pub(crate) fn is_valid(&self) -> bool {
        match self.0 {
            Kind::Preset(_) => true,
            Kind::Custom { after_minutes, .. } => after_minutes.is_finite() && after_minutes > 0.0,
        }
    }

    /// Parses the reference's JSON forms: a preset string or `{"level", "afterMinutes"}`.
    ///
    /// A string must *be* a preset name: a string whose content is itself a policy in JSON
    /// (`"\"strict\""`, `"{\"level\":…}"`) is invalid, as the reference treats it; a
    /// policy is never decoded twice.
    pub fn from_json(value: &serde_json::Value) -> Result<Policy, PolicyError> {
        match value {
            serde_json::Value::String(s) => s.parse::<Preset>().map(Policy::preset),
            serde_json::Value::Object(map) => {
                let level = match map.get("level") {
                    Some(serde_json::Value::String(s)) => s.parse::<Level>()?,
                    Some(other) => return Err(PolicyError::UnknownLevel(other.to_string())),
                    None => return Err(PolicyError::MissingField("level")),
                };
                let after = match map.get("afterMinutes") {
                    Some(serde_json::Value::Number(n)) => n
                        .as_f64()
                        .ok_or_else(|| PolicyError::InvalidAfterMinutes(n.to_string()))?,
                    Some(other) => return Err(PolicyError::InvalidAfterMinutes(other.to_string())),
                    None => return Err(PolicyError::MissingField("afterMinutes")),
                };
                Policy::custom(level, after)
            }
            other => Err(PolicyError::NotAPolicy(other.to_string())),
        }
    }

    /// The reference's JSON form: the preset name, or `{"level": ..., "afterMinutes": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A short human description, e.g. "a second-factor verification within the last 10 minutes".
    pub fn describe(&self) -> String {
        let what = match self.level() {
            Level::FirstFactor => "a first-factor verification",
            Level::SecondFactor => "a second-factor verification",
            Level::MultiFactor => "a multi-factor verification",
        };
        let minutes = self.after_minutes();
        if minutes.fract() == 0.0 {
            let unit = if minutes == 1.0 { "minute" } else { "minutes" };
            format!("{what} within the last {minutes} {unit}")
        } else {
            format!("{what} within the last {} seconds", self.max_age_seconds())
        }
    }
}

impl From<Preset> for Policy {
    fn from(p: Preset) -> Self {
        Policy::preset(p)
    }
}

impl fmt::Display for Policy {
    /// The preset name, or the compact JSON of a custom policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Kind::Preset(p) => f.write_str(p.as_str()),
            Kind::Custom { .. } => write!(f, "{}", self.to_json()),
        }
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    /// Parses a policy written as text (a configuration value, an environment variable):
    /// exactly a preset name (`strict`), or the JSON object of a custom policy
    /// (`{"level":"first_factor","afterMinutes":5}`). Anything else is invalid, including a
    /// quoted preset (`"strict"`) and surrounding spaces around a preset name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim_start().starts_with('{') {
            // Only an object: `serde_json::Map` refuses every other JSON value.
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(s).map_err(|e| PolicyError::NotAPolicy(e.to_string()))?;
            return Policy::from_json(&serde_json::Value::Object(object));
        }
        s.parse::<Preset>().map(Policy::preset)
    }
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Kind::Preset(p) => serializer.serialize_str(p.as_str()),
            Kind::Custom {
                level,
                after_minutes,
            } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("level", &level)?;
                // Whole minutes go out as integers (`10`, not `10.0`), as the reference writes them.
                if after_minutes.fract() == 0.0 && after_minutes < 9.0e15 {
                    map.serialize_entry("afterMinutes", &(after_minutes as u64))?;
                } else {
                    map.serialize_entry("afterMinutes", &after_minutes)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Policy::from_json(&value).map_err(de::Error::custom)
    }
}

/// Why a policy could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not one of `strict_mfa`, `strict`, `moderate`, `lax` (case-sensitive).
    #[error("unknown reverification preset {0:?} (expected strict_mfa, strict, moderate or lax)")]
    UnknownPreset(String),
    /// Not one of `first_factor`, `second_factor`, `multi_factor`.
    #[error("unknown level {0} (expected first_factor, second_factor or multi_factor)")]
    UnknownLevel(String),
    /// `afterMinutes` is not a finite number greater than zero.
    #[error("afterMinutes must be a number greater than 0, got {0}")]
    InvalidAfterMinutes(String),
    /// A custom policy lacks a field.
    #[error("custom policy is missing {0:?}")]
    MissingField(&'static str),
    /// Neither a string nor an object.
    #[error("not a reverification policy: {0}")]
    NotAPolicy(String),
}

impl PolicyError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        "policy_invalid"
    }
}
