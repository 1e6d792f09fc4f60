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
