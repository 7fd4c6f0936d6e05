//! `GET /api/v1/schema*`, `/health`, `/ready`.

use serde_json::Value;
use tidings::settings::StoreKind;

use crate::helpers::TestApp;

pub async fn schema_endpoints_list_sorted_event_types(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let list: Value = app
        .client
        .get(app.url("/api/v1/schema"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["event_types"],
        serde_json::json!(["dissemination", "mars", "test_polygon"])
    );
    assert_eq!(list["total_schemas"], 3);
    assert_eq!(list["status"], "success");
    let class = &list["schema"]["mars"]["identifier"]["class"];
    assert_eq!(class["type"], "StringHandler");
    assert_eq!(class["max_length"], 2);
    assert!(list["schema"]["mars"].get("topic").is_none());
    let one: Value = app
        .client
        .get(app.url("/api/v1/schema/test_polygon"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["event_type"], "test_polygon");
    assert_eq!(one["schema"]["payload"]["required"], true);
    let missing = app
        .client
        .get(app.url("/api/v1/schema/nosuch"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let header = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["message"], "Event type 'nosuch' not found");
    assert_eq!(body["status"], "error");
    assert_eq!(body["request_id"], header.as_str());
    assert_eq!(body["available_types"], list["event_types"]);
    app.stop().await;
}

pub async fn health_and_ready_answer(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(health.text().await.unwrap(), r#"{"status":"ok"}"#);
    let ready = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ready, r#"{"status":"ready","backend_connected":true}"#);
    app.stop().await;
}
