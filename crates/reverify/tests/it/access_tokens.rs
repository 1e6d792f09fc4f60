//! RFC 9068 access tokens and the RFC 9470 step-up check: what passes, one test per
//! attack, and the axum routes with their exact 401 / 403 answers.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use reverify::access::{AccessToken, AccessTokenVerifier, StepUp, StepUpRequired};
use reverify::acr::Acr;
use reverify::axum::{AccessTokenLayer, AuthLayer, MaxAge, Mfa, Phr, SteppedUp};
use reverify::testing::{TEST_AUDIENCE, TestIssuer};
use reverify::{Error, Session, StepUpChallenge};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{Keys, RSA_KID, b64, signing_input};

const MFA_VALUES: &str = "urn:reverify:acr:mfa phr";

fn api(issuer: &TestIssuer) -> AccessTokenVerifier {
    issuer.access_token_verifier(TEST_AUDIENCE)
}

#[tokio::test]
async fn accepts_an_access_token_and_reads_its_claims() {
    let issuer = TestIssuer::new();
    let token = issuer
        .access_token()
        .user("user_42")
        .scope("payments:write openid")
        .client_id("grafana")
        .acr(Acr::MultiFactor)
        .amr(&["pwd", "otp", "mfa"])
        .auth_age(Duration::from_secs(30))
        .sign();
    let at = api(&issuer).verify(&token).await.unwrap();
    assert_eq!(at.user_id(), "user_42");
    assert_eq!(at.client_id(), "grafana");
    assert!(at.has_scope("payments:write") && at.has_scope("openid"));
    assert!(!at.has_scope("payments"));
    assert_eq!(at.acr(), Some(Acr::MultiFactor));
    assert_eq!(at.claims().amr, ["pwd", "otp", "mfa"]);
    assert_eq!(at.auth_age(), Some(30));
    assert_eq!(at.claims().sid.as_deref(), Some("sess_test"));
    assert_eq!(at.claims().aud, [TEST_AUDIENCE]);
}

#[tokio::test]
async fn the_typ_may_be_spelled_as_rfc_9068_allows() {
    let issuer = TestIssuer::new();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+JWT",
    ] {
        let token = issuer.access_token().typ(Some(typ)).sign();
        assert!(api(&issuer).verify(&token).await.is_ok(), "{typ}");
    }
    for typ in [
        Some("JWT"),
        None,
        Some("at+jwt "),
        Some("application/jwt"),
        Some("xapplication/at+jwt"),
        Some("application/application/at+jwt"),
        Some("dpop+jwt"),
    ] {
        let token = issuer.access_token().typ(typ).sign();
        assert_eq!(
            api(&issuer).verify(&token).await.unwrap_err(),
            Error::WrongTokenType,
            "{typ:?}"
        );
    }
}

#[tokio::test]
async fn a_session_token_is_not_an_access_token() {
    let issuer = TestIssuer::new();
    let session = issuer
        .token()
        .second_factor_age(Duration::from_secs(1))
        .sign();
    // Even with an `aud` and a `client_id` added to the session claims.
    let mut claims = serde_json::to_value(issuer.token().claims()).unwrap();
    claims["aud"] = json!(TEST_AUDIENCE);
    claims["client_id"] = json!("client_test");
    let dressed = issuer.sign_json(
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": issuer.kid()}),
        &claims,
    );
    let api = api(&issuer);
    for token in [&session, &dressed] {
        assert_eq!(api.verify(token).await.unwrap_err(), Error::WrongTokenType);
    }
    // The session verifier still takes them: nothing changed for session tokens.
    assert!(issuer.verifier().verify(&session).await.is_ok());
}

#[tokio::test]
async fn an_id_token_is_not_an_access_token() {
    let keys = Keys::new();
    let api = keys.verifier().access_tokens(TEST_AUDIENCE);
    let now = keys.ed.now();
    // An ID token as an OpenID provider signs it (RS256, typ JWT), for the client, with
    // a nonce — and, worse, one whose aud names the API.
    for aud in [json!("client_test"), json!(TEST_AUDIENCE)] {
        let claims = json!({
            "iss": keys.ed.issuer(), "sub": "user_test", "aud": aud, "iat": now,
            "exp": now + 300, "nonce": "n-0S6_WzA2Mj", "auth_time": now,
            "acr": "urn:reverify:acr:mfa", "client_id": "client_test", "jti": "id1",
        });
        let token = keys.sign_rs256(
            &json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID}),
            &claims,
        );
        assert_eq!(api.verify(&token).await.unwrap_err(), Error::WrongTokenType);
        let untyped = keys.sign_rs256(&json!({"alg": "RS256", "kid": RSA_KID}), &claims);
        assert_eq!(
            api.verify(&untyped).await.unwrap_err(),
            Error::WrongTokenType
        );
    }
}

#[tokio::test]
async fn an_access_token_is_not_a_session_token() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let token = issuer.access_token().typ(Some(typ)).sign();
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            Error::WrongTokenType
        );
    }
    // Untyped or typed `JWT`, its `aud` still tells: a session token has none.
    for typ in [Some("JWT"), None] {
        let token = issuer.access_token().typ(typ).sign();
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            Error::WrongTokenType,
            "{typ:?}"
        );
    }
}

#[tokio::test]
async fn an_id_token_is_not_a_session_token() {
    // A client of the OpenID provider holds ID tokens for its users; replayed to the app
    // as the session token (header or `__session` cookie), one must not sign anyone in.
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let mut claims = serde_json::to_value(issuer.token().claims()).unwrap();
    claims["nonce"] = json!("n-0S6_WzA2Mj");
    for aud in [json!("client_test"), json!(["client_test", "other"])] {
        claims["aud"] = aud.clone();
        for header in [
            json!({"alg": "EdDSA", "typ": "JWT", "kid": issuer.kid()}),
            json!({"alg": "EdDSA", "kid": issuer.kid()}),
        ] {
            let token = issuer.sign_json(&header, &claims);
            assert_eq!(
                verifier.verify(&token).await.unwrap_err(),
                Error::WrongTokenType,
                "{aud} {header}"
            );
        }
    }
    // `aud: null` is no audience; without one the same claims are a session token.
    claims["aud"] = json!(null);
    let token = issuer.sign_json(&json!({"alg": "EdDSA", "kid": issuer.kid()}), &claims);
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn the_audience_must_contain_ours() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let other = issuer
        .access_token()
        .aud("https://other.example.com")
        .sign();
    assert_eq!(api.verify(&other).await.unwrap_err(), Error::WrongAudience);
    // A prefix, a trailing slash, another case: not ours.
    for aud in [
        "https://api.reverify.tes",
        "https://api.reverify.test/",
        "HTTPS://API.REVERIFY.TEST",
    ] {
        let token = issuer.access_token().aud(aud).sign();
        assert_eq!(
            api.verify(&token).await.unwrap_err(),
            Error::WrongAudience,
            "{aud}"
        );
    }
    let many = issuer
        .access_token()
        .audiences(["https://other.example.com", TEST_AUDIENCE])
        .sign();
    assert!(api.verify(&many).await.is_ok());
    let none_ours = issuer.access_token().audiences(["a", "b"]).sign();
    assert_eq!(
        api.verify(&none_ours).await.unwrap_err(),
        Error::WrongAudience
    );
    // A cached token is checked against each verifier's audience.
    let other_api = issuer.verifier().access_tokens("https://other.example.com");
    assert_eq!(
        other_api.verify(&many).await.unwrap().user_id(),
        "user_test"
    );
    let only_ours = issuer.access_token().sign();
    assert!(api.verify(&only_ours).await.is_ok());
    assert_eq!(
        api.verifier()
            .access_tokens("https://other.example.com")
            .verify(&only_ours)
            .await
            .unwrap_err(),
        Error::WrongAudience
    );
}

#[tokio::test]
async fn claims_an_access_token_must_carry() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    for claim in ["aud", "client_id", "jti", "sub", "exp", "iat", "iss"] {
        let token = issuer.access_token().without(claim).sign();
        assert_eq!(
            api.verify(&token).await.unwrap_err(),
            Error::InvalidClaims,
            "{claim}"
        );
    }
    for (claim, value) in [
        ("client_id", json!("")),
        ("client_id", json!(7)),
        ("jti", json!("")),
        ("aud", json!([])),
        ("aud", json!(["ok", 1])),
        ("aud", json!(null)),
        ("sub", json!("")),
    ] {
        let token = issuer.access_token().claim(claim, value.clone()).sign();
        assert_eq!(
            api.verify(&token).await.unwrap_err(),
            Error::InvalidClaims,
            "{claim} = {value}"
        );
    }
    let wrong_issuer = issuer
        .access_token()
        .claim("iss", "https://evil.test")
        .sign();
    assert_eq!(
        api.verify(&wrong_issuer).await.unwrap_err(),
        Error::WrongIssuer
    );
}

#[tokio::test]
async fn required_scopes() {
    let issuer = TestIssuer::new();
    let api = api(&issuer).with_required_scopes(["payments:write", "openid"]);
    let both = issuer
        .access_token()
        .scope("openid payments:write email")
        .sign();
    assert!(api.verify(&both).await.is_ok());
    for scope in [
        "openid",
        "payments:write",
        "",
        "openid payments:writ",
        "openid  payments",
    ] {
        let token = issuer.access_token().scope(scope).sign();
        let err = api.verify(&token).await.unwrap_err();
        assert_eq!(
            err,
            Error::InsufficientScope {
                scope: "payments:write openid".into()
            },
            "{scope:?}"
        );
        assert_eq!(err.status(), 403);
        assert_eq!(err.code(), "insufficient_scope");
        assert_eq!(
            err.www_authenticate().unwrap(),
            r#"Bearer error="insufficient_scope", error_description="the access token lacks a required scope", scope="payments:write openid""#
        );
    }
    let no_scope = issuer.access_token().sign();
    assert!(matches!(
        api.verify(&no_scope).await.unwrap_err(),
        Error::InsufficientScope { .. }
    ));
    // Per route: require_scopes on a verified token.
    let at = self::api(&issuer).verify(&both).await.unwrap();
    assert!(at.require_scopes(&["email"]).is_ok());
    assert_eq!(
        at.require_scopes(&["email", "admin"]).unwrap_err(),
        Error::InsufficientScope {
            scope: "email admin".into()
        }
    );
}

#[tokio::test]
async fn rejects_alg_none_and_hmac_with_the_public_key() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let claims = issuer.access_token().claims().clone();
    for alg in ["none", "None"] {
        let token = format!(
            "{}.",
            signing_input(
                &json!({"alg": alg, "typ": "at+jwt", "kid": issuer.kid()}),
                &claims
            )
        );
        assert_eq!(
            api.verify(&token).await.unwrap_err(),
            Error::UnsupportedAlgorithm
        );
    }
    let secret = issuer.jwks().keys[0].x.clone().unwrap();
    for alg in ["HS256", "HS384", "HS512"] {
        let input = signing_input(
            &json!({"alg": alg, "typ": "at+jwt", "kid": issuer.kid()}),
            &claims,
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let token = format!(
            "{input}.{}",
            b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
        );
        assert_eq!(
            api.verify(&token).await.unwrap_err(),
            Error::UnsupportedAlgorithm
        );
    }
}

#[tokio::test]
async fn the_key_pins_the_algorithm_for_access_tokens_too() {
    let keys = Keys::new();
    let api = keys.verifier().access_tokens(TEST_AUDIENCE);
    let claims = keys.ed.access_token().claims().clone();
    let good = keys.sign_rs256(
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": RSA_KID}),
        &claims,
    );
    assert!(api.verify(&good).await.is_ok());
    // RS256 under the Ed25519 kid, EdDSA under the RSA kid.
    let rs_as_ed = keys.sign_rs256(
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": keys.ed.kid()}),
        &claims,
    );
    assert_eq!(
        api.verify(&rs_as_ed).await.unwrap_err(),
        Error::AlgorithmMismatch
    );
    let ed_as_rs = keys.ed.sign_json(
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": RSA_KID}),
        &claims,
    );
    assert_eq!(
        api.verify(&ed_as_rs).await.unwrap_err(),
        Error::AlgorithmMismatch
    );
    // HS256 keyed with the RSA modulus (the RS/HS confusion).
    let n = keys.rsa_jwk().n.unwrap();
    let input = signing_input(
        &json!({"alg": "HS256", "typ": "at+jwt", "kid": RSA_KID}),
        &claims,
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, n.as_bytes());
    let hs = format!(
        "{input}.{}",
        b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    );
    assert_eq!(
        api.verify(&hs).await.unwrap_err(),
        Error::UnsupportedAlgorithm
    );
}

#[tokio::test]
async fn a_tampered_token_fails_even_after_the_original_was_cached() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let token = issuer.access_token().scope("read").sign();
    assert!(api.verify(&token).await.is_ok());
    assert_eq!(api.cached_tokens(), 1);
    assert_eq!(
        api.verifier().cached_tokens(),
        0,
        "session tokens are cached apart"
    );
    let (_, payload, sig) = {
        let mut p = token.split('.');
        (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
    };
    let mut claims = issuer.access_token().claims().clone();
    claims["scope"] = json!("read admin");
    let forged_header =
        b64(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.kid()}).to_string());
    let forged = format!("{forged_header}.{}.{sig}", b64(claims.to_string()));
    assert_ne!(forged.split('.').nth(1).unwrap(), payload);
    assert_eq!(
        api.verify(&forged).await.unwrap_err(),
        Error::InvalidSignature
    );
    // And the cached access token is not a session token, cached or not.
    assert_eq!(
        issuer.verifier().verify(&token).await.unwrap_err(),
        Error::WrongTokenType
    );
}

#[tokio::test]
async fn expiry_with_the_leeway_cached_or_not() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let token = issuer
        .access_token()
        .lifetime(Duration::from_secs(60))
        .sign();
    let exp = issuer.now() + 60;
    assert!(api.verify_at(&token, exp + 4).await.is_ok()); // within the 5 s leeway, cached now
    assert_eq!(
        api.verify_at(&token, exp + 5).await.unwrap_err(),
        Error::Expired
    );
    let fresh = TestIssuer::new();
    let t2 = fresh
        .access_token()
        .lifetime(Duration::from_secs(60))
        .sign();
    assert_eq!(
        self::api(&fresh)
            .verify_at(&t2, fresh.now() + 65)
            .await
            .unwrap_err(),
        Error::Expired
    );
    let future = issuer.access_token().claim("iat", issuer.now() + 60).sign();
    assert_eq!(api.verify(&future).await.unwrap_err(), Error::NotYetValid);
}

#[tokio::test]
async fn max_age_to_the_second() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let token = issuer
        .access_token()
        .auth_age(Duration::from_secs(250))
        .sign();
    let at = api.verify(&token).await.unwrap();
    assert!(at.meets(&StepUp::max_age(250)));
    assert!(!at.meets(&StepUp::max_age(249)));
    // The same token, 50 s later: exactly 300 s old passes max_age=300; 301 s fails.
    let at = api.verify_at(&token, issuer.now() + 50).await.unwrap();
    assert_eq!(at.auth_age(), Some(300));
    assert!(at.meets(&StepUp::max_age(300)));
    let at = api.verify_at(&token, issuer.now() + 51).await.unwrap();
    assert!(!at.meets(&StepUp::max_age(300)));
    let err = at.require(&StepUp::max_age(300)).unwrap_err();
    assert_eq!(err.status(), 401);
    assert_eq!(
        err.www_authenticate(),
        r#"Bearer error="insufficient_user_authentication", error_description="Authentication within the last 300 seconds is required", max_age=300"#
    );
    // max_age=0: only an authentication this very second.
    let now = issuer.access_token().auth_age(Duration::ZERO).sign();
    assert!(api.verify(&now).await.unwrap().meets(&StepUp::max_age(0)));
}

#[tokio::test]
async fn a_missing_or_odd_auth_time_meets_no_max_age() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let missing = issuer.access_token().without("auth_time").sign();
    let stringy = issuer
        .access_token()
        .claim("auth_time", "1800000000")
        .sign();
    let float = issuer
        .access_token()
        .claim("auth_time", 1_800_000_000.5)
        .sign();
    let future = issuer.access_token().auth_time(issuer.now() + 3600).sign();
    for token in [missing, stringy, float, future] {
        let at = api.verify(&token).await.unwrap();
        assert!(!at.meets(&StepUp::max_age(u64::MAX)));
        assert!(at.meets(&StepUp::NONE));
    }
    // Within the leeway, a clock a little ahead is tolerated.
    let ahead = issuer.access_token().auth_time(issuer.now() + 3).sign();
    assert!(api.verify(&ahead).await.unwrap().meets(&StepUp::max_age(0)));
}

#[tokio::test]
async fn acr_requirements_and_unknown_values() {
    let issuer = TestIssuer::new();
    let api = api(&issuer);
    let mfa = api
        .verify(&issuer.access_token().acr(Acr::MultiFactor).sign())
        .await
        .unwrap();
    assert!(mfa.meets(&StepUp::min_acr(Acr::FirstFactor)));
    assert!(mfa.meets(&StepUp::min_acr(Acr::SecondFactor)));
    assert!(mfa.meets(&StepUp::min_acr(Acr::MultiFactor)));
    assert!(!mfa.meets(&StepUp::min_acr(Acr::PhishingResistant)));
    for odd in [
        json!("urn:reverify:acr:MFA"),
        json!("mfa"),
        json!("urn:reverify:acr:mfa "),
        json!("urn:mace:incommon:iap:silver"),
        json!(3),
        json!(["phr"]),
    ] {
        let token = issuer.access_token().claim("acr", odd.clone()).sign();
        let at = api.verify(&token).await.unwrap();
        assert_eq!(at.acr(), None, "{odd}");
        assert!(!at.meets(&StepUp::min_acr(Acr::FirstFactor)), "{odd}");
    }
    let none = api
        .verify(&issuer.access_token().without("acr").sign())
        .await
        .unwrap();
    assert!(!none.meets(&StepUp::min_acr(Acr::FirstFactor)));
    // Both requirements at once: each must hold.
    let both = StepUp::max_age(60).acr(Acr::MultiFactor);
    let old_mfa = issuer
        .access_token()
        .acr(Acr::MultiFactor)
        .auth_age(Duration::from_secs(61))
        .sign();
    let new_2fa = issuer
        .access_token()
        .acr(Acr::SecondFactor)
        .auth_age(Duration::from_secs(1))
        .sign();
    let new_phr = issuer
        .access_token()
        .acr(Acr::PhishingResistant)
        .auth_age(Duration::from_secs(1))
        .sign();
    assert!(!api.verify(&old_mfa).await.unwrap().meets(&both));
    assert!(!api.verify(&new_2fa).await.unwrap().meets(&both));
    assert!(api.verify(&new_phr).await.unwrap().meets(&both));
    let err = api
        .verify(&new_2fa)
        .await
        .unwrap()
        .require(&both)
        .unwrap_err();
    assert_eq!(
        err.www_authenticate(),
        format!(
            r#"Bearer error="insufficient_user_authentication", error_description="Authentication at urn:reverify:acr:mfa or stronger within the last 60 seconds is required", max_age=60, acr_values="{MFA_VALUES}""#
        )
    );
    // What a client library reads back out of it.
    let parsed = StepUpChallenge::from_www_authenticate(&err.www_authenticate()).unwrap();
    assert_eq!(parsed.max_age, Some(60));
    assert_eq!(parsed.acr_values, ["urn:reverify:acr:mfa", "phr"]);
}

#[test]
fn requirements_combine_to_the_stricter() {
    let a = StepUp::max_age(300).acr(Acr::SecondFactor);
    let b = StepUp::max_age(60).acr(Acr::FirstFactor);
    let both = a.and(b);
    assert_eq!(both.max_age_seconds(), Some(60));
    assert_eq!(both.min_acr_value(), Some(Acr::SecondFactor));
    assert_eq!(
        StepUp::NONE
            .and(StepUp::min_acr(Acr::PhishingResistant))
            .min_acr_value(),
        Some(Acr::PhishingResistant)
    );
    assert_eq!(StepUp::NONE.and(StepUp::NONE), StepUp::NONE);
}

#[tokio::test]
async fn a_standalone_verifier_needs_an_audience() {
    let issuer = TestIssuer::new();
    let err = AccessTokenVerifier::builder(issuer.issuer())
        .jwks(issuer.jwks())
        .build()
        .unwrap_err();
    assert_eq!(err.code(), "verifier_config_invalid");
    let api = AccessTokenVerifier::builder(issuer.issuer())
        .audience(TEST_AUDIENCE)
        .jwks(issuer.jwks())
        .clock(issuer.clock().clone())
        .required_scopes(["read"])
        .build()
        .unwrap();
    assert!(
        api.verify(&issuer.access_token().scope("read").sign())
            .await
            .is_ok()
    );
    assert!(api.verify(&issuer.access_token().sign()).await.is_err());
}

// ---- axum ----

async fn pay(SteppedUp(token, ..): SteppedUp<(MaxAge<300>, Mfa)>) -> String {
    format!("paid for {}", token.user_id())
}

async fn keys_page(SteppedUp(..): SteppedUp<Phr>) -> &'static str {
    "keys"
}

async fn whoami(token: AccessToken) -> String {
    token.client_id().to_owned()
}

async fn fresh(SteppedUp(..): SteppedUp<MaxAge<60>>) -> &'static str {
    "fresh"
}

/// A requirement read at run time.
async fn dynamic(token: AccessToken) -> Result<&'static str, StepUpRequired> {
    token.require(&StepUp::max_age(120))?;
    Ok("ok")
}

async fn admin(token: AccessToken) -> Result<&'static str, Error> {
    token.require_scopes(&["admin"])?;
    Ok("admin")
}

fn app(issuer: &TestIssuer) -> Router {
    Router::new()
        .route("/pay", post(pay))
        .route("/keys", get(keys_page))
        .route("/whoami", get(whoami))
        .route("/fresh", get(fresh))
        .route("/dynamic", get(dynamic))
        .route("/admin", get(admin))
        .layer(AccessTokenLayer::new(api(issuer)))
}

fn request(method: &str, uri: &str, auth: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    builder.body(Body::empty()).unwrap()
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    if status != StatusCode::OK {
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn route_passes_a_fresh_strong_token() {
    let issuer = TestIssuer::new();
    let token = issuer
        .access_token()
        .acr(Acr::MultiFactor)
        .auth_age(Duration::from_secs(300))
        .sign();
    let (status, challenge, body) = send(
        &app(&issuer),
        request("POST", "/pay", Some(&bearer(&token))),
    )
    .await;
    assert_eq!(
        (status, challenge, body.as_str()),
        (StatusCode::OK, None, "paid for user_test")
    );
}

#[tokio::test]
async fn route_answers_401_with_the_rfc_9470_challenge() {
    let issuer = TestIssuer::new();
    let app = app(&issuer);
    // Stale by one second, strong enough.
    let stale = issuer
        .access_token()
        .acr(Acr::PhishingResistant)
        .auth_age(Duration::from_secs(301))
        .sign();
    let (status, challenge, body) =
        send(&app, request("POST", "/pay", Some(&bearer(&stale)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.unwrap(),
        format!(
            r#"Bearer error="insufficient_user_authentication", error_description="Authentication at urn:reverify:acr:mfa or stronger within the last 300 seconds is required", max_age=300, acr_values="{MFA_VALUES}""#
        )
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({
            "code": "insufficient_user_authentication",
            "message": "Authentication at urn:reverify:acr:mfa or stronger within the last 300 seconds is required",
            "max_age": 300,
            "acr_values": MFA_VALUES,
        })
    );
    // Fresh, too weak: the same challenge (the requirement, not the shortfall).
    let weak = issuer.access_token().acr(Acr::SecondFactor).sign();
    let (status, challenge2, _) = send(&app, request("POST", "/pay", Some(&bearer(&weak)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge2
            .unwrap()
            .ends_with(r#"max_age=300, acr_values="urn:reverify:acr:mfa phr""#)
    );
    // acr only.
    let (status, challenge, body) = send(&app, request("GET", "/keys", Some(&bearer(&weak)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer error="insufficient_user_authentication", error_description="Authentication at phr or stronger is required", acr_values="phr""#
    );
    assert_eq!(
        body,
        r#"{"code":"insufficient_user_authentication","message":"Authentication at phr or stronger is required","acr_values":"phr"}"#
    );
    // max_age only, and no auth_time at all.
    let no_auth_time = issuer.access_token().without("auth_time").sign();
    let (status, challenge, body) =
        send(&app, request("GET", "/fresh", Some(&bearer(&no_auth_time)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer error="insufficient_user_authentication", error_description="Authentication within the last 60 seconds is required", max_age=60"#
    );
    assert_eq!(
        body,
        r#"{"code":"insufficient_user_authentication","message":"Authentication within the last 60 seconds is required","max_age":60}"#
    );
    // A requirement known at run time.
    let old = issuer
        .access_token()
        .auth_age(Duration::from_secs(121))
        .sign();
    let (status, challenge, _) = send(&app, request("GET", "/dynamic", Some(&bearer(&old)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().ends_with("max_age=120"));
    let ok = issuer
        .access_token()
        .auth_age(Duration::from_secs(120))
        .sign();
    assert_eq!(
        send(&app, request("GET", "/dynamic", Some(&bearer(&ok))))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn route_answers_401_invalid_token_and_403_insufficient_scope() {
    let issuer = TestIssuer::new();
    let app = app(&issuer);
    // No token: a bare Bearer challenge.
    let (status, challenge, body) = send(&app, request("GET", "/whoami", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(
        body,
        r#"{"code":"token_missing","message":"no session token was sent"}"#
    );
    // A session token, in the header or as the cookie: refused, never read from a cookie.
    let session = issuer.token().sign();
    let (status, challenge, body) =
        send(&app, request("GET", "/whoami", Some(&bearer(&session)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer error="invalid_token", error_description="the token is not of the expected type""#
    );
    assert_eq!(
        body,
        r#"{"code":"token_type_invalid","message":"the token is not of the expected type"}"#
    );
    let access = issuer.access_token().sign();
    let cookie = Request::builder()
        .uri("/whoami")
        .header(header::COOKIE, format!("__session={access}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&app, cookie).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("token_missing"));
    // Wrong audience.
    let other = issuer
        .access_token()
        .aud("https://other.example.com")
        .sign();
    let (status, challenge, body) =
        send(&app, request("GET", "/whoami", Some(&bearer(&other)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer error="invalid_token", error_description="the access token was issued for another audience""#
    );
    assert_eq!(
        body,
        r#"{"code":"token_audience_invalid","message":"the access token was issued for another audience"}"#
    );
    // Missing scope: 403.
    let (status, challenge, body) =
        send(&app, request("GET", "/admin", Some(&bearer(&access)))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin""#
    );
    assert_eq!(
        body,
        r#"{"code":"insufficient_scope","message":"the access token lacks a required scope"}"#
    );
    let admin_token = issuer.access_token().scope("admin").sign();
    assert_eq!(
        send(&app, request("GET", "/admin", Some(&bearer(&admin_token))))
            .await
            .0,
        StatusCode::OK
    );
    // The good token.
    let (status, _, body) = send(&app, request("GET", "/whoami", Some(&bearer(&access)))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "client_test"));
}

#[tokio::test]
async fn session_routes_refuse_access_tokens() {
    let issuer = TestIssuer::new();
    let app = Router::new()
        .route(
            "/me",
            get(|s: Session| async move { s.user_id().to_owned() }),
        )
        .layer(AuthLayer::new(issuer.verifier()));
    let access = issuer.access_token().sign();
    let (status, _, body) = send(&app, request("GET", "/me", Some(&bearer(&access)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        r#"{"code":"token_type_invalid","message":"the token is not of the expected type"}"#
    );
    let session = issuer.token().sign();
    assert_eq!(
        send(&app, request("GET", "/me", Some(&bearer(&session))))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_access_token_route_without_its_layer_is_a_500() {
    let issuer = TestIssuer::new();
    let app = Router::new().route("/whoami", get(whoami));
    let token = issuer.access_token().sign();
    let (status, _, body) = send(&app, request("GET", "/whoami", Some(&bearer(&token)))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        r#"{"code":"verifier_missing","message":"internal server error"}"#
    );
}
