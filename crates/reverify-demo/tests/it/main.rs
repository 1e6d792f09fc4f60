//! The demo app, in-process on `127.0.0.1:0` with a fresh SQLite file: its ledger survives a
//! restart, stays consistent under 100 parallel transfers, and its API refuses cross-site
//! requests and tokens minted for another origin; its pages cannot be framed (the
//! verification modal is not clickjackable) and run only this origin's scripts; its API
//! is never cached.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reverify_demo::Settings;
use reverify_server::config::Config;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const OPENING: i64 = 100_000;

/// A directory of its own for each test's database.
fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "reverify-demo-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The demo app serving in the background.
struct Demo {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

/// Starts the demo on `file` (auth server and ledger), with cheap hashing; `tweak` edits
/// the auth server's configuration after the demo's defaults.
async fn start(file: &Path, tweak: impl FnOnce(&mut Config)) -> Demo {
    start_with(file, tweak, |_| {}).await
}

/// [`start`], with `settings` editing the demo's own settings too.
async fn start_with(
    file: &Path,
    tweak: impl FnOnce(&mut Config),
    settings_tweak: impl FnOnce(&mut Settings),
) -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::default();
    reverify_demo::demo_defaults(&mut config, &base, |_| false);
    config.database.url = format!("sqlite://{}", file.display());
    config.passwords.argon2_memory_kib = 1024;
    config.passwords.argon2_iterations = 1;
    tweak(&mut config);
    let mut settings = Settings::new(&base);
    settings.opening_cents = OPENING;
    settings_tweak(&mut settings);
    let app = reverify_demo::build(config, settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Demo { base, stop, served }
}

impl Demo {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops serving and waits until every connection is closed.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the demo stops")
            .unwrap();
    }

    async fn post(&self, client: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
        status_json(
            client
                .post(self.url(path))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> (u16, Value) {
        status_json(client.get(self.url(path)).send().await.unwrap()).await
    }

    /// Signs up through the embedded auth server (the code from its dev outbox); returns
    /// the browser-like client, now holding the session and `__session` cookies.
    async fn sign_up(&self, email: &str) -> reqwest::Client {
        let client = http_client();
        let (status, flow) = self
            .post(
                &client,
                "/auth/v1/sign_ups",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{flow}");
        let mut code = None;
        for _ in 0..300 {
            let (_, outbox) = self
                .get(&client, &format!("/auth/v1/dev/outbox?email={email}"))
                .await;
            if let Some(c) = outbox["messages"][0]["code"].as_str() {
                code = Some(c.to_owned());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let id = flow["id"].as_str().unwrap();
        let (status, done) = self
            .post(
                &client,
                &format!("/auth/v1/sign_ups/{id}/attempt"),
                json!({"code": code.expect("a code in the dev outbox")}),
            )
            .await;
        assert_eq!(status, 200, "{done}");
        client
    }

    /// A transfer as the browser SDK makes it: on the 403 that asks for an approval, the
    /// user verifies (by password) for the action it names, then the call is retried once.
    async fn transfer(&self, client: &reqwest::Client, to: &str, cents: i64) -> (u16, Value) {
        let body = json!({"to": to, "amount_cents": cents});
        let (status, answer) = self.post(client, "/api/transfer", body.clone()).await;
        if status != 403 {
            return (status, answer);
        }
        let action = answer["clerk_error"]["metadata"]["action"].clone();
        assert!(action.is_object(), "{answer}");
        self.approve(client, &action).await;
        self.post(client, "/api/transfer", body).await
    }

    /// Verifies the session (by password) for `action`, as the modal does; returns the
    /// completion's answer (its token carries the approval).
    async fn approve(&self, client: &reqwest::Client, action: &Value) -> Value {
        let (status, v) = self
            .post(
                client,
                "/auth/v1/sessions/current/verifications",
                json!({"level": "second_factor", "action": action}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let id = v["id"].as_str().unwrap();
        let (status, done) = self
            .post(
                client,
                &format!("/auth/v1/sessions/current/verifications/{id}/attempt"),
                json!({"strategy": "password", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{done}");
        assert!(done["approval"]["id"].is_string(), "{done}");
        done
    }
}

async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A client with a cookie jar (reqwest is built without a TLS provider of its own here).
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn acknowledged_transfers_and_the_balance_survive_a_restart() {
    let dir = temp_dir("restart");
    let file = dir.join("demo.sqlite");
    let demo = start(&file, |_| {}).await;
    let browser = demo.sign_up("ava@example.com").await;
    let mut acknowledged = Vec::new();
    for (to, cents) in [("Bob", 1_000), ("Cleo", 2_500), ("Dan", 300)] {
        let (status, done) = demo.transfer(&browser, to, cents).await;
        assert_eq!(status, 200, "{done}");
        acknowledged.push(done);
    }
    let (status, too_much) = demo.transfer(&browser, "Eve", OPENING).await;
    assert_eq!(
        (status, too_much["code"].as_str()),
        (422, Some("insufficient_funds"))
    );
    let (_, before) = demo.get(&browser, "/api/transfers").await;
    assert_eq!(before["transfers"].as_array().unwrap().len(), 3);
    demo.stop().await;

    // A new process on the same file. It listens on another port, so its tokens have
    // another issuer: the browser refreshes its token, as the SDK does, with the session
    // cookie, whose session lives in the same file.
    let demo = start(&file, |_| {}).await;
    let (status, refreshed) = demo
        .post(&browser, "/auth/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, balance) = demo.get(&browser, "/api/balance").await;
    assert_eq!(status, 200, "{balance}");
    assert_eq!(balance["balance_cents"], OPENING - 3_800);
    let (_, after) = demo.get(&browser, "/api/transfers").await;
    assert_eq!(after, before, "the history survived, newest first");
    let newest = &after["transfers"][0];
    assert_eq!(
        (
            &newest["to"],
            &newest["amount_cents"],
            &newest["balance_cents"]
        ),
        (
            &json!("Dan"),
            &json!(300),
            &acknowledged[2]["balance_cents"]
        )
    );
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_hundred_parallel_transfers_leave_a_consistent_balance() {
    let dir = temp_dir("parallel");
    let file = dir.join("demo.sqlite");
    // The ledger under load: freshness guards the route here (approvals have their own
    // tests below), so that 100 transfers need no 100 verifications.
    let demo = start_with(&file, |_| {}, |s| s.approvals = false).await;
    let browser = demo.sign_up("cat@example.com").await;
    // 100 × 15.00 against 1,000.00: exactly 66 fit.
    let cents = 1_500;
    let answers = futures_join(
        (0..100)
            .map(|i| {
                let (demo, browser) = (&demo, &browser);
                async move { demo.transfer(browser, &format!("payee {i}"), cents).await }
            })
            .collect(),
    )
    .await;
    let mut balances = Vec::new();
    let mut refused = 0;
    for (status, body) in &answers {
        match status {
            200 => balances.push(body["balance_cents"].as_i64().unwrap()),
            422 if body["code"] == "insufficient_funds" => refused += 1,
            _ => panic!("unexpected answer {status} {body}"),
        }
    }
    assert_eq!((balances.len(), refused), (66, 34));
    // Every acknowledged transfer saw a distinct balance, one step below the previous: they
    // were applied one after another, none lost, none negative.
    balances.sort_unstable();
    let expected: Vec<i64> = (1..=66).rev().map(|k| OPENING - cents * k).collect();
    assert_eq!(balances, expected);
    let (_, balance) = demo.get(&browser, "/api/balance").await;
    assert_eq!(balance["balance_cents"], OPENING - cents * 66);
    // The ledger itself agrees: 66 transfers recorded, their sum is what left the account.
    let db = rusqlite::Connection::open(&file).unwrap();
    let (count, sum, lowest): (i64, i64, i64) = db
        .query_row(
            "SELECT COUNT(*), SUM(amount_cents), MIN(balance_after_cents) FROM demo_transfers",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((count, sum, lowest), (66, cents * 66, OPENING - cents * 66));
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn the_api_refuses_cross_site_transfers_and_tokens_minted_for_another_origin() {
    let dir = temp_dir("guard");
    let file = dir.join("demo.sqlite");
    let other = "https://other.example";
    let demo = start(&file, |c| c.server.allowed_origins.push(other.into())).await;
    let browser = demo.sign_up("dot@example.com").await;
    let forged = |site: Option<&str>, origin: Option<&str>| {
        let mut request = browser
            .post(demo.url("/api/transfer"))
            .json(&json!({"to": "Mallory", "amount_cents": 50_000}));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    for (site, origin) in [
        (Some("cross-site"), Some("https://evil.example")),
        (None, Some("https://evil.example")),
        (Some("same-site"), None),
    ] {
        let (status, body) = status_json(forged(site, origin).await.unwrap()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("cross_site_request")),
            "{site:?} {origin:?}"
        );
    }
    let (_, balance) = demo.get(&browser, "/api/balance").await;
    assert_eq!(balance["balance_cents"], OPENING, "nothing moved");
    let (status, body) =
        status_json(forged(Some("same-origin"), Some(&demo.base)).await.unwrap()).await;
    // The page's own request passes the guard and reaches the route, which asks for the
    // user's approval of this transfer.
    assert_eq!(
        (
            status,
            body["clerk_error"]["metadata"]["action"]["summary"].as_str()
        ),
        (403, Some("Send €500.00 to Mallory")),
        "the page's own request: {body}"
    );

    // `azp`: a token the auth server minted for another allowed origin is refused by the
    // demo's API; one minted for the demo's page is accepted.
    let token_for = |origin: String| {
        let browser = browser.clone();
        let url = demo.url("/auth/v1/sessions/current/tokens");
        async move {
            let (status, body) = status_json(
                browser
                    .post(url)
                    .header("origin", origin)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body["jwt"].as_str().unwrap().to_owned()
        }
    };
    let bare = http_client();
    let balance_with = |token: String| bare.get(demo.url("/api/balance")).bearer_auth(token).send();
    let theirs = token_for(other.into()).await;
    let (status, body) = status_json(balance_with(theirs).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_azp_invalid"))
    );
    let ours = token_for(demo.base.clone()).await;
    let (status, body) = status_json(balance_with(ours).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn pages_cannot_be_framed_and_run_only_their_own_scripts() {
    let dir = temp_dir("headers");
    let demo = start(&dir.join("demo.sqlite"), |_| {}).await;
    let client = http_client();
    let get = |path: &str| client.get(demo.url(path)).send();
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    for path in ["/", "/react"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "x-frame-options"), "DENY");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let csp = header(&r, "content-security-policy");
        assert_eq!(csp, reverify_demo::PAGE_CSP);
        for part in [
            "default-src 'none'",
            "script-src 'self';",
            "frame-ancestors 'none'",
            "connect-src 'self'",
            "img-src 'self' data:",
        ] {
            assert!(csp.contains(part), "{path}: {part} in {csp}");
        }
        assert!(
            !csp.split(';')
                .find(|d| d.trim().starts_with("script-src"))
                .unwrap()
                .contains("unsafe"),
            "{csp}"
        );
        // No inline script the policy would block.
        let html = r.text().await.unwrap();
        for tag in html.split("<script").skip(1) {
            assert!(
                tag.trim_start().starts_with("type=\"module\" src=\"/"),
                "{tag}"
            );
        }
    }
    // The auth server nested under /auth keeps its own (stricter) headers.
    let r = get("/auth/dev/outbox").await.unwrap();
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    assert!(header(&r, "content-security-policy").contains("style-src 'sha256-"));
    let r = get("/app.js").await.unwrap();
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let r = get("/api/balance").await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_sign_in_screens_name_the_demo_bank() {
    let dir = temp_dir("environment");
    let demo = start(&dir.join("demo.sqlite"), |_| {}).await;
    let (status, body) = demo.get(&http_client(), "/auth/v1/environment").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["app"]["name"], reverify_demo::DEMO_APP_NAME);
    assert_eq!(body["app"]["name"], "Reverify demo bank");
    assert!(body["app"]["logo_url"].is_null(), "{body}");
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_pages_files_are_embedded_with_their_type_and_revalidated() {
    let dir = temp_dir("assets");
    let demo = start(&dir.join("demo.sqlite"), |_| {}).await;
    let client = http_client();
    for (path, content_type) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/bank.js", "text/javascript; charset=utf-8"),
        ("/react/app.js", "text/javascript; charset=utf-8"),
        ("/demo.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let r = client.get(demo.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = |name: &str| r.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(h("content-type"), content_type, "{path}");
        assert_eq!(h("cache-control"), "no-cache", "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        let etag = h("etag");
        let body = r.text().await.unwrap();
        assert!(!body.is_empty(), "{path}");
        if path == "/react/app.js" {
            // The committed bundle, from the binary: no npm step to run the demo.
            assert_eq!(body, reverify_demo::assets::REACT_BUNDLE);
        }
        let again = client
            .get(demo.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}: unchanged, not sent again");
        let other = client
            .get(demo.url(path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{path}");
    }
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_missing_react_bundle_override_shows_a_readable_page() {
    let dir = temp_dir("no-bundle");
    let missing = dir.join("no-such-bundle.js");
    let demo = start_with(
        &dir.join("demo.sqlite"),
        |_| {},
        |s| s.react_bundle = Some(missing.clone()),
    )
    .await;
    let client = http_client();
    let r = client.get(demo.url("/react")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("cannot be read"), "{html}");
    assert!(html.contains("no-such-bundle.js"), "{html}");
    assert!(!html.contains("<script"), "a page, not a script that fails");
    // The page without React is unaffected.
    assert_eq!(
        client.get(demo.url("/")).send().await.unwrap().status(),
        200
    );
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Posts a transfer with the given headers; returns status, `Idempotent-Replayed`, body.
async fn post_transfer(
    demo: &Demo,
    client: &reqwest::Client,
    body: &Value,
    key: Option<&str>,
) -> (u16, bool, Value) {
    let mut request = client.post(demo.url("/api/transfer")).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", format!("\"{key}\""));
    }
    let r = request.send().await.unwrap();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let (status, body) = status_json(r).await;
    (status, replayed, body)
}

async fn ledger_count(file: &Path) -> i64 {
    let db = rusqlite::Connection::open(file).unwrap();
    db.query_row("SELECT COUNT(*) FROM demo_transfers", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_transfer_runs_only_with_the_approval_of_exactly_it_and_only_once() {
    let dir = temp_dir("approval");
    let file = dir.join("demo.sqlite");
    let demo = start(&file, |_| {}).await;
    let browser = demo.sign_up("ida@example.com").await;
    let bob = json!({"to": "Bob", "amount_cents": 2_500});

    // Freshly signed up, yet no transfer without an approval: freshness is not enough.
    let (status, _, refused) = post_transfer(&demo, &browser, &bob, None).await;
    assert_eq!(status, 403, "{refused}");
    let meta = &refused["clerk_error"]["metadata"];
    assert_eq!(refused["clerk_error"]["reason"], "reverification-error");
    assert_eq!(meta["action"]["summary"], "Send €25.00 to Bob");
    assert_eq!(
        meta["action"]["fields"],
        json!({"amount_cents": "2500", "currency": "EUR", "to": "Bob"})
    );
    let done = demo.approve(&browser, &meta["action"]).await;
    assert_eq!(done["approval"]["summary"], "Send €25.00 to Bob");

    // The approved token does not authorise €9,999 to Mallory (nor €25 to Mallory, nor
    // €9,999 to Bob), and those refusals do not spend it.
    for other in [
        json!({"to": "Mallory", "amount_cents": 999_900}),
        json!({"to": "Mallory", "amount_cents": 2_500}),
        json!({"to": "Bob", "amount_cents": 999_900}),
    ] {
        let (status, _, body) = post_transfer(&demo, &browser, &other, None).await;
        assert_eq!(status, 403, "{other}: {body}");
        assert_ne!(
            body["clerk_error"]["metadata"]["action"]["summary"],
            "Send €25.00 to Bob"
        );
    }
    assert_eq!(ledger_count(&file).await, 0);

    // The approved transfer runs, with a key; a double submit of the same call gets the
    // first answer back and moves no money again.
    let (status, replayed, first) = post_transfer(&demo, &browser, &bob, Some("k-1")).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let (status, replayed, again) = post_transfer(&demo, &browser, &bob, Some("k-1")).await;
    assert_eq!((status, replayed), (200, true), "{again}");
    assert_eq!(again, first);
    // The same request under a new key (a replay of the approved request): the approval is
    // spent.
    let (status, _, body) = post_transfer(&demo, &browser, &bob, Some("k-2")).await;
    assert_eq!(status, 403, "{body}");
    // The first key with another body: 422, nothing runs.
    let (status, _, body) = post_transfer(
        &demo,
        &browser,
        &json!({"to": "Mallory", "amount_cents": 999_900}),
        Some("k-1"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("idempotency_key_mismatch"))
    );
    assert_eq!(ledger_count(&file).await, 1);
    // Invalid input is refused before anything is asked of the user.
    for (bad, code) in [
        (
            json!({"to": "Bob\u{7}", "amount_cents": 100}),
            "invalid_recipient",
        ),
        (json!({"to": "Bob", "amount_cents": -5}), "invalid_amount"),
        (json!({"to": "Bob"}), "invalid_body"),
    ] {
        let (status, _, body) = post_transfer(&demo, &browser, &bad, None).await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{bad}");
    }
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn one_approval_raced_by_twenty_requests_moves_money_once() {
    let dir = temp_dir("approval-race");
    let file = dir.join("demo.sqlite");
    let demo = start(&file, |_| {}).await;
    let browser = demo.sign_up("jo@example.com").await;
    let bob = json!({"to": "Bob", "amount_cents": 2_500});
    let (_, _, refused) = post_transfer(&demo, &browser, &bob, None).await;
    demo.approve(&browser, &refused["clerk_error"]["metadata"]["action"])
        .await;
    // Twenty copies of the approved request, each under its own key (no idempotency
    // shortcut): the approval alone must stop all but one.
    let answers = futures_join(
        (0..20)
            .map(|i| {
                let (demo, browser, bob) = (&demo, &browser, &bob);
                async move { post_transfer(demo, browser, bob, Some(&format!("race-{i}"))).await }
            })
            .collect(),
    )
    .await;
    let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let refused = answers.iter().filter(|(s, _, _)| *s == 403).count();
    assert_eq!((ok, refused), (1, 19), "{answers:?}");
    assert_eq!(ledger_count(&file).await, 1);
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `n` copies of `job` on the ledger at once, each in its own task.
async fn spawn_many<T, F>(
    ledger: &reverify_demo::Ledger,
    n: usize,
    job: impl Fn(reverify_demo::Ledger) -> F,
) -> Vec<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(job(ledger.clone()))).collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledgers_idempotency_store_keeps_the_sdks_contract() {
    use reverify::idempotency::{
        IdempotencyStore, Reserve, Slot, StoredResponse, Times, fingerprint,
    };
    let dir = temp_dir("idempotency-store");
    let ledger = reverify_demo::Ledger::open(&dir.join("demo.sqlite"), OPENING).unwrap();
    let (ttl, lease) = (Duration::from_secs(86_400), Duration::from_secs(60));
    let t0: i64 = 1_800_000_000_000;
    let at = move |ms: i64| Times::new(t0 + ms, ttl, lease);
    let print = fingerprint("POST", "/api/transfer", br#"{"amount_cents":100}"#);
    let other = fingerprint("POST", "/api/transfer", br#"{"amount_cents":999}"#);
    let slot = Slot {
        scope: "user_1",
        key: "k-1",
    };

    // Fifty requests with one key at once: one runs, the others are told it is running.
    let outcomes = spawn_many(&ledger, 50, |ledger| async move {
        let slot = Slot {
            scope: "user_1",
            key: "k-1",
        };
        ledger.reserve(slot, print, at(0)).await.unwrap()
    })
    .await;
    let won: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Reserve::Reserved(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let in_flight = outcomes
        .iter()
        .filter(|o| matches!(o, Reserve::InFlight))
        .count();
    assert_eq!((won.len(), in_flight), (1, 49), "{outcomes:?}");
    let first = &won[0];

    // Completed: a repeat gets the stored answer; another request under the key is refused.
    let answer = StoredResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: br#"{"ok":true,"id":1}"#.to_vec(),
    };
    ledger.complete(slot, first, &answer).await.unwrap();
    assert_eq!(
        ledger.reserve(slot, print, at(1_000)).await.unwrap(),
        Reserve::Done(answer.clone())
    );
    assert_eq!(
        ledger.reserve(slot, other, at(1_000)).await.unwrap(),
        Reserve::Mismatch
    );
    // A finished row is never released nor completed again, even with its own token.
    ledger.release(slot, first).await.unwrap();
    let changed = StoredResponse {
        status: 500,
        content_type: None,
        body: Vec::new(),
    };
    ledger.complete(slot, first, &changed).await.unwrap();
    assert_eq!(
        ledger.reserve(slot, print, at(2_000)).await.unwrap(),
        Reserve::Done(answer.clone())
    );
    // Once expired, the key is free again (for any request).
    assert!(matches!(
        ledger.reserve(slot, other, at(86_400_000)).await.unwrap(),
        Reserve::Reserved(_)
    ));

    // A reservation past its lease is taken over; the late completion of the abandoned one
    // changes nothing, the new holder's does.
    let slot = Slot {
        scope: "user_1",
        key: "k-2",
    };
    let Reserve::Reserved(abandoned) = ledger.reserve(slot, print, at(0)).await.unwrap() else {
        panic!("a new key is reserved");
    };
    assert_eq!(
        ledger.reserve(slot, print, at(59_000)).await.unwrap(),
        Reserve::InFlight
    );
    let Reserve::Reserved(taker) = ledger.reserve(slot, print, at(61_000)).await.unwrap() else {
        panic!("an abandoned reservation is taken over");
    };
    assert_ne!(abandoned.token(), taker.token());
    ledger.complete(slot, &abandoned, &changed).await.unwrap();
    ledger.release(slot, &abandoned).await.unwrap();
    assert_eq!(
        ledger.reserve(slot, print, at(62_000)).await.unwrap(),
        Reserve::InFlight
    );
    ledger.complete(slot, &taker, &answer).await.unwrap();
    assert_eq!(
        ledger.reserve(slot, print, at(63_000)).await.unwrap(),
        Reserve::Done(answer.clone())
    );

    // A released key runs again.
    let slot = Slot {
        scope: "user_2",
        key: "k-1",
    };
    let Reserve::Reserved(given_up) = ledger.reserve(slot, print, at(0)).await.unwrap() else {
        panic!("keys are scoped to their user");
    };
    ledger.release(slot, &given_up).await.unwrap();
    assert!(matches!(
        ledger.reserve(slot, print, at(1)).await.unwrap(),
        Reserve::Reserved(_)
    ));

    // The rows are the SDK's: the same table, the fingerprint in hex.
    let db = rusqlite::Connection::open(dir.join("demo.sqlite")).unwrap();
    let stored: String = db
        .query_row(
            "SELECT fingerprint FROM reverify_idempotency WHERE scope = 'user_1' AND idempotency_key = 'k-2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let hex: String = print.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(stored, hex);
    drop(ledger);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledgers_approval_store_lets_an_approval_be_used_once() {
    use reverify::approval::{ApprovalStore, ConsumedApproval};
    let dir = temp_dir("approval-store");
    let ledger = reverify_demo::Ledger::open(&dir.join("demo.sqlite"), OPENING).unwrap();
    let used = |ledger: reverify_demo::Ledger, id: &'static str| async move {
        let approval = ConsumedApproval {
            approval_id: id,
            user_id: "user_1",
            session_id: Some("sess_1"),
            action_type: "transfer",
            summary: "Send €25.00 to Bob",
            digest: "d1",
            consumed_at: 1_800_000_000,
            expires_at: 1_800_000_300,
        };
        ledger.consume(&approval).await.unwrap()
    };
    let firsts = spawn_many(&ledger, 50, |ledger| used(ledger, "apr_1")).await;
    assert_eq!(
        firsts.iter().filter(|first| **first).count(),
        1,
        "{firsts:?}"
    );
    assert!(!used(ledger.clone(), "apr_1").await);
    assert!(used(ledger.clone(), "apr_2").await);
    let db = rusqlite::Connection::open(dir.join("demo.sqlite")).unwrap();
    let (rows, summary): (i64, String) = db
        .query_row(
            "SELECT COUNT(*), MAX(summary) FROM reverify_approvals",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, summary.as_str()), (2, "Send €25.00 to Bob"));
    drop(ledger);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_is_undone_alone_and_the_rest_of_its_batch_commits() {
    let dir = temp_dir("batch-isolation");
    let ledger = reverify_demo::Ledger::open(&dir.join("demo.sqlite"), OPENING).unwrap();
    // A negative amount passes the debit (it credits) but breaks the transfers table's
    // CHECK: a database error in the middle of a write, among forty good transfers.
    let outcomes = spawn_many(&ledger, 41, {
        let turn = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        move |ledger| {
            let i = turn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let cents = if i == 20 { -500 } else { 100 };
                ledger.transfer("user_1", "Bob", cents, 1_800_000_000).await
            }
        }
    })
    .await;
    let failed: Vec<_> = outcomes.iter().filter(|o| o.is_err()).collect();
    assert_eq!(failed.len(), 1, "{outcomes:?}");
    assert!(
        matches!(
            failed[0],
            Err(reverify_demo::ledger::LedgerError::Database(_))
        ),
        "{failed:?}"
    );
    // The failed write left nothing behind (its credit is undone); the others all count.
    assert_eq!(ledger.balance("user_1").await.unwrap(), OPENING - 40 * 100);
    assert_eq!(ledger.history("user_1", 100).await.unwrap().len(), 40);
    drop(ledger);
    let _ = std::fs::remove_dir_all(dir);
}
