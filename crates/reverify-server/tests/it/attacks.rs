//! Guessing under concurrency (issue 9, items 1, 7 and 8): many parallel guesses against
//! one account, on SQLite and PostgreSQL, counting how many secrets were actually checked
//! (each checked wrong secret writes one `*.failed` audit event) — never more than the
//! configured limits; a lock is never cleared by failures; anonymous guessing never locks
//! the owner's known browser; emails per recipient are bounded.

use futures_util_free::join_all;
use reverify_server::store::AuditFilter;
use serde_json::{Value, json};

use crate::steps::{
    PASSWORD, enroll_totp, next_step, server_on, sign_in, start_verification, totp_now,
};
use crate::support::{TestDb, TestServer};

/// Every lane limit at its default, per-IP limits off (the guesses come from one IP).
fn no_ip_limits(c: &mut reverify_server::config::Config) {
    c.ratelimit.sign_in_per_minute = 0;
    c.ratelimit.verification_per_minute = 0;
}

async fn count_events(server: &TestServer, user_id: Option<&str>, kind: &str) -> usize {
    server
        .state
        .store
        .audit_events(&AuditFilter {
            user_id: user_id.map(str::to_owned),
            kind: Some(kind.to_owned()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .len()
}

/// Tiny `join_all` (the test binary has no futures crate): runs every future on its own
/// task, so they really are concurrent, and returns their outputs in order.
mod futures_util_free {
    pub async fn join_all<T: Send + 'static>(
        futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
    ) -> Vec<T> {
        let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}

fn statuses(results: &[(u16, Value)]) -> std::collections::BTreeMap<u16, usize> {
    let mut m = std::collections::BTreeMap::new();
    for (s, _) in results {
        *m.entry(*s).or_default() += 1;
    }
    m
}

async fn post_many(
    server: &TestServer,
    clients: Vec<reqwest::Client>,
    path: impl Fn(usize) -> String,
    body: impl Fn(usize) -> Value,
) -> Vec<(u16, Value)> {
    let futures: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            let url = server.url(&path(i));
            let body = body(i);
            async move {
                let r = client.post(url).json(&body).send().await.unwrap();
                crate::support::status_json(r).await
            }
        })
        .collect();
    join_all(futures).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_are_checked_at_most_the_limit_and_never_unlock() {
    for db in TestDb::all().await {
        let server = server_on(db, no_ip_limits).await;
        let email = "pat@example.com";
        let (owner, done) = server.sign_up(email, PASSWORD).await;
        let user_id = done["user"]["id"].as_str().unwrap().to_owned();
        let limit = server.state.config.lockout.max_failures as usize;

        // 150 wrong passwords at once, each from a fresh browser, then the right one.
        let clients: Vec<_> = (0..150).map(|_| server.client()).collect();
        let results = post_many(
            &server,
            clients,
            |_| "/v1/sign_ins".into(),
            |i| json!({ "email": email, "password": format!("wrong password {i}") }),
        )
        .await;
        let by_status = statuses(&results);
        assert_eq!(by_status.get(&401), Some(&limit), "{by_status:?}");
        // The others: 423 once the lane is locked, 429 (retry at once) while the last
        // checks were in flight.
        assert!(
            results.iter().all(|(s, _)| [401, 423, 429].contains(s)),
            "{by_status:?}"
        );
        assert_eq!(
            count_events(&server, Some(&user_id), "sign_in.failed").await,
            limit,
            "exactly `max_failures` passwords were checked"
        );
        assert_eq!(
            count_events(&server, Some(&user_id), "account.locked").await,
            1
        );
        // The failures counted after the lock did not clear it: the right password from
        // an unknown browser is still refused.
        let (_, status, body) = sign_in(&server, email, PASSWORD).await;
        assert_eq!((status, body["code"].as_str()), (423, Some("locked")));

        // The owner's own browser (it signed in before) has its own lane: not locked out.
        let (status, body) = server
            .post(
                &owner,
                "/v1/sign_ins",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 200, "the known browser signs in: {body}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_second_factor_codes_are_bounded_per_session_and_end_it() {
    for db in TestDb::all().await {
        let server = server_on(db, no_ip_limits).await;
        let email = "sam@example.com";
        let (client, done) = server.sign_up(email, PASSWORD).await;
        let user_id = done["user"]["id"].as_str().unwrap().to_owned();
        let (secret, _) = enroll_totp(&server, &client).await;
        next_step(&server);
        server
            .clock
            .advance(std::time::Duration::from_secs(11 * 60));
        let limit = server.state.config.lockout.max_failures as usize;
        let per_verification = server.state.config.reverification.max_attempts as usize;

        // Three verifications of the session, 40 wrong codes at each, all at once.
        let mut ids = Vec::new();
        for _ in 0..3 {
            let v = start_verification(&server, &client, "second_factor").await;
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        let right = totp_now(&server, &secret);
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        let clients: Vec<_> = (0..120).map(|_| client.clone()).collect();
        let results = post_many(
            &server,
            clients,
            |i| format!("/v1/sessions/current/verifications/{}/attempt", ids[i % 3]),
            |_| json!({ "strategy": "totp", "code": wrong }),
        )
        .await;
        let checked = count_events(&server, Some(&user_id), "verification.failed").await;
        assert!(
            checked <= limit.min(3 * per_verification),
            "{checked} codes checked: {:?}",
            statuses(&results)
        );
        assert_eq!(
            checked,
            limit.min(3 * per_verification),
            "{:?}",
            statuses(&results)
        );
        assert!(
            results
                .iter()
                .all(|(s, _)| [422, 429, 401, 409, 423].contains(s))
        );
        // The session's lane locked: the session was ended, not the account.
        let (status, _) = server.get(&client, "/v1/sessions/current").await;
        assert_eq!(status, 401, "the guessing session is over");
        assert_eq!(
            count_events(&server, Some(&user_id), "session.ended").await,
            1
        );
        assert_eq!(
            count_events(&server, Some(&user_id), "account.locked").await,
            0
        );
        // The account itself still signs in with its factors.
        next_step(&server);
        let c = crate::steps::sign_in_with_totp(&server, email, &secret).await;
        let (status, _) = server.get(&c, "/v1/sessions/current").await;
        assert_eq!(status, 200);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_at_sign_in_and_sign_up_are_bounded_per_account() {
    for db in TestDb::all().await {
        let server = server_on(db, |c| {
            no_ip_limits(c);
            c.email.max_per_recipient = 100;
        })
        .await;
        let limit = server.state.config.lockout.max_failures as usize;
        let email = "cody@example.com";
        let (_owner, done) = server.sign_up(email, PASSWORD).await;
        let user_id = done["user"]["id"].as_str().unwrap().to_owned();

        // Six code sign-ins, 20 wrong codes each, all at once: at most `max_failures`
        // codes are checked for the account.
        let mut flows = Vec::new();
        for _ in 0..6 {
            let c = server.client();
            let (status, flow) = server
                .post(
                    &c,
                    "/v1/sign_ins",
                    json!({ "email": email, "strategy": "email_code" }),
                )
                .await;
            assert_eq!(status, 200, "{flow}");
            let code = server.code_for(email).await;
            flows.push((flow["id"].as_str().unwrap().to_owned(), code));
        }
        let clients: Vec<_> = (0..120).map(|_| server.client()).collect();
        let results = post_many(
            &server,
            clients,
            |i| format!("/v1/sign_ins/{}/attempt", flows[i % 6].0),
            |i| {
                let right = &flows[i % 6].1;
                let wrong = if right == "000000" {
                    "111111"
                } else {
                    "000000"
                };
                json!({ "code": wrong })
            },
        )
        .await;
        let by_status = statuses(&results);
        assert_eq!(by_status.get(&422), Some(&limit), "{by_status:?}");
        // Locked: even the right code of a fresh sign-in (its own budget untouched) from
        // an unknown browser is refused now.
        let c = server.client();
        let (status, flow) = server
            .post(
                &c,
                "/v1/sign_ins",
                json!({ "email": email, "strategy": "email_code" }),
            )
            .await;
        assert_eq!(status, 200, "{flow}");
        let code = server.code_for(email).await;
        let (status, body) = server
            .post(
                &c,
                &format!("/v1/sign_ins/{}/attempt", flow["id"].as_str().unwrap()),
                json!({ "code": code }),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (423, Some("locked")),
            "{body}"
        );
        assert_eq!(
            count_events(&server, Some(&user_id), "account.locked").await,
            1
        );

        // Sign-up codes: an account-level stop too (20 wrong codes never got 423 before).
        let newcomer = "nina@example.com";
        let mut flow_ids = Vec::new();
        for _ in 0..4 {
            let c = server.client();
            let (status, flow) = server
                .post(
                    &c,
                    "/v1/sign_ups",
                    json!({ "email": newcomer, "password": PASSWORD }),
                )
                .await;
            assert_eq!(status, 200, "{flow}");
            server.code_for(newcomer).await;
            flow_ids.push(flow["id"].as_str().unwrap().to_owned());
        }
        let clients: Vec<_> = (0..40).map(|_| server.client()).collect();
        let results = post_many(
            &server,
            clients,
            |i| format!("/v1/sign_ups/{}/attempt", flow_ids[i % 4]),
            |_| json!({ "code": "000000" }),
        )
        .await;
        let by_status = statuses(&results);
        assert_eq!(by_status.get(&422), Some(&limit), "{by_status:?}");
        // The email's lane is locked: a fresh sign-up flow (its own budget untouched)
        // gets 423, whatever the code.
        let c = server.client();
        let (status, flow) = server
            .post(
                &c,
                "/v1/sign_ups",
                json!({ "email": newcomer, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 200, "{flow}");
        let (status, body) = server
            .post(
                &c,
                &format!("/v1/sign_ups/{}/attempt", flow["id"].as_str().unwrap()),
                json!({ "code": "000000" }),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (423, Some("locked")),
            "{body}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emails_to_one_address_are_bounded() {
    for db in TestDb::all().await {
        let server = server_on(db, no_ip_limits).await;
        let max = server.state.config.email.max_per_recipient as usize;
        let email = "flood@example.com";
        let clients: Vec<_> = (0..40).map(|_| server.client()).collect();
        let results = post_many(
            &server,
            clients,
            |_| "/v1/sign_ups".into(),
            |_| json!({ "email": email, "password": PASSWORD }),
        )
        .await;
        // The answers do not change (no enumeration, no hint to the sender) ...
        assert!(
            results.iter().all(|(s, _)| *s == 200),
            "{:?}",
            statuses(&results)
        );
        // ... but only `max_per_recipient` emails went out.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let sent = server
            .state
            .store
            .outbox(Some(email), 1000)
            .await
            .unwrap()
            .len();
        assert_eq!(sent, max);
        // After the window, email flows again.
        server.clock.advance(std::time::Duration::from_secs(
            server.state.config.email.recipient_window_secs as u64 + 1,
        ));
        let c = server.client();
        let (status, _) = server
            .post(
                &c,
                "/v1/sign_ups",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 200);
        server.code_for(email).await;
        server.stop().await;
    }
}

/// Honest traffic: many users entering right codes at once never freeze the store
/// (issue 9, item 2: 12 users at once used to get 1 success and 11 errors on SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_users_completing_a_second_factor_at_once_all_succeed() {
    for db in TestDb::all().await {
        let server = server_on(db, no_ip_limits).await;
        let mut users = Vec::new();
        for i in 0..24 {
            let email = format!("user{i}@example.com");
            let (client, _) = server.sign_up(&email, PASSWORD).await;
            let (secret, _) = enroll_totp(&server, &client).await;
            users.push((client, secret));
        }
        next_step(&server);
        server
            .clock
            .advance(std::time::Duration::from_secs(11 * 60));
        let mut ids = Vec::new();
        for (client, _) in &users {
            let v = start_verification(&server, client, "second_factor").await;
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        let codes: Vec<String> = users.iter().map(|(_, s)| totp_now(&server, s)).collect();
        let clients: Vec<_> = users.iter().map(|(c, _)| c.clone()).collect();
        let health = {
            let url = server.url("/healthz");
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let r = crate::support::http_client(false)
                    .get(url)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), started.elapsed())
            })
        };
        let results = post_many(
            &server,
            clients,
            |i| format!("/v1/sessions/current/verifications/{}/attempt", ids[i]),
            |i| json!({ "strategy": "totp", "code": codes[i] }),
        )
        .await;
        assert!(
            results.iter().all(|(s, _)| *s == 200),
            "{:?} {:?}",
            statuses(&results),
            results.iter().find(|(s, _)| *s != 200)
        );
        let (status, took) = health.await.unwrap();
        assert_eq!(status, 200);
        assert!(
            took < std::time::Duration::from_secs(5),
            "health waited {took:?}"
        );
        server.stop().await;
    }
}

/// Honest bursts are never locked out: 64 right passwords of one account at once, from
/// fresh browsers (one lane), all end signed in — some after being told to retry at once
/// (429 `Retry-After: 1`) while the lane's remaining checks were in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_right_passwords_is_never_locked_out() {
    for db in TestDb::all().await {
        let server = server_on(db, no_ip_limits).await;
        let email = "burst@example.com";
        server.sign_up(email, PASSWORD).await;
        let futures: Vec<_> = (0..64)
            .map(|_| {
                let client = server.client();
                let url = server.url("/v1/sign_ins");
                async move {
                    for _ in 0..200 {
                        let r = client
                            .post(&url)
                            .json(&json!({ "email": email, "password": PASSWORD }))
                            .send()
                            .await
                            .unwrap();
                        match r.status().as_u16() {
                            429 => {
                                assert_eq!(r.headers()["retry-after"], "1");
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                            status => return status,
                        }
                    }
                    0
                }
            })
            .collect();
        let results = join_all(futures).await;
        assert!(results.iter().all(|s| *s == 200), "{results:?}");
        let user = server
            .state
            .store
            .user_by_email(email)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            count_events(&server, Some(&user.id), "account.locked").await,
            0
        );
        server.stop().await;
    }
}
