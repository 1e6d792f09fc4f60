//! The shared test vectors (`vectors/reverification.json` at the repository root): policy
//! parsing, the 403 answer and the decision, asserted against this SDK — the reference
//! implementation — and, with the same file, against the JavaScript server package
//! (`node/test/vectors.test.js`), so that the two can never drift.
//!
//! Also the session-token vectors (`vectors/tokens.json`): tokens minted with this SDK's
//! keys, each with the time it is verified at and the outcome (the claims, or the error
//! code) — the JavaScript verifier (`node/test/tokens.test.js`) runs the same file.

use std::path::Path;

use std::time::Duration;

use reverify::{
    JwkSet, ManualClock, Policy, ReverificationRequired, SessionClaims, Verifier, decision,
};
use serde_json::{Value, json};

fn vectors() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/reverification.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the vectors are JSON")
}

fn cases<'a>(doc: &'a Value, key: &str) -> &'a Vec<Value> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
}

/// The claims of a token carrying `extra` (its `fva` / `fvt`), read as a verified token's
/// payload is read.
fn claims(extra: &Value) -> SessionClaims {
    let mut payload = json!({"iss": "https://issuer.example", "sub": "user_1", "iat": 0, "exp": 1});
    for (k, v) in extra.as_object().expect("claims is an object") {
        payload[k] = v.clone();
    }
    serde_json::from_value(payload).expect("the claims deserialize")
}

/// Every number is one JavaScript reads exactly: nothing beyond 2^53.
fn assert_portable(value: &Value, name: &str) {
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            assert!(
                x.abs() <= 9_007_199_254_740_992.0,
                "{name}: {n} is not exact in JavaScript"
            );
        }
        Value::Array(items) => items.iter().for_each(|v| assert_portable(v, name)),
        Value::Object(map) => map.values().for_each(|v| assert_portable(v, name)),
        _ => {}
    }
}

#[test]
fn policies_parse_and_answer_as_the_vectors_say() {
    let doc = vectors();
    let policies = cases(&doc, "policies");
    assert!(policies.len() >= 30, "at least 30 policy vectors");
    let mut seen = [0usize; 2];
    for case in policies {
        let name = case["name"].as_str().expect("every vector has a name");
        let input = &case["input"];
        assert_portable(input, name);
        let valid = case["valid"].as_bool().expect("valid is a boolean");
        seen[usize::from(valid)] += 1;
        let parsed = Policy::from_json(input);
        assert_eq!(parsed.is_ok(), valid, "{name}: Policy::from_json({input})");
        // The serde form (a 403 body read back, a configuration value) agrees.
        assert_eq!(
            serde_json::from_value::<Policy>(input.clone()).is_ok(),
            valid,
            "{name}: deserializing {input}"
        );
        let Ok(policy) = parsed else { continue };
        assert_eq!(policy.to_json(), case["normalized"], "{name}: normalized");
        assert_eq!(
            Policy::from_json(&case["normalized"]).unwrap(),
            policy,
            "{name}: the normalized form parses back to the same policy"
        );
        assert_eq!(policy.level().as_str(), case["level"], "{name}: level");
        assert_eq!(
            json!(policy.after_minutes()),
            json!(case["afterMinutes"].as_f64().unwrap()),
            "{name}: afterMinutes"
        );
        assert_eq!(
            json!(policy.max_age_seconds()),
            case["maxAge"],
            "{name}: maxAge"
        );
        let error = ReverificationRequired::new(policy);
        assert_eq!(error.status(), 403);
        assert_eq!(
            error.www_authenticate(),
            case["wwwAuthenticate"].as_str().unwrap(),
            "{name}: WWW-Authenticate"
        );
        assert_eq!(
            error.body_string(),
            case["body"].as_str().unwrap(),
            "{name}: body"
        );
        assert_eq!(
            ReverificationRequired::from_body(error.body_string().as_bytes())
                .unwrap()
                .policy(),
            &policy,
            "{name}: the body names the policy"
        );
    }
    assert!(
        seen[0] >= 15 && seen[1] >= 15,
        "valid and invalid vectors both: {seen:?}"
    );
}

#[test]
fn decisions_are_the_vectors_decisions() {
    let doc = vectors();
    let decisions = cases(&doc, "decisions");
    assert!(decisions.len() >= 60, "at least 60 decision vectors");
    let mut seen = [0usize; 2];
    for case in decisions {
        let name = case["name"].as_str().expect("every vector has a name");
        assert_portable(&case["claims"], name);
        if let Some(Value::Array(entries)) = case["claims"].get("fvt") {
            for entry in entries {
                if let Value::Number(n) = entry {
                    assert!(
                        !(n.is_f64() && n.as_f64().unwrap().fract() == 0.0),
                        "{name}: fvt entry {n} is integral but written as a float; \
                         JavaScript cannot tell it from an integer"
                    );
                }
            }
        }
        let policy = Policy::from_json(&case["policy"])
            .unwrap_or_else(|e| panic!("{name}: decision vectors use valid policies: {e}"));
        let now = case["now"].as_i64().expect("now is an integer");
        let expected = case["has"].as_bool().expect("has is a boolean");
        seen[usize::from(expected)] += 1;
        let claims = claims(&case["claims"]);
        assert_eq!(
            decision::has(&claims, &policy, now),
            expected,
            "{name}: claims {} policy {} now {now}",
            case["claims"],
            case["policy"]
        );
        assert_eq!(
            decision::has_all(&claims, &[policy], now),
            expected,
            "{name}: has_all of one policy"
        );
    }
    assert!(
        seen[0] >= 20 && seen[1] >= 20,
        "passing and failing vectors both: {seen:?}"
    );
}

fn token_vectors() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/tokens.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the token vectors are JSON")
}

#[tokio::test]
async fn token_vectors_verify_as_the_vectors_say() {
    let doc = token_vectors();
    let jwks: JwkSet = serde_json::from_value(doc["jwks"].clone()).expect("a JWK set");
    let algs: Vec<&str> = jwks.keys.iter().filter_map(|k| k.alg.as_deref()).collect();
    assert!(
        algs.contains(&"EdDSA") && algs.contains(&"ES256"),
        "{algs:?}"
    );
    assert!(jwks.keys.iter().any(|k| k.kty == "RSA"));
    let parties: Vec<String> = serde_json::from_value(doc["authorizedParties"].clone()).unwrap();
    let clock = ManualClock::new(0);
    let verifier = Verifier::builder(doc["issuer"].as_str().expect("issuer"))
        .jwks(jwks)
        .authorized_parties(parties)
        .leeway(Duration::from_secs(
            doc["clockSkewSeconds"].as_u64().unwrap(),
        ))
        .cache_capacity(0)
        .clock(clock.clone())
        .build()
        .expect("the vectors' key set is usable");
    let tokens = cases(&doc, "tokens");
    assert!(tokens.len() >= 60, "at least 60 token vectors");
    let mut codes = std::collections::BTreeSet::new();
    for case in tokens {
        let name = case["name"].as_str().expect("every vector has a name");
        let token = case["token"].as_str().expect("token is a string");
        let now = case["now"].as_i64().expect("now is an integer");
        assert_portable(&case["now"], name);
        clock.set(now);
        let expect = &case["expect"];
        match verifier.verify(token).await {
            Ok(session) => {
                assert_eq!(expect["ok"], true, "{name}: verified, expected {expect}");
                assert_eq!(session.user_id(), expect["sub"], "{name}: sub");
                assert_eq!(json!(session.claims().sid), expect["sid"], "{name}: sid");
            }
            Err(e) => {
                assert_eq!(e.code(), expect["code"], "{name}: {e}");
                assert_eq!(e.status(), 401, "{name}");
                codes.insert(e.code());
            }
        }
    }
    // Every token error a static key set can produce is covered.
    for code in [
        "token_missing",
        "token_malformed",
        "token_algorithm_unsupported",
        "token_algorithm_mismatch",
        "token_key_unknown",
        "token_signature_invalid",
        "token_claims_invalid",
        "token_expired",
        "token_not_yet_valid",
        "token_issuer_invalid",
        "token_azp_invalid",
    ] {
        assert!(codes.contains(code), "no vector fails with {code}");
    }
}
