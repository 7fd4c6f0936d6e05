//! `GET /api/v1/schema*`, `/health`, `/ready`.

use serde_json::{Value, json};
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

pub async fn schema_endpoints_show_the_payload_block_as_configured(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let list = app.get_json("/api/v1/schema").await;
    assert_eq!(
        list["schema"]["mars"]["payload"],
        json!({"required": false})
    );
    assert_eq!(
        list["schema"]["dissemination"]["payload"],
        json!({"required": true})
    );
    let one = app.get_json("/api/v1/schema/mars").await;
    assert_eq!(one["schema"]["payload"], json!({"required": false}));
    app.stop().await;

    let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth_schema.yaml");
    let app = TestApp::spawn_with(kind, |settings| settings.schema.paths = vec![fixture]).await;
    let one = app.get_json("/api/v1/schema/open_stream").await;
    let schema = one["schema"].as_object().unwrap();
    assert_eq!(schema.get("payload"), Some(&Value::Null), "no block: null");
    app.stop().await;
}
