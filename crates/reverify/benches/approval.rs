//! What an approval adds to the request it approves.
//!
//! ```text
//! cargo bench -p reverify --bench approval --features testing,sqlx
//! ```
//!
//! Every iteration uses a token never seen before (an approval is single-use, so an
//! approved request always brings a new token), minted outside the measurement:
//!
//! - `approval/fresh_strict`: `verify` + `require(strict)`: what freshness costs, the
//!   baseline.
//! - `approval/check`: the action's digest and the pure decision on verified claims.
//! - `approval/approve_sqlite`: `verify` + `approve` with the SQLite store (a WAL file,
//!   `synchronous = NORMAL`): the digest, the decision and the insert that consumes it.
//! - `approval/approve_postgres`: the same on PostgreSQL at 127.0.0.1:5432 (or
//!   `REVERIFY_TEST_POSTGRES_URL`), skipped when unreachable.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use reverify::approval::{
    APPROVE, Action, Approvals, PostgresApprovalStore, SqliteApprovalStore, check,
};
use reverify::testing::TestIssuer;
use reverify::{Level, STRICT};

fn action() -> Action {
    Action::new("transfer", "Send €25.00 to Bob")
        .field("amount_cents", 2500)
        .field("currency", "EUR")
        .field("to", "Bob")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn sqlite_store(dir: &std::path::Path) -> Approvals {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let options = SqliteConnectOptions::new()
        .filename(dir.join("app.sqlite"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let store = SqliteApprovalStore::new(pool);
    store.migrate().await.unwrap();
    Approvals::new(store)
}

async fn postgres_store() -> Option<Approvals> {
    let url = std::env::var("REVERIFY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(3))
        .connect(&url)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("*** approval/approve_postgres skipped: no PostgreSQL at {url} ({e})");
            return None;
        }
    };
    let store = PostgresApprovalStore::new(pool);
    store.migrate().await.unwrap();
    Some(Approvals::new(store))
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let issuer = TestIssuer::new();
    let verifier = issuer.verifier();
    let action = action();
    let mut group = c.benchmark_group("approval");

    group.bench_function("fresh_strict", |b| {
        b.iter_batched(
            || {
                issuer
                    .token()
                    .second_factor_age(Duration::from_secs(30))
                    .sign()
            },
            |token| {
                rt.block_on(async {
                    let session = verifier.verify(&token).await.unwrap();
                    black_box(session.require(&STRICT)).unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });

    let claims = issuer
        .token()
        .approval(&action, Level::SecondFactor, Duration::from_secs(120))
        .claims();
    group.bench_function("check", |b| {
        b.iter(|| {
            let digest = black_box(&action).digest().unwrap();
            black_box(check(&claims, &digest, &APPROVE, issuer.now()))
        })
    });

    let approved = || {
        issuer
            .token()
            .approval(&action, Level::SecondFactor, Duration::from_secs(120))
            .sign()
    };
    let dir = std::env::temp_dir().join(format!("reverify-bench-approval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = rt.block_on(sqlite_store(&dir));
    group.bench_function("approve_sqlite", |b| {
        b.iter_batched(
            approved,
            |token| {
                rt.block_on(async {
                    let session = verifier.verify(&token).await.unwrap();
                    sqlite.approve(&session, &action, &APPROVE).await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
    if let Some(postgres) = rt.block_on(postgres_store()) {
        group.bench_function("approve_postgres", |b| {
            b.iter_batched(
                approved,
                |token| {
                    rt.block_on(async {
                        let session = verifier.verify(&token).await.unwrap();
                        postgres.approve(&session, &action, &APPROVE).await.unwrap();
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group! {
    name = approval;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(approval);
