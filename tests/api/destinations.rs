//! Push-delivery destinations (DELIVERY.md §3): the lifecycle of one destination, the
//! validation and address rules, pages, and what the audit trail holds.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::TestApp;

fn hook(port: u16) -> String {
    format!("http://127.0.0.1:{port}/hook")
}

fn body(url: &str) -> Value {
    json!({
        "url": url,
        "name": "ops-alerts",
        "subscriptions": [{"event_type": "mars", "identifier": {"class": "od", "step": {"gte": 1}}}],
        "headers": {"X-Team": "ops"},
        "retry": {"schedule": ["5s", "5m"]},
    })
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = send(
        app,
        reqwest::Method::POST,
        "/api/v1/destinations",
        Some(body),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/destinations/{}", created["id"].as_str().unwrap())
    );
    created
}

/// The error of a refused call: its status, code and message, with the request id checked.
async fn refusal(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["request_id"], header.as_str(), "{error}");
    (
        status,
        error["code"].as_str().unwrap_or_default().to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

pub async fn a_destination_lives_from_creation_to_deletion(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let created = create(&app, body(&hook(9))).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dst_") && id.len() == 30, "{id}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["timeout"], "15s");
    assert_eq!(created["retry"]["schedule"], json!(["5s", "5m"]));
    assert_eq!(
        (created["ordering"].as_str(), created["format"].as_str()),
        (Some("unordered"), Some("structured"))
    );
    assert_eq!(
        (created["state"].as_str(), created["backlog"].as_u64()),
        (Some("enabled"), Some(0))
    );
    let path = format!("/api/v1/destinations/{id}");
    let read = app.get_json(&path).await;
    assert!(
        read.get("secret").is_none(),
        "the secret is shown only once"
    );
    assert_eq!(read["secret_ids"].as_array().unwrap().len(), 1);
    let patched = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"name": "renamed", "timeout": "2s"})),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["name"].as_str(), patched["timeout"].as_str()),
        (Some("renamed"), Some("2s"))
    );
    assert_eq!(
        patched["url"], created["url"],
        "what a patch does not name stays"
    );
    let disabled: Value = send(
        &app,
        reqwest::Method::POST,
        &format!("{path}/disable"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (
            disabled["state"].as_str(),
            disabled["disabled_reason"].as_str()
        ),
        (Some("disabled"), Some("operator"))
    );
    let enabled: Value = send(&app, reqwest::Method::POST, &format!("{path}/enable"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["state"], "enabled");
    assert!(enabled["disabled_reason"].is_null());
    let rotated: Value = send(
        &app,
        reqwest::Method::POST,
        &format!("{path}/rotate-secret"),
        Some(json!({"grace": "1h"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_ne!(rotated["secret"], created["secret"]);
    assert_eq!(
        rotated["secret_ids"].as_array().unwrap().len(),
        2,
        "both keys sign during the grace"
    );
    let rotated: Value = send(
        &app,
        reqwest::Method::POST,
        &format!("{path}/rotate-secret"),
        Some(json!({"grace": "0s"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        rotated["secret_ids"].as_array().unwrap().len(),
        1,
        "no grace: the new key alone"
    );
    let dry: Value = send(
        &app,
        reqwest::Method::DELETE,
        &format!("{path}?dry_run=true"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["id"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    assert_eq!(
        send(&app, reqwest::Method::GET, &path, None).await.status(),
        200,
        "a dry run deletes nothing"
    );
    let deleted: Value = send(&app, reqwest::Method::DELETE, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (deleted["success"].as_bool(), deleted["cancelled"].as_u64()),
        (Some(true), Some(0))
    );
    let (status, code, _) = refusal(send(&app, reqwest::Method::GET, &path, None).await).await;
    assert_eq!((status, code.as_str()), (404, "DESTINATION_NOT_FOUND"));
    app.stop().await;
}

pub async fn invalid_destinations_are_400s_naming_the_field(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let url = hook(9);
    let mars = json!([{"event_type": "mars", "identifier": {"class": "od"}}]);
    for (request, field) in [
        (json!({"subscriptions": mars}), "url"),
        (
            json!({"url": "ftp://127.0.0.1/x", "subscriptions": mars}),
            "url",
        ),
        (json!({"url": url, "subscriptions": []}), "subscriptions"),
        (
            json!({"url": url, "subscriptions": [{"event_type": "mars", "identifier": {}}]}),
            "subscriptions[0].identifier.class",
        ),
        (
            json!({"url": url, "subscriptions": mars, "headers": {"Content-Type": "text/plain"}}),
            "headers.Content-Type",
        ),
        (
            json!({"url": url, "subscriptions": mars, "timeout": "0s"}),
            "timeout",
        ),
        (
            json!({"url": url, "subscriptions": mars, "retry": {"schedule": ["25h"]}}),
            "retry.schedule[0]",
        ),
        (
            json!({"url": url, "subscriptions": mars, "format": "xml"}),
            "format",
        ),
        (
            json!({"url": url, "subscriptions": mars, "dry_run": true}),
            "dry_run",
        ),
    ] {
        let response = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/destinations",
            Some(request.clone()),
        )
        .await;
        let (status, code, message) = refusal(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "INVALID_DESTINATION"),
            "{request}"
        );
        assert!(
            message.starts_with(&format!("{field}:")),
            "{message} should name {field}"
        );
    }
    let unknown = json!({"url": url, "subscriptions": [{"event_type": "nope"}]});
    let (status, code, _) = refusal(
        send(
            &app,
            reqwest::Method::POST,
            "/api/v1/destinations",
            Some(unknown),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "UNKNOWN_EVENT_TYPE"));
    let form = app
        .client
        .post(app.url("/api/v1/destinations"))
        .header("content-type", "text/plain")
        .body(body(&url).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(form).await.1,
        "INVALID_DESTINATION",
        "a write must declare JSON"
    );
    let listed = app.get_json("/api/v1/destinations").await;
    assert_eq!(listed["models"], json!([]), "nothing refused was stored");
    app.stop().await;
}

pub async fn private_and_metadata_addresses_are_refused(kind: StoreKind) {
    let closed = TestApp::spawn_with(kind, |settings| {
        settings.delivery.allow_private_networks = false
    })
    .await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://2130706433/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
    ] {
        let response = send(
            &closed,
            reqwest::Method::POST,
            "/api/v1/destinations",
            Some(body(url)),
        )
        .await;
        let (status, code, _) = refusal(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "DESTINATION_ADDRESS_BLOCKED"),
            "{url}"
        );
    }
    let metrics = closed.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"tidings_delivery_addresses_blocked_total{stage="registration"} 6"#),
        "every refusal counted"
    );
    closed.stop().await;
    let open = TestApp::spawn(kind).await;
    create(&open, body(&hook(9))).await;
    for url in ["http://169.254.169.254/latest", "http://[fd00:ec2::254]/x"] {
        let response = send(
            &open,
            reqwest::Method::POST,
            "/api/v1/destinations",
            Some(body(url)),
        )
        .await;
        assert_eq!(
            refusal(response).await.1,
            "DESTINATION_ADDRESS_BLOCKED",
            "{url}: metadata stays refused"
        );
    }
    let created = create(&open, body(&hook(9))).await;
    let path = format!("/api/v1/destinations/{}", created["id"].as_str().unwrap());
    let moved = send(
        &open,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"url": "http://169.254.169.254/"})),
    )
    .await;
    assert_eq!(
        refusal(moved).await.1,
        "DESTINATION_ADDRESS_BLOCKED",
        "a patch is checked too"
    );
    open.stop().await;
}

pub async fn destinations_page_newest_first_and_filter(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let mut ids = Vec::new();
    for step in 0..5 {
        let mut request = body(&hook(9));
        if step == 4 {
            request["subscriptions"] = json!([{"event_type": "dissemination", "identifier": {"destination": "FOO", "class": "od"}}]);
        }
        ids.push(
            create(&app, request).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.reverse();
    let first = app.get_json("/api/v1/destinations?limit=2").await;
    let page_ids = |page: &Value| -> Vec<String> {
        page["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(page_ids(&first), ids[..2]);
    assert!(first["pagination"]["prev"].is_null());
    let next = first["pagination"]["next"].as_str().unwrap();
    let second = app
        .get_json(&format!("/api/v1/destinations?limit=2&next={next}"))
        .await;
    assert_eq!(page_ids(&second), ids[2..4]);
    let prev = second["pagination"]["prev"].as_str().unwrap();
    assert_eq!(
        page_ids(
            &app.get_json(&format!("/api/v1/destinations?limit=2&prev={prev}"))
                .await
        ),
        ids[..2]
    );
    let diss = app
        .get_json("/api/v1/destinations?event_type=dissemination")
        .await;
    assert_eq!(page_ids(&diss), ids[..1]);
    send(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/destinations/{}/disable", ids[1]),
        None,
    )
    .await;
    assert_eq!(
        page_ids(&app.get_json("/api/v1/destinations?state=disabled").await),
        ids[1..2]
    );
    for query in ["limit=0", "state=paused", "colour=red", "next=bogus"] {
        let (status, code, _) = refusal(
            send(
                &app,
                reqwest::Method::GET,
                &format!("/api/v1/destinations?{query}"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (400, "INVALID_DESTINATION"),
            "{query}"
        );
    }
    app.stop().await;
}

pub async fn every_destination_change_is_audited_without_secrets(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let created = create(&app, body(&hook(9))).await;
    let id = created["id"].as_str().unwrap();
    send(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/destinations/{id}/rotate-secret"),
        None,
    )
    .await;
    send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/destinations/{id}"),
        None,
    )
    .await;
    let refused = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/destinations",
        Some(json!({"url": "x"})),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let trail = app.get_json("/api/v1/admin/audit?limit=100").await;
    let text = trail.to_string();
    assert!(!text.contains("whsec_"), "no secret on the audit trail");
    let operations: Vec<(String, String)> = trail["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["data"]["operation"].as_str().unwrap().to_owned(),
                event["data"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("destination_create", "success"),
        ("destination_rotate_secret", "success"),
        ("destination_delete", "success"),
        ("destination_create", "refused"),
    ] {
        assert!(
            operations.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {operations:?}"
        );
    }
    app.stop().await;
}

/// Two instances on one NATS: a destination made on one is there on the other at once,
/// and a change on the other is seen back on the first.
pub async fn instances_share_destinations() {
    let first = TestApp::spawn(StoreKind::Jetstream).await;
    let url = first.nats.as_ref().unwrap().url();
    let second = TestApp::spawn_with(StoreKind::Memory, |settings| {
        settings.store.kind = StoreKind::Jetstream;
        settings.store.jetstream.url = url;
    })
    .await;
    let created = create(&first, body(&hook(9))).await;
    let path = format!("/api/v1/destinations/{}", created["id"].as_str().unwrap());
    assert_eq!(second.get_json(&path).await["name"], "ops-alerts");
    let patched = send(
        &second,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"name": "seen"})),
    )
    .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(first.get_json(&path).await["name"], "seen");
    second.stop().await;
    first.stop().await;
}

/// A receiver on 127.0.0.1 that answers every request with `status` and counts them.
async fn receiver(status: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, count)
}

pub async fn a_test_send_answers_with_its_attempt_even_when_the_receiver_fails(kind: StoreKind) {
    use std::sync::atomic::Ordering;
    let app = TestApp::spawn(kind).await;
    let (port, count) = receiver(500).await;
    let created = create(&app, body(&hook(port))).await;
    let path = format!("/api/v1/destinations/{}", created["id"].as_str().unwrap());
    let response = send(&app, reqwest::Method::POST, &format!("{path}/test"), None).await;
    assert_eq!(response.status(), 200);
    let attempt: Value = response.json().await.unwrap();
    assert_eq!(
        (
            attempt["status"].as_str(),
            attempt["response_status_code"].as_u64()
        ),
        (Some("failed"), Some(500))
    );
    assert_eq!(
        (attempt["trigger"].as_str(), attempt["attempt"].as_u64()),
        (Some("test"), Some(1))
    );
    assert!(
        attempt["error"].is_null(),
        "a response arrived: no error class"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    send(
        &app,
        reqwest::Method::POST,
        &format!("{path}/disable"),
        None,
    )
    .await;
    let (status, code, _) =
        refusal(send(&app, reqwest::Method::POST, &format!("{path}/test"), None).await).await;
    assert_eq!((status, code.as_str()), (409, "DESTINATION_DISABLED"));
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "nothing sent to a disabled destination"
    );
    let closed = create(&app, body(&hook(free_port()))).await;
    let attempt: Value = send(
        &app,
        reqwest::Method::POST,
        &format!(
            "/api/v1/destinations/{}/test",
            closed["id"].as_str().unwrap()
        ),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (attempt["status"].as_str(), attempt["error"].as_str()),
        (Some("failed"), Some("connect"))
    );
    let metrics = app.get_text("/metrics").await;
    for series in [
        r#"tidings_delivery_attempts_total{outcome="failed",trigger="test"} 1"#,
        r#"tidings_delivery_attempts_total{outcome="connect",trigger="test"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in the metrics");
    }
    app.stop().await;
}

/// A loopback port nobody listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
