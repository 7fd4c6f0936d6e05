//! Streaming beyond aviso: `Last-Event-ID` resume, the GET forms, CORS, the connection cap,
//! slow watchers and many watchers.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::{FrameReader, TestApp, mars};

const SECOND: Duration = Duration::from_secs(1);

fn sequence(id: &str) -> u64 {
    id.rsplit('@').next().unwrap().parse().unwrap()
}

pub async fn a_watch_resumed_with_last_event_id_loses_and_repeats_nothing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=10 {
        app.notify_mars(step).await;
    }
    let publisher = {
        let client = app.client.clone();
        let url = app.url("/api/v1/notification");
        tokio::spawn(async move {
            for step in 11..=120 {
                let body = json!({"event_type":"mars","identifier":mars(step)});
                assert_eq!(
                    client.post(&url).json(&body).send().await.unwrap().status(),
                    200
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let body = json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"});
    let mut seen = Vec::new();
    let mut first = app.stream("/api/v1/watch", body.clone(), None).await;
    while seen.len() < 40 {
        let frame = first.next(10 * SECOND).await.unwrap();
        if let Some(id) = frame.id {
            seen.push(id);
        }
    }
    drop(first);
    let last = seen.last().unwrap().clone();
    // The header wins over the body's from_id, and the alias form works too.
    let resume_from = last.replace("mars@", "MARS@");
    let mut second = app.stream("/api/v1/watch", body, Some(&resume_from)).await;
    let opening = second.next(10 * SECOND).await.unwrap();
    assert_eq!(opening.kind(), "replay-control:replay_started");
    assert_eq!(opening.data["from_sequence"], sequence(&last) + 1);
    assert_eq!(opening.data["last_event_id"], resume_from.as_str());
    while seen.len() < 120 {
        let frame = second.next(10 * SECOND).await.unwrap();
        if let Some(id) = frame.id {
            seen.push(id);
        }
    }
    publisher.await.unwrap();
    let expected: Vec<String> = (1..=120).map(|n| format!("mars@{n}")).collect();
    assert_eq!(seen, expected);
    app.stop().await;
}

pub async fn a_replay_cut_in_the_middle_resumes_exactly(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=30 {
        app.notify_mars(step).await;
    }
    let body = json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"});
    let mut first = app.stream("/api/v1/replay", body.clone(), None).await;
    let mut seen = Vec::new();
    while seen.len() < 12 {
        if let Some(id) = first.next(10 * SECOND).await.unwrap().id {
            seen.push(id);
        }
    }
    drop(first);
    let last = seen.last().unwrap().clone();
    let mut second = app.stream("/api/v1/replay", body, Some(&last)).await;
    let frames = second
        .until(|f| f.event == "connection-closing", 10 * SECOND)
        .await;
    seen.extend(frames.into_iter().filter_map(|frame| frame.id));
    let expected: Vec<String> = (1..=30).map(|n| format!("mars@{n}")).collect();
    assert_eq!(seen, expected);
    app.stop().await;
}

pub async fn an_old_last_event_id_after_a_purge_says_notifications_may_be_missing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=5 {
        app.notify_mars(step).await;
    }
    let wiped = app
        .delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":"mars"}))
        .await;
    assert_eq!(wiped.status(), 200);
    app.notify_mars(6).await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    let mut reader = app.stream("/api/v1/replay", body, Some("mars@2")).await;
    let frames = reader
        .until(|f| f.event == "connection-closing", 10 * SECOND)
        .await;
    let started = &frames[0].data;
    assert_eq!(started["type"], "replay_started");
    assert_eq!(started["notifications_may_be_missing"], true);
    assert_eq!(started["first_available_sequence"], 6);
    assert_eq!(
        frames
            .iter()
            .filter_map(|f| f.id.clone())
            .collect::<Vec<_>>(),
        ["mars@6"]
    );
    app.stop().await;
}

pub async fn bad_last_event_ids_are_400s(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    for (last, fragment) in [
        ("mars", "is invalid"),
        ("diss@4", "does not belong to event type 'mars'"),
        ("nosuch@1", "does not belong"),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/watch"))
            .header("last-event-id", last)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{last}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["message"].as_str().unwrap().contains(fragment),
            "{error}"
        );
    }
    app.stop().await;
}

pub async fn get_forms_serve_the_same_streams_with_cors(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=5 {
        app.notify_mars(step).await;
    }
    let replay = app
        .client
        .get(app.url("/api/v1/replay/mars?class=od&step[gte]=2&from_id=1&to_id=4"))
        .header("origin", "https://ops.example")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["access-control-allow-origin"], "*");
    let mut reader = FrameReader::new(replay);
    let frames = reader
        .until(|f| f.event == "connection-closing", 10 * SECOND)
        .await;
    let ids: Vec<String> = frames.iter().filter_map(|f| f.id.clone()).collect();
    assert_eq!(ids, ["mars@2", "mars@3", "mars@4"]);
    let watch = app
        .client
        .get(app.url("/api/v1/watch/mars?class=od"))
        .header("last-event-id", "mars@3")
        .send()
        .await
        .unwrap();
    let mut reader = FrameReader::new(watch);
    let frames = reader
        .until(
            |f| f.kind() == "replay-control:replay_completed",
            10 * SECOND,
        )
        .await;
    let ids: Vec<String> = frames.iter().filter_map(|f| f.id.clone()).collect();
    assert_eq!(ids, ["mars@4", "mars@5"]);
    app.notify_mars(6).await;
    let live = reader.until(|f| f.id.is_some(), 10 * SECOND).await;
    assert_eq!(live.last().unwrap().id.as_deref(), Some("mars@6"));
    let bad = app
        .client
        .get(app.url("/api/v1/watch/mars?step=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/watch"))
        .header("origin", "https://ops.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,last-event-id",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("last-event-id"), "{allowed}");
    assert!(preflight.headers().contains_key("x-request-id"));
    app.stop().await;
}

pub async fn configured_origins_are_the_only_ones_allowed(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.http.cors_allowed_origins = vec!["https://ops.example".to_owned()];
    })
    .await;
    let allowed = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://ops.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://ops.example"
    );
    let other = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    app.stop().await;
}

pub async fn streams_over_the_cap_get_503(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| settings.sse.max_connections = 2).await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut reader = app.stream("/api/v1/watch", body.clone(), None).await;
        reader.next(5 * SECOND).await.unwrap();
        open.push(reader);
    }
    let refused = app.post("/api/v1/watch", &body).await;
    assert_eq!(refused.status(), 503);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "SERVICE_UNAVAILABLE");
    assert!(error["message"].as_str().unwrap().contains("limit 2"));
    drop(open);
    // Permits come back once the server notices the clients left.
    let deadline = tokio::time::Instant::now() + 10 * SECOND;
    loop {
        let response = app.post("/api/v1/watch", &body).await;
        if response.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "permits never returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

/// A watcher that hangs up is noticed at once, not at its next heartbeat: hyper does not
/// read mid-response (its read would cost each stream a 16 KiB buffer), so the session
/// watches the socket itself.
pub async fn a_watcher_that_hangs_up_frees_its_slot_before_any_heartbeat(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.sse.max_connections = 1;
        settings.sse.heartbeat = Duration::from_secs(600);
    })
    .await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    let mut reader = app.stream("/api/v1/watch", body.clone(), None).await;
    for round in 0..3 {
        reader.next(5 * SECOND).await.unwrap();
        drop(reader);
        let deadline = tokio::time::Instant::now() + 3 * SECOND;
        reader = loop {
            let response = app.post("/api/v1/watch", &body).await;
            if response.status() == 200 {
                break FrameReader::new(response);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the slot of a watcher that hung up was not freed within 3 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
    }
    app.stop().await;
}

pub async fn two_thousand_watchers_each_get_every_notification(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let watchers = 2000;
    let burst = 20u64;
    let mut readers = Vec::with_capacity(watchers);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..watchers {
        let response = client
            .post(app.url("/api/v1/watch"))
            .json(&json!({"event_type":"mars","identifier":{"class":"od"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut reader = FrameReader::new(response);
        reader.next(10 * SECOND).await.unwrap();
        readers.push(reader);
    }
    for step in 1..=burst {
        app.notify_mars(step).await;
    }
    let tasks = readers.into_iter().map(|mut reader| {
        tokio::spawn(async move {
            let mut got = BTreeSet::new();
            while got.len() < burst as usize {
                if let Some(id) = reader.next(30 * SECOND).await.unwrap().id {
                    assert!(got.insert(id), "duplicate delivery");
                }
            }
            got.len()
        })
    });
    for task in futures::future::join_all(tasks).await {
        assert_eq!(task.unwrap(), burst as usize);
    }
    app.stop().await;
}
