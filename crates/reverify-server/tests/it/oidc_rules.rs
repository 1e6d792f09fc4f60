//! The provider's pure rules: which scopes the consent screen asks for, redirect URIs and
//! client ids, PKCE, form decoding. (The HTTP tests in `oidc.rs` drive them end to end.)

use reverify_server::oidc::authorize::{AuthRequest, consent_to_ask};
use reverify_server::oidc::clients::{check_redirect_uri, valid_client_id};
use reverify_server::oidc::token::{form_decode, pkce_matches};

fn req(scope: &str, prompt_consent: bool) -> AuthRequest {
    AuthRequest {
        client_id: "c".into(),
        redirect_uri: "https://rp.example/cb".into(),
        scope: scope.split(' ').map(str::to_owned).collect(),
        state: None,
        nonce: None,
        code_challenge: None,
        max_age: None,
        prompt_none: false,
        prompt_login: false,
        prompt_consent,
        acr: None,
        acr_essential: false,
        resource: None,
    }
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn consent_asks_for_what_is_missing_or_everything_with_prompt_consent() {
    let granted = owned(&["openid", "email"]);
    // First party: never.
    assert!(consent_to_ask(&req("openid email", true), true, &[]).is_empty());
    // Nothing allowed yet: everything.
    assert_eq!(
        consent_to_ask(&req("openid email", false), false, &[]),
        owned(&["openid", "email"])
    );
    // Allowed: nothing; fewer scopes: nothing.
    assert!(consent_to_ask(&req("openid email", false), false, &granted).is_empty());
    assert!(consent_to_ask(&req("openid", false), false, &granted).is_empty());
    // More: only the new one.
    assert_eq!(
        consent_to_ask(&req("openid email offline_access", false), false, &granted),
        owned(&["offline_access"])
    );
    // prompt=consent: everything asked.
    assert_eq!(
        consent_to_ask(&req("openid email", true), false, &granted),
        owned(&["openid", "email"])
    );
}

#[test]
fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
    for ok in [
        "https://app.example.com/cb",
        "https://app.example.com/cb?x=1",
        "http://127.0.0.1:8000/cb",
        "http://localhost/cb",
        "http://[::1]:9/cb",
    ] {
        assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
    }
    for bad in [
        "http://app.example.com/cb",
        "https://app.example.com/cb#frag",
        "https://user:pw@app.example.com/cb",
        "/relative",
        "javascript:alert(1)",
        "https://app.example.com/a b",
        "data:text/html,hi",
    ] {
        assert!(check_redirect_uri(bad).is_err(), "{bad}");
    }
}

#[test]
fn client_ids_are_restricted() {
    assert!(valid_client_id("grafana-prod.1_x"));
    assert!(!valid_client_id(""));
    assert!(!valid_client_id("a b"));
    assert!(!valid_client_id(&"a".repeat(129)));
}

#[test]
fn pkce_s256() {
    // Computed independently: base64url(SHA-256(verifier)).
    let verifier = "dBjftJeZ4CVP-mJ92K9W3yJgHHzHYTmK5X9bo1b0Ymk";
    let challenge = "VOiiDEFT1amT2FN2MBTqoy1_dTL3OWswVuCv3x3keC8";
    assert!(pkce_matches(verifier, challenge));
    assert!(!pkce_matches(challenge, challenge));
    assert!(!pkce_matches("short", challenge));
    assert!(!pkce_matches(&format!("{verifier}!"), challenge));
}

#[test]
fn form_decoding() {
    assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
    assert_eq!(form_decode("%zz"), None);
}
