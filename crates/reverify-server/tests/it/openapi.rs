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
