//! `acr` and `auth_time` as one statement (`oidc::authn`, design note 56): what a session
//! with factors verified at different times may claim, and what it must verify to meet a
//! request. The HTTP tests (`oidc.rs`) drive the same rules through `/oauth/authorize`.

use reverify::acr::Acr;
use reverify_server::oidc::authn::{Missing, Standing, Wanted};

const NOW: i64 = 10_000;

fn standing(first: Option<i64>, second: Option<i64>, phr: Option<i64>) -> Standing {
    Standing {
        first,
        second,
        phr,
        amr: vec!["pwd".into()],
    }
}

fn wanted(acr: Option<Acr>, max_age: Option<i64>) -> Wanted {
    Wanted {
        acr,
        max_age,
        since: None,
    }
}

#[test]
fn an_acr_is_dated_by_the_oldest_factor_it_counts() {
    // Password just now, authenticator app two hours ago.
    let s = standing(Some(NOW - 5), Some(NOW - 7_200), None);
    // Without a requirement: the strongest claim, dated honestly.
    let plain = s.meets(Wanted::default(), NOW).unwrap();
    assert_eq!(
        (plain.acr, plain.auth_time),
        (Acr::MultiFactor, NOW - 7_200)
    );
    // Fresh within 60 s: only the password is, so the claim is a first factor.
    let fresh = s.meets(wanted(None, Some(60)), NOW).unwrap();
    assert_eq!((fresh.acr, fresh.auth_time), (Acr::FirstFactor, NOW - 5));
    // mfa within 60 s: not met, and only the second factor is missing.
    let both = wanted(Some(Acr::MultiFactor), Some(60));
    assert_eq!(s.meets(both, NOW), None);
    assert_eq!(s.missing(both, NOW), Missing::SecondFactor);
    // mfa at any age: met, dated by the older factor.
    let any = s.meets(wanted(Some(Acr::MultiFactor), None), NOW).unwrap();
    assert_eq!((any.acr, any.auth_time), (Acr::MultiFactor, NOW - 7_200));
    // A second factor within 2 hours and a bit: met as 2fa or better.
    let second = s
        .meets(wanted(Some(Acr::SecondFactor), Some(7_300)), NOW)
        .unwrap();
    assert_eq!(second.acr, Acr::MultiFactor);
}

#[test]
fn what_is_missing_is_only_what_is_too_old() {
    let old_password = standing(Some(NOW - 7_200), Some(NOW - 5), None);
    let both = wanted(Some(Acr::MultiFactor), Some(60));
    assert_eq!(old_password.missing(both, NOW), Missing::FirstFactor);
    let all_old = standing(Some(NOW - 7_200), Some(NOW - 7_000), None);
    assert_eq!(all_old.missing(both, NOW), Missing::MultiFactor);
    // Freshness alone: one factor, the second when the session has verified one.
    assert_eq!(
        all_old.missing(wanted(None, Some(60)), NOW),
        Missing::SecondFactor
    );
    let password_only = standing(Some(NOW - 7_200), None, None);
    assert_eq!(
        password_only.missing(wanted(None, Some(60)), NOW),
        Missing::FirstFactor
    );
    assert_eq!(
        all_old.missing(wanted(Some(Acr::FirstFactor), Some(60)), NOW),
        Missing::FirstFactor
    );
    assert_eq!(
        all_old.missing(wanted(Some(Acr::PhishingResistant), None), NOW),
        Missing::Passkey
    );
    assert_eq!(
        all_old.missing(wanted(Some(Acr::SecondFactor), Some(60)), NOW),
        Missing::SecondFactor
    );
    assert_eq!(Missing::Passkey.level(), "multi_factor");
    assert_eq!(Missing::SecondFactor.level(), "second_factor");
}

#[test]
fn a_passkey_that_verified_its_user_is_every_level_at_its_own_time() {
    // Signed in with a password long ago, then a passkey with user verification just now
    // (a user without an authenticator app: no second-factor time).
    let s = standing(Some(NOW - 3), None, Some(NOW - 3));
    let phr = s.meets(wanted(Some(Acr::PhishingResistant), Some(60)), NOW);
    assert_eq!(
        phr.map(|a| (a.acr, a.auth_time)),
        Some((Acr::PhishingResistant, NOW - 3))
    );
    for acr in Acr::ALL {
        assert_eq!(s.time_of(acr), Some(NOW - 3), "{acr}");
    }
    // The passkey was long ago, a TOTP code just now: phr is old, mfa is not.
    let s = standing(Some(NOW - 10), Some(NOW - 10), Some(NOW - 7_200));
    assert_eq!(
        s.meets(wanted(Some(Acr::PhishingResistant), Some(60)), NOW),
        None
    );
    let mfa = s.meets(wanted(None, Some(60)), NOW).unwrap();
    assert_eq!((mfa.acr, mfa.auth_time), (Acr::MultiFactor, NOW - 10));
}

#[test]
fn a_session_without_a_second_factor_never_claims_one() {
    let s = standing(Some(NOW - 10), None, None);
    assert!(!s.ever_reached(Acr::SecondFactor));
    assert!(!s.ever_reached(Acr::MultiFactor));
    assert_eq!(s.meets(wanted(Some(Acr::SecondFactor), None), NOW), None);
    let plain = s.meets(Wanted::default(), NOW).unwrap();
    assert_eq!((plain.acr, plain.auth_time), (Acr::FirstFactor, NOW - 10));
}

#[test]
fn prompt_login_needs_a_verification_after_the_request() {
    let s = standing(Some(NOW - 10), Some(NOW - 10), None);
    let after = Wanted {
        since: Some(NOW - 5),
        ..Wanted::default()
    };
    assert_eq!(s.meets(after, NOW), None);
    assert_eq!(s.missing(after, NOW), Missing::SecondFactor);
    let s = standing(Some(NOW - 1), Some(NOW - 10), None);
    let met = s.meets(after, NOW).unwrap();
    assert_eq!((met.acr, met.auth_time), (Acr::FirstFactor, NOW - 1));
}
