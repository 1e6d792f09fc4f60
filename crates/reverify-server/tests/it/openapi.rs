//! The OpenAPI document matches the routes, both ways, and is served.

use std::collections::BTreeSet;

use crate::support::TestServer;

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let doc: serde_json::Value = serde_json::from_str(reverify_server::OPENAPI).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = reverify_server::operations()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "openapi.json documents routes that do not exist: {phantom:?}"
    );
    // Every operation documents its success and has a unique id.
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path} has no 200 response"
        );
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "duplicate operationId at {method} {path}"
        );
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let server = TestServer::start().await;
    let (status, served) = server.get(&server.client(), "/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        served,
        serde_json::from_str::<serde_json::Value>(reverify_server::OPENAPI).unwrap()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_browser_sdk_is_served_file_for_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../js/src");
    let mut on_disk = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "js") {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                on_disk.push(rel);
            }
        }
    }
    on_disk.sort();
    let mut served: Vec<String> = reverify_server::SDK_FILES
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    served.sort();
    assert_eq!(
        served, on_disk,
        "every file of js/src is listed in routes/sdk.rs"
    );

    let server = TestServer::start().await;
    let client = server.client();
    let r = client
        .get(server.url("/sdk/index.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let body = r.text().await.unwrap();
    assert_eq!(
        body,
        std::fs::read_to_string(root.join("index.js")).unwrap()
    );
    let r = client
        .get(server.url("/sdk/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await;
}
