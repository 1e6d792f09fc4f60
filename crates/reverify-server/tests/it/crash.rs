//! `kill -9` of the real `reverify` binary in the middle of sign-ups and token refreshes:
//! after a restart on the same database, nothing is half-written and every session that
//! was committed still works.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reverify_server::store::Store;
use serde_json::json;

use crate::support::{TestDb, http_client, status_json};

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn(db_url: &str) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reverify"))
        .arg("serve")
        .env("REVERIFY_DATABASE_URL", db_url)
        .env("REVERIFY_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("REVERIFY_SERVER_PUBLIC_URL", &base)
        .env("REVERIFY_SESSIONS_INSECURE_COOKIES", "true")
        .env("REVERIFY_PASSWORDS_ARGON2_MEMORY_KIB", "1024")
        .env("REVERIFY_PASSWORDS_ARGON2_ITERATIONS", "1")
        .env("REVERIFY_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let probe = http_client(false);
    for _ in 0..200 {
        if probe
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

async fn code_for(base: &str, email: &str) -> String {
    let probe = http_client(false);
    for _ in 0..200 {
        let (_, body) = status_json(
            probe
                .get(format!("{base}/v1/dev/outbox?email={email}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if let Some(code) = body["messages"][0]["code"].as_str() {
            return code.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no code for {email}");
}

/// Starts a sign-up; returns the browser, the flow id and the emailed code.
async fn start_sign_up(base: &str, email: &str) -> (reqwest::Client, String, String) {
    let client = http_client(true);
    let (_, flow) = status_json(
        client
            .post(format!("{base}/v1/sign_ups"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let code = code_for(base, email).await;
    (client, flow["id"].as_str().unwrap().to_owned(), code)
}

#[tokio::test]
async fn kill_9_during_sign_ups_and_refreshes_leaves_no_half_written_state() {
    let db = TestDb::sqlite().await;
    db.store.close().await;
    let mut server = spawn(&db.url).await;
    let base = server.base.clone();

    // Six signed-in users whose sessions must survive the crash.
    let mut survivors = Vec::new();
    for i in 0..6 {
        let (client, id, code) = start_sign_up(&base, &format!("old{i}@example.com")).await;
        let r = client
            .post(format!("{base}/v1/sign_ups/{id}/attempt"))
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        survivors.push(client);
    }
    // Thirty sign-ups waiting for their confirmation.
    let mut pending = Vec::new();
    for i in 0..30 {
        pending.push(start_sign_up(&base, &format!("new{i}@example.com")).await);
    }

    // Confirm them all and refresh the survivors' tokens at once; kill -9 in the middle.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (client, id, code) in pending {
        let (base, answered) = (base.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/v1/sign_ups/{id}/attempt"))
                .json(&json!({"code": code}))
                .send()
                .await;
            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (client, r.map(|r| r.status().as_u16()).unwrap_or(0))
        }));
    }
    let refreshers: Vec<_> = survivors
        .iter()
        .cloned()
        .map(|client| {
            let base = base.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    let _ = client
                        .post(format!("{base}/v1/sessions/current/tokens"))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    // Kill once a few confirmations were answered, so that others are in flight.
    for _ in 0..400 {
        if answered.load(std::sync::atomic::Ordering::SeqCst) >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let mut confirmed = Vec::new();
    for t in tasks {
        let (client, status) = t.await.unwrap();
        if status == 200 {
            confirmed.push(client);
        }
    }
    for r in refreshers {
        r.await.unwrap();
    }
    eprintln!(
        "{} of 30 sign-up confirmations were answered before the kill",
        confirmed.len()
    );

    // Restart on the same database.
    let mut server = spawn(&db.url).await;
    let base = server.base.clone();
    for (i, client) in survivors.iter().chain(&confirmed).enumerate() {
        let r = client
            .post(format!("{base}/v1/sessions/current/tokens"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "committed session {i} must still work after kill -9"
        );
    }
    // No half-written account: every user has the session its sign-up created, and every
    // completed sign-up flow has its user.
    let store = Store::connect(&db.url, 2).await.unwrap();
    let users = store.list_users(1000, 0).await.unwrap();
    assert!(users.len() >= 6 + confirmed.len());
    for user in &users {
        let sessions = store.open_sessions_of(&user.id).await.unwrap();
        assert!(
            !sessions.is_empty(),
            "user {} has no session: half-written sign-up",
            user.email
        );
    }
    let completed: Vec<String> = store.completed_flow_emails("sign_up").await.unwrap();
    let mut emails: Vec<String> = users.iter().map(|u| u.email.clone()).collect();
    emails.sort();
    let mut completed_sorted = completed.clone();
    completed_sorted.sort();
    assert_eq!(
        emails, completed_sorted,
        "users and completed sign-ups match one to one"
    );
    store.close().await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    db.cleanup().await;
}
