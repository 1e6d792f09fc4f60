//! The server's view of a session's freshness: the same decision the SDK makes on a
//! token, made on the session row, for the server's own sensitive endpoints and for
//! `GET /v1/sessions/current`.

use reverify::{Policy, Preset, ReverificationRequired, SessionClaims, decision};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::SessionRow;

/// `fvt` of a session: `[first, second]` verification times. A missing first-factor time
/// is `0` (stale); the second is `-1` when the user has no second factor, `0` when they
/// have one but have not verified it in this session.
pub fn factor_times(session: &SessionRow) -> [i64; 2] {
    [
        session.first_factor_at.unwrap_or(0),
        session.second_factor_at.unwrap_or(-1),
    ]
}

/// Claims equivalent to a token minted for `session` now (for the decision only).
pub(crate) fn claims_of(session: &SessionRow) -> SessionClaims {
    SessionClaims {
        sub: session.user_id.clone(),
        sid: Some(session.id.clone()),
        fvt: Some(json!(factor_times(session))),
        ..SessionClaims::default()
    }
}

/// Ok when `session` satisfies `policy` now, otherwise the standard reverification error.
pub(crate) fn require(
    state: &AppState,
    session: &SessionRow,
    policy: &Policy,
) -> Result<(), ApiError> {
    if decision::has(&claims_of(session), policy, state.now()) {
        Ok(())
    } else {
        Err(ApiError::Reverification(ReverificationRequired::new(
            *policy,
        )))
    }
}

/// The guard of the server's own sensitive endpoints (`reverification.sensitive_policy`).
pub(crate) fn require_sensitive(state: &AppState, session: &SessionRow) -> Result<(), ApiError> {
    require(state, session, &state.sensitive_policy)
}

/// For each preset: whether the session satisfies it now and for how many more seconds.
pub(crate) fn presets_json(state: &AppState, session: &SessionRow) -> Value {
    let claims = claims_of(session);
    let now = state.now();
    let mut out = serde_json::Map::new();
    for preset in Preset::ALL {
        let policy = Policy::preset(preset);
        let remaining = decision::seconds_remaining(&claims, &policy, now);
        out.insert(
            preset.as_str().to_owned(),
            json!({
                "satisfied": remaining.is_some(),
                "seconds_remaining": remaining.map(|s| s.floor() as i64).unwrap_or(0),
            }),
        );
    }
    Value::Object(out)
}
