//! The state machines and the attempt counter, without HTTP: the verification's and the
//! sign-in's rules as pure functions, and the store's reservation under concurrency from
//! two "instances" (two pools on one database).

use reverify::Level;
use reverify_server::sign_in::{self, Stage};
use reverify_server::store::{Flow, Limit, Reserved, Store, VerificationRow};
use reverify_server::strategy::{Amr, Strategy};
use reverify_server::verification::{
    self, Closed, Status, allows, apply, check_open, next_status, proof_of,
};

use crate::support::TestDb;

fn row(level: Level, status: Status) -> VerificationRow {
    VerificationRow {
        id: "ver_1".into(),
        session_id: "sess_1".into(),
        user_id: "user_1".into(),
        level: level.as_str().into(),
        status: status.as_str().into(),
        first_factor_at: None,
        second_factor_at: None,
        amr: String::new(),
        code_hash: Some("h".into()),
        code_expires_at: Some(1_500),
        passkey_state: Some("state".into()),
        attempts: 0,
        created_at: 1_000,
        expires_at: 1_600,
        ended_at: None,
        action: None,
    }
}

#[test]
fn next_status_follows_the_levels_and_the_downgrade_for_users_without_a_second_factor() {
    use Status::*;
    let cases = [
        // (level, has_second, first, second) -> status
        (Level::FirstFactor, true, false, false, NeedsFirstFactor),
        (Level::FirstFactor, true, true, false, Complete),
        (Level::FirstFactor, false, false, true, Complete),
        (Level::SecondFactor, true, false, false, NeedsSecondFactor),
        (Level::SecondFactor, true, true, false, NeedsSecondFactor),
        (Level::SecondFactor, true, false, true, Complete),
        (Level::SecondFactor, false, false, false, NeedsFirstFactor),
        (Level::SecondFactor, false, true, false, Complete),
        (Level::MultiFactor, true, false, false, NeedsFirstFactor),
        (Level::MultiFactor, true, true, false, NeedsSecondFactor),
        (Level::MultiFactor, true, false, true, NeedsFirstFactor),
        (Level::MultiFactor, true, true, true, Complete),
        (Level::MultiFactor, false, true, false, Complete),
        (Level::MultiFactor, false, false, false, NeedsFirstFactor),
    ];
    for (level, has_second, first, second, want) in cases {
        assert_eq!(
            next_status(level, has_second, first, second),
            want,
            "{level:?} has_second={has_second} first={first} second={second}"
        );
    }
}

#[test]
fn each_step_allows_only_its_factors() {
    use Status::*;
    use Strategy::*;
    for (status, strategy, want) in [
        (NeedsFirstFactor, Password, true),
        (NeedsFirstFactor, EmailCode, true),
        (NeedsFirstFactor, Passkey, true),
        (NeedsFirstFactor, Totp, false),
        (NeedsFirstFactor, BackupCode, false),
        (NeedsSecondFactor, Password, false),
        (NeedsSecondFactor, EmailCode, false),
        (NeedsSecondFactor, Passkey, true),
        (NeedsSecondFactor, Totp, true),
        (NeedsSecondFactor, BackupCode, true),
        (Complete, Passkey, false),
        (Cancelled, Password, false),
    ] {
        assert_eq!(allows(status, strategy), want, "{status:?} {strategy:?}");
    }
    for (stage, strategy, want) in [
        (Stage::NeedsEmailCode, EmailCode, true),
        (Stage::NeedsEmailCode, Totp, false),
        (Stage::NeedsEmailCode, Password, false),
        (Stage::NeedsSecondFactor, Totp, true),
        (Stage::NeedsSecondFactor, BackupCode, true),
        (Stage::NeedsSecondFactor, EmailCode, false),
        (Stage::NeedsSecondFactor, Passkey, false),
    ] {
        assert_eq!(
            sign_in::allows(stage, strategy),
            want,
            "{stage:?} {strategy:?}"
        );
    }
}

#[test]
fn a_verification_closes_when_ended_expired_or_out_of_attempts() {
    let mut r = row(Level::SecondFactor, Status::NeedsFirstFactor);
    assert_eq!(check_open(&r, 1_100, 5), Ok(()));
    assert_eq!(check_open(&r, 1_600, 5), Err(Closed::Expired));
    r.attempts = 5;
    assert_eq!(
        check_open(&r, 1_100, 5),
        Err(Closed::OutOfAttempts { retry_after: 500 })
    );
    r.ended_at = Some(1_050);
    r.status = "complete".into();
    assert_eq!(
        check_open(&r, 1_100, 5),
        Err(Closed::Ended("complete".into()))
    );
}

#[test]
fn proofs_apply_forward_and_spend_the_challenge() {
    // A password at the first step of a second-factor verification of a TOTP user.
    let mut r = row(Level::SecondFactor, Status::NeedsFirstFactor);
    let status = apply(&mut r, &proof_of(Strategy::Password, false), true, 1_100);
    assert_eq!(status, Status::NeedsSecondFactor);
    assert_eq!(r.first_factor_at, Some(1_100));
    assert_eq!(
        (r.code_hash.as_deref(), r.passkey_state.as_deref()),
        (None, None)
    );
    assert_eq!(r.ended_at, None);
    // Then a TOTP code: complete, ended, both methods.
    let status = apply(&mut r, &proof_of(Strategy::Totp, false), true, 1_130);
    assert_eq!(status, Status::Complete);
    assert_eq!(r.status, "complete");
    assert_eq!(r.ended_at, Some(1_130));
    assert_eq!(r.amr, "pwd otp");
    // A passkey with user verification is both factors at once.
    let mut r = row(Level::MultiFactor, Status::NeedsFirstFactor);
    let p = proof_of(Strategy::Passkey, true);
    assert!(p.first && p.second);
    assert_eq!(apply(&mut r, &p, true, 1_200), Status::Complete);
    assert_eq!(r.amr, "hwk user");
    // Without, a first factor only.
    let p = proof_of(Strategy::Passkey, false);
    assert!(p.first && !p.second);
    assert_eq!(p.amr, vec![Amr::Hwk]);
}

#[test]
fn the_sessions_methods_say_mfa_only_with_both_factors() {
    let session = |amr: &str, first: Option<i64>| reverify_server::store::SessionRow {
        id: "s".into(),
        user_id: "u".into(),
        secret_hash: "h".into(),
        created_at: 0,
        last_active_at: 0,
        expires_at: 10,
        ended_at: None,
        end_reason: None,
        first_factor_at: first,
        second_factor_at: None,
        phr_at: None,
        amr: amr.into(),
        ip: None,
        user_agent: None,
    };
    let mut r = row(Level::SecondFactor, Status::NeedsSecondFactor);
    r.second_factor_at = Some(5);
    r.amr = "otp".into();
    assert_eq!(
        verification::session_amr(&session("pwd", Some(1)), &r),
        "pwd otp mfa"
    );
    // No first factor ever in this session (0 = never): no mfa.
    assert_eq!(verification::session_amr(&session("", Some(0)), &r), "otp");
    assert_eq!(
        sign_in::second_step_amr("email"),
        vec![Amr::Email, Amr::Otp, Amr::Mfa]
    );
    assert_eq!(
        sign_in::second_step_amr(""),
        vec![Amr::Pwd, Amr::Otp, Amr::Mfa]
    );
    assert_eq!(
        Amr::merge(&[Amr::Pwd], &[Amr::Pwd, Amr::Otp], true),
        "pwd otp mfa"
    );
}

#[test]
fn a_flow_closes_when_completed_expired_or_out_of_attempts() {
    let flow = |stage: Option<&str>| Flow {
        id: "flow_1".into(),
        kind: "sign_in_code".into(),
        email: "a@example.com".into(),
        user_id: None,
        password_hash: None,
        code_hash: None,
        attempts: 0,
        created_at: 0,
        expires_at: 600,
        completed_at: None,
        stage: stage.map(str::to_owned),
        amr: None,
    };
    let f = flow(None);
    assert_eq!(Stage::of(&f), Stage::NeedsEmailCode);
    assert!(sign_in::check_open(&f, 10, 5).is_ok());
    assert_eq!(
        sign_in::check_open(&f, 600, 5).unwrap_err().code(),
        "code_expired"
    );
    let f = flow(Some("needs_second_factor"));
    assert_eq!(Stage::of(&f), Stage::NeedsSecondFactor);
    assert_eq!(
        sign_in::check_open(&f, 600, 5).unwrap_err().code(),
        "sign_in_expired"
    );
    let mut f = flow(None);
    f.attempts = 5;
    assert_eq!(
        sign_in::check_open(&f, 10, 5).unwrap_err().code(),
        "too_many_attempts"
    );
    f.completed_at = Some(3);
    assert_eq!(
        sign_in::check_open(&f, 10, 5).unwrap_err().code(),
        "flow_completed"
    );
}

/// The reservation is the bound: 200 concurrent reservations from two pools (two
/// instances) on one database grant exactly `max` (the rest are told the checks are in
/// flight); failures lock the key at the `max`-th, and a lock is never shortened by later
/// failures; a right secret gives its reservation back; the window forgets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reservations_grant_exactly_the_limit_across_instances() {
    for db in TestDb::all().await {
        let other = Store::connect(&db.url, 4).await.unwrap();
        let limit = Limit {
            max: 10,
            window: 900,
            duration: 300,
        };
        let key = "password:x@example.com";
        let now = 1_000_000;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = if i % 2 == 0 {
                db.store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                store.reserve(key, now, limit).await.unwrap()
            }));
        }
        let mut granted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Reserved::Granted => granted += 1,
                Reserved::Busy => {}
                Reserved::Locked { .. } => panic!("nothing failed yet"),
            }
        }
        assert_eq!(granted, 10);
        // All ten fail: the tenth locks, for `duration`, from its time.
        for i in 0..9 {
            assert_eq!(db.store.fail(key, now + i, limit).await.unwrap(), None);
        }
        assert_eq!(
            other.fail(key, now + 20, limit).await.unwrap(),
            Some(now + 320)
        );
        assert_eq!(
            db.store.reserve(key, now + 21, limit).await.unwrap(),
            Reserved::Locked { until: now + 320 }
        );
        // A late failure (a check in flight elsewhere) never shortens the lock.
        db.store.fail(key, now + 5, limit).await.unwrap();
        assert_eq!(
            db.store.locked_until(key, now + 319).await.unwrap(),
            Some(now + 320)
        );
        // After the lock, a new window.
        assert_eq!(
            db.store.reserve(key, now + 320, limit).await.unwrap(),
            Reserved::Granted
        );
        // Right secrets give their reservations back: never locked, however many.
        for i in 0..50 {
            assert_eq!(
                db.store.reserve("k2", now + i, limit).await.unwrap(),
                Reserved::Granted
            );
            let mut tx = db.store.write().await.unwrap();
            Store::release_for_tests(&mut tx, "k2").await.unwrap();
            tx.commit().await.unwrap();
        }
        // A window that ends forgets its failures.
        for _ in 0..9 {
            db.store.reserve("k3", now, limit).await.unwrap();
            db.store.fail("k3", now, limit).await.unwrap();
        }
        assert_eq!(
            db.store.reserve("k3", now + 900, limit).await.unwrap(),
            Reserved::Granted
        );
        other.close().await;
        db.cleanup().await;
    }
}
