//! `/metrics` after traffic: every family with its labels, bounded label values.

use std::time::Duration;

use serde_json::json;
use tidings::settings::StoreKind;

use crate::helpers::{FrameReader, TestApp, mars};

pub async fn metrics_describe_the_traffic_with_bounded_labels(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.notify_mars(2).await;
    let rejected = app
        .post(
            "/api/v1/notification",
            &json!({"event_type":"mars","identifier":{}}),
        )
        .await;
    assert_eq!(rejected.status(), 400);
    let unknown = app
        .post(
            "/api/v1/notification",
            &json!({"event_type":"no-such-type","identifier":mars(1)}),
        )
        .await;
    assert_eq!(unknown.status(), 400);
    app.replay_ids(json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
        .await;
    let watch = app
        .post(
            "/api/v1/watch",
            &json!({"event_type":"mars","identifier":{"class":"od"}}),
        )
        .await;
    let mut watcher = FrameReader::new(watch);
    watcher.next(Duration::from_secs(5)).await.unwrap();
    app.client.get(app.url("/nowhere")).send().await.unwrap();
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = [
        r#"tidings_http_requests_total{method="POST",route="/api/v1/notification",status="200"} 2"#,
        r#"tidings_http_requests_total{method="POST",route="/api/v1/notification",status="400"} 2"#,
        r#"tidings_http_request_duration_seconds_bucket{method="POST",route="/api/v1/replay""#,
        "tidings_http_requests_in_flight ",
        r#"tidings_notifications_total{event_type="mars",outcome="stored"} 2"#,
        r#"tidings_notifications_total{event_type="mars",outcome="rejected"} 1"#,
        r#"tidings_notifications_total{event_type="unknown",outcome="rejected"} 1"#,
        r#"tidings_store_operations_total{operation="publish",outcome="ok"} 2"#,
        r#"tidings_store_operation_duration_seconds_bucket{operation="read""#,
        r#"tidings_sse_connections_open{event_type="mars",route="/api/v1/watch"} 1"#,
        r#"tidings_sse_frames_sent_total{event_type="mars",route="/api/v1/replay"} 2"#,
        r#"tidings_replay_notifications_delivered_total{event_type="mars"} 2"#,
        r#"tidings_sse_watchers_cut_off_total"#,
        "tidings_nats_connected 1",
        "tidings_nats_reconnects_total 0",
        &format!(
            r#"tidings_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        ),
    ];
    for line in expected {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        !text.contains("no-such-type"),
        "unknown event types must not become label values"
    );
    assert!(
        !text.contains("/nowhere"),
        "unrouted paths must not become label values"
    );
    drop(watcher);
    app.stop().await;
}

pub async fn metrics_can_have_their_own_listener(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.metrics.listen = Some("127.0.0.1:0".to_owned())
    })
    .await;
    let port = app.metrics_port.expect("a metrics listener");
    let text = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("tidings_build_info"));
    app.stop().await;
}
