//! The OpenID Connect provider: clients (store, configuration, admin API, CLI), its
//! signing key, discovery.

use reqwest::Method;
use reverify_server::config::{Config, OidcClientConfig};
use reverify_server::oidc::clients::{self, ClientInput, ClientPatch, RegisterError};
use reverify_server::store::{OidcClientRow, StoreError};
use serde_json::{Value, json};

use crate::support::{TestDb, TestServer, http_client};

pub(crate) const KEY: &str = "oidc-test-admin-key-0123456789-abcdefghij";
pub(crate) const SECRET: &str = "config-client-secret-0123456789-ABCDEFGH";

pub(crate) fn config_client(id: &str, secret: &str) -> OidcClientConfig {
    OidcClientConfig {
        client_id: id.into(),
        name: String::new(),
        client_secret: secret.into(),
        token_endpoint_auth_method: String::new(),
        redirect_uris: vec!["https://rp.example.com/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        scopes: Vec::new(),
        first_party: false,
        id_token_signed_response_alg: String::new(),
        resources: Vec::new(),
    }
}

fn input(uris: &[&str]) -> ClientInput {
    ClientInput {
        redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
        ..ClientInput::default()
    }
}

#[tokio::test]
async fn clients_are_stored_and_only_their_source_changes_them() {
    for db in TestDb::all().await {
        let store = db.store.clone();
        // Registered through the admin door: a generated id and a secret shown once.
        let (client, secret) = clients::register(&store, input(&["https://a.example/cb"]), 100)
            .await
            .unwrap();
        let secret = secret.expect("a confidential client gets a secret");
        assert!(client.id().starts_with("oidc_"));
        let row = store.oidc_client(client.id()).await.unwrap().unwrap();
        assert_ne!(row.secret_hash.as_deref(), Some(secret.as_str()), "hashed");
        let stored = clients::Client::from_row(row);
        assert!(stored.secret_matches(&secret));
        assert!(!stored.secret_matches(&format!("{secret}x")));
        assert!(!stored.secret_matches(""));
        assert_eq!(stored.auth_method().as_str(), "client_secret_basic");
        assert_eq!(stored.scopes, ["openid", "email", "offline_access"]);

        // A public client: no secret at all.
        let (public, none) = clients::register(
            &store,
            ClientInput {
                client_id: Some("spa".into()),
                token_endpoint_auth_method: Some("none".into()),
                ..input(&["http://127.0.0.1:5173/cb"])
            },
            100,
        )
        .await
        .unwrap();
        assert!(none.is_none() && public.is_public());
        assert!(!public.secret_matches(""));
        assert!(matches!(
            clients::register(
                &store,
                ClientInput {
                    client_id: Some("spa".into()),
                    ..input(&["https://x.example/cb"])
                },
                100
            )
            .await,
            Err(RegisterError::Taken)
        ));

        // The configuration's clients: synchronised, rewritten, removed when unlisted.
        let spec = |c: &OidcClientConfig| {
            clients::ClientSpec::from_config(c).unwrap().to_row(
                Some(&c.client_secret),
                "config",
                200,
            )
        };
        let from_file = config_client("grafana", SECRET);
        store
            .sync_config_oidc_clients(&[spec(&from_file)])
            .await
            .unwrap();
        let mut changed = from_file.clone();
        changed.redirect_uris = vec!["https://rp.example.com/other".into()];
        store
            .sync_config_oidc_clients(&[spec(&changed)])
            .await
            .unwrap();
        let grafana =
            clients::Client::from_row(store.oidc_client("grafana").await.unwrap().unwrap());
        assert_eq!(grafana.redirect_uris, ["https://rp.example.com/other"]);
        assert!(grafana.secret_matches(SECRET));
        // Not through the admin door.
        assert!(matches!(
            clients::remove(&store, "grafana").await,
            Err(RegisterError::FromConfig)
        ));
        assert!(matches!(
            clients::update(&store, "grafana", ClientPatch::default(), 300).await,
            Err(RegisterError::FromConfig)
        ));
        // A file client may not take an admin client's id: nothing changes.
        let clash = spec(&config_client("spa", SECRET));
        assert!(matches!(
            store.sync_config_oidc_clients(&[clash]).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            store
                .oidc_client("spa")
                .await
                .unwrap()
                .unwrap()
                .secret_hash
                .is_none()
        );
        store.sync_config_oidc_clients(&[]).await.unwrap();
        assert!(
            store.oidc_client("grafana").await.unwrap().is_none(),
            "unlisted: gone"
        );
        let ids: Vec<String> = store
            .oidc_clients()
            .await
            .unwrap()
            .into_iter()
            .map(|c: OidcClientRow| c.client_id)
            .collect();
        assert_eq!(ids.len(), 2, "the admin clients stay: {ids:?}");

        // Secret rotation: the old secret stops working at once.
        let (rotated, new_secret) = clients::update(
            &store,
            client.id(),
            ClientPatch {
                rotate_secret: true,
                ..ClientPatch::default()
            },
            400,
        )
        .await
        .unwrap();
        let new_secret = new_secret.unwrap();
        assert!(rotated.secret_matches(&new_secret) && !rotated.secret_matches(&secret));
        assert_eq!(rotated.row.created_at, 100);
        assert_eq!(rotated.row.updated_at, 400);
        // Public and confidential do not swap.
        assert!(matches!(
            clients::update(
                &store,
                "spa",
                ClientPatch {
                    token_endpoint_auth_method: Some("client_secret_post".into()),
                    ..ClientPatch::default()
                },
                400
            )
            .await,
            Err(RegisterError::Invalid(_))
        ));
        clients::remove(&store, "spa").await.unwrap();
        assert!(matches!(
            clients::remove(&store, "spa").await,
            Err(RegisterError::NotFound)
        ));
        db.cleanup().await;
    }
}

#[test]
fn registrations_are_validated() {
    let bad = |i: ClientInput| {
        clients::ClientSpec::from_input(i, "id".into())
            .unwrap_err()
            .0
    };
    assert!(bad(input(&[])).contains("at least one redirect URI"));
    assert!(bad(input(&["http://rp.example.com/cb"])).contains("https"));
    assert!(bad(input(&["https://rp.example.com/cb#x"])).contains("fragment"));
    assert!(
        bad(ClientInput {
            scopes: Some(vec!["email".into()]),
            ..input(&["https://a.example/"])
        })
        .contains("openid")
    );
    assert!(
        bad(ClientInput {
            scopes: Some(vec!["openid".into(), "admin".into()]),
            ..input(&["https://a.example/"])
        })
        .contains("unknown scope")
    );
    assert!(
        bad(ClientInput {
            id_token_signed_response_alg: Some("none".into()),
            ..input(&["https://a.example/"])
        })
        .contains("not supported")
    );
    assert!(
        bad(ClientInput {
            id_token_signed_response_alg: Some("HS256".into()),
            ..input(&["https://a.example/"])
        })
        .contains("not supported")
    );
    assert!(
        bad(ClientInput {
            resources: vec!["https://api.example.com/#x".into()],
            ..input(&["https://a.example/"])
        })
        .contains("fragment")
    );
    assert!(
        bad(ClientInput {
            resources: vec!["api.example.com".into()],
            ..input(&["https://a.example/"])
        })
        .contains("absolute URI")
    );
    for ok in [
        "https://api.example.com",
        "https://api.example.com/v1?x=1",
        "urn:example:api",
        "http://localhost:8080/",
    ] {
        assert_eq!(clients::check_resource(ok), Ok(()), "{ok}");
    }
    for bad in [
        "/v1",
        "https://api.example.com/a b",
        "",
        "https://api.example.com/#",
    ] {
        assert!(clients::check_resource(bad).is_err(), "{bad}");
    }
    for alg in ["RS256", "EdDSA", "ES256"] {
        let spec = clients::ClientSpec::from_input(
            ClientInput {
                id_token_signed_response_alg: Some(alg.into()),
                ..input(&["https://a.example/"])
            },
            "id".into(),
        )
        .unwrap();
        assert_eq!(spec.id_token_alg, alg);
    }
    assert!(
        bad(ClientInput {
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            ..input(&["https://a.example/"])
        })
        .contains("token_endpoint_auth_method")
    );
    assert!(
        bad(ClientInput {
            client_id: Some("a/b".into()),
            ..input(&["https://a.example/"])
        })
        .contains("client_id")
    );

    // The configuration file: secrets must be strong, public clients have none.
    let load = |c: OidcClientConfig| {
        let mut config = Config::default();
        config.oidc.clients = vec![c];
        config.validate().map_err(|e| e.to_string())
    };
    assert!(load(config_client("ok", SECRET)).is_ok());
    assert!(load(config_client("public", "")).is_ok());
    assert!(
        load(config_client("weak", "hunter2"))
            .unwrap_err()
            .contains("too weak")
    );
    let mut mixed = config_client("mixed", SECRET);
    mixed.token_endpoint_auth_method = "none".into();
    assert!(load(mixed).unwrap_err().contains("public client"));
    let mut ed = config_client("ed", SECRET);
    ed.id_token_signed_response_alg = "EdDSA".into();
    ed.resources = vec!["https://api.example.com".into()];
    assert!(load(ed).is_ok());
    let mut hs = config_client("hs", SECRET);
    hs.id_token_signed_response_alg = "HS256".into();
    let err = load(hs).unwrap_err();
    assert!(
        err.contains("\"hs\"") && err.contains("id_token_signed_response_alg"),
        "{err}"
    );
    let mut frag = config_client("frag", SECRET);
    frag.resources = vec!["https://api.example.com/#x".into()];
    assert!(load(frag).unwrap_err().contains("fragment"));
    let mut twice = Config::default();
    twice.oidc.clients = vec![config_client("a", SECRET), config_client("a", SECRET)];
    assert!(twice.validate().unwrap_err().to_string().contains("twice"));
}

#[tokio::test]
async fn the_configuration_registers_its_clients_at_start() {
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = TestServer::start_with(db, |c| {
        c.database.url = url;
        c.oidc.clients = vec![config_client("grafana", SECRET), config_client("spa", "")];
    })
    .await;
    let grafana = server
        .state
        .store
        .oidc_client("grafana")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grafana.source, "config");
    assert_eq!(grafana.token_endpoint_auth_method, "client_secret_basic");
    let spa = server
        .state
        .store
        .oidc_client("spa")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (spa.token_endpoint_auth_method.as_str(), spa.secret_hash),
        ("none", None)
    );
    server.stop().await;
}

pub(crate) async fn admin(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http_client(false)
        .request(method, server.url(path))
        .bearer_auth(KEY);
    if let Some(body) = body {
        req = req.json(&body);
    }
    crate::support::status_json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn admins_manage_clients() {
    for db in TestDb::all().await {
        let url = db.url.clone();
        let server = TestServer::start_with(db, |c| {
            c.database.url = url;
            c.admin.secret_key = KEY.into();
            c.oidc.clients = vec![config_client("from-file", SECRET)];
        })
        .await;
        let path = "/v1/admin/oidc/clients";
        let (status, _) = crate::support::status_json(
            http_client(false)
                .get(server.url(path))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 401, "the admin key is needed");

        let (status, created) = admin(
            &server,
            Method::POST,
            path,
            Some(json!({
                "name": "Wiki",
                "redirect_uris": ["https://wiki.example.com/oidc/callback"],
                "first_party": true,
                "token_endpoint_auth_method": "client_secret_post",
            })),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let id = created["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 43);
        assert_eq!(created["client_type"], "confidential");
        assert_eq!(created["first_party"], true);
        assert_eq!(created["id_token_signed_response_alg"], "RS256");
        assert_eq!(created["source"], "admin");

        // The secret is never shown again, nor its hash.
        let (status, one) = admin(&server, Method::GET, &format!("{path}/{id}"), None).await;
        assert_eq!(status, 200);
        assert!(one.get("client_secret").is_none() && !one.to_string().contains(&secret));
        assert!(!one.to_string().contains("secret_hash"));
        let (_, list) = admin(&server, Method::GET, path, None).await;
        let ids: Vec<&str> = list["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&id.as_str()) && ids.contains(&"from-file"),
            "{ids:?}"
        );
        assert!(!list.to_string().contains(&secret));

        // Invalid registrations say what is wrong.
        for bad in [
            json!({"redirect_uris": []}),
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_signed_response_alg": "none"}),
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_signed_response_alg": "HS256"}),
            json!({"redirect_uris": ["https://a.example/cb"], "resources": ["not a uri"]}),
            json!({"redirect_uris": ["https://a.example/cb"], "unknown": 1}),
        ] {
            let (status, body) = admin(&server, Method::POST, path, Some(bad.clone())).await;
            assert!(status == 400 || status == 422, "{bad}: {status} {body}");
        }
        let (status, body) = admin(
            &server,
            Method::POST,
            path,
            Some(json!({"client_id": id, "redirect_uris": ["https://a.example/cb"]})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("client_id_taken"))
        );

        // PATCH changes what it names; the secret rotates on request.
        let (status, patched) = admin(
            &server,
            Method::PATCH,
            &format!("{path}/{id}"),
            Some(json!({"redirect_uris": ["https://wiki.example.com/cb2"]})),
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(
            patched["redirect_uris"],
            json!(["https://wiki.example.com/cb2"])
        );
        assert_eq!(patched["name"], "Wiki");
        assert!(patched.get("client_secret").is_none());
        // The ID token algorithm and the resource indicators: set, kept, refused when bad.
        let (status, patched) = admin(
            &server,
            Method::PATCH,
            &format!("{path}/{id}"),
            Some(json!({"id_token_signed_response_alg": "ES256", "resources": ["https://api.example.com"]})),
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["id_token_signed_response_alg"], "ES256");
        assert_eq!(patched["resources"], json!(["https://api.example.com"]));
        for bad in [
            json!({"id_token_signed_response_alg": "HS256"}),
            json!({"id_token_signed_response_alg": "es256"}),
            json!({"resources": ["https://api.example.com#frag"]}),
        ] {
            let (status, body) = admin(
                &server,
                Method::PATCH,
                &format!("{path}/{id}"),
                Some(bad.clone()),
            )
            .await;
            assert_eq!(status, 400, "{bad}: {body}");
            assert!(body["code"].is_string(), "{body}");
        }
        let (_, kept) = admin(&server, Method::GET, &format!("{path}/{id}"), None).await;
        assert_eq!(kept["id_token_signed_response_alg"], "ES256");
        assert_eq!(kept["resources"], json!(["https://api.example.com"]));
        let (_, rotated) = admin(
            &server,
            Method::PATCH,
            &format!("{path}/{id}"),
            Some(json!({"rotate_secret": true})),
        )
        .await;
        let new_secret = rotated["client_secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);
        let stored =
            clients::Client::from_row(server.state.store.oidc_client(&id).await.unwrap().unwrap());
        assert!(stored.secret_matches(new_secret) && !stored.secret_matches(&secret));

        // The file's clients are changed in the file.
        let (status, body) =
            admin(&server, Method::DELETE, &format!("{path}/from-file"), None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("client_from_config"))
        );
        let (status, _) = admin(&server, Method::DELETE, &format!("{path}/{id}"), None).await;
        assert_eq!(status, 200);
        let (status, _) = admin(&server, Method::GET, &format!("{path}/{id}"), None).await;
        assert_eq!(status, 404);

        // Audited.
        let events = server
            .state
            .store
            .audit_events(&reverify_server::store::AuditFilter {
                user_id: None,
                session_id: None,
                kind: Some("oidc_client.".into()),
                before: None,
                limit: 10,
            })
            .await
            .unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "oidc_client.deleted",
                "oidc_client.secret_rotated",
                "oidc_client.updated",
                "oidc_client.updated",
                "oidc_client.created"
            ]
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn clients_from_the_command_line() {
    let db = TestDb::sqlite().await;
    db.store.close().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reverify"))
            .args(args)
            .env("REVERIFY_DATABASE_URL", &db.url)
            .env("REVERIFY_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let added = run(&[
        "oidc",
        "clients",
        "add",
        "--name",
        "Wiki",
        "--redirect-uri",
        "https://wiki.example.com/cb",
        "--first-party",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let text = out(&added);
    let mut lines = text.lines();
    let id = lines.next().unwrap().to_owned();
    let secret = lines.next().expect("the secret, once");
    assert!(id.starts_with("oidc_") && secret.len() == 43);
    let public = run(&[
        "oidc",
        "clients",
        "add",
        "--client-id",
        "cli-spa",
        "--public",
        "--redirect-uri",
        "http://localhost:3000/cb",
    ]);
    assert_eq!(out(&public), "cli-spa", "no secret for a public client");
    let ed = run(&[
        "oidc",
        "clients",
        "add",
        "--client-id",
        "cli-ed",
        "--id-token-alg",
        "EdDSA",
        "--resource",
        "https://api.example.com",
        "--redirect-uri",
        "https://ed.example.com/cb",
    ]);
    assert!(
        ed.status.success(),
        "{}",
        String::from_utf8_lossy(&ed.stderr)
    );
    let bad_alg = run(&[
        "oidc",
        "clients",
        "add",
        "--id-token-alg",
        "HS256",
        "--redirect-uri",
        "https://ed.example.com/cb",
    ]);
    assert!(!bad_alg.status.success());
    assert!(
        String::from_utf8_lossy(&bad_alg.stderr).contains("id_token_signed_response_alg"),
        "{}",
        String::from_utf8_lossy(&bad_alg.stderr)
    );
    let refused = run(&[
        "oidc",
        "clients",
        "add",
        "--redirect-uri",
        "http://wiki.example.com/cb",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("https"));
    let listed = out(&run(&["oidc", "clients", "list"]));
    assert!(
        listed.contains(&format!(
            "{id}\tconfidential\tadmin\tWiki\thttps://wiki.example.com/cb"
        )),
        "{listed}"
    );
    assert!(listed.contains("cli-spa\tpublic\tadmin"), "{listed}");
    assert!(!listed.contains(secret));
    assert!(
        run(&["oidc", "clients", "remove", "cli-spa"])
            .status
            .success()
    );
    assert!(
        !run(&["oidc", "clients", "remove", "cli-spa"])
            .status
            .success()
    );
    assert!(!out(&run(&["oidc", "clients", "list"])).contains("cli-spa"));
    db.cleanup().await;
}

fn header_of(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// With the provider on, an RS256 key of its own signs its tokens and is in the JWKS; the
/// session key (EdDSA here) keeps signing session tokens; each rotates and is revoked on
/// its own.
#[tokio::test]
async fn the_provider_has_an_rs256_key_of_its_own() {
    use reverify_server::keys::KeyPurpose;
    for db in TestDb::all().await {
        let url = db.url.clone();
        let server = TestServer::start_with(db, |c| {
            c.database.url = url;
            c.oidc.enabled = true;
        })
        .await;
        let keys = &server.state.keys;
        let now = server.state.now();
        let published = keys.published(now).await.unwrap();
        let purposes: Vec<(&str, &str)> = published
            .iter()
            .map(|k| (k.purpose.as_str(), k.alg.as_str()))
            .collect();
        assert_eq!(purposes.len(), 4, "{purposes:?}");
        assert!(purposes.contains(&("session", "EdDSA")) && purposes.contains(&("oidc", "RS256")));
        assert!(
            purposes.contains(&("oidc_eddsa", "EdDSA"))
                && purposes.contains(&("oidc_es256", "ES256")),
            "one provider key per ID token algorithm: {purposes:?}"
        );
        let oidc_kid = published
            .iter()
            .find(|k| k.purpose == "oidc")
            .unwrap()
            .kid
            .clone();
        let session_kid = published
            .iter()
            .find(|k| k.purpose == "session")
            .unwrap()
            .kid
            .clone();

        let (_, jwks) = server.get(&server.client(), "/.well-known/jwks.json").await;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(kids.contains(&oidc_kid.as_str()) && kids.contains(&session_kid.as_str()));
        let rsa = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == oidc_kid.as_str())
            .unwrap();
        assert_eq!(rsa["kty"], "RSA");

        let claims = json!({"sub": "user_x"});
        let session_token = keys.sign(&claims, now).await.unwrap();
        assert_eq!(header_of(&session_token)["kid"], session_kid.as_str());
        assert_eq!(header_of(&session_token)["alg"], "EdDSA");
        let id_token = keys
            .sign_as(KeyPurpose::Oidc, "JWT", &claims, now)
            .await
            .unwrap();
        assert_eq!(header_of(&id_token)["kid"], oidc_kid.as_str());
        assert_eq!(header_of(&id_token)["alg"], "RS256");
        let access = keys
            .sign_as(KeyPurpose::Oidc, "at+jwt", &claims, now)
            .await
            .unwrap();
        assert_eq!(header_of(&access)["typ"], "at+jwt");
        // The RS256 signature verifies against the published key.
        let jwk: reverify::Jwk = serde_json::from_value(rsa.clone()).unwrap();
        assert!(verify_rs256(&id_token, &jwk), "RS256 signature verifies");

        // Rotating the provider's key leaves the session key signing, and the reverse.
        let new_oidc = keys
            .rotate_purpose(KeyPurpose::Oidc, now, 0, 300)
            .await
            .unwrap();
        let after = keys
            .sign_as(KeyPurpose::Oidc, "JWT", &claims, now)
            .await
            .unwrap();
        assert_eq!(header_of(&after)["kid"], new_oidc.as_str());
        let session_after = keys.sign(&claims, now).await.unwrap();
        assert_eq!(
            header_of(&session_after)["kid"],
            session_kid.as_str(),
            "session key untouched"
        );
        let published = keys.published(now).await.unwrap();
        assert!(
            published.iter().any(|k| k.kid == oidc_kid),
            "the old provider key stays published for its tokens"
        );

        // Revoking the provider's key: an RS256 provider key replaces it; the session key stays.
        let revoked = keys.revoke(&new_oidc, now, 60).await.unwrap().unwrap();
        let replacement = revoked.replaced_by.unwrap();
        let published = keys.published(now).await.unwrap();
        let r = published.iter().find(|k| k.kid == replacement).unwrap();
        assert_eq!((r.purpose.as_str(), r.alg.as_str()), ("oidc", "RS256"));
        assert!(!published.iter().any(|k| k.kid == new_oidc));
        assert_eq!(
            header_of(&keys.sign(&claims, now).await.unwrap())["kid"],
            session_kid.as_str()
        );

        // A second instance starting on the same database creates no second first key.
        let second = server.second_instance().await;
        let oidc_keys = second
            .state
            .keys
            .published(now)
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.purpose == "oidc" && k.signs_until.is_none())
            .count();
        assert_eq!(oidc_keys, 1);
        server.stop().await;
    }
}

fn verify_rs256(jwt: &str, jwk: &reverify::Jwk) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let v = serde_json::to_value(jwk).unwrap();
    let n = b64.decode(v["n"].as_str().unwrap()).unwrap();
    let e = b64.decode(v["e"].as_str().unwrap()).unwrap();
    ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &b64.decode(sig).unwrap(),
        )
        .is_ok()
}

#[tokio::test]
async fn without_the_provider_there_is_no_provider_key_and_no_discovery() {
    let server = TestServer::start().await;
    let published = server
        .state
        .keys
        .published(server.state.now())
        .await
        .unwrap();
    assert!(published.iter().all(|k| k.purpose == "session"));
    let (status, _) = server
        .get(&server.client(), "/.well-known/openid-configuration")
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn discovery_describes_the_provider() {
    let server = TestServer::start_with(TestDb::sqlite().await, |c| c.oidc.enabled = true).await;
    let r = http_client(false)
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let (status, meta) = crate::support::status_json(r).await;
    assert_eq!(status, 200);
    let issuer = server.base.clone();
    assert_eq!(meta["issuer"], issuer.as_str());
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{issuer}/oauth/authorize")
    );
    assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(meta["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(
        meta["end_session_endpoint"],
        format!("{issuer}/oauth/logout")
    );
    assert_eq!(
        meta["revocation_endpoint"],
        format!("{issuer}/oauth/revoke")
    );
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{issuer}/oauth/introspect")
    );
    let acr: Vec<&str> = reverify::acr::Acr::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(meta["acr_values_supported"], json!(acr));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(meta["subject_types_supported"], json!(["public"]));
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA", "ES256"])
    );
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        meta["prompt_values_supported"],
        json!(["none", "login", "consent"])
    );
    assert_eq!(meta["claims_parameter_supported"], true);
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    server.stop().await;
}

// ---- The flows over HTTP ----------------------------------------------------------------

/// `application/x-www-form-urlencoded` bodies (reqwest is built without its `form` feature).
pub(crate) trait FormBody {
    fn form_body<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            body.append_pair(k.as_ref(), v.as_ref());
        }
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish())
    }
}

pub(crate) const RP: &str = "https://rp.example.com/cb";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9W3yJgHHzHYTmK5X9bo1b0Ymk";
pub(crate) const CHALLENGE: &str = "VOiiDEFT1amT2FN2MBTqoy1_dTL3OWswVuCv3x3keC8";
/// Resource indicators `app` registered (RFC 8707).
const API: &str = "https://api.example.com";
const REPORTS: &str = "urn:example:reports";

pub(crate) fn rp_clients() -> Vec<OidcClientConfig> {
    let mut app = config_client("app", SECRET);
    app.first_party = true;
    app.post_logout_redirect_uris = vec!["https://rp.example.com/bye".into()];
    let mut post = config_client("post-app", SECRET);
    post.first_party = true;
    post.token_endpoint_auth_method = "client_secret_post".into();
    let mut spa = config_client("spa", "");
    spa.first_party = true;
    spa.redirect_uris = vec!["http://127.0.0.1:5173/cb".into()];
    let third = config_client("third-party", SECRET);
    app.resources = vec![API.into(), REPORTS.into()];
    let mut ed = config_client("ed-app", SECRET);
    ed.first_party = true;
    ed.id_token_signed_response_alg = "EdDSA".into();
    let mut es = config_client("es-app", SECRET);
    es.first_party = true;
    es.id_token_signed_response_alg = "ES256".into();
    vec![app, post, spa, third, ed, es]
}

pub(crate) async fn provider(db: TestDb) -> TestServer {
    let url = db.url.clone();
    TestServer::start_with(db, |c| {
        c.database.url = url;
        c.oidc.enabled = true;
        c.oidc.clients = rp_clients();
    })
    .await
}

/// A browser: cookies, and redirects not followed (the test reads them).
pub(crate) fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn signed_in_browser(server: &TestServer, email: &str) -> reqwest::Client {
    let b = browser();
    let (status, flow) = server
        .post(
            &b,
            "/v1/sign_ups",
            json!({"email": email, "password": crate::steps::PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{flow}");
    let code = server.code_for(email).await;
    let id = flow["id"].as_str().unwrap();
    let (status, done) = server
        .post(
            &b,
            &format!("/v1/sign_ups/{id}/attempt"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    b
}

pub(crate) fn authorize_url(server: &TestServer, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&server.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

pub(crate) fn app_request<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("client_id", "app"),
        ("redirect_uri", RP),
        ("response_type", "code"),
        ("scope", "openid email offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k, v));
    }
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The redirect's query parameters (panics when the answer is not a redirect).
pub(crate) fn location_params(r: &reqwest::Response) -> std::collections::HashMap<String, String> {
    assert_eq!(r.status().as_u16(), 302, "not a redirect");
    let location = r.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

pub(crate) async fn authorize(
    server: &TestServer,
    b: &reqwest::Client,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    b.get(authorize_url(server, pairs)).send().await.unwrap()
}

pub(crate) async fn code_for(
    server: &TestServer,
    b: &reqwest::Client,
    pairs: &[(&str, &str)],
) -> String {
    let r = authorize(server, b, pairs).await;
    let p = location_params(&r);
    assert!(
        r.headers()["location"].to_str().unwrap().starts_with(RP)
            || pairs.iter().any(|(k, _)| *k == "redirect_uri")
    );
    p.get("code")
        .unwrap_or_else(|| panic!("no code: {p:?}"))
        .clone()
}

pub(crate) async fn token(
    server: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = http_client(false)
        .post(server.url("/oauth/token"))
        .form_body(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let headers = r.headers().clone();
    let (status, body) = crate::support::status_json(r).await;
    (status, headers, body)
}

pub(crate) async fn exchange(server: &TestServer, code: &str) -> (u16, Value) {
    exchange_as(server, "app", code, &[]).await
}

pub(crate) fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn verify_with_jwks(server: &TestServer, jwt: &str) -> bool {
    let (_, jwks) = server
        .get(&http_client(false), "/.well-known/jwks.json")
        .await;
    let kid = header_of(jwt)["kid"].as_str().unwrap().to_owned();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();
    verify_rs256(jwt, &serde_json::from_value(jwk).unwrap())
}

async fn introspect(server: &TestServer, token: &str) -> Value {
    let r = http_client(false)
        .post(server.url("/oauth/introspect"))
        .basic_auth("app", Some(SECRET))
        .form_body(&[("token", token)])
        .send()
        .await
        .unwrap();
    crate::support::status_json(r).await.1
}

#[tokio::test]
async fn code_flow_with_pkce_userinfo_introspection_refresh_and_logout() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "olga@example.com").await;
        let r = authorize(&server, &b, &app_request(&[])).await;
        let p = location_params(&r);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with(&format!("{RP}?"))
        );
        assert_eq!(p["state"], "st-1");
        assert_eq!(p["iss"], server.base.as_str(), "RFC 9207");
        let code = p["code"].clone();

        let (status, headers, tokens) = token(
            &server,
            Some(("app", SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", RP),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(tokens["token_type"], "Bearer");
        let id_token = tokens["id_token"].as_str().unwrap();
        assert!(verify_with_jwks(&server, id_token).await);
        assert_eq!(header_of(id_token)["alg"], "RS256");
        let id = claims_of(id_token);
        let now = server.state.now();
        assert_eq!(id["iss"], server.base.as_str());
        assert_eq!(id["aud"], "app");
        assert_eq!(id["azp"], "app");
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["acr"], "urn:reverify:acr:1fa");
        assert_eq!(id["amr"], json!(["pwd", "email"]));
        assert_eq!(id["email"], "olga@example.com");
        assert!(id["sid"].as_str().unwrap().starts_with("sess_"));
        let auth_time = id["auth_time"].as_i64().unwrap();
        assert!(auth_time <= now && auth_time > now - 60);
        assert_eq!(id["exp"].as_i64().unwrap(), now + 300);

        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(header_of(access)["typ"], "at+jwt");
        assert!(verify_with_jwks(&server, access).await);
        let at = claims_of(access);
        assert_eq!(
            (at["client_id"].as_str(), at["aud"].as_str()),
            (Some("app"), Some("app"))
        );
        assert_eq!(at["scope"], "openid email offline_access");
        assert_eq!(at["auth_time"], auth_time);
        assert_eq!(at["acr"], "urn:reverify:acr:1fa");
        assert!(at["jti"].is_string());
        assert_eq!(at["sub"], id["sub"]);

        // userinfo
        let r = http_client(false)
            .get(server.url("/oauth/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        let (status, info) = crate::support::status_json(r).await;
        assert_eq!(status, 200);
        assert_eq!(
            (info["sub"].clone(), info["email"].clone()),
            (id["sub"].clone(), json!("olga@example.com"))
        );
        let r = http_client(false)
            .get(server.url("/oauth/userinfo"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );

        // introspection
        let info = introspect(&server, access).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["acr"], "urn:reverify:acr:1fa");
        assert_eq!(info["auth_time"], auth_time);
        assert_eq!(info["amr"], json!(["pwd", "email"]));
        assert_eq!(info["client_id"], "app");
        assert_eq!(
            introspect(&server, "garbage").await,
            json!({"active": false})
        );

        // refresh: rotated, auth_time / acr / amr unchanged, even later.
        server.clock.advance(std::time::Duration::from_secs(120));
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (status, _, refreshed) = token(
            &server,
            Some(("app", SECRET)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(status, 200, "{refreshed}");
        let new_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(new_refresh, refresh);
        let id2 = claims_of(refreshed["id_token"].as_str().unwrap());
        assert_eq!(
            id2["auth_time"], auth_time,
            "a refresh never advances auth_time"
        );
        assert_eq!(id2["acr"], id["acr"]);
        assert_eq!(id2["amr"], id["amr"]);
        let at2 = claims_of(refreshed["access_token"].as_str().unwrap());
        assert_eq!(at2["auth_time"], auth_time);
        // The rotated-out token, presented again: reuse — the whole grant is revoked.
        let (status, _, reused) = token(
            &server,
            Some(("app", SECRET)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(
            (status, reused["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _, _) = token(
            &server,
            Some(("app", SECRET)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &new_refresh),
            ],
        )
        .await;
        assert_eq!(status, 400, "the family is revoked");
        assert_eq!(
            introspect(&server, refreshed["access_token"].as_str().unwrap()).await["active"],
            false
        );

        // Revocation (RFC 7009) of a fresh grant's refresh token.
        let code = code_for(&server, &b, &app_request(&[])).await;
        let (_, fresh) = exchange(&server, &code).await;
        let r = http_client(false)
            .post(server.url("/oauth/revoke"))
            .basic_auth("app", Some(SECRET))
            .form_body(&[("token", fresh["refresh_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            introspect(&server, fresh["access_token"].as_str().unwrap()).await["active"],
            false
        );
        let r = http_client(false)
            .post(server.url("/oauth/revoke"))
            .basic_auth("app", Some(SECRET))
            .form_body(&[("token", "unknown")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "unknown tokens too");

        // RP-initiated logout: the session ends, the browser goes back with its state.
        let code = code_for(&server, &b, &app_request(&[])).await;
        let (_, last) = exchange(&server, &code).await;
        let hint = last["id_token"].as_str().unwrap();
        let mut url = url::Url::parse(&server.url("/oauth/logout")).unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", "https://rp.example.com/bye")
            .append_pair("state", "bye-1");
        let mut evil = url.clone();
        evil.query_pairs_mut()
            .clear()
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", "https://evil.example/bye");
        let r = b.get(evil.to_string()).send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            400,
            "an unregistered post-logout URI is refused"
        );
        assert!(r.headers().get("location").is_none());
        let r = b.get(url.to_string()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 302);
        assert_eq!(
            r.headers()["location"],
            "https://rp.example.com/bye?state=bye-1"
        );
        let r = authorize(&server, &b, &app_request(&[("prompt", "none")])).await;
        assert_eq!(location_params(&r)["error"], "login_required", "signed out");
        let (status, _, _) = token(
            &server,
            Some(("app", SECRET)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", last["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(status, 400, "the grant ends with the session");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued_and_codes_expire() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "rui@example.com").await;
    let code = code_for(&server, &b, &app_request(&[])).await;
    let (status, first) = exchange(&server, &code).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(introspect(&server, access).await["active"], true);
    let (status, second) = exchange(&server, &code).await;
    assert_eq!(
        (status, second["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        second["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(
        introspect(&server, access).await["active"],
        false,
        "the first exchange's tokens are revoked"
    );
    let (status, _, _) = token(
        &server,
        Some(("app", SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400);

    // 60 s to exchange a code.
    let code = code_for(&server, &b, &app_request(&[])).await;
    server.clock.advance(std::time::Duration::from_secs(61));
    let (status, late) = exchange(&server, &code).await;
    assert_eq!(
        (status, late["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Another client cannot use (or burn) a code.
    let code = code_for(&server, &b, &app_request(&[])).await;
    let (status, _, body) = token(
        &server,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "post-app"),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", RP),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = exchange(&server, &code).await;
    assert_eq!(status, 200, "still usable by its own client");
    server.stop().await;
}

#[tokio::test]
async fn pkce_is_s256_checked_and_mandatory_for_public_clients() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "pia@example.com").await;
    // Missing and wrong verifiers.
    for verifier in [
        "",
        "wrong-verifier-wrong-verifier-wrong-verifier-xx",
        CHALLENGE,
    ] {
        let code = code_for(&server, &b, &app_request(&[])).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", RP),
        ];
        if !verifier.is_empty() {
            form.push(("code_verifier", verifier));
        }
        let (status, _, body) = token(&server, Some(("app", SECRET)), &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{verifier:?}"
        );
    }
    // A verifier for a request that had no challenge: a downgrade, refused.
    let code = code_for(
        &server,
        &b,
        &app_request(&[("code_challenge", ""), ("code_challenge_method", "")]),
    )
    .await;
    let (status, _, _) = token(
        &server,
        Some(("app", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", RP),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 400);
    // plain is refused at the authorization endpoint, with the client's state.
    let r = authorize(
        &server,
        &b,
        &app_request(&[
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ]),
    )
    .await;
    let p = location_params(&r);
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str()),
        ("invalid_request", "st-1")
    );
    let r = authorize(&server, &b, &app_request(&[("code_challenge_method", "")])).await;
    assert_eq!(
        location_params(&r)["error"],
        "invalid_request",
        "a challenge without its method (plain by default)"
    );
    // A public client without PKCE.
    let spa = [
        ("client_id", "spa"),
        ("redirect_uri", "http://127.0.0.1:5173/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s"),
    ];
    let r = authorize(&server, &b, &spa).await;
    let p = location_params(&r);
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("PKCE"));
    // With PKCE it works, authenticating with its client_id alone.
    let mut with_pkce = spa.to_vec();
    with_pkce.extend([
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let r = authorize(&server, &b, &with_pkce).await;
    let code = location_params(&r)["code"].clone();
    let (status, _, body) = token(
        &server,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:5173/cb"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access asked"
    );
    server.stop().await;
}

#[tokio::test]
async fn redirect_uris_match_exactly_and_bad_ones_are_never_redirected_to() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "ivo@example.com").await;
    for uri in [
        "https://rp.example.com/cb/more",
        "https://rp.example.com/c",
        "https://rp.example.com/cb/",
        "https://RP.example.com/cb",
        "HTTPS://rp.example.com/cb",
        "https://rp.example.com/cb#frag",
        "https://rp.example.com/cb?x=1",
        "https://rp.example.com:443/cb",
        "https://rp.example.com.evil.example/cb",
        "https://evil.example/cb",
        "https://rp.example.com/CB",
        "https://rp.example.com/cb%2F..%2Fevil",
        "",
    ] {
        let r = authorize(&server, &b, &app_request(&[("redirect_uri", uri)])).await;
        assert_eq!(r.status().as_u16(), 400, "{uri:?}");
        assert!(
            r.headers().get("location").is_none(),
            "{uri:?} was redirected to"
        );
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
    }
    // An unknown client: the same page.
    let r = authorize(&server, &b, &app_request(&[("client_id", "nobody")])).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
    // A repeated parameter: refused without redirect.
    let url = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
        authorize_url(&server, &app_request(&[]))
    );
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // Once the URI is trusted, errors go back to it.
    let r = authorize(&server, &b, &app_request(&[("scope", "email")])).await;
    assert_eq!(location_params(&r)["error"], "invalid_scope");
    let r = authorize(&server, &b, &app_request(&[("response_type", "token")])).await;
    assert_eq!(location_params(&r)["error"], "unsupported_response_type");
    // The token endpoint wants the same redirect_uri.
    let code = code_for(&server, &b, &app_request(&[])).await;
    let (status, _, body) = token(
        &server,
        Some(("app", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example.com/cb/"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    server.stop().await;
}

#[tokio::test]
async fn clients_authenticate_as_they_registered() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "eva@example.com").await;
    let code = code_for(&server, &b, &app_request(&[])).await;
    let grant = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", RP.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
        ]
    };
    let as_pairs = |v: &Vec<(&'static str, String)>| {
        v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    // Wrong secret over Basic: 401 with a Basic challenge.
    let r = http_client(false)
        .post(server.url("/oauth/token"))
        .basic_auth("app", Some("wrong"))
        .form_body(&as_pairs(&grant(&code)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // The right secret by the wrong method (post, for a basic client).
    let mut posted = grant(&code);
    posted.extend([
        ("client_id", "app".to_owned()),
        ("client_secret", SECRET.to_owned()),
    ]);
    let r = http_client(false)
        .post(server.url("/oauth/token"))
        .form_body(&as_pairs(&posted))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").is_none());
    // No secret at all for a confidential client; an unknown client.
    for id in ["app", "ghost"] {
        let mut none = grant(&code);
        none.push(("client_id", id.to_owned()));
        let r = http_client(false)
            .post(server.url("/oauth/token"))
            .form_body(&as_pairs(&none))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{id}");
    }
    // The code survived the failed attempts.
    let (status, _) = exchange(&server, &code).await;
    assert_eq!(status, 200);
    // Errors per RFC 6749 §5.2.
    let (status, _, body) = token(
        &server,
        Some(("app", SECRET)),
        &[("grant_type", "password")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, _, body) = token(&server, Some(("app", SECRET)), &[("code", "x")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = http_client(false)
        .post(server.url("/oauth/token"))
        .basic_auth("app", Some(SECRET))
        .json(&json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "JSON bodies are not the protocol");
    server.stop().await;
}

#[tokio::test]
async fn prompt_max_age_and_acr_decide_between_a_code_an_error_and_the_user() {
    let server = provider(TestDb::sqlite().await).await;
    let anonymous = browser();
    let r = authorize(&server, &anonymous, &app_request(&[("prompt", "none")])).await;
    let p = location_params(&r);
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str(), p["iss"].as_str()),
        ("login_required", "st-1", server.base.as_str())
    );
    // No session, interaction allowed: the request waits on the provider's page.
    let r = authorize(&server, &anonymous, &app_request(&[])).await;
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    let html = r.text().await.unwrap();
    assert!(html.contains("data-need=\"sign_in\""), "{html}");
    // The page's one inline style is allowed by its hash, and nothing else inline is.
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(style, _)| style)
        .expect("the page's style");
    use base64::Engine;
    let hash = base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, style.as_bytes()).as_ref());
    assert!(
        csp.contains(&format!("style-src 'self' 'sha256-{hash}';")),
        "{csp}"
    );
    assert_eq!(html.matches("<style").count(), 1);

    let b = signed_in_browser(&server, "max@example.com").await;
    // Fresh enough for max_age=60 now; not after two minutes.
    let code = code_for(&server, &b, &app_request(&[("max_age", "60")])).await;
    assert!(!code.is_empty());
    server.clock.advance(std::time::Duration::from_secs(120));
    let r = authorize(
        &server,
        &b,
        &app_request(&[("max_age", "60"), ("prompt", "none")]),
    )
    .await;
    assert_eq!(location_params(&r)["error"], "login_required");
    let r = authorize(&server, &b, &app_request(&[("max_age", "60")])).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-need=\"reverify\""), "{html}");
    // The waiting request continues once satisfied: max_age=600 is, right away.
    let r = authorize(&server, &b, &app_request(&[("max_age", "600")])).await;
    assert_eq!(r.status().as_u16(), 302);
    // prompt=login always waits for a new verification.
    let r = authorize(&server, &b, &app_request(&[("prompt", "login")])).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("data-need=\"reverify\""));
    let request_id = html
        .split("data-request=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = b
        .get(server.url(&format!("/oauth/authorize/continue?request={request_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "not verified since the request: still waiting"
    );
    // A stronger acr than any factor the user has, asked voluntarily: what the user can
    // do is what the application gets, and the token says so (design note 56).
    let r = authorize(
        &server,
        &b,
        &app_request(&[("acr_values", "urn:reverify:acr:mfa"), ("prompt", "none")]),
    )
    .await;
    let (status, tokens) = exchange(&server, &location_params(&r)["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims_of(tokens["id_token"].as_str().unwrap())["acr"],
        "urn:reverify:acr:1fa"
    );
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["phr"]}}}"#;
    let r = authorize(&server, &b, &app_request(&[("claims", claims)])).await;
    assert_eq!(
        location_params(&r)["error"],
        "unmet_authentication_requirements",
        "no passkey"
    );
    let r = authorize(
        &server,
        &b,
        &app_request(&[(
            "claims",
            r#"{"id_token":{"acr":{"essential":true,"value":"urn:example:gold"}}}"#,
        )]),
    )
    .await;
    assert_eq!(
        location_params(&r)["error"],
        "unmet_authentication_requirements"
    );
    // Essential, and beyond any factor this user has (no passkey, no authenticator app):
    // unmet, whatever the prompt. Voluntary, the user's best (a first factor) is the answer.
    let mfa = r#"{"id_token":{"acr":{"essential":true,"value":"urn:reverify:acr:mfa"}}}"#;
    let r = authorize(&server, &b, &app_request(&[("claims", mfa)])).await;
    assert_eq!(
        location_params(&r)["error"],
        "unmet_authentication_requirements"
    );
    let r = authorize(
        &server,
        &b,
        &app_request(&[("acr_values", "urn:reverify:acr:mfa")]),
    )
    .await;
    assert!(location_params(&r).contains_key("code"));
    // acr_values the session meets, and unknown ones, are fine.
    let r = authorize(
        &server,
        &b,
        &app_request(&[("acr_values", "urn:example:unknown urn:reverify:acr:1fa")]),
    )
    .await;
    assert_eq!(r.status().as_u16(), 302);
    assert!(location_params(&r).contains_key("code"));
    // A first-party client has nothing to consent to, prompt=consent or not.
    let r = authorize(&server, &b, &app_request(&[("prompt", "consent")])).await;
    assert!(location_params(&r).contains_key("code"));
    // A third-party client needs consent first (tests/it/oidc_consent.rs): prompt=none
    // says so.
    let r = authorize(
        &server,
        &b,
        &app_request(&[("client_id", "third-party"), ("prompt", "none")]),
    )
    .await;
    assert_eq!(location_params(&r)["error"], "consent_required");
    // Bad values.
    for (k, v) in [
        ("max_age", "-1"),
        ("max_age", "soon"),
        ("prompt", "none login"),
        ("prompt", "sometimes"),
    ] {
        let r = authorize(&server, &b, &app_request(&[(k, v)])).await;
        assert_eq!(location_params(&r)["error"], "invalid_request", "{k}={v}");
    }
    server.stop().await;
}

/// 100 exchanges of one code at once: exactly one gets tokens.
#[tokio::test]
async fn a_code_is_exchanged_once_under_concurrency() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "con@example.com").await;
        let code = code_for(&server, &b, &app_request(&[])).await;
        let client = http_client(false);
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let req = client
                .post(server.url("/oauth/token"))
                .basic_auth("app", Some(SECRET))
                .form_body(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", RP),
                    ("code_verifier", VERIFIER),
                ]);
            attempts.spawn(async move { req.send().await.unwrap().status().as_u16() });
        }
        let statuses = attempts.join_all().await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 400).count();
        assert_eq!((ok, refused), (1, 99), "{statuses:?}");
        // The 99 replays revoked what the one exchange issued.
        let live: i64 = server
            .state
            .store
            .scalar_text("SELECT CAST(COUNT(*) AS TEXT) FROM oidc_tokens WHERE revoked_at IS NULL")
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(live, 0);
        server.stop().await;
    }
}

pub(crate) fn attr(html: &str, name: &str) -> String {
    html.split(&format!("{name}=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

/// `max_age` and `prompt=login` on an existing session: the request waits; the user
/// reverifies in the same session (the API the hosted page's modal drives); the
/// continuation issues a code whose ID token carries the new `auth_time`.
#[tokio::test]
async fn a_stale_session_reverifies_in_place_and_auth_time_is_the_verification() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "step@example.com").await;
    let code = code_for(&server, &b, &app_request(&[])).await;
    let (_, first) = exchange(&server, &code).await;
    let signed_in_at = claims_of(first["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    server.clock.advance(std::time::Duration::from_secs(300));

    for extra in [("max_age", "60"), ("prompt", "login")] {
        let r = authorize(&server, &b, &app_request(&[extra])).await;
        assert_eq!(r.status().as_u16(), 200, "{extra:?}");
        let html = r.text().await.unwrap();
        assert_eq!(attr(&html, "data-need"), "reverify");
        assert_eq!(attr(&html, "data-level"), "first_factor");
        let script = attr(&html, "src");
        assert_eq!(script, "/oauth/hosted.js");
        let continue_url = attr(&html, "data-continue");
        // Not yet.
        let r = b.get(server.url(&continue_url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);

        server.clock.advance(std::time::Duration::from_secs(5));
        let (status, v) = server
            .post(
                &b,
                "/v1/sessions/current/verifications",
                json!({"level": "first_factor"}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let id = v["id"].as_str().unwrap();
        let (status, done) = server
            .post(
                &b,
                &format!("/v1/sessions/current/verifications/{id}/attempt"),
                json!({"strategy": "password", "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(status, 200, "{done}");
        let verified_at = server.state.now();

        let r = b.get(server.url(&continue_url)).send().await.unwrap();
        let p = location_params(&r);
        assert_eq!(
            (p["state"].as_str(), p["iss"].as_str()),
            ("st-1", server.base.as_str())
        );
        let r = b.get(server.url(&continue_url)).send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            400,
            "a completed waiting request is used up"
        );
        let (status, tokens) = exchange(&server, &p["code"]).await;
        assert_eq!(status, 200);
        let id = claims_of(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["auth_time"], verified_at, "{extra:?}");
        assert!(verified_at > signed_in_at);
        assert_eq!(
            id["sid"],
            claims_of(first["id_token"].as_str().unwrap())["sid"],
            "the same session"
        );
        server.clock.advance(std::time::Duration::from_secs(300));
    }

    // The page's script is served, and the SDK it loads.
    let r = http_client(false)
        .get(server.url("/oauth/hosted.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let js = r.text().await.unwrap();
    assert!(
        js.contains("/sdk/index.js")
            && js.contains("openVerification")
            && js.contains("reverify-sign-in")
    );
    // An unknown or expired waiting request shows a page, redirects nowhere.
    let r = b
        .get(server.url("/oauth/authorize/continue?request=oreq_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
    server.stop().await;
}

// ---- ID token algorithms, resource indicators, purge, refresh races ---------------------

/// A token request as `client` (HTTP Basic with the test secret).
async fn token_as(server: &TestServer, client: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = token(server, Some((client, SECRET)), form).await;
    (status, body)
}

pub(crate) async fn exchange_as(
    server: &TestServer,
    client: &str,
    code: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", RP),
        ("code_verifier", VERIFIER),
    ];
    form.extend_from_slice(extra);
    token_as(server, client, &form).await
}

async fn refresh_as(
    server: &TestServer,
    client: &str,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    token_as(server, client, &form).await
}

/// The JWKS entry for a token's `kid`.
async fn jwk_for(server: &TestServer, jwt: &str) -> Value {
    let (_, jwks) = server
        .get(&http_client(false), "/.well-known/jwks.json")
        .await;
    let kid = header_of(jwt)["kid"].as_str().unwrap().to_owned();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("{kid} is not published"))
        .clone()
}

/// Verifies a JWS with ring, from the published JWK alone (none of the server's code).
fn verify_independently(jwt: &str, jwk: &Value) -> bool {
    use base64::Engine;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let Ok(sig) = b64.decode(sig) else {
        return false;
    };
    let coord = |name: &str| b64.decode(jwk[name].as_str().unwrap()).unwrap();
    match jwk["kty"].as_str().unwrap() {
        "RSA" => verify_rs256(jwt, &serde_json::from_value(jwk.clone()).unwrap()),
        "OKP" => UnparsedPublicKey::new(&ED25519, coord("x"))
            .verify(input.as_bytes(), &sig)
            .is_ok(),
        "EC" => {
            // JWS ES256 is r || s, 64 bytes (RFC 7518 §3.4), not DER.
            assert_eq!(sig.len(), 64, "ES256 signatures are r || s");
            let mut point = vec![4u8];
            point.extend(coord("x"));
            point.extend(coord("y"));
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &sig)
                .is_ok()
        }
        other => panic!("unexpected kty {other}"),
    }
}

/// The same JWS with one claim changed (its signature no longer matches).
fn tampered(jwt: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut claims = claims_of(jwt);
    claims["sub"] = json!("user_someone_else");
    parts[1] = b64.encode(claims.to_string());
    parts.join(".")
}

/// A client registered with `id_token_signed_response_alg` EdDSA or ES256 gets ID tokens
/// signed by the provider's key of that algorithm, published with the right `kty`, `crv`
/// and `alg`, verifiable from the JWKS alone; access tokens stay RS256; each algorithm's
/// key rotates and is revoked on its own, seen by every instance.
#[tokio::test]
async fn id_tokens_are_signed_in_the_algorithm_the_client_registered() {
    use reverify_server::keys::KeyPurpose;
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "algs@example.com").await;
        let (_, meta) = server
            .get(&http_client(false), "/.well-known/openid-configuration")
            .await;
        assert_eq!(
            meta["id_token_signing_alg_values_supported"],
            json!(["RS256", "EdDSA", "ES256"])
        );
        let mut id_tokens = Vec::new();
        for (client, alg, kty, crv) in [
            ("app", "RS256", "RSA", None),
            ("ed-app", "EdDSA", "OKP", Some("Ed25519")),
            ("es-app", "ES256", "EC", Some("P-256")),
        ] {
            let code = code_for(&server, &b, &app_request(&[("client_id", client)])).await;
            let (status, body) = exchange_as(&server, client, &code, &[]).await;
            assert_eq!(status, 200, "{client}: {body}");
            let id_token = body["id_token"].as_str().unwrap().to_owned();
            assert_eq!(header_of(&id_token)["alg"], alg, "{client}");
            assert_eq!(header_of(&id_token)["typ"], "JWT");
            let jwk = jwk_for(&server, &id_token).await;
            assert_eq!(jwk["alg"], alg);
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["crv"].as_str(), crv);
            assert_eq!(jwk["use"], "sig");
            assert!(verify_independently(&id_token, &jwk), "{client}: {alg}");
            assert!(
                !verify_independently(&tampered(&id_token), &jwk),
                "{client}: a changed claim fails"
            );
            let claims = claims_of(&id_token);
            assert_eq!(
                (claims["aud"].as_str(), claims["nonce"].as_str()),
                (Some(client), Some("n-1"))
            );
            // Access tokens: RS256 whatever the client's ID token algorithm.
            let access = body["access_token"].as_str().unwrap();
            assert_eq!(header_of(access)["alg"], "RS256");
            assert!(verify_independently(
                access,
                &jwk_for(&server, access).await
            ));
            id_tokens.push((client, id_token));
        }

        // An EdDSA ID token is a valid logout hint (it ends the session it names).
        let (_, ed_token) = &id_tokens[1];
        let r = b
            .get(server.url(&format!("/oauth/logout?id_token_hint={ed_token}")))
            .send()
            .await
            .unwrap();
        let page = r.text().await.unwrap();
        assert!(!page.contains("Sign-in request refused"), "{page}");

        // Revoking the EdDSA key: an EdDSA key replaces it; the RS256 and ES256 keys sign on.
        let keys = &server.state.keys;
        let now = server.state.now();
        let signing = |published: &[reverify_server::store::StoredKey], purpose: &str| {
            published
                .iter()
                .filter(|k| k.purpose == purpose && k.signs_until.is_none())
                .map(|k| k.kid.clone())
                .collect::<Vec<_>>()
        };
        let published = keys.published(now).await.unwrap();
        let (rs, ed, es) = (
            signing(&published, "oidc"),
            signing(&published, "oidc_eddsa"),
            signing(&published, "oidc_es256"),
        );
        assert_eq!((rs.len(), ed.len(), es.len()), (1, 1, 1));
        let revoked = keys.revoke(&ed[0], now, 60).await.unwrap().unwrap();
        let replacement = revoked.replaced_by.unwrap();
        let published = keys.published(now).await.unwrap();
        let r = published.iter().find(|k| k.kid == replacement).unwrap();
        assert_eq!(
            (r.purpose.as_str(), r.alg.as_str()),
            ("oidc_eddsa", "EdDSA")
        );
        assert!(
            !published.iter().any(|k| k.kid == ed[0]),
            "revoked: unpublished"
        );
        assert_eq!(signing(&published, "oidc"), rs);
        assert_eq!(signing(&published, "oidc_es256"), es);

        // Rotating the provider's keys: each algorithm gets its own new key.
        let mut rotated = Vec::new();
        for purpose in KeyPurpose::OIDC {
            rotated.push(keys.rotate_purpose(purpose, now, 0, 300).await.unwrap());
        }
        let published = keys.published(now).await.unwrap();
        for (purpose, kid) in KeyPurpose::OIDC.iter().zip(&rotated) {
            let k = published.iter().find(|k| k.kid == *kid).unwrap();
            assert_eq!(k.purpose, purpose.as_str());
            assert_eq!(Some(k.alg.as_str()), purpose.oidc_alg());
        }

        // Another instance on the same database signs with the same keys and creates none.
        let second = server.second_instance().await;
        let theirs = second.state.keys.published(now).await.unwrap();
        for purpose in ["oidc", "oidc_eddsa", "oidc_es256"] {
            assert_eq!(signing(&theirs, purpose).len(), 1, "{purpose}");
        }
        let b2 = signed_in_browser(&second, "algs2@example.com").await;
        let code = code_for(&second, &b2, &app_request(&[("client_id", "es-app")])).await;
        let (status, body) = exchange_as(&second, "es-app", &code, &[]).await;
        assert_eq!(status, 200, "{body}");
        let id_token = body["id_token"].as_str().unwrap();
        assert_eq!(header_of(id_token)["kid"], rotated[2].as_str());
        assert!(verify_independently(
            id_token,
            &jwk_for(&server, id_token).await
        ));
        server.stop().await;
    }
}

/// RFC 8707: a client names a registered resource (at authorize, at the token endpoint,
/// or both); its access token's `aud` is that resource, which the SDK's
/// `AccessTokenVerifier` of that resource server accepts and any other refuses.
#[tokio::test]
async fn access_tokens_are_for_the_resource_the_client_names() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "res@example.com").await;
        let verifier = |audience: &str, jwks: reverify::JwkSet| {
            reverify::AccessTokenVerifier::builder(server.base.clone())
                .audience(audience)
                .jwks(jwks)
                .build()
                .unwrap()
        };
        let (_, jwks) = server
            .get(&http_client(false), "/.well-known/jwks.json")
            .await;
        let jwks: reverify::JwkSet = serde_json::from_value(jwks).unwrap();

        // At authorize: unregistered, or not an absolute URI: invalid_target, to the client.
        for bad in [
            "https://other.example.com",
            "https://api.example.com#x",
            "relative/path",
        ] {
            let r = authorize(&server, &b, &app_request(&[("resource", bad)])).await;
            let p = location_params(&r);
            assert_eq!(p["error"], "invalid_target", "{bad}: {p:?}");
            assert_eq!(p["state"], "st-1");
        }

        // Authorized for API.
        let code = code_for(&server, &b, &app_request(&[("resource", API)])).await;
        // Refused before the code is used: an unregistered resource, two resources.
        let (status, body) = exchange_as(
            &server,
            "app",
            &code,
            &[("resource", "https://other.example.com")],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        let (status, body) = exchange_as(
            &server,
            "app",
            &code,
            &[("resource", API), ("resource", REPORTS)],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        let (status, body) = exchange_as(&server, "app", &code, &[]).await;
        assert_eq!(status, 200, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let claims = claims_of(&access);
        assert_eq!(
            (claims["aud"].as_str(), claims["client_id"].as_str()),
            (Some(API), Some("app"))
        );
        assert_eq!(claims_of(body["id_token"].as_str().unwrap())["aud"], "app");
        let now = server.state.now();
        let token = verifier(API, jwks.clone())
            .verify_at(&access, now)
            .await
            .unwrap();
        assert_eq!(token.client_id(), "app");
        let refused = verifier(REPORTS, jwks.clone())
            .verify_at(&access, now)
            .await;
        assert!(refused.is_err(), "another resource server refuses it");
        assert!(
            verifier("app", jwks.clone())
                .verify_at(&access, now)
                .await
                .is_err()
        );
        // Introspection says its audience; userinfo is not its resource.
        assert_eq!(introspect(&server, &access).await["aud"], API);
        let r = http_client(false)
            .get(server.url("/oauth/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);

        // A refresh of a grant for API cannot name another resource (and its token is not
        // used up by the attempt); without one, it stays for API.
        let (status, body) = refresh_as(&server, "app", &refresh, &[("resource", REPORTS)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        let (status, body) = refresh_as(&server, "app", &refresh, &[]).await;
        assert_eq!(
            status, 200,
            "the refresh token survived the refused attempt: {body}"
        );
        assert_eq!(
            claims_of(body["access_token"].as_str().unwrap())["aud"],
            API
        );

        // A grant authorized without a resource: each token request may name one of the
        // client's; without one, the access token is for the client (as before RFC 8707).
        let code = code_for(&server, &b, &app_request(&[])).await;
        let (status, body) = exchange_as(&server, "app", &code, &[("resource", REPORTS)]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            claims_of(body["access_token"].as_str().unwrap())["aud"],
            REPORTS
        );
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = refresh_as(&server, "app", &refresh, &[("resource", API)]).await;
        assert_eq!(status, 200, "{body}");
        let for_api = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims_of(&for_api)["aud"], API);
        assert!(
            verifier(API, jwks.clone())
                .verify_at(&for_api, now)
                .await
                .is_ok()
        );
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = refresh_as(&server, "app", &refresh, &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            claims_of(body["access_token"].as_str().unwrap())["aud"],
            "app"
        );
        // A client with no resources registered gets invalid_target for any.
        let code = code_for(&server, &b, &app_request(&[("client_id", "ed-app")])).await;
        let (status, body) = exchange_as(&server, "ed-app", &code, &[("resource", API)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        server.stop().await;
    }
}

async fn count(server: &TestServer, table: &str, condition: &str) -> i64 {
    server
        .state
        .store
        .scalar_text(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM {table} WHERE {condition}"
        ))
        .await
        .unwrap()
        .parse()
        .unwrap()
}

/// Expired codes, access tokens and waiting requests are purged once past the retention;
/// refresh tokens only once their grant is dead (a rotated one is kept while its grant
/// lives, so that its reuse still revokes the grant), and a code after its tokens; in
/// batches, by several instances at once.
#[tokio::test]
async fn dead_codes_tokens_and_waiting_requests_are_purged() {
    use reverify_server::oidc::token::{RETENTION_SECS, purge};
    for db in TestDb::all().await {
        let server = provider(db).await;
        let store = &server.state.store;
        let b = signed_in_browser(&server, "purge@example.com").await;
        // A code never exchanged.
        let _unused = code_for(&server, &b, &app_request(&[])).await;
        // A grant refreshed once: r1 rotated, r2 live.
        let code = code_for(&server, &b, &app_request(&[])).await;
        let (_, body) = exchange_as(&server, "app", &code, &[]).await;
        let r1 = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = refresh_as(&server, "app", &r1, &[]).await;
        assert_eq!(status, 200);
        let r2 = body["refresh_token"].as_str().unwrap().to_owned();
        // A grant its client revoked.
        let code = code_for(&server, &b, &app_request(&[])).await;
        let (_, body) = exchange_as(&server, "app", &code, &[]).await;
        let r3 = body["refresh_token"].as_str().unwrap().to_owned();
        let r = http_client(false)
            .post(server.url("/oauth/revoke"))
            .basic_auth("app", Some(SECRET))
            .form_body(&[("token", r3.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        // A request waiting for a browser without a session.
        let r = authorize(&server, &browser(), &app_request(&[])).await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(count(&server, "oidc_pending_requests", "1 = 1").await, 1);
        assert_eq!(count(&server, "oidc_codes", "1 = 1").await, 3);
        assert_eq!(count(&server, "oidc_tokens", "kind = 'access'").await, 3);
        assert_eq!(count(&server, "oidc_tokens", "kind = 'refresh'").await, 3);

        let now = server.state.now();
        assert_eq!(
            purge(store, now).await.unwrap().total(),
            0,
            "nothing is dead yet"
        );
        // Past every expiry (code 60 s, access token 300 s, waiting request 600 s) and
        // the retention: all but the live grant's refresh tokens and code go.
        let later = now + 600 + RETENTION_SECS + 1;
        let purged = purge(store, later).await.unwrap();
        assert_eq!(
            (
                purged.pending,
                purged.access_tokens,
                purged.refresh_tokens,
                purged.codes
            ),
            (1, 3, 1, 2),
            "{purged:?}"
        );
        assert_eq!(
            purge(store, later).await.unwrap().total(),
            0,
            "nothing left to do"
        );
        assert_eq!(count(&server, "oidc_tokens", "kind = 'refresh'").await, 2);
        // The rotated r1 is still known: presenting it again revokes its grant.
        let (status, body) = refresh_as(&server, "app", &r1, &[]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _) = refresh_as(&server, "app", &r2, &[]).await;
        assert_eq!(status, 400, "the reuse revoked the live token");
        // Once revoked for longer than the retention, the grant goes entirely.
        let much_later = later + RETENTION_SECS;
        let purged = purge(store, much_later).await.unwrap();
        assert_eq!((purged.refresh_tokens, purged.codes), (2, 1), "{purged:?}");
        assert_eq!(count(&server, "oidc_tokens", "1 = 1").await, 0);
        assert_eq!(count(&server, "oidc_codes", "1 = 1").await, 0);

        // Batches, and two instances purging at once.
        for _ in 0..5 {
            code_for(&server, &b, &app_request(&[])).await;
        }
        let t = server.state.now() + 60 + RETENTION_SECS + 1;
        let one = store.purge_oidc(t, t - RETENTION_SECS, 1).await.unwrap();
        assert_eq!(one.codes, 1, "one batch of one");
        let second = server.second_instance().await;
        let (a, b2) = tokio::join!(
            store.purge_oidc(t, t - RETENTION_SECS, 2),
            second.state.store.purge_oidc(t, t - RETENTION_SECS, 2)
        );
        let deleted = a.unwrap().codes + b2.unwrap().codes;
        assert!((2..=4).contains(&deleted), "{deleted}");
        purge(store, t).await.unwrap();
        assert_eq!(count(&server, "oidc_codes", "1 = 1").await, 0);
        server.stop().await;
    }
}

/// 100 refreshes of one refresh token at once: exactly one wins; the 99 others are
/// reuses of a rotated token (RFC 9700 §4.14.2), fail `invalid_grant`, and revoke the
/// grant — the winner's new tokens included.
#[tokio::test]
async fn a_refresh_token_is_used_once_under_concurrency_and_its_reuse_revokes_the_grant() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "racer@example.com").await;
        let code = code_for(&server, &b, &app_request(&[])).await;
        let (status, body) = exchange_as(&server, "app", &code, &[]).await;
        assert_eq!(status, 200, "{body}");
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let client = http_client(false);
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let req = client
                .post(server.url("/oauth/token"))
                .basic_auth("app", Some(SECRET))
                .form_body(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ]);
            attempts
                .spawn(async move { crate::support::status_json(req.send().await.unwrap()).await });
        }
        let answers = attempts.join_all().await;
        let won: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
            .collect();
        let refused = answers
            .iter()
            .filter(|(s, b)| *s == 400 && b["error"] == "invalid_grant")
            .count();
        assert_eq!((won.len(), refused), (1, 99), "{answers:?}");
        // The grant is revoked: nothing of it is live, the winner's refresh token included.
        assert_eq!(count(&server, "oidc_tokens", "revoked_at IS NULL").await, 0);
        let (status, body) = refresh_as(
            &server,
            "app",
            won[0]["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(
            introspect(&server, won[0]["access_token"].as_str().unwrap()).await["active"],
            false
        );
        server.stop().await;
    }
}

/// A stale session with a second factor is asked for one factor again, its second (not
/// only a password): the page's level is `second_factor`, a TOTP code alone completes it,
/// and the ID token says what that proved — `2fa` at that time (its password is older),
/// in the same session. A session at `1fa` is asked for a first factor; a voluntary `phr`
/// for a user without a passkey is what the user can do (design note 56).
#[tokio::test]
async fn a_stale_mfa_session_reverifies_its_second_factor() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "otp@example.com").await;
    let code = code_for(&server, &b, &app_request(&[])).await;
    let (_, first) = exchange(&server, &code).await;
    let first = claims_of(first["id_token"].as_str().unwrap());
    assert_eq!(first["acr"], "urn:reverify:acr:1fa");
    server.clock.advance(std::time::Duration::from_secs(300));
    let r = authorize(&server, &b, &app_request(&[("max_age", "60")])).await;
    assert_eq!(attr(&r.text().await.unwrap(), "data-level"), "first_factor");

    // Another session of the user's, signed in with the password before the app is
    // enrolled: it has never verified a second factor.
    let other = browser();
    let (status, _) = server
        .post(
            &other,
            "/v1/sign_ins",
            json!({"email": "otp@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200);

    // Enrolling the app verifies it in this session: `mfa` from now on.
    let (secret, _) = crate::steps::enroll_totp(&server, &b).await;
    // The other session can reach mfa now, but never did: a stronger verification.
    let mfa = [("acr_values", "urn:reverify:acr:mfa")];
    let r = authorize(&server, &other, &app_request(&[mfa[0], ("prompt", "none")])).await;
    assert_eq!(location_params(&r)["error"], "interaction_required");
    let html = authorize(&server, &other, &app_request(&mfa))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(attr(&html, "data-need"), "step_up");
    assert_eq!(attr(&html, "data-level"), "second_factor");
    let code = code_for(&server, &b, &app_request(&[])).await;
    let (_, enrolled) = exchange(&server, &code).await;
    assert_eq!(
        claims_of(enrolled["id_token"].as_str().unwrap())["acr"],
        "urn:reverify:acr:mfa"
    );
    server.clock.advance(std::time::Duration::from_secs(300));
    for (extra, level) in [
        (("max_age", "60"), "second_factor"),
        (("prompt", "login"), "second_factor"),
        (("acr_values", "phr"), "second_factor"),
    ] {
        let mut pairs = vec![extra];
        if extra.0 == "acr_values" {
            pairs.push(("max_age", "60"));
        }
        let r = authorize(&server, &b, &app_request(&pairs)).await;
        let html = r.text().await.unwrap();
        assert_eq!(attr(&html, "data-need"), "reverify", "{extra:?}");
        assert_eq!(attr(&html, "data-level"), level, "{extra:?}");
    }

    let r = authorize(&server, &b, &app_request(&[("max_age", "60")])).await;
    let continue_url = attr(&r.text().await.unwrap(), "data-continue");
    crate::steps::next_step(&server);
    let (status, v) = server
        .post(
            &b,
            "/v1/sessions/current/verifications",
            json!({"level": "second_factor"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "needs_second_factor", "{v}");
    let (status, done) = server
        .post(
            &b,
            &format!(
                "/v1/sessions/current/verifications/{}/attempt",
                v["id"].as_str().unwrap()
            ),
            json!({"strategy": "totp", "code": crate::steps::totp_now(&server, &secret)}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let verified_at = server.state.now();
    let r = b.get(server.url(&continue_url)).send().await.unwrap();
    let (status, tokens) = exchange(&server, &location_params(&r)["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["auth_time"], verified_at);
    assert_eq!(id["acr"], "urn:reverify:acr:2fa");
    assert_eq!(id["sid"], first["sid"], "the same session");
    // Both factors within a minute: only the password is missing now.
    let r = authorize(
        &server,
        &b,
        &app_request(&[("max_age", "60"), ("acr_values", "urn:reverify:acr:mfa")]),
    )
    .await;
    let html = r.text().await.unwrap();
    assert_eq!(attr(&html, "data-need"), "reverify");
    assert_eq!(attr(&html, "data-level"), "first_factor");
    server.stop().await;
}
