//! Real SMTP delivery: a small SMTP listener written here receives what the server sends.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::support::{TestDb, TestServer};

/// Accepts SMTP sessions on 127.0.0.1:0 and forwards each message's DATA.
async fn smtp_listener() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test-smtp ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-test-smtp\r\n250 8BITMIME\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            write.write_all(b"354 go on\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            tx.send(data).unwrap();
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

#[tokio::test]
async fn sign_up_codes_are_delivered_over_smtp() {
    let (port, mut inbox) = smtp_listener().await;
    let db = TestDb::sqlite().await;
    let server = TestServer::start_with(db, |c| {
        c.email.mode = reverify_server::config::EmailMode::Smtp;
        c.email.smtp_security = reverify_server::config::SmtpSecurity::InsecurePlaintext;
        c.email.smtp_host = "127.0.0.1".into();
        c.email.smtp_port = port;
        c.email.from = "Bank <auth@bank.test>".into();
    })
    .await;
    let client = server.client();
    let (status, flow) = server
        .post(
            &client,
            "/v1/sign_ups",
            json!({"email": "kim@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200);
    let message = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(message.contains("To: kim@example.com"), "{message}");
    assert!(message.contains("From: Bank <auth@bank.test>"), "{message}");
    let subject = message.lines().find(|l| l.starts_with("Subject:")).unwrap();
    let code = six_digits(subject).unwrap();
    assert!(message.contains(&code), "the body carries the code too");

    // In smtp mode the dev outbox is off.
    let (status, _) = server.get(&client, "/v1/dev/outbox").await;
    assert_eq!(status, 404);

    let id = flow["id"].as_str().unwrap();
    let (status, done) = server
        .post(
            &client,
            &format!("/v1/sign_ups/{id}/attempt"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    server.stop().await;
}
