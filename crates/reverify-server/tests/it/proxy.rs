//! The client IP behind proxies: `X-Forwarded-For` read from the right, strictly; forged
//! entries change neither the rate limiter's key nor the audit log.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use reverify_server::config::ServerConfig;
use reverify_server::proxy::{Network, TrustedProxies};
use serde_json::json;

use crate::support::{TestDb, TestServer, status_json};

fn headers(lines: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for l in lines {
        h.append("x-forwarded-for", HeaderValue::from_str(l).unwrap());
    }
    h
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn networks(list: &[&str]) -> TrustedProxies {
    TrustedProxies::Networks(list.iter().map(|n| Network::parse(n).unwrap()).collect())
}

#[test]
fn without_trust_the_header_is_ignored() {
    let h = headers(&["198.51.100.7"]);
    assert_eq!(
        TrustedProxies::None.client_ip(ip("10.0.0.2"), &h),
        ip("10.0.0.2")
    );
}

#[test]
fn hops_take_the_entry_that_many_from_the_right() {
    let peer = ip("10.0.0.2");
    let forged = headers(&["6.6.6.6, 198.51.100.7"]);
    assert_eq!(
        TrustedProxies::Hops(1).client_ip(peer, &forged),
        ip("198.51.100.7")
    );
    let two = headers(&["6.6.6.6, 198.51.100.7, 10.0.0.9"]);
    assert_eq!(
        TrustedProxies::Hops(2).client_ip(peer, &two),
        ip("198.51.100.7")
    );
    // Several header lines are one list.
    let split = headers(&["6.6.6.6", "198.51.100.7, 10.0.0.9"]);
    assert_eq!(
        TrustedProxies::Hops(2).client_ip(peer, &split),
        ip("198.51.100.7")
    );
    // Fewer entries than hops: every entry came from a proxy; the leftmost is best.
    let short = headers(&["198.51.100.7"]);
    assert_eq!(
        TrustedProxies::Hops(3).client_ip(peer, &short),
        ip("198.51.100.7")
    );
    assert_eq!(
        TrustedProxies::Hops(1).client_ip(peer, &HeaderMap::new()),
        peer
    );
}

#[test]
fn an_unparsable_entry_falls_back_to_the_last_trusted_address() {
    let peer = ip("10.0.0.2");
    for bad in [
        "unknown",
        "198.51.100.7 x",
        "",
        "1.2.3.4.5",
        "[::1]",
        "<script>",
    ] {
        let h = headers(&[&format!("198.51.100.9, {bad}")]);
        assert_eq!(TrustedProxies::Hops(1).client_ip(peer, &h), peer, "{bad:?}");
        assert_eq!(
            networks(&["10.0.0.0/8"]).client_ip(peer, &h),
            peer,
            "{bad:?}"
        );
    }
    let h = headers(&["garbage, 198.51.100.7, 10.0.0.9"]);
    assert_eq!(
        TrustedProxies::Hops(3).client_ip(peer, &h),
        ip("198.51.100.7")
    );
}

#[test]
fn ports_and_mapped_addresses_are_read_as_addresses() {
    let peer = ip("::ffff:10.0.0.2");
    let h = headers(&["[2001:db8::7]:4711"]);
    assert_eq!(
        TrustedProxies::Hops(1).client_ip(peer, &h),
        ip("2001:db8::7")
    );
    let h = headers(&["198.51.100.7:4711"]);
    assert_eq!(
        TrustedProxies::Hops(1).client_ip(peer, &h),
        ip("198.51.100.7")
    );
    let h = headers(&["::ffff:198.51.100.7"]);
    assert_eq!(
        networks(&["10.0.0.0/8"]).client_ip(peer, &h),
        ip("198.51.100.7"),
        "a mapped peer is in an IPv4 network"
    );
}

#[test]
fn networks_skip_trusted_proxies_from_the_right() {
    let trust = networks(&["10.0.0.0/8", "2001:db8:1::/48"]);
    let h = headers(&["6.6.6.6, 198.51.100.7, 10.1.2.3, 2001:db8:1::5"]);
    assert_eq!(trust.client_ip(ip("10.0.0.2"), &h), ip("198.51.100.7"));
    // A peer that is not a proxy of ours: the header is the client's own text.
    assert_eq!(trust.client_ip(ip("203.0.113.5"), &h), ip("203.0.113.5"));
    // Only proxies in the list: the farthest one.
    let h = headers(&["10.9.9.9, 10.1.2.3"]);
    assert_eq!(trust.client_ip(ip("10.0.0.2"), &h), ip("10.9.9.9"));
    assert_eq!(trust.client_ip(None, &h), None);
}

#[test]
fn networks_parse_strictly() {
    for good in [
        "10.0.0.0/8",
        "192.0.2.7",
        "::1",
        "2001:db8::/32",
        "0.0.0.0/0",
        "::/0",
    ] {
        assert!(Network::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "10.0.0.1/8",
        "10.0.0.0/33",
        "10.0.0.0/",
        "example.com",
        "10.0.0.0/8x",
        "",
    ] {
        assert!(Network::parse(bad).is_err(), "{bad}");
    }
    let n = Network::parse("10.0.0.0/8").unwrap();
    assert!(n.contains(ip("10.255.0.1").unwrap()));
    assert!(!n.contains(ip("11.0.0.1").unwrap()));
    assert!(!n.contains(ip("::1").unwrap()));
}

#[test]
fn the_old_key_is_refused_with_the_new_ones_named() {
    let server = ServerConfig {
        trust_proxy_headers: true,
        ..ServerConfig::default()
    };
    let e = server.trusted_proxies().unwrap_err().to_string();
    assert!(
        e.contains("trusted_proxy_hops") && e.contains("trusted_proxies"),
        "{e}"
    );
    let both = ServerConfig {
        trusted_proxy_hops: 1,
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..ServerConfig::default()
    };
    assert!(both.trusted_proxies().is_err());
}

/// Wrong-password sign-ins through "the proxy", each with a different forged leftmost
/// entry; returns the statuses and the IPs the audit log recorded.
async fn forged_sign_ins(server: &TestServer, forwarded_for: &str) -> (Vec<u16>, Vec<String>) {
    let client = server.client();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = client
            .post(server.url("/v1/sign_ins"))
            .header("x-forwarded-for", format!("203.0.113.{i}, {forwarded_for}"))
            .json(&json!({"email": "ann@example.com", "password": "not the password"}))
            .send()
            .await
            .unwrap();
        statuses.push(status_json(r).await.0);
    }
    let filter = reverify_server::store::AuditFilter {
        user_id: None,
        session_id: None,
        kind: Some("sign_in.failed".into()),
        before: None,
        limit: 10,
    };
    let ips = server
        .state
        .store
        .audit_events(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.ip.unwrap_or_default())
        .collect();
    (statuses, ips)
}

#[tokio::test]
async fn forged_leftmost_entries_change_neither_the_limit_nor_the_audit_ip() {
    // One proxy in front (it appended 198.51.100.7, the address it saw).
    let server = TestServer::start_with(TestDb::sqlite().await, |c| {
        c.server.trusted_proxy_hops = 1;
        c.ratelimit.sign_in_per_minute = 3;
    })
    .await;
    let (statuses, ips) = forged_sign_ins(&server, "198.51.100.7").await;
    assert_eq!(statuses, [401, 401, 401, 429], "one client, one bucket");
    assert_eq!(ips, ["198.51.100.7"; 3]);
    server.stop().await;

    // The proxy at 127.0.0.1 is trusted by address; the entry before it is the client.
    let server = TestServer::start_with(TestDb::sqlite().await, |c| {
        c.server.trusted_proxies = vec!["127.0.0.0/8".into()];
        c.ratelimit.sign_in_per_minute = 3;
    })
    .await;
    let (statuses, ips) = forged_sign_ins(&server, "198.51.100.8, 127.0.0.9").await;
    assert_eq!(statuses, [401, 401, 401, 429]);
    assert_eq!(ips, ["198.51.100.8"; 3]);
    server.stop().await;

    // No proxy configured: the header is ignored altogether.
    let server = TestServer::start_with(TestDb::sqlite().await, |c| {
        c.ratelimit.sign_in_per_minute = 3;
    })
    .await;
    let (statuses, ips) = forged_sign_ins(&server, "198.51.100.9").await;
    assert_eq!(statuses, [401, 401, 401, 429]);
    assert_eq!(ips, ["127.0.0.1"; 3]);
    server.stop().await;
}
