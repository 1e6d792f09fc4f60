//! Per-request cost of session-token verification and the reverification check.
//!
//! ```text
//! cargo bench -p reverify --bench verify --features testing
//! scripts/bench-sdk        # the same, then prints the ratios the targets are about
//! ```
//!
//! - `eddsa/bare_ed25519_verify`: ed25519-dalek verifying the signature of each token,
//!   already split and decoded — the floor any verifier pays.
//! - `eddsa/distinct_token_strict`: `verify` + `has(strict)` on a token never seen
//!   before, default configuration (cache on: a miss and an insert each time).
//! - `eddsa/distinct_token_strict_nocache`: the same with the cache disabled.
//! - `eddsa/repeated_token_strict`: the same token again (a browser reuses its token for
//!   about a minute): served from the cache.
//! - `policy/*`: the decision alone.
//! - `access/*`: RFC 9068 access tokens: `verify` (audience and a required scope) plus
//!   the RFC 9470 step-up check (`max_age=300` and `acr` ≥ mfa), on distinct tokens
//!   (cache miss + insert) and on a repeated one (cache hit), beside the bare Ed25519
//!   check of the same tokens; `interleaved/access` alternates the bare check, an access
//!   token and a session token over 10,000 new tokens each.
//! - `es256/*`, `rs256/*`: distinct tokens with the other accepted algorithms, and their
//!   bare signature checks.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use ed25519_dalek::Verifier as _;
use reverify::testing::TestIssuer;
use reverify::{Jwk, JwkSet, STRICT, Verifier};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, EcdsaKeyPair, KeyPair, RsaKeyPair};

/// Polls a future that never waits (static keys): no runtime in the measurement.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("static key sets never wait"),
    }
}

fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (
        input.as_bytes().to_vec(),
        URL_SAFE_NO_PAD.decode(sig).unwrap(),
    )
}

/// The issuer's public key as ed25519-dalek holds it, for the bare baseline.
fn dalek_key(issuer: &TestIssuer) -> ed25519_dalek::VerifyingKey {
    let jwk = &issuer.jwks().keys[0];
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk.x.as_ref().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap()
}

/// A realistic Reverify token: password and TOTP verified, azp, amr, ids.
fn mint(issuer: &TestIssuer, i: usize) -> String {
    issuer
        .token()
        .user(format!("user_2pQ7mZ{i:08}"))
        .session(format!("sess_8fK2rX{i:08}"))
        .azp("https://bank.example.com")
        .first_factor_age(Duration::from_secs(400))
        .second_factor_age(Duration::from_secs(120))
        .sign()
}

fn eddsa(c: &mut Criterion) {
    let issuer = TestIssuer::new();
    let pool: Vec<String> = (0..4096).map(|i| mint(&issuer, i)).collect();
    let split_pool: Vec<(Vec<u8>, Vec<u8>)> = pool.iter().take(4096).map(|t| split(t)).collect();
    let dalek_key = dalek_key(&issuer);
    let now = issuer.now();

    let mut g = c.benchmark_group("eddsa");
    g.measurement_time(Duration::from_secs(6));
    let mut i = 0;
    g.bench_function("bare_ed25519_verify", |b| {
        b.iter(|| {
            let (input, sig) = &split_pool[i % split_pool.len()];
            i += 1;
            let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
            black_box(dalek_key.verify(black_box(input), &sig).is_ok())
        })
    });

    let verifier = issuer.verifier();
    let mut minted = pool.len();
    g.bench_function("distinct_token_strict", |b| {
        b.iter_custom(|iters| {
            // Every measured request carries a token never seen before (minted outside
            // the timed loop), so each one is a cache miss plus an insert.
            let batch: Vec<String> = (0..iters)
                .map(|_| {
                    minted += 1;
                    mint(&issuer, minted)
                })
                .collect();
            let start = Instant::now();
            for token in &batch {
                let session = ready(verifier.verify_at(black_box(token), now)).unwrap();
                black_box(session.has(&STRICT));
            }
            start.elapsed()
        })
    });

    let nocache = issuer.verifier_builder().cache_capacity(0).build().unwrap();
    let mut i = 0;
    g.bench_function("distinct_token_strict_nocache", |b| {
        b.iter(|| {
            let token = &pool[i % pool.len()];
            i += 1;
            let session = ready(nocache.verify_at(black_box(token), now)).unwrap();
            black_box(session.has(&STRICT))
        })
    });

    let repeated = &pool[0];
    g.bench_function("repeated_token_strict", |b| {
        b.iter(|| {
            let session = ready(verifier.verify_at(black_box(repeated), now)).unwrap();
            black_box(session.has(&STRICT))
        })
    });
    g.finish();

    let session = ready(verifier.verify_at(repeated, now)).unwrap();
    let mut g = c.benchmark_group("policy");
    g.bench_function("has_strict_fvt", |b| {
        b.iter(|| black_box(&session).has(black_box(&STRICT)))
    });
    let mut clerk_claims = session.claims().clone();
    clerk_claims.fvt = None;
    g.bench_function("has_strict_fva", |b| {
        b.iter(|| reverify::decision::has(black_box(&clerk_claims), black_box(&STRICT), now))
    });
    g.finish();
}

/// A realistic access token: audience, scopes, client, mfa 2 minutes ago.
fn mint_access(issuer: &TestIssuer, i: usize) -> String {
    issuer
        .access_token()
        .user(format!("user_2pQ7mZ{i:08}"))
        .client_id("grafana-prod")
        .scope("openid profile payments:write")
        .acr(reverify::acr::Acr::MultiFactor)
        .amr(&["pwd", "otp", "mfa"])
        .auth_age(Duration::from_secs(120))
        .sign()
}

fn access(c: &mut Criterion) {
    use reverify::access::StepUp;
    const PAYMENTS: StepUp = StepUp::max_age(300).acr(reverify::acr::Acr::MultiFactor);

    let issuer = TestIssuer::new();
    let now = issuer.now();
    let api = issuer
        .access_token_verifier(reverify::testing::TEST_AUDIENCE)
        .with_required_scopes(["payments:write"]);
    let pool: Vec<String> = (0..4096).map(|i| mint_access(&issuer, i)).collect();
    let split_pool: Vec<(Vec<u8>, Vec<u8>)> = pool.iter().map(|t| split(t)).collect();
    let dalek_key = dalek_key(&issuer);

    let mut g = c.benchmark_group("access");
    g.measurement_time(Duration::from_secs(6));
    let mut i = 0;
    g.bench_function("bare_ed25519_verify", |b| {
        b.iter(|| {
            let (input, sig) = &split_pool[i % split_pool.len()];
            i += 1;
            let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
            black_box(dalek_key.verify(black_box(input), &sig).is_ok())
        })
    });
    let mut minted = pool.len();
    g.bench_function("distinct_token_step_up", |b| {
        b.iter_custom(|iters| {
            let batch: Vec<String> = (0..iters)
                .map(|_| {
                    minted += 1;
                    mint_access(&issuer, minted)
                })
                .collect();
            let start = Instant::now();
            for token in &batch {
                let token = ready(api.verify_at(black_box(token), now)).unwrap();
                black_box(token.require(&PAYMENTS).is_ok());
            }
            start.elapsed()
        })
    });
    let repeated = &pool[0];
    g.bench_function("repeated_token_step_up", |b| {
        b.iter(|| {
            let token = ready(api.verify_at(black_box(repeated), now)).unwrap();
            black_box(token.require(&PAYMENTS).is_ok())
        })
    });
    g.finish();
}

fn signing_input(header: &serde_json::Value, payload: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

fn other_algorithms(c: &mut Criterion) {
    let issuer = TestIssuer::new();
    let now = issuer.now();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .unwrap();
    let rsa =
        RsaKeyPair::from_pkcs8(include_bytes!("../tests/it/fixtures/rsa2048.pk8.der")).unwrap();
    let point = ec.public_key().as_ref().to_vec();
    let rsa_public = rs::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public());
    let jwks = JwkSet {
        keys: vec![
            Jwk {
                kty: "EC".into(),
                kid: Some("ec".into()),
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
                ..Jwk::default()
            },
            Jwk {
                kty: "RSA".into(),
                kid: Some("rsa".into()),
                n: Some(URL_SAFE_NO_PAD.encode(&rsa_public.n)),
                e: Some(URL_SAFE_NO_PAD.encode(&rsa_public.e)),
                ..Jwk::default()
            },
        ],
    };
    let verifier = Verifier::builder(issuer.issuer())
        .jwks(jwks)
        .clock(issuer.clock().clone())
        .cache_capacity(0)
        .build()
        .unwrap();

    let payloads: Vec<serde_json::Value> = (0..512)
        .map(|i| {
            serde_json::to_value(issuer.token().user(format!("user_{i:08}")).claims()).unwrap()
        })
        .collect();
    let es_tokens: Vec<String> = payloads
        .iter()
        .map(|p| {
            let input = signing_input(&serde_json::json!({"alg": "ES256", "kid": "ec"}), p);
            let sig = ec.sign(&rng, input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        })
        .collect();
    let rs_tokens: Vec<String> = payloads
        .iter()
        .map(|p| {
            let input = signing_input(&serde_json::json!({"alg": "RS256", "kid": "rsa"}), p);
            let mut sig = vec![0; rsa.public().modulus_len()];
            rsa.sign(&rs::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        })
        .collect();

    for (name, tokens) in [("es256", &es_tokens), ("rs256", &rs_tokens)] {
        let mut g = c.benchmark_group(name);
        let split: Vec<(Vec<u8>, Vec<u8>)> = tokens.iter().map(|t| split(t)).collect();
        let mut i = 0;
        g.bench_function("bare_verify", |b| {
            b.iter(|| {
                let (input, sig) = &split[i % split.len()];
                i += 1;
                let ok = if name == "es256" {
                    rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, &point)
                        .verify(input, sig)
                        .is_ok()
                } else {
                    rsa_public
                        .verify(&rs::RSA_PKCS1_2048_8192_SHA256, input, sig)
                        .is_ok()
                };
                black_box(ok)
            })
        });
        let mut i = 0;
        g.bench_function("distinct_token_strict", |b| {
            b.iter(|| {
                let token = &tokens[i % tokens.len()];
                i += 1;
                let session = ready(verifier.verify_at(black_box(token), now)).unwrap();
                black_box(session.has(&STRICT))
            })
        });
        g.finish();
    }
}

/// The target ratio, measured robustly on a noisy machine: the bare signature check and
/// the full per-request path alternate token by token, so any drift in machine speed
/// hits both equally. Each of the 20,000 tokens is new to the verifier (cache miss +
/// insert, the default configuration).
fn interleaved_ratio() {
    let issuer = TestIssuer::new();
    let now = issuer.now();
    let verifier = issuer.verifier();
    let key = dalek_key(&issuer);
    let tokens: Vec<String> = (0..20_000).map(|i| mint(&issuer, i)).collect();
    let split: Vec<(Vec<u8>, Vec<u8>)> = tokens.iter().map(|t| split(t)).collect();
    let (mut bare, mut full) = (Vec::new(), Vec::new());
    for (token, (input, sig)) in tokens.iter().zip(&split) {
        let t0 = Instant::now();
        let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
        black_box(key.verify(black_box(input), &sig).is_ok());
        let t1 = Instant::now();
        let session = ready(verifier.verify_at(black_box(token), now)).unwrap();
        black_box(session.has(&STRICT));
        let t2 = Instant::now();
        bare.push(t1 - t0);
        full.push(t2 - t1);
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1e6 / v.len() as f64;
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let (mb, mf) = (mean(&bare), mean(&full));
    let (db, df) = (median(&mut bare), median(&mut full));
    println!(
        "interleaved/eddsa: bare mean {mb:.2} µs median {db:.2} µs; verify+strict mean {mf:.2} µs \
         median {df:.2} µs; ratio of means {:.3}x, of medians {:.3}x",
        mf / mb,
        df / db
    );
}

/// Access tokens against session tokens, in the same loop: for 10,000 rounds, the bare
/// Ed25519 check of a new access token, then `verify` + step-up of another new access
/// token, then `verify` + `has(strict)` of a new session token — so drift hits all three.
fn interleaved_access() {
    use reverify::access::StepUp;
    let requirement = StepUp::max_age(300).acr(reverify::acr::Acr::MultiFactor);
    let issuer = TestIssuer::new();
    let now = issuer.now();
    let verifier = issuer.verifier();
    let api = verifier
        .access_tokens(reverify::testing::TEST_AUDIENCE)
        .with_required_scopes(["payments:write"]);
    let key = dalek_key(&issuer);
    let n = 10_000;
    let bare_tokens: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| split(&mint_access(&issuer, 1_000_000 + i)))
        .collect();
    let access_tokens: Vec<String> = (0..n).map(|i| mint_access(&issuer, i)).collect();
    let session_tokens: Vec<String> = (0..n).map(|i| mint(&issuer, i)).collect();
    let (mut bare, mut access, mut session) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (input, sig) = &bare_tokens[i];
        let t0 = Instant::now();
        let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
        black_box(key.verify(black_box(input), &sig).is_ok());
        let t1 = Instant::now();
        let token = ready(api.verify_at(black_box(&access_tokens[i]), now)).unwrap();
        black_box(token.require(&requirement).is_ok());
        let t2 = Instant::now();
        let s = ready(verifier.verify_at(black_box(&session_tokens[i]), now)).unwrap();
        black_box(s.has(&STRICT));
        let t3 = Instant::now();
        bare.push(t1 - t0);
        access.push(t2 - t1);
        session.push(t3 - t2);
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1e6 / v.len() as f64;
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let (mb, ma, ms) = (mean(&bare), mean(&access), mean(&session));
    let (db, da, ds) = (median(&mut bare), median(&mut access), median(&mut session));
    println!(
        "interleaved/access: bare mean {mb:.2} µs median {db:.2} µs; access verify+step-up mean \
         {ma:.2} µs median {da:.2} µs; session verify+strict mean {ms:.2} µs median {ds:.2} µs; \
         access/bare {:.3}x (medians {:.3}x), access/session {:.3}x (medians {:.3}x)",
        ma / mb,
        da / db,
        ma / ms,
        da / ds
    );
}

criterion_group!(benches, eddsa, access, other_algorithms);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let filter = filter.as_deref();
    if filter.is_none_or(|f| "interleaved/eddsa".contains(f) || f.contains("eddsa")) {
        interleaved_ratio();
    }
    if filter.is_none_or(|f| "interleaved/access".contains(f) || f.contains("access")) {
        interleaved_access();
    }
}
