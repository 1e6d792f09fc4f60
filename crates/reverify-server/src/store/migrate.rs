//! A minimal migration runner: numbered SQL files embedded in the binary, applied in order,
//! each in its own transaction, recorded in `schema_migrations`. Two servers starting at
//! once on one PostgreSQL are safe: the version's primary key lets only one record it.

use super::{Store, StoreError};

/// `(version, name, sql)`, in order. Never edit a released migration: add one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "factors",
        include_str!("../../migrations/0002_factors.sql"),
    ),
    (
        3,
        "known_devices",
        include_str!("../../migrations/0003_known_devices.sql"),
    ),
    (
        4,
        "approvals",
        include_str!("../../migrations/0004_approvals.sql"),
    ),
    (5, "oidc", include_str!("../../migrations/0005_oidc.sql")),
    (
        6,
        "oidc_consents",
        include_str!("../../migrations/0006_oidc_consents.sql"),
    ),
    (
        7,
        "oidc_tokens",
        include_str!("../../migrations/0007_oidc_tokens.sql"),
    ),
    (
        8,
        "session_phr",
        include_str!("../../migrations/0008_session_phr.sql"),
    ),
];

pub(super) async fn run(store: &Store) -> Result<usize, StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(store.writer())
    .await?;
    let mut applied = 0;
    for &(version, name, sql) in MIGRATIONS {
        let mut tx = store.write().await?;
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(tx.conn())
                .await?;
        if done.is_some() {
            continue;
        }
        // Claim the version first: a concurrent migrator fails here and rolls back.
        let claimed = sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(name)
        .bind(reverify::Clock::now(&reverify::SystemClock))
        .execute(tx.conn())
        .await?;
        if claimed.rows_affected() == 0 {
            continue;
        }
        for statement in split_statements(sql) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        tracing::info!(version, name, "applied migration");
        applied += 1;
    }
    Ok(applied)
}

/// Splits a migration into statements (they contain no `;` inside literals).
fn split_statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
