//! The WebAuthn relying party: the site passkeys are bound to (its id, name and origins).
//! Built from `[passkeys]` by [`crate::config::Config::relying_party`].

use url::Url;
use webauthn_rs_core::WebauthnCore;

/// How long a registration or passkey sign-in challenge can be answered, in seconds.
pub(crate) const CEREMONY_TTL_SECS: i64 = 300;

/// The WebAuthn relying party of this server (from `[passkeys]`).
#[derive(Debug, Clone)]
pub(crate) struct RelyingParty {
    pub(crate) core: WebauthnCore,
}

impl RelyingParty {
    /// The relying party `rp_id`, shown as `name`, for these origins (scheme, host and port
    /// only; checked by the caller).
    pub(crate) fn new(name: &str, rp_id: &str, origins: Vec<Url>) -> RelyingParty {
        let core = WebauthnCore::new_unsafe_experts_only(
            name,
            rp_id,
            origins,
            std::time::Duration::from_secs(CEREMONY_TTL_SECS as u64),
            Some(false),
            Some(false),
        );
        RelyingParty { core }
    }
}
