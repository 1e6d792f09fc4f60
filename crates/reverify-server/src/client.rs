//! Who is calling: plain data that domain code records (audit events, lanes, `azp`). It is
//! read from the request by the extractor in `web.rs`; nothing here knows HTTP.

/// Who is calling: IP, user agent, and the `Origin` if it is an allowed one.
#[derive(Clone, Default)]
pub(crate) struct Client {
    /// Client IP: the socket's, or the one your proxies saw (see [`crate::proxy`]).
    pub(crate) ip: Option<String>,
    /// `User-Agent`, truncated.
    pub(crate) user_agent: Option<String>,
    /// The request's `Origin` when it is in `server.allowed_origins` (becomes `azp`).
    pub(crate) origin: Option<String>,
    /// The device cookie, when the browser sent one (a secret: never logged or stored;
    /// see [`Client::device_hash`]).
    pub(crate) device: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("origin", &self.origin)
            .field("device", &self.device.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

impl Client {
    /// SHA-256 of the device cookie, as stored in `known_devices` and used in lane keys.
    pub(crate) fn device_hash(&self) -> Option<String> {
        self.device
            .as_deref()
            .map(|d| crate::secrets::sha256_hex(&[d]))
    }
}
