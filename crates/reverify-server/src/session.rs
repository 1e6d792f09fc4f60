//! Sessions: establishing one and minting its session tokens (the request's current
//! session and the cookies are HTTP: `routes/current.rs`).
//!
//! A session is identified by an opaque 256-bit secret in an HttpOnly cookie; only its
//! SHA-256 is stored. Each session records when the first and the second factor were last
//! verified in it. Tokens carry those times (`fvt`) and the Clerk-compatible ages (`fva`);
//! minting a token never changes them, so refreshing never makes a verification look
//! more recent.

use crate::client::Client;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{SessionRow, Store, Tx, User};
use crate::strategy::Amr;
use serde_json::json;

/// The name of the cookie that carries session tokens (as the SDK expects).
pub const TOKEN_COOKIE: &str = "__session";

/// Which factors a sign-in verified, and how.
#[derive(Debug, Clone)]
pub struct Verified {
    /// RFC 8176 methods, e.g. `[Amr::Pwd]`.
    pub amr: Vec<Amr>,
    /// The first factor was verified (always, for a sign-in).
    pub first_factor: bool,
    /// The second factor was verified.
    pub second_factor: bool,
    /// The user has a second factor. Only then is a second-factor time recorded: an
    /// unverified one is `0` (stale), and a verified one (a passkey with user
    /// verification) is `now`; without one the session says "none" (`NULL`, tokens `-1`),
    /// whatever the passkey proved, so that a later password verification alone keeps
    /// satisfying `strict` for this user.
    pub second_enrolled: bool,
}

/// Creates a session inside `tx`; returns it and its cookie secret.
pub(crate) async fn establish(
    state: &AppState,
    tx: &mut Tx,
    user: &User,
    verified: &Verified,
    client: &Client,
) -> Result<(SessionRow, String), ApiError> {
    let now = state.now();
    let secret = secrets::new_secret();
    let session = SessionRow {
        id: secrets::new_id("sess"),
        user_id: user.id.clone(),
        secret_hash: secrets::sha256_hex(&[&secret]),
        created_at: now,
        last_active_at: now,
        expires_at: now + state.config.sessions.absolute_lifetime_secs,
        ended_at: None,
        end_reason: None,
        first_factor_at: verified.first_factor.then_some(now),
        second_factor_at: match (verified.second_enrolled, verified.second_factor) {
            (false, _) => None,
            (true, true) => Some(now),
            (true, false) => Some(0),
        },
        phr_at: crate::verification::is_phr(&verified.amr).then_some(now),
        amr: Amr::join(&verified.amr),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    Store::insert_session(tx, &session).await?;
    Ok((session, secret))
}

/// The session token claims (see the SDK's `SessionClaims`; with
/// `sessions.token_format = "clerk_v2"`, also the reference's `v` and `sts`).
pub fn token_claims(
    state: &AppState,
    session: &SessionRow,
    azp: Option<&str>,
    now: i64,
) -> serde_json::Value {
    let [first, second] = crate::reverification::factor_times(session);
    let minutes = |t: i64| if t < 0 { -1 } else { (now - t).max(0) / 60 };
    let lifetime = state.config.sessions.token_lifetime_secs;
    let mut claims = json!({
        "iss": state.issuer,
        "sub": session.user_id,
        "sid": session.id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets::new_id("tok"),
        "fva": [minutes(first), minutes(second)],
        "fvt": [first, second],
        "auth_time": session.created_at,
        "amr": session.amr.split_whitespace().collect::<Vec<_>>(),
    });
    if let Some(azp) = azp {
        claims["azp"] = json!(azp);
    }
    if state.config.sessions.token_format == crate::config::TokenFormat::ClerkV2 {
        // The reference's version-2 session claims that Reverify has no own name for: the
        // claims version, and the session status (a token is only minted for an active
        // session; the reference's SDKs treat "pending" as signed out). `sid`, `fva` and
        // `azp` are already the reference's, with its meaning.
        claims["v"] = json!(2);
        claims["sts"] = json!("active");
    }
    claims
}

/// Mints a session token for `session`.
pub async fn mint_token(
    state: &AppState,
    session: &SessionRow,
    azp: Option<&str>,
) -> Result<String, ApiError> {
    mint_token_with(state, session, azp, None).await
}

/// Mints a session token for `session`, carrying an approval (`apr`) when one is given:
/// only the completion of a verification for an action does that.
pub async fn mint_token_with(
    state: &AppState,
    session: &SessionRow,
    azp: Option<&str>,
    approval: Option<serde_json::Value>,
) -> Result<String, ApiError> {
    let now = state.now();
    let mut claims = token_claims(state, session, azp, now);
    if let Some(approval) = approval {
        claims["apr"] = approval;
    }
    state.keys.sign(&claims, now).await
}

/// The public view of a session.
pub fn session_json(state: &AppState, s: &SessionRow) -> serde_json::Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "status": if s.ended_at.is_some() { "ended" } else { "active" },
        "created_at": s.created_at,
        "last_active_at": s.last_active_at,
        "expires_at": s.expires_at.min(s.last_active_at + state.config.sessions.idle_timeout_secs),
        "first_factor_verified_at": s.first_factor_at,
        "second_factor_verified_at": s.second_factor_at,
        "ip": s.ip,
        "user_agent": s.user_agent,
    })
}

/// The public view of a user.
pub fn user_json(u: &User) -> serde_json::Value {
    json!({ "id": u.id, "email": u.email, "created_at": u.created_at, "has_password": u.password_hash.is_some() })
}
