//! `POST /api/v1/replay` and `POST /api/v1/watch`: frames, order, cursors, filters,
//! the history boundary, heartbeats, maximum duration and shutdown.

use std::time::Duration;

use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::{FrameReader, TestApp, mars};
use crate::shortcuts::kinds;

const SECOND: Duration = Duration::from_secs(1);

pub async fn replay_frames_come_in_aviso_order(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.notify_mars(2).await;
    let response = app
        .open(
            "/api/v1/replay",
            json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut reader = FrameReader::new(response);
    assert!(reader.content_type.starts_with("text/event-stream"));
    let frames = reader
        .until(|f| f.event == "connection-closing", 10 * SECOND)
        .await;
    assert_eq!(
        kinds(&frames),
        [
            "replay-control:replay_started",
            "replay",
            "replay",
            "replay-control:replay_completed",
            "connection-closing"
        ]
    );
    let started = &frames[0].data;
    assert_eq!(started["request_id"], reader.request_id.as_str());
    assert_eq!(started["from_sequence"], 1);
    assert_eq!(started["topic"], "mars.od.*.*.*.*.*.*");
    assert_eq!(frames[1].id.as_deref(), Some("mars@1"));
    let event = &frames[1].data;
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "int.ecmwf.aviso.mars");
    assert_eq!(event["data"]["identifier"]["expver"], "0001");
    assert_eq!(event["data"]["identifier"]["time"], "1200");
    assert_eq!(event["data"]["payload"], json!({"step": 1}));
    assert!(
        event["dataschema"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/schema/mars")
    );
    let closing = &frames[4].data;
    assert_eq!(closing["reason"], "end_of_stream");
    assert_eq!(closing["request_id"], reader.request_id.as_str());
    assert!(
        reader.next(5 * SECOND).await.is_none(),
        "the server closes after the closing frame"
    );
    // An empty history still opens and completes.
    let empty = app.replay(json!({"event_type":"dissemination","identifier":{"destination":"X","class":"od"},"from_id":"0"})).await;
    assert_eq!(
        kinds(&empty),
        [
            "replay-control:replay_started",
            "replay-control:replay_completed",
            "connection-closing"
        ]
    );
    app.stop().await;
}

pub async fn replay_honours_start_and_end_cursors(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let middle = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for step in 4..=5 {
        app.notify_mars(step).await;
    }
    let ids = |extra: Value| {
        let mut body = json!({"event_type":"mars","identifier":{"class":"od"}});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        app.replay_ids(body)
    };
    assert_eq!(ids(json!({"from_id":"0"})).await.len(), 5);
    assert_eq!(ids(json!({"from_id":"4"})).await, ["mars@4", "mars@5"]);
    assert_eq!(
        ids(json!({"from_id":"2","to_id":"3"})).await,
        ["mars@2", "mars@3"]
    );
    assert!(ids(json!({"from_id":"99"})).await.is_empty());
    let from_date = middle.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    assert_eq!(
        ids(json!({"from_date": from_date})).await,
        ["mars@4", "mars@5"]
    );
    let unix = middle.timestamp().to_string();
    assert_eq!(ids(json!({"from_date": unix})).await.len(), 2);
    let to_date = middle.to_rfc3339();
    assert_eq!(
        ids(json!({"from_id":"1","to_date": to_date})).await,
        ["mars@1", "mars@2", "mars@3"]
    );
    app.stop().await;
}

pub async fn replay_applies_constraints_and_spatial_filters(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=6 {
        app.notify_mars(step).await;
    }
    let mut other = mars(1);
    other["domain"] = json!("a");
    other["stream"] = json!("ens.member.X");
    app.notify("mars", other, Value::Null).await;
    let ids = |identifier: Value| {
        app.replay_ids(json!({"event_type":"mars","identifier":identifier,"from_id":"1"}))
    };
    assert_eq!(
        ids(json!({"class":"od","step":{"gte":5}})).await,
        ["mars@5", "mars@6"]
    );
    assert_eq!(
        ids(json!({"class":"od","step":{"between":[2,3]}})).await,
        ["mars@2", "mars@3"]
    );
    assert_eq!(ids(json!({"class":"od","step":4})).await, ["mars@4"]);
    assert_eq!(
        ids(json!({"class":"od","domain":{"in":["A"]}})).await,
        ["mars@7"]
    );
    assert_eq!(
        ids(json!({"class":"od","stream":"ens.member.X"})).await,
        ["mars@7"]
    );
    assert!(ids(json!({"class":"rd"})).await.is_empty());
    app.stop().await;
}

pub async fn replay_limit_is_request_wide(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.replay.max_historical_notifications = 3
    })
    .await;
    for step in 1..=5 {
        app.notify_mars(step).await;
    }
    let frames = app
        .replay(json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
        .await;
    assert_eq!(
        kinds(&frames),
        [
            "replay-control:replay_started",
            "replay",
            "replay",
            "replay",
            "replay-control:notification_replay_limit_reached",
            "replay-control:replay_completed",
            "connection-closing"
        ]
    );
    assert_eq!(frames[4].data["max_allowed"], 3);
    app.stop().await;
}

async fn rejected(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.open(path, body).await;
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().await.unwrap()
}

/// A history much larger than one write (replays gather frames into chunks of 32 KiB):
/// every notification arrives once, whole and in order, and a limit falling inside a
/// chunk still stops at exactly the limit.
pub async fn a_long_replay_arrives_whole_and_in_order(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.replay.max_historical_notifications = 150
    })
    .await;
    let note = "n".repeat(1000);
    for step in 1..=200 {
        app.notify("mars", mars(step), json!({"step": step, "note": note}))
            .await;
    }
    let frames = app
        .replay(json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
        .await;
    let replayed: Vec<&crate::helpers::Frame> = frames
        .iter()
        .filter(|frame| frame.event == "replay")
        .collect();
    assert_eq!(replayed.len(), 150);
    for (index, frame) in replayed.iter().enumerate() {
        let step = index as u64 + 1;
        assert_eq!(frame.id.as_deref(), Some(format!("mars@{step}").as_str()));
        assert_eq!(frame.data["data"]["payload"]["step"], step);
        assert_eq!(frame.data["data"]["payload"]["note"], note.as_str());
    }
    assert_eq!(
        kinds(&frames[151..]),
        [
            "replay-control:notification_replay_limit_reached",
            "replay-control:replay_completed",
            "connection-closing"
        ]
    );
    app.stop().await;
}

pub async fn replay_validation_errors_are_json(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let body = rejected(
        &app,
        "/api/v1/replay",
        json!({"event_type":"mars","identifier":{"class":"od"}}),
    )
    .await;
    assert_eq!(body["code"], "INVALID_REPLAY_REQUEST");
    assert_eq!(body["error"], "Invalid Replay Request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Replay endpoint requires either from_id or from_date")
    );
    let body = rejected(
        &app,
        "/api/v1/replay",
        json!({"event_type":"mars","identifier":{"class":"od"},"from_id":1}),
    )
    .await;
    assert_eq!(body["code"], "INVALID_REQUEST_SHAPE");
    let body = rejected(
        &app,
        "/api/v1/replay",
        json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"mars@1"}),
    )
    .await;
    assert_eq!(
        body["message"],
        "from_id must be a valid positive integer. Got: 'mars@1'. Valid examples: '1', '123', '9999'"
    );
    let body = rejected(
        &app,
        "/api/v1/watch",
        json!({"event_type":"mars","identifier":{}}),
    )
    .await;
    assert_eq!(body["code"], "INVALID_WATCH_REQUEST");
    assert_eq!(
        body["message"],
        "Required field 'class' missing for watch operation"
    );
    let body = rejected(
        &app,
        "/api/v1/watch",
        json!({"event_type":"mars","identifier":{"class":"od"},"to_id":"3"}),
    )
    .await;
    assert_eq!(
        body["message"],
        "to_id and to_date are only supported for the replay endpoint, not /watch"
    );
    let body = rejected(
        &app,
        "/api/v1/replay",
        json!({"event_type":"mars","identifier":{"class":"od","foo":"1"},"from_id":"1"}),
    )
    .await;
    assert_eq!(
        body["message"],
        "Unknown field 'foo' provided for replay operation"
    );
    let body = rejected(&app, "/api/v1/watch", json!({"event_type":"test_polygon","identifier":{"point":"1,2","polygon":"(1,2,3,4,5,6,1,2)"}})).await;
    assert_eq!(
        body["message"],
        "Cannot specify both identifier.polygon and identifier.point. Provide only one spatial filter."
    );
    let body = rejected(
        &app,
        "/api/v1/watch",
        json!({"event_type":"nosuch","identifier":{}}),
    )
    .await;
    assert_eq!(body["code"], "UNKNOWN_EVENT_TYPE");
    app.stop().await;
}

pub async fn live_watch_opens_with_connection_established(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    let response = app
        .open(
            "/api/v1/watch",
            json!({"event_type":"mars","identifier":{"class":"od"}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut reader = FrameReader::new(response);
    let first = reader.next(5 * SECOND).await.unwrap();
    assert_eq!(first.kind(), "live-notification:connection_established");
    assert_eq!(first.data["request_id"], reader.request_id.as_str());
    assert_eq!(first.data["connection_will_close_in_seconds"], 3600);
    assert_eq!(reader.next(5 * SECOND).await.unwrap().event, "heartbeat");
    app.notify_mars(2).await;
    let live = reader.next(5 * SECOND).await.unwrap();
    assert_eq!(live.event, "live-notification");
    assert_eq!(
        live.id.as_deref(),
        Some("mars@2"),
        "history is not replayed on a live-only watch"
    );
    app.stop().await;
}

pub async fn watch_with_history_hands_over_without_gap_or_duplicate(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=30 {
        app.notify_mars(step).await;
    }
    let publisher = {
        let client = app.client.clone();
        let url = app.url("/api/v1/notification");
        tokio::spawn(async move {
            for step in 31..=150 {
                let body = json!({"event_type":"mars","identifier":mars(step)});
                let response = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let response = app
        .open(
            "/api/v1/watch",
            json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}),
        )
        .await;
    let mut reader = FrameReader::new(response);
    let mut seen = Vec::new();
    let mut phase = Vec::new();
    while seen.len() < 150 {
        let frame = reader.next(10 * SECOND).await.unwrap();
        match frame.event.as_str() {
            "replay" | "live-notification" if frame.id.is_some() => {
                seen.push(frame.id.unwrap());
                phase.push(frame.event);
            }
            "heartbeat" => {}
            _ => phase.push(frame.kind()),
        }
    }
    publisher.await.unwrap();
    let expected: Vec<String> = (1..=150).map(|n| format!("mars@{n}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(phase[0], "replay-control:replay_started");
    let completed = phase
        .iter()
        .position(|p| p == "replay-control:replay_completed")
        .unwrap();
    assert!(phase[..completed].iter().skip(1).all(|p| p == "replay"));
    assert!(
        phase[completed + 1..]
            .iter()
            .all(|p| p == "live-notification")
    );
    app.stop().await;
}

pub async fn watch_sends_heartbeats_and_closes_at_max_duration(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.sse.heartbeat = Duration::from_millis(200);
        settings.sse.max_duration = Duration::from_millis(1500);
    })
    .await;
    let response = app
        .open(
            "/api/v1/watch",
            json!({"event_type":"mars","identifier":{"class":"od"}}),
        )
        .await;
    let mut reader = FrameReader::new(response);
    let frames = reader
        .until(|f| f.event == "connection-closing", 5 * SECOND)
        .await;
    let heartbeats = frames.iter().filter(|f| f.event == "heartbeat").count();
    assert!(heartbeats >= 4, "{heartbeats} heartbeats");
    assert_eq!(frames[0].kind(), "live-notification:connection_established");
    assert_eq!(frames[0].data["connection_will_close_in_seconds"], 1);
    assert_eq!(
        frames.last().unwrap().data["reason"],
        "max_duration_reached"
    );
    assert!(reader.next(5 * SECOND).await.is_none());
    app.stop().await;
}

pub async fn shutdown_closes_open_streams(kind: StoreKind) {
    let mut app = TestApp::spawn(kind).await;
    let response = app
        .open(
            "/api/v1/watch",
            json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"0"}),
        )
        .await;
    let mut reader = FrameReader::new(response);
    reader
        .until(
            |f| f.kind() == "replay-control:replay_completed",
            5 * SECOND,
        )
        .await;
    let started = std::time::Instant::now();
    app.shutdown.cancel();
    let frames = reader
        .until(|f| f.event == "connection-closing", 5 * SECOND)
        .await;
    assert_eq!(frames.last().unwrap().data["reason"], "server_shutdown");
    tokio::time::timeout(5 * SECOND, &mut app.server)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < 5 * SECOND);
}

pub async fn event_ids_use_the_requested_event_type(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let identifier = json!({"destination":"FOO","target":"t1","class":"od","expver":"1","domain":"g","date":"20250706","time":"1200","stream":"enfo","step":"6"});
    assert_eq!(
        app.notify("dissemination", identifier, json!({"url":"x"}))
            .await,
        "dissemination@1"
    );
    let frames = app
        .replay(json!({"event_type":"dissemination","identifier":{"destination":"FOO","class":"od"},"from_id":"1"}))
        .await;
    assert_eq!(frames[0].data["topic"], "diss.FOO.*.od.*.*.*.*.*.*");
    assert_eq!(frames[1].data["id"], "dissemination@1");
    assert_eq!(frames[1].id.as_deref(), Some("dissemination@1"));
    app.stop().await;
}

pub async fn replay_from_before_1677_starts_at_the_beginning(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    // Nanoseconds since the epoch in an i64 reach back only to 1677-09-21.
    for from_date in [
        "1600-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1677-09-21T00:12:43Z",
        "1969-12-31 23:59:59",
        "0",
    ] {
        assert_eq!(
            app.replay_ids(
                json!({"event_type":"mars","identifier":{"class":"od"},"from_date":from_date})
            )
            .await,
            ["mars@1", "mars@2", "mars@3"],
            "{from_date}"
        );
    }
    assert!(
        app.replay_ids(json!({"event_type":"mars","identifier":{"class":"od"},"from_date":"1600-01-01T00:00:00Z","to_date":"1601-01-01T00:00:00Z"}))
            .await
            .is_empty()
    );
    app.stop().await;
}
