//! The storage suite: every test runs against SQLite and (when reachable) PostgreSQL.

use reverify_server::store::{
    FactorTimes, Flow, FlowKind, OutboxMessage, SessionRow, Store, StoreError, StoredKey, User,
};

use crate::support::TestDb;

fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        password_hash: Some("$argon2id$x".into()),
        created_at: 100,
        updated_at: 100,
    }
}

fn times(first: Option<i64>, second: Option<i64>, phr: Option<i64>) -> FactorTimes {
    FactorTimes { first, second, phr }
}

fn session(id: &str, user_id: &str, secret_hash: &str) -> SessionRow {
    SessionRow {
        id: id.into(),
        user_id: user_id.into(),
        secret_hash: secret_hash.into(),
        created_at: 1000,
        last_active_at: 1000,
        expires_at: 1000 + 86_400,
        ended_at: None,
        end_reason: None,
        first_factor_at: Some(1000),
        second_factor_at: None,
        phr_at: None,
        amr: "pwd".into(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::all().await {
        test(db.store.clone()).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_safe_to_race() {
    for db in TestDb::all().await {
        assert_eq!(
            db.store.migrate().await.unwrap(),
            0,
            "already applied at open"
        );
        let (a, b) = tokio::join!(Store::open(&db.url, 2), Store::open(&db.url, 2));
        a.unwrap();
        b.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn users_are_unique_by_email_and_deletion_cascades() {
    each_backend(|store| async move {
        store
            .create_user(&user("user_a", "a@example.com"))
            .await
            .unwrap();
        let dup = store.create_user(&user("user_b", "a@example.com")).await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        assert_eq!(
            store
                .user_by_email("a@example.com")
                .await
                .unwrap()
                .unwrap()
                .id,
            "user_a"
        );
        assert_eq!(
            store.user_by_id("user_a").await.unwrap().unwrap().email,
            "a@example.com"
        );
        assert!(
            store
                .user_by_email("b@example.com")
                .await
                .unwrap()
                .is_none()
        );
        store
            .create_user(&user("user_c", "c@example.com"))
            .await
            .unwrap();
        let listed: Vec<String> = store
            .list_users(10, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(listed, ["user_a", "user_c"]);
        assert_eq!(store.list_users(10, 1).await.unwrap().len(), 1);

        let mut tx_session = session("sess_1", "user_a", "hash1");
        tx_session.id = "sess_1".into();
        insert_session(&store, &tx_session).await;
        assert!(store.delete_user("user_a").await.unwrap());
        assert!(!store.delete_user("user_a").await.unwrap());
        assert!(
            store.session_by_id("sess_1").await.unwrap().is_none(),
            "sessions go with the user"
        );
    })
    .await;
}

async fn insert_session(store: &Store, s: &SessionRow) {
    store.create_session(s).await.unwrap();
}

#[tokio::test]
async fn sessions_touch_coarsely_end_once_and_factor_times_only_move_forward() {
    each_backend(|store| async move {
        store
            .create_user(&user("user_a", "a@example.com"))
            .await
            .unwrap();
        // sess_1's user has a second factor (0: enrolled, not verified in this session).
        let mut enrolled = session("sess_1", "user_a", "h1");
        enrolled.second_factor_at = Some(0);
        insert_session(&store, &enrolled).await;
        insert_session(&store, &session("sess_2", "user_a", "h2")).await;
        let dup_secret = store
            .create_session(&session("sess_3", "user_a", "h1"))
            .await;
        assert!(matches!(dup_secret, Err(StoreError::Conflict(_))));

        assert_eq!(
            store
                .session_by_secret_hash("h1")
                .await
                .unwrap()
                .unwrap()
                .id,
            "sess_1"
        );
        store.touch_session("sess_1", 1030, 60).await.unwrap();
        assert_eq!(
            store
                .session_by_id("sess_1")
                .await
                .unwrap()
                .unwrap()
                .last_active_at,
            1000,
            "too recent to write"
        );
        store.touch_session("sess_1", 1061, 60).await.unwrap();
        assert_eq!(
            store
                .session_by_id("sess_1")
                .await
                .unwrap()
                .unwrap()
                .last_active_at,
            1061
        );

        store
            .record_factors("sess_1", times(None, Some(2000), None), "pwd otp mfa")
            .await
            .unwrap();
        store
            .record_factors("sess_1", times(Some(1500), Some(1900), None), "pwd otp mfa")
            .await
            .unwrap();
        let s = store.session_by_id("sess_1").await.unwrap().unwrap();
        assert_eq!(
            (s.first_factor_at, s.second_factor_at, s.amr.as_str()),
            (Some(1500), Some(2000), "pwd otp mfa")
        );
        // A session whose user has no second factor (NULL) never gets a second-factor
        // time: a passkey with user verification must not leave one behind (issue 9, 3).
        insert_session(&store, &session("sess_4", "user_a", "h4")).await;
        store
            .record_factors(
                "sess_4",
                times(Some(1500), Some(1500), Some(1500)),
                "hwk user mfa",
            )
            .await
            .unwrap();
        let s = store.session_by_id("sess_4").await.unwrap().unwrap();
        assert_eq!(
            (s.first_factor_at, s.second_factor_at, s.phr_at),
            (Some(1500), None, Some(1500))
        );
        // The passkey's time only moves forward, and a verification without one keeps it.
        store
            .record_factors(
                "sess_4",
                times(Some(1400), None, Some(1400)),
                "hwk user mfa",
            )
            .await
            .unwrap();
        store
            .record_factors("sess_4", times(Some(1600), None, None), "pwd hwk user mfa")
            .await
            .unwrap();
        let s = store.session_by_id("sess_4").await.unwrap().unwrap();
        assert_eq!((s.first_factor_at, s.phr_at), (Some(1600), Some(1500)));
        assert!(store.end_session("sess_4", 1100, "sign_out").await.unwrap());

        assert!(store.end_session("sess_2", 1100, "sign_out").await.unwrap());
        assert!(
            !store.end_session("sess_2", 1200, "revoked").await.unwrap(),
            "ends once"
        );
        let ended = store.session_by_id("sess_2").await.unwrap().unwrap();
        assert_eq!(
            (ended.ended_at, ended.end_reason.as_deref()),
            (Some(1100), Some("sign_out"))
        );
        assert!(!ended.is_active(1101, 3600));
        let open: Vec<String> = store
            .open_sessions_of("user_a")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(open, ["sess_1"]);
    })
    .await;
}

#[tokio::test]
async fn signing_keys_rotate_with_overlap() {
    each_backend(|store| async move {
        let key = |kid: &str, from: i64| StoredKey {
            kid: kid.into(),
            alg: "EdDSA".into(),
            private_key: "p".into(),
            public_key: "x".into(),
            created_at: from,
            signs_from: from,
            signs_until: None,
            published_until: None,
            purpose: "session".into(),
        };
        assert!(store.insert_first_key(&key("k1", 100)).await.unwrap());
        assert!(
            !store.insert_first_key(&key("k0", 100)).await.unwrap(),
            "only one first key"
        );
        store
            .rotate_in_key(&key("k2", 700), 700 + 120)
            .await
            .unwrap();
        let keys = store.published_keys(650).await.unwrap();
        assert_eq!(
            keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            ["k1", "k2"],
            "published ahead"
        );
        assert_eq!(keys[0].signs_until, Some(700));
        assert_eq!(
            store.published_keys(820).await.unwrap().len(),
            1,
            "old key gone after its tokens"
        );
    })
    .await;
}

/// `keys revoke`: the key stops signing and leaves the JWKS now; a replacement signs at
/// once when the revoked key was signing or due to; a retired key needs none.
#[tokio::test]
async fn revoking_a_key_unpublishes_it_and_hands_signing_to_a_new_one() {
    each_backend(|store| async move {
        let key = |kid: &str, from: i64| StoredKey {
            kid: kid.into(),
            alg: "EdDSA".into(),
            private_key: "p".into(),
            public_key: "x".into(),
            created_at: from,
            signs_from: from,
            signs_until: None,
            published_until: None,
            purpose: "session".into(),
        };
        let kids = |keys: Vec<StoredKey>| keys.into_iter().map(|k| k.kid).collect::<Vec<_>>();
        store.insert_first_key(&key("k1", 100)).await.unwrap();
        assert_eq!(
            store
                .revoke_key("nope", 200, &key("r0", 200), 320)
                .await
                .unwrap(),
            None
        );
        // The signing key: out of the JWKS now, and a replacement signs from now.
        assert_eq!(
            store
                .revoke_key("k1", 200, &key("r1", 200), 320)
                .await
                .unwrap(),
            Some(true)
        );
        let keys = store.published_keys(200).await.unwrap();
        assert_eq!(kids(keys.clone()), ["r1"]);
        assert_eq!((keys[0].signs_from, keys[0].signs_until), (200, None));

        // A rotation is pending (k2 signs from 800); revoking the pending key hands signing
        // to a replacement at once, and r1 stops now but stays published for its tokens.
        store
            .rotate_in_key(&key("k2", 800), 800 + 120)
            .await
            .unwrap();
        assert_eq!(
            store
                .revoke_key("k2", 300, &key("r2", 300), 420)
                .await
                .unwrap(),
            Some(true)
        );
        let keys = store.published_keys(300).await.unwrap();
        assert_eq!(kids(keys.clone()), ["r1", "r2"]);
        assert_eq!(keys[0].signs_until, Some(300));
        assert_eq!(keys[1].signs_until, None);
        assert_eq!(kids(store.published_keys(420).await.unwrap()), ["r2"]);

        // A retired key that is still published: it only leaves the JWKS.
        assert_eq!(
            store
                .revoke_key("r1", 310, &key("r3", 310), 430)
                .await
                .unwrap(),
            Some(false)
        );
        assert_eq!(kids(store.published_keys(310).await.unwrap()), ["r2"]);
        // Revoking twice changes nothing and never republishes.
        assert_eq!(
            store
                .revoke_key("r1", 500, &key("r4", 500), 620)
                .await
                .unwrap(),
            Some(false)
        );
        assert_eq!(kids(store.published_keys(310).await.unwrap()), ["r2"]);
    })
    .await;
}

#[tokio::test]
async fn flows_count_attempts_and_complete_once() {
    each_backend(|store| async move {
        let flow = Flow {
            id: "flow_1".into(),
            kind: FlowKind::SignUp.as_str().into(),
            email: "a@example.com".into(),
            user_id: None,
            password_hash: Some("h".into()),
            code_hash: Some("c".into()),
            attempts: 0,
            created_at: 10,
            expires_at: 610,
            completed_at: None,
            stage: None,
            amr: None,
        };
        store.insert_flow(&flow).await.unwrap();
        assert_eq!(store.count_flow_attempt("flow_1").await.unwrap(), 1);
        assert_eq!(store.count_flow_attempt("flow_1").await.unwrap(), 2);
        assert!(store.try_complete_flow("flow_1", 20).await.unwrap());
        assert!(
            !store.try_complete_flow("flow_1", 21).await.unwrap(),
            "a flow completes once"
        );
        assert!(!store.try_complete_flow("flow_none", 21).await.unwrap());
        let f = store.flow_by_id("flow_1").await.unwrap().unwrap();
        assert_eq!((f.attempts, f.completed_at), (2, Some(20)));
    })
    .await;
}

#[tokio::test]
async fn the_dev_outbox_lists_newest_first() {
    each_backend(|store| async move {
        for (i, to) in ["a@x.test", "b@x.test", "a@x.test"].iter().enumerate() {
            store
                .push_outbox(&OutboxMessage {
                    id: format!("m{i}"),
                    recipient: to.to_string(),
                    subject: "s".into(),
                    body: "b".into(),
                    code: Some(format!("00000{i}")),
                    created_at: i as i64,
                })
                .await
                .unwrap();
        }
        let a: Vec<String> = store
            .outbox(Some("a@x.test"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(a, ["m2", "m0"]);
        assert_eq!(store.outbox(None, 2).await.unwrap().len(), 2);
    })
    .await;
}

/// Session invalidation has one owner: every statement that changes the `sessions` table
/// lives in `store/sessions.rs`, where it can only run in a `SessionWrite`, whose commit
/// evicts the change on this instance and announces it to the others. A write anywhere
/// else could change a session and leave other instances serving their cached copy (as
/// `reverify users delete` once did).
#[test]
fn only_the_session_owner_writes_to_the_sessions_table() {
    fn visit(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let owner = src.join("store").join("sessions.rs");
    let mut files = Vec::new();
    visit(&src, &mut files);
    assert!(files.contains(&owner));
    for file in files.iter().filter(|f| **f != owner) {
        let code = std::fs::read_to_string(file)
            .unwrap()
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for write in ["update sessions", "delete from sessions", "into sessions"] {
            assert!(
                !code.contains(write),
                "{} writes to sessions (`{write}`): go through store/sessions.rs",
                file.display()
            );
        }
    }
}
