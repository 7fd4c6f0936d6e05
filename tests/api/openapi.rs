//! The OpenAPI document covers exactly the routes the router serves; Swagger UI is served.

use serde_json::Value;
use tidings::settings::StoreKind;

use crate::helpers::TestApp;

pub async fn the_document_lists_every_served_route(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let response = app
        .client
        .get(app.url("/api-docs/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let served = tidings::api::served_routes();
    for (method, path) in &served {
        let operation = &paths[path.as_str()][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path}: no responses"
        );
        // And it really is served: neither 404 nor 405 from the router's fallbacks.
        let url = app.url(
            &path
                .replace("{event_type}", "mars")
                .replace("{id}", "mars@1")
                .replace("{asset}", "app.js"),
        );
        let request = app.client.request(method.parse().unwrap(), url);
        let status = request.send().await.unwrap().status().as_u16();
        assert!(
            status != 404 || path.contains("{id}") || path.ends_with("{event_type}"),
            "{method} {path}: {status}"
        );
        assert_ne!(status, 405, "{method} {path}");
    }
    let documented: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        served.len(),
        "every documented operation is served"
    );
    for frame in [
        "ConnectionEstablished",
        "ReplayStarted",
        "ReplayCompleted",
        "LimitReached",
        "Heartbeat",
        "ErrorFrame",
        "ConnectionClosing",
        "NotificationDeleted",
        "StreamWiped",
        "CloudEvent",
    ] {
        assert!(
            document["components"]["schemas"][frame].is_object(),
            "frame schema {frame}"
        );
    }
    assert!(document["components"]["securitySchemes"]["bearer_jwt"].is_object());
    let ui = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200);
    assert!(
        ui.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );
    app.stop().await;
}
