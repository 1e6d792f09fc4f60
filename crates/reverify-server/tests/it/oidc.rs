//! The OpenID Connect provider: clients (store, configuration, admin API, CLI), its
//! signing key, discovery.

use reqwest::Method;
use reverify_server::config::{Config, OidcClientConfig};
use reverify_server::oidc::clients::{self, ClientInput, ClientPatch, RegisterError};
use reverify_server::store::{OidcClientRow, StoreError};
use serde_json::{Value, json};

use crate::support::{TestDb, TestServer, http_client};

const KEY: &str = "oidc-test-admin-key-0123456789-abcdefghij";
const SECRET: &str = "config-client-secret-0123456789-ABCDEFGH";

fn config_client(id: &str, secret: &str) -> OidcClientConfig {
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

async fn admin(
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
        assert_eq!(purposes.len(), 2, "{purposes:?}");
        assert!(purposes.contains(&("session", "EdDSA")) && purposes.contains(&("oidc", "RS256")));
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
        json!(["RS256"])
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
