//! Fetching the key set over HTTP: caching, refetch on unknown `kid` with a floor,
//! rotation, outages. A real HTTP server on 127.0.0.1:0 serves the set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reverify::testing::TestIssuer;
use reverify::{Error, JwkSet, ManualClock, Verifier};

#[derive(Clone, Default)]
struct Served {
    set: Arc<Mutex<Option<JwkSet>>>,
    fetches: Arc<AtomicUsize>,
}

impl Served {
    fn serve(&self, set: Option<JwkSet>) {
        *self.set.lock().unwrap() = set;
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn jwks(State(served): State<Served>) -> Response {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    match served.set.lock().unwrap().clone() {
        Some(set) => axum::Json(set).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn start(served: Served) -> String {
    let app = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/.well-known/jwks.json")
}

fn verifier(url: &str, issuer: &TestIssuer, clock: &ManualClock) -> Verifier {
    Verifier::builder(issuer.issuer())
        .jwks_url(url)
        .clock(clock.clone())
        .jwks_refetch_floor(Duration::from_secs(30))
        .jwks_ttl(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn both(a: &TestIssuer, b: &TestIssuer) -> JwkSet {
    JwkSet {
        keys: a.jwks().keys.into_iter().chain(b.jwks().keys).collect(),
    }
}

#[tokio::test]
async fn fetches_once_then_serves_from_cache() {
    let issuer = TestIssuer::new();
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, issuer.clock());
    for i in 0..20 {
        let token = issuer.token().user(format!("user_{i}")).sign();
        assert_eq!(
            v.verify(&token).await.unwrap().user_id(),
            format!("user_{i}")
        );
    }
    assert_eq!(served.fetches(), 1);
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let issuer = TestIssuer::new();
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, issuer.clock());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (v, token) = (v.clone(), issuer.token().sign());
            tokio::spawn(async move { v.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(served.fetches(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_floor() {
    let old = TestIssuer::new();
    let new = TestIssuer::with_issuer(old.issuer());
    let clock = old.clock().clone();
    let served = Served::default();
    served.serve(Some(old.jwks()));
    let url = start(served.clone()).await;
    let v = verifier(&url, &old, &clock);
    v.verify(&old.token().sign()).await.unwrap();
    assert_eq!(served.fetches(), 1);

    // The issuer publishes a new key; a token signed with it triggers a refetch…
    clock.advance(Duration::from_secs(31));
    served.serve(Some(both(&old, &new)));
    new.clock().set(clock.now());
    assert!(v.verify(&new.token().sign()).await.is_ok());
    assert_eq!(served.fetches(), 2);

    // …but a stream of random kids within the floor does not hammer the issuer.
    let stranger = TestIssuer::with_issuer(old.issuer());
    stranger.clock().set(clock.now());
    for _ in 0..10 {
        let err = v.verify(&stranger.token().sign()).await.unwrap_err();
        assert_eq!(err, Error::UnknownKey);
    }
    assert_eq!(served.fetches(), 2);
    clock.advance(Duration::from_secs(30));
    stranger.clock().set(clock.now());
    assert_eq!(
        v.verify(&stranger.token().sign()).await.unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(served.fetches(), 3, "after the floor, one more fetch");
}

#[tokio::test]
async fn the_set_is_refetched_after_its_ttl_and_kept_when_the_issuer_is_down() {
    let issuer = TestIssuer::new();
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, issuer.clock());
    v.verify(&issuer.token().sign()).await.unwrap();
    issuer.clock().advance(Duration::from_secs(3600));
    served.serve(None); // the issuer answers 500
    assert!(
        v.verify(&issuer.token().sign()).await.is_ok(),
        "the last good set keeps working"
    );
    assert_eq!(served.fetches(), 2);
}

#[tokio::test]
async fn no_keys_at_all_is_a_503_not_a_401() {
    let issuer = TestIssuer::new();
    let served = Served::default();
    served.serve(None);
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, issuer.clock());
    let err = v.verify(&issuer.token().sign()).await.unwrap_err();
    assert_eq!(err, Error::KeysUnavailable);
    assert_eq!(err.status(), 503);
    // Within the floor, no new fetch; afterwards the recovered issuer is used.
    assert_eq!(
        v.verify(&issuer.token().sign()).await.unwrap_err(),
        Error::KeysUnavailable
    );
    assert_eq!(served.fetches(), 1);
    served.serve(Some(issuer.jwks()));
    issuer.clock().advance(Duration::from_secs(30));
    assert!(v.verify(&issuer.token().sign()).await.is_ok());

    // An unreachable URL behaves the same.
    let dead = Verifier::builder(issuer.issuer())
        .jwks_url("http://127.0.0.1:9/jwks.json")
        .http_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(
        dead.verify(&issuer.token().sign()).await.unwrap_err(),
        Error::KeysUnavailable
    );
}

#[tokio::test]
async fn a_removed_key_stops_verifying_even_cached_tokens() {
    let old = TestIssuer::new();
    let new = TestIssuer::with_issuer(old.issuer());
    let clock = old.clock().clone();
    let served = Served::default();
    served.serve(Some(old.jwks()));
    let url = start(served.clone()).await;
    let v = verifier(&url, &old, &clock);
    let old_token = old.token().lifetime(Duration::from_secs(600)).sign();
    v.verify(&old_token).await.unwrap();
    assert_eq!(v.cached_tokens(), 1);

    // The old key is withdrawn (compromised); a token with the new key makes us refetch.
    served.serve(Some(new.jwks()));
    clock.advance(Duration::from_secs(31));
    new.clock().set(clock.now());
    v.verify(&new.token().sign()).await.unwrap();
    assert_eq!(v.verify(&old_token).await.unwrap_err(), Error::UnknownKey);
}

#[tokio::test]
async fn a_set_with_odd_keys_still_loads_the_good_ones() {
    let issuer = TestIssuer::new();
    let mut set = issuer.jwks();
    let mut odd = set.keys[0].clone();
    odd.kid = Some("enc-key".into());
    odd.use_ = Some("enc".into());
    let mut no_kid = set.keys[0].clone();
    no_kid.kid = None;
    set.keys.insert(0, odd);
    set.keys.insert(0, no_kid);
    let served = Served::default();
    served.serve(Some(set));
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, issuer.clock());
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
}
