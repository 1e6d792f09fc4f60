//! Sign-up and sign-in attempts, stored so that any instance can continue them.

use super::{Store, StoreError, Tx};

/// What a flow is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// Sign-up confirmed by an emailed code.
    SignUp,
    /// Sign-in with an emailed code.
    SignInCode,
    /// Sign-in whose password was right, waiting for the second factor.
    SignInSecondFactor,
}

impl FlowKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::SignUp => "sign_up",
            FlowKind::SignInCode => "sign_in_code",
            FlowKind::SignInSecondFactor => "sign_in_second_factor",
        }
    }
}

/// A flow as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Flow {
    /// `flow_…`
    pub id: String,
    /// `sign_up` or `sign_in_code`.
    pub kind: String,
    /// The email the code was sent to (lowercased).
    pub email: String,
    /// For sign-in: the user, when the email belongs to one.
    pub user_id: Option<String>,
    /// For sign-up: the chosen password, already hashed.
    pub password_hash: Option<String>,
    /// SHA-256 of the emailed code; `None` when no code could be sent (unknown email).
    pub code_hash: Option<String>,
    /// Wrong codes tried so far.
    pub attempts: i64,
    /// Creation time.
    pub created_at: i64,
    /// The code and the flow die at this time.
    pub expires_at: i64,
    /// Set once the flow succeeded; it can never be used again.
    pub completed_at: Option<i64>,
    /// `needs_second_factor` once a sign-in's first factor is verified and the user has a
    /// second factor; `None` before.
    pub stage: Option<String>,
    /// What the first step verified (RFC 8176, space-separated), for the session.
    pub amr: Option<String>,
}

const COLUMNS: &str = "id, kind, email, user_id, password_hash, code_hash, attempts, created_at, expires_at, completed_at, stage, amr";

const INSERT: &str = "INSERT INTO flows (id, kind, email, user_id, password_hash, code_hash, attempts, created_at, expires_at, completed_at, stage, amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

fn bind_flow<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    flow: &'q Flow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&flow.id)
        .bind(&flow.kind)
        .bind(&flow.email)
        .bind(&flow.user_id)
        .bind(&flow.password_hash)
        .bind(&flow.code_hash)
        .bind(flow.attempts)
        .bind(flow.created_at)
        .bind(flow.expires_at)
        .bind(flow.completed_at)
        .bind(&flow.stage)
        .bind(&flow.amr)
}

impl Store {
    /// Stores a new flow.
    pub async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        bind_flow(sqlx::query(INSERT), flow)
            .execute(self.writer())
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Stores a new flow inside `tx`.
    pub(crate) async fn insert_flow_tx(tx: &mut Tx, flow: &Flow) -> Result<(), StoreError> {
        bind_flow(sqlx::query(INSERT), flow)
            .execute(tx.conn())
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// The flow with this id.
    pub async fn flow_by_id(&self, id: &str) -> Result<Option<Flow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM flows WHERE id = $1"));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Marks a flow used on its own; false if it was already used or does not exist.
    pub async fn try_complete_flow(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = Store::complete_flow(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Emails of the completed flows of a kind (consistency checks and tests).
    #[doc(hidden)]
    pub async fn completed_flow_emails(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT email FROM flows WHERE kind = $1 AND completed_at IS NOT NULL")
                .bind(kind)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Reserves one attempt of flow `id` inside `tx`, before its secret is checked: the
    /// attempts used, counting this one; `None` when it is completed, expired at `now`, or has used its `max` attempts.
    pub(crate) async fn reserve_flow_attempt_tx(
        tx: &mut Tx,
        id: &str,
        now: i64,
        max: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE flows SET attempts = attempts + 1 \
             WHERE id = $1 AND completed_at IS NULL AND expires_at > $2 AND attempts < $3 \
             RETURNING attempts",
        )
        .bind(id)
        .bind(now)
        .bind(max)
        .fetch_optional(tx.conn())
        .await?;
        Ok(row.map(|r| r.0))
    }

    /// Gives back an attempt whose secret was right.
    pub(crate) async fn release_flow_attempt_tx(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE flows SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0")
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// Counts a wrong code on its own (tests; the server reserves before checking).
    #[doc(hidden)]
    pub async fn count_flow_attempt(&self, id: &str) -> Result<i64, StoreError> {
        let row: (i64,) = sqlx::query_as(
            "UPDATE flows SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
        )
        .bind(id)
        .fetch_one(self.writer())
        .await?;
        Ok(row.0)
    }

    /// Moves a sign-in to its second-factor step, inside the transaction that checked the
    /// first factor; the wrong-attempt count starts again.
    pub(crate) async fn advance_flow(
        tx: &mut Tx,
        id: &str,
        stage: &str,
        amr: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE flows SET stage = $1, amr = $2, attempts = 0, expires_at = $3 \
             WHERE id = $4 AND completed_at IS NULL AND stage IS NULL",
        )
        .bind(stage)
        .bind(amr)
        .bind(expires_at)
        .bind(id)
        .execute(tx.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a flow used, inside the transaction that acts on it.
    pub(crate) async fn complete_flow(tx: &mut Tx, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE flows SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(tx.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
