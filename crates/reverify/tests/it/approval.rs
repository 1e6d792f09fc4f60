//! Approvals: `Approved<T>` on real stores (SQLite, and PostgreSQL when reachable).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use reverify::approval::{
    APPROVE, APPROVE_MFA, Action, ApprovalClaim, ApprovalPolicy, Approvals, Approve, Approved,
    Check, Refusal, check,
};
use reverify::axum::AuthLayer;
use reverify::testing::TestIssuer;
use reverify::{Level, Policy, ReverificationRequired};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::idempotency::TestDb;

#[derive(serde::Deserialize)]
struct Transfer {
    amount_cents: u64,
    payee: String,
}

fn transfer_action(amount_cents: u64, payee: &str) -> Action {
    Action::new(
        "transfer",
        format!(
            "Send €{}.{:02} to {payee}",
            amount_cents / 100,
            amount_cents % 100
        ),
    )
    .field("amount_cents", amount_cents)
    .field("currency", "EUR")
    .field("payee", payee)
}

impl Approve for Transfer {
    fn action(&self) -> Action {
        transfer_action(self.amount_cents, &self.payee)
    }
}

/// The same body, approved under a policy that lets a session verified in the last
/// minute through.
#[derive(serde::Deserialize)]
struct SmallTransfer {
    amount_cents: u64,
    payee: String,
}

impl Approve for SmallTransfer {
    const POLICY: ApprovalPolicy = APPROVE.or_fresh(reverify::STRICT);
    fn action(&self) -> Action {
        transfer_action(self.amount_cents, &self.payee)
    }
}

#[derive(serde::Deserialize)]
struct Wipe {}

impl Approve for Wipe {
    const POLICY: ApprovalPolicy = APPROVE_MFA;
    fn action(&self) -> Action {
        Action::new("account.wipe", "Delete everything")
    }
}

fn app(issuer: &TestIssuer, approvals: Approvals, runs: Arc<AtomicUsize>) -> Router {
    let (r1, r2, r3) = (runs.clone(), runs.clone(), runs);
    Router::new()
        .route(
            "/api/transfer",
            post(move |Approved(session, t): Approved<Transfer>| {
                let runs = r1.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    axum::Json(
                        json!({"user": session.user_id(), "amount": t.amount_cents, "payee": t.payee}),
                    )
                }
            }),
        )
        .route(
            "/api/small",
            post(move |Approved(_, t): Approved<SmallTransfer>| {
                let runs = r2.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({"amount": t.amount_cents, "payee": t.payee}))
                }
            }),
        )
        .route(
            "/api/wipe",
            post(move |Approved(_, Wipe {}): Approved<Wipe>| {
                let runs = r3.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    "wiped"
                }
            }),
        )
        .layer(AuthLayer::new(issuer.verifier()).approvals(approvals))
}

fn post_json(path: &str, token: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>, Option<String>) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, body.to_vec(), challenge)
}

const TTL: Duration = Duration::from_secs(120);

#[test]
fn the_digest_is_the_documented_encoding() {
    // An independent computation (Python's hashlib over the bytes of docs/approvals.md):
    // every SDK must reproduce it.
    assert_eq!(
        transfer_action(2500, "Bob").digest().unwrap(),
        "2bxTDntVPtmrjI39qzahvMRtUqpbm2JLoKyKFoUx6DM"
    );
    // The summary is covered: the same fields shown differently are another action.
    let relabelled = Action::new("transfer", "Send €25.00 to Bob (refund)")
        .field("amount_cents", 2500)
        .field("currency", "EUR")
        .field("payee", "Bob");
    assert_ne!(relabelled.digest(), transfer_action(2500, "Bob").digest());
    // Separators cannot be shifted: a key/value split elsewhere is another digest.
    let a = Action::new("t", "s").field("ab", "c");
    let b = Action::new("t", "s").field("a", "bc");
    assert_ne!(a.digest(), b.digest());
    // Invalid actions have no digest.
    assert!(Action::new("transfer", "x\u{0}y").digest().is_err());
    assert!(Action::new("transfer", "x".repeat(201)).digest().is_err());
    let mut many = Action::new("transfer", "x");
    for i in 0..21 {
        many = many.field(format!("f{i}"), i);
    }
    assert!(many.digest().is_err());
}

#[test]
fn the_pure_check_refuses_each_mismatch_and_lets_freshness_in_only_when_allowed() {
    let issuer = TestIssuer::new();
    let action = transfer_action(2500, "Bob");
    let digest = action.digest().unwrap();
    let now = issuer.now();
    let approved = issuer
        .token()
        .approval(&action, Level::SecondFactor, TTL)
        .claims();
    assert!(matches!(
        check(&approved, &digest, &APPROVE, now),
        Check::Consume(_)
    ));
    let other = transfer_action(999_900, "Mallory").digest().unwrap();
    assert_eq!(
        check(&approved, &other, &APPROVE, now),
        Check::Refused(Refusal::OtherAction)
    );
    assert_eq!(
        check(&approved, &digest, &APPROVE_MFA, now),
        Check::Refused(Refusal::TooWeak)
    );
    assert_eq!(
        check(&approved, &digest, &APPROVE, now + 120),
        Check::Refused(Refusal::Expired)
    );
    // A freshly verified session without an approval: refused by default…
    let fresh = issuer
        .token()
        .second_factor_age(Duration::from_secs(5))
        .claims();
    assert_eq!(
        check(&fresh, &digest, &APPROVE, now),
        Check::Refused(Refusal::Missing)
    );
    // …let in only by a policy that says so, and only while fresh.
    let relaxed = APPROVE.or_fresh(Policy::custom(Level::SecondFactor, 1.0).unwrap());
    assert_eq!(check(&fresh, &digest, &relaxed, now), Check::Fresh);
    assert_eq!(
        check(&fresh, &digest, &relaxed, now + 61),
        Check::Refused(Refusal::Missing)
    );
}

#[tokio::test]
async fn an_approval_works_for_its_action_only_and_only_once() {
    for db in TestDb::all().await {
        let label = db.label();
        let issuer = TestIssuer::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let app = app(&issuer, db.approvals(false).await, runs.clone());
        let token = issuer
            .token()
            .user("user_a")
            .session("sess_a")
            .approval(&transfer_action(2500, "Bob"), Level::SecondFactor, TTL)
            .sign();

        // Another amount, another payee, another type: refused, with the action to approve.
        for (path, body) in [
            (
                "/api/transfer",
                json!({"amount_cents": 999_900, "payee": "Bob"}),
            ),
            (
                "/api/transfer",
                json!({"amount_cents": 2500, "payee": "Mallory"}),
            ),
            ("/api/wipe", json!({})),
        ] {
            let (status, body_bytes, challenge) = send(&app, post_json(path, &token, &body)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{label} {path} {body}");
            let error = ReverificationRequired::from_body(&body_bytes).expect("the reference body");
            let action = error.action().expect("the action to approve");
            if path == "/api/transfer" {
                assert_eq!(action.fields()["payee"], body["payee"].as_str().unwrap());
                assert_eq!(action.kind(), "transfer");
            } else {
                assert_eq!(action.kind(), "account.wipe");
            }
            let challenge = challenge.unwrap();
            assert!(
                challenge.contains("insufficient_user_authentication"),
                "{challenge}"
            );
            assert!(challenge.contains("max_age=0"), "{challenge}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 0, "{label}");

        // The approved action runs, once.
        let approved = json!({"amount_cents": 2500, "payee": "Bob"});
        let (status, body, _) = send(&app, post_json("/api/transfer", &token, &approved)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{label}: {}",
            String::from_utf8_lossy(&body)
        );
        let (status, body, _) = send(&app, post_json("/api/transfer", &token, &approved)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{label}: a second use");
        let error = ReverificationRequired::from_body(&body).unwrap();
        assert_eq!(error.action().unwrap().summary(), "Send €25.00 to Bob");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{label}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn expired_foreign_weak_and_malformed_approvals_are_refused() {
    let db = crate::idempotency::TestDb::all().await.remove(0);
    let issuer = TestIssuer::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let app = app(&issuer, db.approvals(false).await, runs.clone());
    let bob = transfer_action(2500, "Bob");
    let body = json!({"amount_cents": 2500, "payee": "Bob"});

    // Expired: granted with a lifetime that is already over.
    let expired = issuer
        .token()
        .approval(&bob, Level::SecondFactor, Duration::ZERO)
        .sign();
    // Another session's token: that session has no approval (approvals live in the token
    // of the session that verified, never in another's).
    let other_session = issuer
        .token()
        .user("user_a")
        .session("sess_other")
        .second_factor_age(Duration::from_secs(1))
        .sign();
    // Weaker than the route's level (multi-factor).
    let wipe = Action::new("account.wipe", "Delete everything");
    let weak = issuer
        .token()
        .approval(&wipe, Level::SecondFactor, TTL)
        .sign();
    // Malformed claims approve nothing, and leave the token valid.
    let mut claims = issuer.token().claims();
    claims.apr = Some(json!({"id": 7, "dig": bob.digest().unwrap()}));
    let malformed = issuer.sign_claims(&claims);
    let mut claims = issuer.token().claims();
    claims.apr = Some(
        json!({"id": "", "typ": "transfer", "dig": bob.digest().unwrap(), "lvl": "second_factor", "exp": issuer.now() + 100}),
    );
    let empty_id = issuer.sign_claims(&claims);

    for (what, token, path, body) in [
        ("expired", &expired, "/api/transfer", &body),
        ("another session", &other_session, "/api/transfer", &body),
        ("too weak", &weak, "/api/wipe", &json!({})),
        ("malformed", &malformed, "/api/transfer", &body),
        ("empty id", &empty_id, "/api/transfer", &body),
    ] {
        let (status, bytes, _) = send(&app, post_json(path, token, body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
        assert!(
            ReverificationRequired::from_body(&bytes)
                .unwrap()
                .action()
                .is_some(),
            "{what}"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    // Freshness stands in only where the policy allows it.
    let (status, _, _) = send(&app, post_json("/api/small", &other_session, &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_approval_raced_on_two_app_instances_runs_once() {
    for db in TestDb::all().await {
        let label = db.label();
        let issuer = TestIssuer::new();
        let runs = Arc::new(AtomicUsize::new(0));
        // Two instances: two pools on the same database.
        let apps = [
            app(&issuer, db.approvals(false).await, runs.clone()),
            app(&issuer, db.approvals(false).await, runs.clone()),
        ];
        let token = issuer
            .token()
            .approval(&transfer_action(2500, "Bob"), Level::SecondFactor, TTL)
            .sign();
        let body = json!({"amount_cents": 2500, "payee": "Bob"});
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let app = apps[i % 2].clone();
                let req = post_json("/api/transfer", &token, &body);
                tokio::spawn(async move { send(&app, req).await.0 })
            })
            .collect();
        let mut ok = 0;
        let mut forbidden = 0;
        for task in tasks {
            match task.await.unwrap() {
                StatusCode::OK => ok += 1,
                StatusCode::FORBIDDEN => forbidden += 1,
                other => panic!("{label}: unexpected {other}"),
            }
        }
        assert_eq!((ok, forbidden), (1, 99), "{label}");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{label}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_bodies_are_4xx_and_a_failing_store_is_503_without_running_the_handler() {
    for db in TestDb::all().await {
        let label = db.label();
        let issuer = TestIssuer::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let token = issuer
            .token()
            .approval(&transfer_action(2500, "Bob"), Level::SecondFactor, TTL)
            .sign();
        let app_ok = app(&issuer, db.approvals(false).await, runs.clone());
        let text = Request::builder()
            .method("POST")
            .uri("/api/transfer")
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from("amount=2500"))
            .unwrap();
        assert_eq!(
            send(&app_ok, text).await.0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let wrong = post_json("/api/transfer", &token, &json!({"amount_cents": "lots"}));
        let (status, body, _) = send(&app_ok, wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["code"],
            "invalid_body"
        );
        let no_session = Request::builder()
            .method("POST")
            .uri("/api/transfer")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(send(&app_ok, no_session).await.0, StatusCode::UNAUTHORIZED);

        let app_down = app(&issuer, db.approvals(true).await, runs.clone());
        let body = json!({"amount_cents": 2500, "payee": "Bob"});
        let (status, bytes, _) = send(&app_down, post_json("/api/transfer", &token, &body)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{label}");
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap()["code"],
            "approval_store_unavailable"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0, "{label}");
        // The approval was not spent by the failure: the working instance accepts it.
        let (status, _, _) = send(&app_ok, post_json("/api/transfer", &token, &body)).await;
        assert_eq!(status, StatusCode::OK, "{label}");
        db.cleanup().await;
    }
}

#[test]
fn the_claim_reads_back_and_clients_of_the_reference_see_a_plain_reverification_error() {
    let issuer = TestIssuer::new();
    let action = transfer_action(2500, "Bob");
    let claims = issuer
        .token()
        .approval(&action, Level::MultiFactor, TTL)
        .claims();
    let claim: ApprovalClaim = claims.approval().unwrap();
    assert_eq!(claim.lvl, Level::MultiFactor);
    assert_eq!(claim.typ, "transfer");
    assert!(claim.id.starts_with("apr_"));
    let error = ReverificationRequired::for_action(&APPROVE, &action, action.digest().unwrap());
    let body = error.body();
    // What the reference's frontend reads is all there, in its shape.
    assert_eq!(body["clerk_error"]["type"], "forbidden");
    assert_eq!(body["clerk_error"]["reason"], "reverification-error");
    assert_eq!(
        body["clerk_error"]["metadata"]["reverification"],
        json!({"level": "second_factor", "afterMinutes": 10})
    );
    assert_eq!(
        body["clerk_error"]["metadata"]["action"]["digest"],
        action.digest().unwrap()
    );
    // The string form is the same JSON.
    assert_eq!(
        serde_json::from_str::<Value>(&error.body_string()).unwrap(),
        body
    );
}
