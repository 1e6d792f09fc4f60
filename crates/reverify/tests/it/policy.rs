//! Policies: presets, custom policies, parsing and the reference's validation rules.

use proptest::prelude::*;
use reverify::{LAX, Level, MODERATE, Policy, PolicyError, Preset, STRICT, STRICT_MFA};
use serde_json::json;

#[test]
fn presets_have_the_reference_levels_and_windows() {
    let table = [
        (STRICT_MFA, "strict_mfa", Level::MultiFactor, 10.0),
        (STRICT, "strict", Level::SecondFactor, 10.0),
        (MODERATE, "moderate", Level::SecondFactor, 60.0),
        (LAX, "lax", Level::SecondFactor, 1440.0),
    ];
    for (policy, name, level, minutes) in table {
        assert_eq!(policy.to_string(), name);
        assert_eq!(name.parse::<Policy>().unwrap(), policy);
        assert_eq!(policy.level(), level);
        assert_eq!(policy.after_minutes(), minutes);
        assert_eq!(policy.max_age_seconds(), (minutes * 60.0) as u64);
        assert_eq!(serde_json::to_value(policy).unwrap(), json!(name));
    }
    assert_eq!(Preset::ALL.len(), 4);
}

#[test]
fn preset_names_are_case_sensitive() {
    for bad in [
        "Strict",
        "STRICT",
        "strictMfa",
        "strict-mfa",
        " strict",
        "",
        "medium",
    ] {
        assert!(
            matches!(bad.parse::<Policy>(), Err(PolicyError::UnknownPreset(_))),
            "{bad:?} must not parse"
        );
    }
}

#[test]
fn custom_policies_parse_from_json_and_serialize_back_in_camel_case() {
    let p: Policy =
        serde_json::from_value(json!({"level": "second_factor", "afterMinutes": 10})).unwrap();
    assert_eq!(p.level(), Level::SecondFactor);
    assert_eq!(p.after_minutes(), 10.0);
    assert_eq!(p.as_preset(), None);
    assert_eq!(
        serde_json::to_value(p).unwrap(),
        json!({"level": "second_factor", "afterMinutes": 10})
    );
    // Fractions are accepted, as the reference does.
    let half: Policy = r#"{"level":"first_factor","afterMinutes":0.5}"#.parse().unwrap();
    assert_eq!(half.max_age_seconds(), 30);
    assert_eq!(
        serde_json::to_value(half).unwrap()["afterMinutes"],
        json!(0.5)
    );
    // A preset also parses from its JSON string form.
    assert_eq!(serde_json::from_value::<Policy>(json!("lax")).unwrap(), LAX);
    assert_eq!(serde_json::from_str::<Policy>(r#""lax""#).unwrap(), LAX);
    // As text (configuration, environment), a custom policy is its JSON object.
    assert_eq!(
        r#" {"level":"first_factor","afterMinutes":5} "#.parse::<Policy>().unwrap(),
        Policy::custom(Level::FirstFactor, 5.0).unwrap()
    );
    // Unknown extra keys are ignored, as the reference ignores them.
    assert!(
        serde_json::from_value::<Policy>(json!({"level":"multi_factor","afterMinutes":3,"x":1}))
            .is_ok()
    );
}

#[test]
fn invalid_custom_policies_are_rejected() {
    let bad = [
        json!({"level": "firstFactor", "afterMinutes": 10}),
        json!({"level": "second_factor", "afterMinutes": 0}),
        json!({"level": "second_factor", "afterMinutes": -5}),
        json!({"level": "second_factor", "afterMinutes": "10"}),
        json!({"level": "second_factor", "afterMinutes": null}),
        json!({"level": "second_factor"}),
        json!({"afterMinutes": 10}),
        json!({"level": 2, "afterMinutes": 10}),
        json!({"level": "Second_factor", "afterMinutes": 10}),
        json!(10),
        json!(null),
        json!(["strict"]),
    ];
    for value in bad {
        assert!(
            Policy::from_json(&value).is_err(),
            "{value} must be invalid"
        );
        assert!(
            serde_json::from_value::<Policy>(value.clone()).is_err(),
            "{value} must be invalid"
        );
    }
    for minutes in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(Policy::custom(Level::FirstFactor, minutes).is_err());
    }
}

/// The fail-open class of issue 9: a JSON string whose content is itself a policy. A preset
/// is only a bare preset string, a custom policy only a JSON object; a policy is never
/// decoded twice.
#[test]
fn a_string_holding_a_policy_is_never_a_policy() {
    let custom = r#"{"level":"first_factor","afterMinutes":5}"#;
    let strings = [
        json!("\"strict\""),
        json!("\"lax\""),
        json!(custom),
        json!(format!(" {custom}")),
        json!(serde_json::to_string(&json!("strict")).unwrap()),
        json!(serde_json::to_string(&json!(custom)).unwrap()),
        json!(" strict"),
        json!("strict\n"),
    ];
    for value in strings {
        assert!(
            Policy::from_json(&value).is_err(),
            "{value} must be invalid"
        );
        assert!(
            serde_json::from_value::<Policy>(value.clone()).is_err(),
            "{value} must be invalid"
        );
        assert!(
            serde_json::from_str::<Policy>(&value.to_string()).is_err(),
            "{value} must be invalid"
        );
    }
    // Nested inside a custom policy's fields as well.
    assert!(Policy::from_json(&json!({"level": "\"first_factor\"", "afterMinutes": 5})).is_err());
    assert!(Policy::from_json(&json!({"level": "first_factor", "afterMinutes": "5"})).is_err());
    // As text: exactly a preset name or a JSON object; quoted text and other JSON are invalid.
    for text in [
        "\"strict\"",
        " \"strict\"",
        "\"{\\\"level\\\":\\\"first_factor\\\",\\\"afterMinutes\\\":5}\"",
        "[\"strict\"]",
        "[{\"level\":\"first_factor\",\"afterMinutes\":5}]",
        "10",
        "null",
        "true",
        "{\"level\":\"first_factor\",\"afterMinutes\":5} trailing",
        "{}",
    ] {
        assert!(text.parse::<Policy>().is_err(), "{text} must be invalid");
    }
}

/// `afterMinutes` beyond the largest finite double is an invalid policy, never an endless
/// window (JavaScript would read it as `Infinity`). The largest finite value itself is
/// valid, as in the reference.
#[test]
fn after_minutes_beyond_the_largest_double_is_invalid() {
    for minutes in [
        "1e400",
        "-1e400",
        "1.7976931348623159e308",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792",
    ] {
        let text = format!(r#"{{"level":"second_factor","afterMinutes":{minutes}}}"#);
        assert!(text.parse::<Policy>().is_err(), "{minutes} must be invalid");
        assert!(
            serde_json::from_str::<Policy>(&text).is_err(),
            "{minutes} must be invalid"
        );
    }
    // 1.7976931348623158e308 rounds to the largest finite double (JavaScript agrees);
    // serde_json's fast float parser refused it as out of range.
    for minutes in ["1.7976931348623157e308", "1.7976931348623158e308"] {
        let text = format!(r#"{{"level":"second_factor","afterMinutes":{minutes}}}"#);
        let policy: Policy = text.parse().unwrap();
        assert_eq!(policy.after_minutes(), f64::MAX);
        assert_eq!(serde_json::from_str::<Policy>(&text).unwrap(), policy);
    }
}

/// `afterMinutes` reads as the nearest double, as JavaScript's `JSON.parse` reads it, not
/// one unit in the last place away (serde_json's default fast parser does that).
#[test]
fn after_minutes_is_the_nearest_double() {
    for minutes in [
        "9.999999999999999",
        "0.09999999999999999",
        "9.99999999999999911182158029987",
        "2.2250738585072011e-308",
        "1440.0000000000002",
        "0.1",
    ] {
        let text = format!(r#"{{"level":"first_factor","afterMinutes":{minutes}}}"#);
        let nearest: f64 = minutes.parse().unwrap();
        assert_eq!(
            text.parse::<Policy>().unwrap().after_minutes().to_bits(),
            nearest.to_bits(),
            "{minutes}"
        );
        assert_eq!(
            serde_json::from_str::<Policy>(&text)
                .unwrap()
                .after_minutes()
                .to_bits(),
            nearest.to_bits(),
            "{minutes}"
        );
    }
}

#[test]
fn descriptions_name_the_level_and_window() {
    assert_eq!(
        STRICT.describe(),
        "a second-factor verification within the last 10 minutes"
    );
    assert_eq!(
        Policy::custom(Level::MultiFactor, 1.0).unwrap().describe(),
        "a multi-factor verification within the last 1 minute"
    );
    assert_eq!(
        Policy::custom(Level::FirstFactor, 0.25).unwrap().describe(),
        "a first-factor verification within the last 15 seconds"
    );
}

proptest! {
    /// Whatever afterMinutes a custom policy is given, it parses iff it is > 0.
    #[test]
    fn after_minutes_validity(minutes in prop_oneof![any::<f64>(), -10.0..10.0f64, Just(0.0)]) {
        let parsed = Policy::custom(Level::SecondFactor, minutes);
        prop_assert_eq!(parsed.is_ok(), minutes.is_finite() && minutes > 0.0);
        let json = serde_json::json!({"level": "second_factor", "afterMinutes": minutes});
        // JSON cannot carry NaN or infinities: those become null, which is invalid too.
        prop_assert_eq!(Policy::from_json(&json).is_ok(), minutes.is_finite() && minutes > 0.0);
    }

    /// Any string that is not exactly a preset name is rejected.
    #[test]
    fn only_exact_preset_names_parse(name in "[a-zA-Z_ -]{0,12}") {
        let is_preset = ["strict_mfa", "strict", "moderate", "lax"].contains(&name.as_str());
        prop_assert_eq!(name.parse::<Policy>().is_ok(), is_preset);
    }

    /// Any decimal, however many digits, reads as its nearest double (Rust's `str::parse`
    /// is correctly rounded, as JavaScript's number parsing is).
    #[test]
    fn after_minutes_text_reads_as_the_nearest_double(mantissa in 1u64..u64::MAX, exponent in -30i32..30) {
        let minutes = format!("{mantissa}e{exponent}");
        let text = format!(r#"{{"level":"first_factor","afterMinutes":{minutes}}}"#);
        let nearest: f64 = minutes.parse().unwrap();
        prop_assert_eq!(text.parse::<Policy>().unwrap().after_minutes().to_bits(), nearest.to_bits());
    }

    /// No string value is a custom policy, whatever it holds.
    #[test]
    fn no_string_is_a_custom_policy(level in 0..3usize, minutes in 1..10_000u32, pad in "[ \t\n]{0,2}") {
        let level = ["first_factor", "second_factor", "multi_factor"][level];
        let inner = format!(r#"{pad}{{"level":"{level}","afterMinutes":{minutes}}}"#);
        prop_assert!(inner.parse::<Policy>().is_ok());
        prop_assert!(Policy::from_json(&json!(inner)).is_err());
        prop_assert!(serde_json::from_str::<Policy>(&json!(inner).to_string()).is_err());
    }

    /// Valid policies survive a JSON round trip unchanged.
    #[test]
    fn json_round_trip(level in 0..3usize, quarters in 1..400_000u32) {
        let level = [Level::FirstFactor, Level::SecondFactor, Level::MultiFactor][level];
        let minutes = f64::from(quarters) / 4.0;
        let policy = Policy::custom(level, minutes).unwrap();
        let back: Policy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
        prop_assert_eq!(back, policy);
    }
}
