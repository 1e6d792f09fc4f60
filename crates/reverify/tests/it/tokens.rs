//! Token verification: the accepted algorithms, and one test per attack.

use std::time::Duration;

use reverify::testing::TestIssuer;
use reverify::{Error, JwkSet, ReverificationStatus, STRICT, Verifier};
use serde_json::json;

use crate::support::{EC_KID, Keys, RSA_KID, b64, claims, signing_input};

fn header(alg: &str, kid: &str) -> serde_json::Value {
    json!({"alg": alg, "typ": "JWT", "kid": kid})
}

#[tokio::test]
async fn accepts_eddsa_es256_and_rs256() {
    let keys = Keys::new();
    let verifier = keys.verifier();
    let payload = claims(&keys.ed);

    let ed = keys.ed.token().user("user_ed").sign();
    let es = keys.sign_es256(&header("ES256", EC_KID), &payload);
    let rs = keys.sign_rs256(&header("RS256", RSA_KID), &payload);
    assert_eq!(verifier.verify(&ed).await.unwrap().user_id(), "user_ed");
    assert_eq!(verifier.verify(&es).await.unwrap().user_id(), "user_test");
    assert_eq!(verifier.verify(&rs).await.unwrap().user_id(), "user_test");
}

#[tokio::test]
async fn rejects_alg_none() {
    let keys = Keys::new();
    let payload = claims(&keys.ed);
    for alg in ["none", "None", "NONE"] {
        let token = format!("{}.", signing_input(&header(alg, keys.ed.kid()), &payload));
        assert_eq!(
            keys.verifier().verify(&token).await.unwrap_err(),
            Error::UnsupportedAlgorithm
        );
    }
    // Without a kid, too.
    let token = format!("{}.", signing_input(&json!({"alg": "none"}), &payload));
    assert_eq!(
        keys.verifier().verify(&token).await.unwrap_err(),
        Error::UnsupportedAlgorithm
    );
}

#[tokio::test]
async fn rejects_hmac_signed_with_the_public_key() {
    // The classic confusion: HS256 keyed with the (public) verification key bytes.
    let keys = Keys::new();
    let public = &keys.ed.jwks().keys[0];
    let secret = public.x.clone().unwrap();
    for alg in ["HS256", "HS384", "HS512"] {
        let input = signing_input(&header(alg, keys.ed.kid()), &claims(&keys.ed));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = ring::hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(
            keys.verifier().verify(&token).await.unwrap_err(),
            Error::UnsupportedAlgorithm
        );
    }
}

#[tokio::test]
async fn the_key_pins_the_algorithm() {
    let keys = Keys::new();
    let verifier = keys.verifier();
    let payload = claims(&keys.ed);
    // A valid RS256 signature presented as if from the Ed25519 key, and vice versa.
    let rs_as_ed = keys.sign_rs256(&header("RS256", keys.ed.kid()), &payload);
    assert_eq!(
        verifier.verify(&rs_as_ed).await.unwrap_err(),
        Error::AlgorithmMismatch
    );
    let ed_as_rs = keys.ed.sign_json(&header("EdDSA", RSA_KID), &payload);
    assert_eq!(
        verifier.verify(&ed_as_rs).await.unwrap_err(),
        Error::AlgorithmMismatch
    );
    // An Ed25519 signature whose header claims ES256 for the Ed25519 key.
    let lying = keys.ed.sign_json(&header("ES256", keys.ed.kid()), &payload);
    assert_eq!(
        verifier.verify(&lying).await.unwrap_err(),
        Error::AlgorithmMismatch
    );
    // An algorithm we never accept, even with a matching key type.
    let ps = keys.sign_rs256(&header("PS256", RSA_KID), &payload);
    assert_eq!(
        verifier.verify(&ps).await.unwrap_err(),
        Error::UnsupportedAlgorithm
    );
}

#[tokio::test]
async fn rejects_unknown_or_missing_kid() {
    let issuer = TestIssuer::new();
    let payload = claims(&issuer);
    let unknown = issuer.sign_json(&header("EdDSA", "someone-else"), &payload);
    assert_eq!(
        issuer.verifier().verify(&unknown).await.unwrap_err(),
        Error::UnknownKey
    );
    let missing = issuer.sign_json(&json!({"alg": "EdDSA"}), &payload);
    assert_eq!(
        issuer.verifier().verify(&missing).await.unwrap_err(),
        Error::UnknownKey
    );
}

#[tokio::test]
async fn rejects_a_signature_by_another_key_under_our_kid() {
    let ours = TestIssuer::new();
    let attacker = TestIssuer::new();
    let forged = attacker.sign_json(&header("EdDSA", ours.kid()), &claims(&ours));
    assert_eq!(
        ours.verifier().verify(&forged).await.unwrap_err(),
        Error::InvalidSignature
    );
}

#[tokio::test]
async fn rejects_a_tampered_payload_even_after_the_original_was_cached() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let stale = issuer
        .token()
        .second_factor_age(Duration::from_secs(3600))
        .sign();
    let session = verifier.verify(&stale).await.unwrap();
    assert!(!session.has(&STRICT));
    assert_eq!(verifier.cached_tokens(), 1);

    // Same header and signature, payload rewritten to claim a fresh second factor.
    let mut claims = issuer.token().second_factor_age(Duration::ZERO).claims();
    claims.sub = session.user_id().to_owned();
    let parts: Vec<&str> = stale.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(
        verifier.verify(&forged).await.unwrap_err(),
        Error::InvalidSignature
    );
    // A modified signature byte.
    let mut sig = parts[2].to_owned();
    let flipped = if sig.ends_with('A') { 'Q' } else { 'A' };
    sig.pop();
    sig.push(flipped);
    let bad_sig = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert!(matches!(
        verifier.verify(&bad_sig).await.unwrap_err(),
        Error::InvalidSignature | Error::TokenMalformed
    ));
}

#[tokio::test]
async fn rejects_the_wrong_issuer() {
    let issuer = TestIssuer::new();
    let mut c = issuer.token().claims();
    c.iss = "https://evil.example".into();
    let token = issuer.sign_claims(&c);
    assert_eq!(
        issuer.verifier().verify(&token).await.unwrap_err(),
        Error::WrongIssuer
    );
    // A prefix or a trailing slash is another issuer, too.
    c.iss = format!("{}/", issuer.issuer());
    let token = issuer.sign_claims(&c);
    assert_eq!(
        issuer.verifier().verify(&token).await.unwrap_err(),
        Error::WrongIssuer
    );
}

#[tokio::test]
async fn rejects_the_wrong_authorized_party() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier_builder()
        .authorized_parties(["https://app.example.com"])
        .build()
        .unwrap();
    let good = issuer.token().azp("https://app.example.com").sign();
    let evil = issuer.token().azp("https://evil.example.com").sign();
    let none = issuer.token().sign();
    assert!(verifier.verify(&good).await.is_ok());
    assert_eq!(
        verifier.verify(&evil).await.unwrap_err(),
        Error::UnauthorizedParty
    );
    // As the reference: a token without `azp` is not checked against the list.
    assert!(verifier.verify(&none).await.is_ok());
    // With no list configured, any azp passes.
    assert!(issuer.verifier().verify(&evil).await.is_ok());
}

#[tokio::test]
async fn rejects_expired_tokens_beyond_the_clock_skew() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let token = issuer.token().lifetime(Duration::from_secs(60)).sign();
    assert!(verifier.verify(&token).await.is_ok());
    issuer.clock().advance(Duration::from_secs(64)); // exp + 4 s: within the 5 s skew
    assert!(
        verifier.verify(&token).await.is_ok(),
        "within the default 5 s skew"
    );
    issuer.clock().advance(Duration::from_secs(1)); // exp + 5 s
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        Error::Expired,
        "the cached entry died too"
    );

    // A verifier with no skew allowance.
    let strict = issuer
        .verifier_builder()
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let token = issuer.token().sign();
    issuer.clock().advance(Duration::from_secs(60));
    assert_eq!(strict.verify(&token).await.unwrap_err(), Error::Expired);
}

#[tokio::test]
async fn rejects_tokens_not_valid_yet() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let mut c = issuer.token().claims();
    c.nbf = Some(issuer.now() + 30);
    assert_eq!(
        verifier.verify(&issuer.sign_claims(&c)).await.unwrap_err(),
        Error::NotYetValid
    );
    c.nbf = Some(issuer.now() + 5); // within the skew
    assert!(verifier.verify(&issuer.sign_claims(&c)).await.is_ok());
    let mut c = issuer.token().claims();
    c.nbf = None;
    c.iat = issuer.now() + 60;
    c.exp = issuer.now() + 120;
    assert_eq!(
        verifier.verify(&issuer.sign_claims(&c)).await.unwrap_err(),
        Error::NotYetValid
    );
}

#[tokio::test]
async fn rejects_malformed_tokens() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let good = issuer.token().sign();
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        "garbage".to_owned(),
        "a.b".to_owned(),
        format!("{good}.extra"),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.{}", "!!!", parts[1], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]), // padding is not base64url
        format!("{}.{}.{}", b64("not json"), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "A".repeat(3000)),
        "x".repeat(20_000),
    ];
    for token in cases {
        let err = verifier.verify(&token).await.unwrap_err();
        assert_eq!(
            err,
            Error::TokenMalformed,
            "{}",
            &token[..token.len().min(60)]
        );
        assert_eq!(err.status(), 401);
    }
    assert_eq!(verifier.verify("").await.unwrap_err(), Error::TokenMissing);
}

#[tokio::test]
async fn rejects_critical_header_extensions() {
    let issuer = TestIssuer::new();
    let token = issuer.sign_json(
        &json!({"alg": "EdDSA", "kid": issuer.kid(), "crit": ["b64"], "b64": false}),
        &claims(&issuer),
    );
    assert_eq!(
        issuer.verifier().verify(&token).await.unwrap_err(),
        Error::TokenMalformed
    );
}

#[tokio::test]
async fn rejects_signed_payloads_without_the_required_claims() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let h = header("EdDSA", issuer.kid());
    let mut missing_exp = claims(&issuer);
    missing_exp.as_object_mut().unwrap().remove("exp");
    let mut string_exp = claims(&issuer);
    string_exp["exp"] = json!("tomorrow");
    let mut empty_sub = claims(&issuer);
    empty_sub["sub"] = json!("");
    for payload in [missing_exp, string_exp, empty_sub, json!([1, 2])] {
        let token = issuer.sign_json(&h, &payload);
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            Error::InvalidClaims,
            "{payload}"
        );
    }
    // Correctly signed bytes that are not JSON at all.
    let keys = Keys::new();
    let input = format!(
        "{}.{}",
        b64(header("ES256", EC_KID).to_string()),
        b64("{not json")
    );
    let token = keys.sign_es256_input(&input);
    assert_eq!(
        keys.verifier().verify(&token).await.unwrap_err(),
        Error::TokenMalformed
    );
}

#[tokio::test]
async fn a_malformed_fva_does_not_reject_the_token_but_fails_every_policy() {
    let issuer = TestIssuer::new();
    let mut c = issuer.token().fva_only().claims();
    c.fva = Some(json!(["5", 0]));
    let session = issuer
        .verifier()
        .verify(&issuer.sign_claims(&c))
        .await
        .unwrap();
    assert!(!session.has(&reverify::LAX));
}

/// `auth_time`, `amr` and `acr` are informational (no decision reads them): in a token
/// from another issuer, a value of another type reads as absent and the token stays valid.
/// Claims that are checked or used as identifiers still refuse the token.
#[tokio::test]
async fn informational_claims_of_another_type_read_as_absent() {
    let keys = Keys::new();
    let verifier = keys.verifier();
    let now = keys.ed.now();
    let clerk_header = json!({"alg": "RS256", "kid": RSA_KID, "typ": "JWT"});
    let payload = |extra: serde_json::Value| {
        let mut p = json!({
            "exp": now + 60, "fva": [12, 4], "iat": now, "iss": keys.ed.issuer(),
            "sid": "sess_2abc", "sub": "user_2xyz"
        });
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    for odd in [
        json!({"amr": "pwd", "acr": 2, "auth_time": "yesterday"}),
        json!({"amr": ["pwd", 5], "acr": ["aal2"], "auth_time": 1.5e9}),
        json!({"amr": {"pwd": true}, "acr": null, "auth_time": -1.5}),
        json!({"amr": null, "acr": {"v": "aal2"}, "auth_time": 18_446_744_073_709_551_615u64}),
        json!({"amr": [null], "acr": true, "auth_time": [now]}),
    ] {
        let token = keys.sign_rs256(&clerk_header, &payload(odd.clone()));
        let session = verifier
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{odd}: {e}"));
        let c = session.claims();
        assert!(c.amr.is_empty(), "{odd}");
        assert_eq!((c.acr.as_deref(), c.auth_time), (None, None), "{odd}");
        assert!(session.has(&STRICT), "the decision still reads fva ({odd})");
        // The raw values stay readable for an application that wants them.
        let raw: serde_json::Value = session.custom_claims().unwrap();
        assert_eq!(raw["amr"], odd["amr"]);
    }
    let well_typed = payload(json!({"amr": ["pwd", "otp"], "acr": "aal2", "auth_time": now - 5}));
    let session = verifier
        .verify(&keys.sign_rs256(&clerk_header, &well_typed))
        .await
        .unwrap();
    assert_eq!(session.claims().amr, ["pwd", "otp"]);
    assert_eq!(session.claims().acr.as_deref(), Some("aal2"));
    assert_eq!(session.claims().auth_time, Some(now - 5));
    // A mistyped claim that is checked, or handed out as an identifier, refuses the token.
    for odd in [
        json!({"azp": 7}),
        json!({"sid": 7}),
        json!({"jti": ["a"]}),
        json!({"nbf": "now"}),
        json!({"iat": "now"}),
        json!({"iss": null}),
    ] {
        let token = keys.sign_rs256(&clerk_header, &payload(odd.clone()));
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            Error::InvalidClaims,
            "{odd}"
        );
    }
}

/// Claim numbers are read to the last bit as JavaScript reads them (correctly rounded):
/// with serde_json's fast parser, an `fva` age of `9.999999999999999` read as `10`.
#[tokio::test]
async fn fva_ages_in_a_token_read_as_the_nearest_double() {
    let keys = Keys::new();
    let now = keys.ed.now();
    let ten = reverify::Policy::custom(reverify::Level::FirstFactor, 10.0).unwrap();
    let input = format!(
        "{}.{}",
        b64(header("ES256", EC_KID).to_string()),
        b64(format!(
            r#"{{"iss":"{}","sub":"u","iat":{now},"exp":{},"fva":[9.999999999999999,-1]}}"#,
            keys.ed.issuer(),
            now + 60
        ))
    );
    let session = keys
        .verifier()
        .verify(&keys.sign_es256_input(&input))
        .await
        .unwrap();
    assert_eq!(
        session.claims().fva,
        Some(json!([9.999_999_999_999_998, -1]))
    );
    assert!(session.has(&ten), "JavaScript: 10 > 9.999999999999999");
}

#[tokio::test]
async fn custom_claims_are_readable() {
    let issuer = TestIssuer::new();
    let mut payload = claims(&issuer);
    payload["org_id"] = json!("org_42");
    let token = issuer.sign_json(&header("EdDSA", issuer.kid()), &payload);
    #[derive(serde::Deserialize)]
    struct Org {
        org_id: String,
    }
    let session = issuer.verifier().verify(&token).await.unwrap();
    assert_eq!(session.custom_claims::<Org>().unwrap().org_id, "org_42");
}

#[tokio::test]
async fn a_static_key_set_must_be_usable() {
    let empty = Verifier::builder("https://x")
        .jwks(JwkSet::default())
        .build();
    assert!(matches!(empty, Err(Error::Config(_))));
    let mut set = TestIssuer::new().jwks();
    set.keys[0].x = Some("short".into());
    assert!(matches!(
        Verifier::builder("https://x").jwks(set).build(),
        Err(Error::Config(_))
    ));
    let mut set = TestIssuer::new().jwks();
    set.keys[0].alg = Some("RS256".into()); // an Ed25519 key cannot be an RS256 key
    assert!(matches!(
        Verifier::builder("https://x").jwks(set).build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Verifier::builder("https://x").build(),
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn the_reverification_error_names_the_policy_and_status() {
    let issuer = TestIssuer::new();
    let stale = issuer
        .token()
        .second_factor_age(Duration::from_secs(900))
        .sign();
    let err = issuer
        .verifier()
        .verify(&stale)
        .await
        .unwrap()
        .require(&STRICT)
        .unwrap_err();
    assert_eq!(err.status(), 403);
    assert_eq!(
        err.body(),
        json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
               "metadata": {"reverification": "strict"}}})
    );
    let bearer = issuer
        .verifier_builder()
        .reverification_status(ReverificationStatus::Unauthorized)
        .build()
        .unwrap();
    assert_eq!(
        bearer
            .verify(&stale)
            .await
            .unwrap()
            .require(&STRICT)
            .unwrap_err()
            .status(),
        401
    );
}

#[tokio::test]
async fn accepts_a_clerk_shaped_rs256_token_and_decides_on_fva() {
    // Header and payload as Clerk mints them: extra header and payload members, only `fva`.
    let keys = Keys::new();
    let verifier = keys.verifier();
    let now = keys.ed.now();
    let clerk_header =
        json!({"alg": "RS256", "cat": "cl_B7d4PD111AAA", "kid": RSA_KID, "typ": "JWT"});
    let payload = |fva: serde_json::Value| {
        json!({
            "azp": "https://app.example.com", "exp": now + 60, "fea": "o:feature", "fva": fva,
            "iat": now, "iss": keys.ed.issuer(), "nbf": now - 10, "o": {"id": "org_1", "rol": "admin"},
            "pla": "u:free", "sid": "sess_2abc", "sts": "active", "sub": "user_2xyz", "v": 2
        })
    };
    let fresh = keys.sign_rs256(&clerk_header, &payload(json!([12, 4])));
    let session = verifier.verify(&fresh).await.unwrap();
    assert_eq!(session.user_id(), "user_2xyz");
    assert_eq!(session.session_id(), Some("sess_2abc"));
    assert!(session.has(&STRICT));
    assert!(!session.has(&reverify::STRICT_MFA));
    let stale = keys.sign_rs256(&clerk_header, &payload(json!([12, 10])));
    assert!(!verifier.verify(&stale).await.unwrap().has(&STRICT));
}
