//! The client's IP address behind reverse proxies.
//!
//! `X-Forwarded-For` is a list each proxy *appends* to: the client writes whatever it likes
//! on the left, and only the entries your own proxies appended, on the right, can be
//! believed. So the list is read from the right, either a fixed number of entries
//! (`server.trusted_proxy_hops`) or past the addresses of your proxies
//! (`server.trusted_proxies`). Each entry must parse as an IP address (optionally with a
//! port); at the first one that does not, the last address a trusted party gave is used —
//! never text the client wrote.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// Which `X-Forwarded-For` entries to believe (parsed `[server]` settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// Ignore `X-Forwarded-For`: the socket's peer is the client.
    #[default]
    None,
    /// This many proxies stand in front of the server, each appending one entry.
    Hops(u32),
    /// Proxies at these networks: when the socket peer is one, read leftwards past them.
    Networks(Vec<Network>),
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `2001:db8::/32`, or one address (`192.0.2.7`, `::1`). Host bits set
    /// below the prefix (`10.0.0.1/8`) are refused: they usually mean a typo.
    pub fn parse(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        let network = Network { addr, prefix };
        if !network.contains(addr) || network.masked() != addr {
            return Err(format!(
                "{text:?} has address bits set below its /{prefix}; write the network address"
            ));
        }
        Ok(network)
    }

    fn masked(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::from((u32::from(a) & mask).to_be_bytes())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::from((u128::from(a) & mask).to_be_bytes())
            }
        }
    }

    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let shift = 32 - u32::from(self.prefix);
                u32::from(net).checked_shr(shift).unwrap_or(0)
                    == u32::from(ip).checked_shr(shift).unwrap_or(0)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let shift = 128 - u32::from(self.prefix);
                u128::from(net).checked_shr(shift).unwrap_or(0)
                    == u128::from(ip).checked_shr(shift).unwrap_or(0)
            }
            _ => false,
        }
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        match self {
            TrustedProxies::Networks(networks) => networks.iter().any(|n| n.contains(ip)),
            _ => false,
        }
    }

    /// The client's address: `peer` is the socket's (absent when the server runs without
    /// connection info), `headers` the request's.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|ip| ip.to_canonical());
        let entries = || {
            // Several header lines form one list, in order (RFC 9110 §5.3).
            headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|v| v.as_bytes().split(|b| *b == b','))
                .rev()
        };
        match self {
            TrustedProxies::None => peer,
            TrustedProxies::Hops(hops) => {
                // The rightmost `hops` entries were written by the proxies; the last one
                // of those (the farthest proxy's) names the client.
                let mut ip = peer;
                for entry in entries().take(*hops as usize) {
                    match parse_entry(entry) {
                        Some(next) => ip = Some(next),
                        None => break,
                    }
                }
                ip
            }
            TrustedProxies::Networks(_) => {
                // Without a trusted peer, nothing in the header came from a proxy of ours.
                let Some(mut ip) = peer.filter(|p| self.trusts(*p)) else {
                    return peer;
                };
                for entry in entries() {
                    match parse_entry(entry) {
                        Some(next) => {
                            ip = next;
                            if !self.trusts(next) {
                                break;
                            }
                        }
                        None => break,
                    }
                }
                Some(ip)
            }
        }
    }
}

/// One `X-Forwarded-For` entry: an IP address, or an address with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some proxies write.
fn parse_entry(raw: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}
