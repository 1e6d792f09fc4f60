//! The verified-token cache: bounded, per-token, and never a way around verification.

use std::time::Duration;

use reverify::testing::TestIssuer;

#[tokio::test]
async fn a_repeated_token_is_cached_once() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let token = issuer.token().sign();
    for _ in 0..5 {
        verifier.verify(&token).await.unwrap();
    }
    assert_eq!(verifier.cached_tokens(), 1);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier_builder()
        .cache_capacity(32)
        .build()
        .unwrap();
    for i in 0..500 {
        let token = issuer.token().user(format!("user_{i}")).sign();
        assert_eq!(
            verifier.verify(&token).await.unwrap().user_id(),
            format!("user_{i}")
        );
    }
    let cached = verifier.cached_tokens();
    assert!(cached <= 32 && cached > 0, "{cached} cached");
}

#[tokio::test]
async fn expired_entries_make_room_for_new_ones() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier_builder()
        .cache_capacity(16)
        .build()
        .unwrap();
    let old: Vec<String> = (0..64)
        .map(|i| issuer.token().user(format!("old_{i}")).sign())
        .collect();
    for token in &old {
        verifier.verify(token).await.unwrap();
    }
    issuer.clock().advance(Duration::from_secs(120));
    let new = issuer.token().user("new").sign();
    verifier.verify(&new).await.unwrap();
    // The old ones are expired whether or not their entries were swept yet.
    for token in &old {
        assert_eq!(
            verifier.verify(token).await.unwrap_err(),
            reverify::Error::Expired
        );
    }
    assert!(verifier.cached_tokens() <= 16);
}

#[tokio::test]
async fn a_disabled_cache_holds_nothing() {
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier_builder().cache_capacity(0).build().unwrap();
    let token = issuer.token().sign();
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(verifier.cached_tokens(), 0);
}
