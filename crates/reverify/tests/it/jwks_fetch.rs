//! Fetching the key set over HTTP: caching driven by the issuer's `Cache-Control`, clamped;
//! refetch on unknown `kid` with a floor; rotation, removal and outages, and the bound on
//! how long a key that left the set is still accepted. A real HTTP server on 127.0.0.1:0
//! serves the set, with the headers a test chooses.

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
    /// Extra response headers (`Cache-Control`, `Age`).
    headers: Arc<Mutex<Vec<(&'static str, String)>>>,
    fetches: Arc<AtomicUsize>,
}

impl Served {
    fn serve(&self, set: Option<JwkSet>) {
        *self.set.lock().unwrap() = set;
    }
    fn headers(&self, headers: &[(&'static str, &str)]) {
        *self.headers.lock().unwrap() =
            headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn jwks(State(served): State<Served>) -> Response {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    let set = served.set.lock().unwrap().clone();
    match set {
        Some(set) => {
            let mut response = axum::Json(set).into_response();
            for (name, value) in served.headers.lock().unwrap().iter() {
                response.headers_mut().append(*name, value.parse().unwrap());
            }
            response
        }
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
        .jwks_max_ttl(Duration::from_secs(300))
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

/// Without `Cache-Control`, a set lives for the ceiling (here the default, 300 s): it is
/// refreshed from three quarters on, kept while the issuer is down within its lifetime, and
/// never used past it.
#[tokio::test]
async fn the_set_is_refreshed_before_its_lifetime_and_never_used_past_it() {
    let issuer = TestIssuer::new();
    let clock = issuer.clock().clone();
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    let url = start(served.clone()).await;
    let v = Verifier::builder(issuer.issuer())
        .jwks_url(&url)
        .clock(clock.clone())
        .build()
        .unwrap();
    let cached = issuer.token().lifetime(Duration::from_secs(3600)).sign();
    v.verify(&cached).await.unwrap();
    clock.advance(Duration::from_secs(224));
    v.verify(&cached).await.unwrap();
    assert_eq!(served.fetches(), 1, "fresh for three quarters of 300 s");
    clock.advance(Duration::from_secs(1));
    served.serve(None); // the issuer answers 500 from now on
    v.verify(&cached).await.unwrap();
    assert_eq!(
        served.fetches(),
        2,
        "refreshed ahead; the failure keeps the set"
    );
    clock.advance(Duration::from_secs(74)); // t = 299
    v.verify(&cached).await.unwrap();
    v.verify(&issuer.token().sign()).await.unwrap();
    assert_eq!(served.fetches(), 3, "retried once per floor");
    clock.advance(Duration::from_secs(1)); // t = 300: the set's lifetime is over
    for token in [cached.clone(), issuer.token().sign()] {
        let err = v.verify(&token).await.unwrap_err();
        assert_eq!(err.status(), 503);
        assert_eq!(err, Error::KeysUnavailable);
    }
    assert_eq!(served.fetches(), 3, "no more than one fetch per floor");
    served.serve(Some(issuer.jwks()));
    clock.advance(Duration::from_secs(28)); // t = 328: the last try was at 299
    assert_eq!(v.verify(&cached).await.unwrap_err(), Error::KeysUnavailable);
    clock.advance(Duration::from_secs(1));
    v.verify(&cached).await.unwrap();
    assert_eq!(served.fetches(), 4, "recovered with the issuer");
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

/// `Cache-Control: max-age` drives the lifetime, less the response's `Age`.
#[tokio::test]
async fn max_age_is_honoured() {
    let issuer = TestIssuer::new();
    let clock = issuer.clock().clone();
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    served.headers(&[("cache-control", "public, max-age=120")]);
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, &clock);
    let token = issuer.token().lifetime(Duration::from_secs(3600)).sign();
    v.verify(&token).await.unwrap();
    clock.advance(Duration::from_secs(89));
    v.verify(&token).await.unwrap();
    assert_eq!(served.fetches(), 1);
    clock.advance(Duration::from_secs(1)); // three quarters of 120 s
    served.serve(None);
    v.verify(&token).await.unwrap();
    assert_eq!(served.fetches(), 2);
    clock.advance(Duration::from_secs(30)); // t = 120
    assert_eq!(v.verify(&token).await.unwrap_err(), Error::KeysUnavailable);
    assert_eq!(served.fetches(), 3);

    // A response that already spent 100 of its 300 s in a shared cache lives 200 s here.
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    served.headers(&[("cache-control", "max-age=300"), ("age", "100")]);
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, &clock);
    let token = issuer.token().lifetime(Duration::from_secs(3600)).sign();
    v.verify(&token).await.unwrap();
    served.serve(None);
    clock.advance(Duration::from_secs(199));
    v.verify(&token).await.unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(v.verify(&token).await.unwrap_err(), Error::KeysUnavailable);
}

/// The issuer's header is clamped: a day becomes the ceiling, `no-store`, `no-cache`, a
/// tiny or an invalid `max-age` become the floor.
#[tokio::test]
async fn max_age_is_clamped_to_the_floor_and_the_ceiling() {
    // (Cache-Control, the lifetime the set must get with floor 30 s and ceiling 300 s)
    let cases = [
        ("public, max-age=86400", 300),
        ("max-age=1", 30),
        ("no-store", 30),
        ("public, no-cache", 30),
        ("max-age=abc", 30),
        ("max-age=\"200\"", 200),
        ("max-age=250, max-age=60", 60),
        ("MAX-AGE=100", 100),
        ("private", 300),
    ];
    for (cache_control, lifetime) in cases {
        let issuer = TestIssuer::new();
        let clock = issuer.clock().clone();
        let served = Served::default();
        served.serve(Some(issuer.jwks()));
        served.headers(&[("cache-control", cache_control)]);
        let url = start(served.clone()).await;
        let v = verifier(&url, &issuer, &clock);
        let token = issuer.token().lifetime(Duration::from_secs(3600)).sign();
        v.verify(&token).await.unwrap();
        served.serve(None);
        clock.advance(Duration::from_secs(lifetime - 1));
        assert!(
            v.verify(&token).await.is_ok(),
            "{cache_control}: usable for {lifetime} s"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            v.verify(&token).await.unwrap_err(),
            Error::KeysUnavailable,
            "{cache_control}: not past {lifetime} s"
        );
    }
}

/// The promise of key retirement: a key that leaves the JWKS stops verifying tokens —
/// cached ones too — at most the set's lifetime (here the server's `max-age=300`) after it
/// left; tokens signed with the remaining keys keep working.
#[tokio::test]
async fn a_key_dropped_from_the_jwks_is_refused_within_the_bound() {
    let old = TestIssuer::new();
    let new = TestIssuer::with_issuer(old.issuer());
    let clock = old.clock().clone();
    let served = Served::default();
    served.serve(Some(both(&old, &new)));
    served.headers(&[("cache-control", "public, max-age=300")]);
    let url = start(served.clone()).await;
    let v = verifier(&url, &old, &clock);
    let old_token = old.token().lifetime(Duration::from_secs(3600)).sign();
    v.verify(&old_token).await.unwrap();
    assert_eq!(v.cached_tokens(), 1);

    clock.advance(Duration::from_secs(10));
    let left_at = clock.now();
    served.serve(Some(new.jwks())); // the old key is retired (or revoked)
    let mut refused_at = None;
    for _ in 0..300 {
        new.clock().set(clock.now());
        assert!(v.verify(&new.token().sign()).await.is_ok());
        if v.verify(&old_token).await.is_err() {
            refused_at = Some(clock.now());
            break;
        }
        clock.advance(Duration::from_secs(1));
    }
    let refused_at = refused_at.expect("the dropped key must be refused");
    assert!(
        refused_at - left_at <= 300,
        "refused {} s after it left",
        refused_at - left_at
    );
    assert_eq!(
        v.verify(&old_token).await.unwrap_err(),
        Error::UnknownKey,
        "and stays refused"
    );
    assert_eq!(served.fetches(), 2, "one refresh found it gone");
}

/// The same when the JWKS cannot be fetched after the key left (an attacker holding the
/// key may also make the issuer unreachable): the old set is not used past its lifetime.
#[tokio::test]
async fn a_dropped_key_is_not_kept_alive_by_an_unreachable_jwks() {
    let issuer = TestIssuer::new();
    let clock = issuer.clock().clone();
    let served = Served::default();
    served.serve(Some(issuer.jwks()));
    served.headers(&[("cache-control", "public, max-age=300")]);
    let url = start(served.clone()).await;
    let v = verifier(&url, &issuer, &clock);
    let leaked = issuer.token().lifetime(Duration::from_secs(3600)).sign();
    v.verify(&leaked).await.unwrap();
    clock.advance(Duration::from_secs(1));
    served.serve(None); // key revoked and the JWKS unreachable from here on
    for t in 1..=400 {
        let accepted = v.verify(&leaked).await.is_ok();
        assert_eq!(accepted, t < 300, "at t = {t}");
        clock.advance(Duration::from_secs(1));
    }
    assert!(served.fetches() <= 1 + 400 / 30 + 1, "{}", served.fetches());
}

#[tokio::test]
async fn the_ceiling_must_not_be_below_the_floor() {
    let issuer = TestIssuer::new();
    let built = Verifier::builder(issuer.issuer())
        .jwks_url("http://127.0.0.1:9/jwks.json")
        .jwks_max_ttl(Duration::from_secs(10))
        .build();
    assert!(matches!(built, Err(Error::Config(_))));
}

/// Access tokens share the session verifier's keys and have a cache of their own: a
/// refetch that drops a key, whichever kind of token caused it, clears both caches.
#[tokio::test]
async fn a_removed_key_stops_cached_access_tokens_too() {
    let old = TestIssuer::new();
    let new = TestIssuer::with_issuer(old.issuer());
    let clock = old.clock().clone();
    let served = Served::default();
    served.serve(Some(old.jwks()));
    let url = start(served.clone()).await;
    let v = verifier(&url, &old, &clock);
    let api = v.access_tokens(reverify::testing::TEST_AUDIENCE);
    let old_access = old.access_token().lifetime(Duration::from_secs(600)).sign();
    api.verify(&old_access).await.unwrap();
    assert_eq!(api.cached_tokens(), 1);
    assert_eq!(served.fetches(), 1, "one key set for both kinds");

    // The old key is withdrawn; a *session* token signed by the new key makes us refetch.
    served.serve(Some(new.jwks()));
    clock.advance(Duration::from_secs(31));
    new.clock().set(clock.now());
    v.verify(&new.token().sign()).await.unwrap();
    assert_eq!(served.fetches(), 2);
    assert_eq!(api.cached_tokens(), 0);
    assert_eq!(
        api.verify(&old_access).await.unwrap_err(),
        Error::UnknownKey
    );
    assert!(api.verify(&new.access_token().sign()).await.is_ok());
}
