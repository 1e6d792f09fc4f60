//! Who is calling: plain data that domain code records (audit events, lanes, `azp`). It is
//! read from the request by the extractor in `web.rs`; nothing here knows HTTP.

/// Who is calling: IP, user agent, and the `Origin` if it is an allowed one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Client {
    /// Client IP: the socket's, or the one your proxies saw (see [`crate::proxy`]).
    pub(crate) ip: Option<String>,
    /// `User-Agent`, truncated.
    pub(crate) user_agent: Option<String>,
    /// The request's `Origin` when it is in `server.allowed_origins` (becomes `azp`).
    pub(crate) origin: Option<String>,
    /// SHA-256 of the device cookie, when the browser sent one.
    pub(crate) device: Option<String>,
}
