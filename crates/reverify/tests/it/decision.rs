//! The decision: the reference's truth table, the per-factor-time variant, the
//! divergences, and property tests of the invariants.

use std::time::Duration;

use proptest::prelude::*;
use reverify::decision::{decide_fva, decide_fvt, has, has_all, seconds_remaining};
use reverify::testing::TestIssuer;
use reverify::{FactorAge, LAX, Level, MODERATE, Policy, STRICT, STRICT_MFA, SessionClaims};
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn first_factor_10() -> Policy {
    Policy::custom(Level::FirstFactor, 10.0).unwrap()
}

fn with_fva(fva: serde_json::Value) -> SessionClaims {
    SessionClaims {
        fva: Some(fva),
        ..SessionClaims::default()
    }
}

/// `fva` ages in minutes → `fvt` verification times at those exact ages before `NOW`.
fn fvt_from_minutes(a1: i64, a2: i64) -> serde_json::Value {
    let t = |a: i64| if a == -1 { -1 } else { NOW - a * 60 };
    json!([t(a1), t(a2)])
}

/// The reference document's table, every row and column.
const TABLE: &[((i64, i64), [bool; 5])] = &[
    // fva        strict_mfa strict moderate lax  {first_factor,10}
    ((-1, -1), [false, false, false, false, false]),
    ((5, -1), [true, true, true, true, true]),
    ((10, -1), [false, false, true, true, false]),
    ((15, 3), [false, true, true, true, false]),
    ((3, 15), [false, false, true, true, true]),
    ((50, 3), [false, true, true, true, false]),
    ((-1, 3), [false, true, true, true, false]),
    ((0, 0), [true, true, true, true, true]),
    ((0, 10), [false, false, true, true, true]),
];

fn columns() -> [Policy; 5] {
    [STRICT_MFA, STRICT, MODERATE, LAX, first_factor_10()]
}

#[test]
fn reference_truth_table_on_fva() {
    for &((a1, a2), expected) in TABLE {
        let claims = with_fva(json!([a1, a2]));
        for (policy, want) in columns().iter().zip(expected) {
            assert_eq!(
                has(&claims, policy, NOW),
                want,
                "fva [{a1},{a2}] with {policy}"
            );
        }
    }
}

/// Numbers are read as the reference (JavaScript) reads them, to the last bit. With
/// serde_json's default fast float parser, `afterMinutes: 9.999999999999999` read as `10`,
/// so this session, stale for the reference, passed; and `fva` ages one unit in the last
/// place away turned passes into failures.
#[test]
fn decisions_at_the_last_bit_match_the_reference() {
    let claims = |fva: &str| -> SessionClaims {
        serde_json::from_str(&format!(
            r#"{{"iss":"i","sub":"u","iat":0,"exp":1,"fva":{fva}}}"#
        ))
        .unwrap()
    };
    let policy = |minutes: &str| -> Policy {
        format!(r#"{{"level":"first_factor","afterMinutes":{minutes}}}"#)
            .parse()
            .unwrap()
    };
    // JavaScript: 9.999999999999999 === 9.999999999999998, so `after > age` is false.
    assert!(!has(
        &claims("[9.999999999999998,-1]"),
        &policy("9.999999999999999"),
        NOW
    ));
    // JavaScript: 10 > 9.999999999999999 and 0.1 > 0.09999999999999999.
    assert!(has(&claims("[9.999999999999999,-1]"), &policy("10"), NOW));
    assert!(has(
        &claims("[0.09999999999999999,-1]"),
        &policy("0.1"),
        NOW
    ));
    assert!(!has(&claims("[0.1,-1]"), &policy("0.1"), NOW));
}

#[test]
fn reference_truth_table_on_exact_times() {
    for &((a1, a2), expected) in TABLE {
        let claims = SessionClaims {
            fvt: Some(fvt_from_minutes(a1, a2)),
            ..SessionClaims::default()
        };
        for (policy, want) in columns().iter().zip(expected) {
            assert_eq!(
                has(&claims, policy, NOW),
                want,
                "fvt at [{a1},{a2}] min with {policy}"
            );
        }
    }
}

#[test]
fn reference_truth_table_through_signed_clerk_style_tokens() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for &((a1, a2), expected) in TABLE {
        let mut claims = issuer.token().fva_only().claims();
        claims.fva = Some(json!([a1, a2]));
        let token = issuer.sign_claims(&claims);
        let session = rt.block_on(verifier.verify(&token)).unwrap();
        for (policy, want) in columns().iter().zip(expected) {
            assert_eq!(
                session.has(policy),
                want,
                "token fva [{a1},{a2}] with {policy}"
            );
        }
    }
}

#[test]
fn the_boundary_is_strict_to_the_second() {
    // A TOTP verified exactly 600 s ago is stale for strict; 599 s ago it is fresh.
    let at = |age: i64| SessionClaims {
        fvt: Some(json!([NOW - 3600, NOW - age])),
        ..SessionClaims::default()
    };
    assert!(has(&at(599), &STRICT, NOW));
    assert!(!has(&at(600), &STRICT, NOW));
    // fva at 9 minutes is fresh however late in the minute; fvt knows better.
    assert!(has(&with_fva(json!([60, 9])), &STRICT, NOW));
}

#[test]
fn exact_times_do_not_lag_behind_the_mint_time() {
    // A token minted 50 s ago with the TOTP verified 9 min 30 s before minting: `fva`
    // says 9 (fresh for strict), but the real age now is 10 min 20 s: stale.
    let issuer = TestIssuer::new();
    let claims = issuer
        .token()
        .issued_ago(Duration::from_secs(50))
        .second_factor_age(Duration::from_secs(620))
        .claims();
    assert_eq!(claims.fva, Some(json!([0, 9])));
    assert!(decide_fva(
        [FactorAge::Value(0.0), FactorAge::Value(9.0)],
        &STRICT
    ));
    assert!(!has(&claims, &STRICT, issuer.now()));
}

#[test]
fn an_enrolled_but_unverified_second_factor_is_stale_not_absent() {
    let issuer = TestIssuer::new();
    let ours = issuer.token().second_factor_unverified().claims();
    assert!(
        !has(&ours, &STRICT, issuer.now()),
        "strict must ask for the second factor"
    );
    assert!(!has(&ours, &STRICT_MFA, issuer.now()));
    assert!(has(&ours, &first_factor_10(), issuer.now()));
    // The reference (fva only, -1) silently downgrades to the password: kept for Clerk tokens.
    let clerk = issuer
        .token()
        .second_factor_unverified()
        .fva_only()
        .claims();
    assert_eq!(clerk.fva, Some(json!([0, -1])));
    assert!(has(&clerk, &STRICT, issuer.now()));
}

#[test]
fn malformed_or_missing_claims_fail_closed() {
    let bad = [
        json!(null),
        json!([]),
        json!([1]),
        json!([1, 2, 3]),
        json!(["1", 2]),
        json!([1, null]),
        json!([-2, 0]),
        json!([0, -0.5]),
        json!({"0": 1, "1": 2}),
        json!("[1,2]"),
        json!(true),
    ];
    for policy in [STRICT_MFA, STRICT, MODERATE, LAX, first_factor_10()] {
        assert!(
            !has(&SessionClaims::default(), &policy, NOW),
            "no claim at all"
        );
        for value in &bad {
            assert!(!has(&with_fva(value.clone()), &policy, NOW), "fva {value}");
            let claims = SessionClaims {
                fvt: Some(value.clone()),
                fva: Some(json!([0, 0])),
                ..SessionClaims::default()
            };
            assert!(
                !has(&claims, &policy, NOW),
                "a malformed fvt wins over a good fva: {value}"
            );
        }
    }
    // fvt entries are integers (unix seconds); fva entries may be fractional minutes.
    let fractional_fvt = SessionClaims {
        fvt: Some(json!([NOW as f64 - 0.5, -1])),
        ..SessionClaims::default()
    };
    assert!(!has(&fractional_fvt, &LAX, NOW));
    assert!(has(&with_fva(json!([2.5, -1])), &STRICT, NOW));
}

#[test]
fn has_all_needs_every_policy_and_at_least_one() {
    let claims = with_fva(json!([3, 15]));
    assert!(!has_all(&claims, &[], NOW), "has({{}}) is false");
    assert!(has_all(&claims, &[MODERATE, LAX], NOW));
    assert!(!has_all(&claims, &[MODERATE, STRICT], NOW));
}

#[test]
fn seconds_remaining_counts_down_to_the_boundary() {
    let claims = SessionClaims {
        fvt: Some(json!([NOW - 3000, NOW - 120])),
        ..SessionClaims::default()
    };
    assert_eq!(seconds_remaining(&claims, &STRICT, NOW), Some(480.0));
    assert_eq!(seconds_remaining(&claims, &MODERATE, NOW), Some(3480.0));
    // multi_factor: the older factor decides.
    assert_eq!(seconds_remaining(&claims, &STRICT_MFA, NOW), None);
    let mfa = Policy::custom(Level::MultiFactor, 60.0).unwrap();
    assert_eq!(seconds_remaining(&claims, &mfa, NOW), Some(600.0));
    assert_eq!(seconds_remaining(&claims, &STRICT, NOW + 480), None);
    // Without a second factor, the first factor counts for second_factor policies.
    let no_2fa = SessionClaims {
        fvt: Some(json!([NOW - 60, -1])),
        ..SessionClaims::default()
    };
    assert_eq!(seconds_remaining(&no_2fa, &STRICT, NOW), Some(540.0));
}

fn any_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(STRICT_MFA),
        Just(STRICT),
        Just(MODERATE),
        Just(LAX),
        (
            0..3usize,
            prop_oneof![0.01..3000.0f64, (1..3000u32).prop_map(f64::from)]
        )
            .prop_map(|(l, m)| {
                let level = [Level::FirstFactor, Level::SecondFactor, Level::MultiFactor][l];
                Policy::custom(level, m).unwrap()
            }),
    ]
}

/// An age in minutes, or -1.
fn any_age() -> impl Strategy<Value = i64> {
    prop_oneof![Just(-1i64), 0..3000i64]
}

fn entry(a: i64) -> FactorAge {
    if a == -1 {
        FactorAge::NotEnabled
    } else {
        FactorAge::Value(a as f64)
    }
}

fn time_entry(age_seconds: i64) -> FactorAge {
    if age_seconds == -1 {
        FactorAge::NotEnabled
    } else {
        FactorAge::Value((NOW - age_seconds) as f64)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A fresher session never fails where a staler one passes (fva).
    #[test]
    fn fresher_never_fails_where_staler_passes_fva(
        policy in any_policy(), a1 in any_age(), a2 in any_age(), d1 in 0..500i64, d2 in 0..500i64,
    ) {
        let stale = [entry(a1), entry(a2)];
        let fresher = [entry(if a1 == -1 { -1 } else { (a1 - d1).max(0) }),
                       entry(if a2 == -1 { -1 } else { (a2 - d2).max(0) })];
        prop_assert!(!decide_fva(stale, &policy) || decide_fva(fresher, &policy));
    }

    /// The same on exact times, in seconds, including the passing of time itself.
    #[test]
    fn fresher_never_fails_where_staler_passes_fvt(
        policy in any_policy(), s1 in prop_oneof![Just(-1i64), 0..200_000i64],
        s2 in prop_oneof![Just(-1i64), 0..200_000i64], d1 in 0..5000i64, d2 in 0..5000i64, later in 0..5000i64,
    ) {
        let stale = [time_entry(s1), time_entry(s2)];
        let fresher = [time_entry(if s1 == -1 { -1 } else { (s1 - d1).max(0) }),
                       time_entry(if s2 == -1 { -1 } else { (s2 - d2).max(0) })];
        prop_assert!(!decide_fvt(stale, &policy, NOW) || decide_fvt(fresher, &policy, NOW));
        // What fails now still fails later.
        prop_assert!(decide_fvt(stale, &policy, NOW) || !decide_fvt(stale, &policy, NOW + later));
    }

    /// `[-1, -1]` never passes, whatever the policy and time.
    #[test]
    fn no_factor_never_passes(policy in any_policy(), now in any::<i64>()) {
        let none = [FactorAge::NotEnabled, FactorAge::NotEnabled];
        prop_assert!(!decide_fva(none, &policy));
        prop_assert!(!decide_fvt(none, &policy, now));
        let claims = SessionClaims { fva: Some(json!([-1, -1])), fvt: Some(json!([-1, -1])), ..SessionClaims::default() };
        prop_assert!(!has(&claims, &policy, now));
    }

    /// Invalid policies never pass: they cannot be built, from JSON or from code.
    #[test]
    fn invalid_policies_never_pass(
        level in prop_oneof![Just("first_factor"), Just("firstFactor"), Just("SECOND_FACTOR"), Just("mfa"), Just("")],
        minutes in prop_oneof![-1000.0..=0.0f64, Just(0.0), Just(-0.0)],
    ) {
        let value = json!({"level": level, "afterMinutes": minutes});
        prop_assert!(Policy::from_json(&value).is_err());
        prop_assert!(Policy::custom(Level::FirstFactor, minutes).is_err());
    }

    /// Per-factor-time decisions agree with fva decisions at whole-minute ages.
    #[test]
    fn exact_times_agree_with_fva_at_whole_minutes(policy in any_policy(), a1 in any_age(), a2 in any_age()) {
        let fva = [entry(a1), entry(a2)];
        let fvt = [time_entry(if a1 == -1 { -1 } else { a1 * 60 }), time_entry(if a2 == -1 { -1 } else { a2 * 60 })];
        prop_assert_eq!(decide_fva(fva, &policy), decide_fvt(fvt, &policy, NOW));
        let claims = SessionClaims { fvt: Some(fvt_from_minutes(a1, a2)), ..SessionClaims::default() };
        prop_assert_eq!(decide_fva(fva, &policy), has(&claims, &policy, NOW));
    }

    /// `seconds_remaining` is Some exactly when `has` is true.
    #[test]
    fn remaining_agrees_with_has(policy in any_policy(), s1 in prop_oneof![Just(-1i64), 0..200_000i64], s2 in prop_oneof![Just(-1i64), 0..200_000i64]) {
        let t = |s: i64| if s == -1 { -1 } else { NOW - s };
        let claims = SessionClaims { fvt: Some(json!([t(s1), t(s2)])), ..SessionClaims::default() };
        prop_assert_eq!(seconds_remaining(&claims, &policy, NOW).is_some(), has(&claims, &policy, NOW));
    }
}
