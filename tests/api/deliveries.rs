//! Push delivery end to end (DELIVERY.md §4, §5) against a receiver this test starts on
//! 127.0.0.1: what arrives, signed how, retried when, in which order, and what the delivery
//! records and attempts say afterwards.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings::delivery::signature::{self, Secret};
use tidings::settings::{Settings, StoreKind};

use crate::helpers::{TestApp, mars};
use crate::support::receiver::{Answer, Received, Receiver};

const WAIT: Duration = Duration::from_secs(15);

/// An app whose deliveries come back quickly after a lost instance.
async fn app(kind: StoreKind) -> TestApp {
    TestApp::spawn_with(kind, quick).await
}

fn quick(settings: &mut Settings) {
    settings.delivery.takeover_after = Duration::from_secs(2);
}

/// Registers a destination for `mars` steps ≥ 2 at `url`; returns its id and secret.
async fn register(app: &TestApp, url: &str, extra: Value) -> (String, String) {
    let mut body = json!({
        "url": url,
        "subscriptions": [{"event_type": "mars", "identifier": {"class": "od", "step": {"gte": 2}}}],
        "retry": {"schedule": ["200ms", "200ms"]},
    });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        body[key] = value;
    }
    let response = app.post("/api/v1/destinations", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    // Routing reads the followed copy of the destinations: wait until it has this one.
    let id = created["id"].as_str().unwrap().to_owned();
    let state = app.state.as_ref().unwrap();
    let parsed = tidings::delivery::destination::DestinationId::parse(&id).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while state.delivery.directory().get(&parsed).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "directory never saw {id}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (id, created["secret"].as_str().unwrap().to_owned())
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Polls a delivery until `done` holds for it.
async fn delivery_until(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, delivery) = get(app, &format!("/api/v1/deliveries/{id}")).await;
        if status == StatusCode::OK && done(&delivery) {
            return delivery;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivery {id} never got there: {status} {delivery}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn status_is(wanted: &'static str) -> impl Fn(&Value) -> bool {
    move |delivery| delivery["status"] == wanted
}

fn verifies(request: &Received, secret: &str) -> bool {
    let key: Secret = secret.parse().unwrap();
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    signature::verify(
        &request.webhook_id(),
        timestamp,
        &request.body,
        request.header("webhook-signature").unwrap(),
        &key,
    )
}

pub async fn matching_notifications_are_delivered_signed_and_recorded(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    let (destination, secret) = register(
        &app,
        &receiver.url("/hook"),
        json!({"headers": {"X-Team": "ops"}}),
    )
    .await;
    for step in 1..=4 {
        app.notify("mars", mars(step), json!({"step": step})).await;
    }
    let received = receiver.wait_for("/hook", 3, WAIT).await;
    let mut ids: Vec<String> = received.iter().map(Received::webhook_id).collect();
    ids.sort();
    assert_eq!(ids, ["mars@2", "mars@3", "mars@4"], "step 1 does not match");
    for request in &received {
        assert!(
            verifies(request, &secret),
            "signature of {}",
            request.webhook_id()
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/cloudevents+json")
        );
        assert_eq!(request.header("x-team"), Some("ops"));
        let event: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(event["id"], request.webhook_id());
        assert_eq!(event["type"], "int.ecmwf.aviso.mars");
    }
    // The body is byte for byte what a replay's data line carries.
    let mut replay = app
        .stream(
            "/api/v1/replay",
            json!({"event_type": "mars", "identifier": {"class": "od"}, "from_id": "3"}),
            None,
        )
        .await;
    let frame = replay
        .until(|frame| frame.id.as_deref() == Some("mars@3"), WAIT)
        .await
        .pop()
        .unwrap();
    let sent = received
        .iter()
        .find(|r| r.webhook_id() == "mars@3")
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        frame.data
    );

    let one = format!("{destination}:mars@3");
    let delivery = delivery_until(&app, &one, status_is("succeeded")).await;
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["notification_id"], "mars@3");
    assert_eq!(delivery["destination_id"], destination.as_str());
    assert_eq!(delivery["last_response_status_code"], 200);
    assert!(delivery["succeeded_at"].is_string() && delivery["next_attempt_at"].is_null());
    let (_, attempts) = get(&app, &format!("/api/v1/deliveries/{one}/attempts")).await;
    let attempt = &attempts["models"][0];
    assert_eq!(attempts["models"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            attempt["attempt"].clone(),
            attempt["trigger"].clone(),
            attempt["status"].clone()
        ),
        (json!(1), json!("scheduled"), json!("success"))
    );
    assert_eq!(attempt["response_status_code"], 200);
    assert_eq!(attempt["response_body"], "scripted");
    let (_, listed) = get(
        &app,
        &format!("/api/v1/deliveries?destination_id={destination}"),
    )
    .await;
    let listed: Vec<&str> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["notification_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["mars@4", "mars@3", "mars@2"], "newest first");
    app.stop().await;
}

pub async fn binary_mode_sends_the_data_with_ce_headers(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    let (_, secret) = register(&app, &receiver.url("/bin"), json!({"format": "binary"})).await;
    app.notify("mars", mars(5), json!({"note": "binary"})).await;
    let request = receiver.wait_for("/bin", 1, WAIT).await.remove(0);
    assert!(verifies(&request, &secret));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("ce-id"), Some("mars@1"));
    assert_eq!(request.header("ce-type"), Some("int.ecmwf.aviso.mars"));
    let data: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(data["payload"], json!({"note": "binary"}));
    app.stop().await;
}

pub async fn failures_follow_the_schedule_until_it_is_spent(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.default_answer("/down", Answer::status(500));
    let (destination, _) = register(&app, &receiver.url("/down"), json!({})).await;
    app.notify("mars", mars(2), json!(null)).await;
    let one = format!("{destination}:mars@1");
    let delivery = delivery_until(&app, &one, status_is("failed")).await;
    assert_eq!(delivery["attempts"], 3, "1 + two delays");
    assert_eq!(delivery["last_response_status_code"], 500);
    let received = receiver.received_on("/down");
    assert_eq!(received.len(), 3);
    for pair in received.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(150),
            "200ms ±20% apart, got {gap:?}"
        );
        assert_eq!(
            pair[0].webhook_id(),
            pair[1].webhook_id(),
            "same webhook-id"
        );
    }
    let (_, attempts) = get(&app, &format!("/api/v1/deliveries/{one}/attempts")).await;
    let numbers: Vec<u64> = attempts["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(
        attempts["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "failed"
                && a["error"].is_null()
                && a["response_status_code"] == 500)
    );
    app.stop().await;
}

pub async fn a_receiver_that_recovers_gets_the_delivery_and_retry_after_is_honoured(
    kind: StoreKind,
) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue(
        "/flaky",
        [
            // Longer than a first attempt kept inside its delivery record may answer.
            Answer {
                body: Some("x".repeat(2000)),
                ..Answer::status(503)
            },
            Answer {
                retry_after: Some("1".to_owned()),
                ..Answer::status(429)
            },
        ],
    );
    let (destination, _) = register(&app, &receiver.url("/flaky"), json!({})).await;
    app.notify("mars", mars(2), json!(null)).await;
    let one = format!("{destination}:mars@1");
    let delivery = delivery_until(&app, &one, status_is("succeeded")).await;
    assert_eq!(delivery["attempts"], 3);
    let received = receiver.received_on("/flaky");
    assert_eq!(received.len(), 3);
    let waited = received[2].at - received[1].at;
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 replaced 200ms: {waited:?}"
    );
    let listed: Vec<(u64, u64, usize)> = attempts_of(&app, &one)
        .await
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["response_status_code"].as_u64().unwrap(),
                a["response_body"].as_str().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(listed, [(1, 503, 2000), (2, 429, 8), (3, 200, 8)]);
    app.stop().await;
}

pub async fn gone_fails_the_delivery_and_disables_the_destination_until_enabled(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/gone", [Answer::status(410)]);
    let (destination, _) = register(&app, &receiver.url("/gone"), json!({})).await;
    app.notify("mars", mars(2), json!(null)).await;
    let first = format!("{destination}:mars@1");
    let delivery = delivery_until(&app, &first, status_is("failed")).await;
    assert_eq!(delivery["attempts"], 1, "410 ends it at once");
    let path = format!("/api/v1/destinations/{destination}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, shown) = get(&app, &path).await;
        if shown["state"] == "disabled" {
            assert_eq!(shown["disabled_reason"], "gone");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never disabled: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, attempts) = get(&app, &format!("/api/v1/deliveries/{first}/attempts")).await;
    assert_eq!(attempts["models"][0]["error"], "gone");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, trail) = get(&app, "/api/v1/admin/audit?limit=100").await;
        let audited = trail["models"].as_array().unwrap().iter().any(|event| {
            event["data"]["operation"] == "destination_disable"
                && event["data"]["actor"] == "tidings"
                && event["data"]["target"] == destination.as_str()
        });
        if audited {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway's own disabling is audited: {trail}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Disabled: new deliveries wait, counted in the backlog.
    app.notify("mars", mars(3), json!(null)).await;
    let second = format!("{destination}:mars@2");
    delivery_until(&app, &second, status_is("pending")).await;
    let deadline = std::time::Instant::now() + WAIT;
    while get(&app, &path).await.1["backlog"] != 1 {
        assert!(std::time::Instant::now() < deadline, "backlog never 1");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received_on("/gone").len(),
        1,
        "nothing sent while disabled"
    );
    let enabled = app.post(&format!("{path}/enable"), &json!({})).await;
    assert_eq!(enabled.status(), 200);
    delivery_until(&app, &second, status_is("succeeded")).await;
    app.stop().await;
}

pub async fn ordered_destinations_get_one_request_at_a_time_in_sequence_order(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/ordered", [Answer::status(500), Answer::status(500)]);
    receiver.default_answer(
        "/ordered",
        Answer {
            delay: Duration::from_millis(30),
            ..Answer::status(200)
        },
    );
    let (_, _) = register(
        &app,
        &receiver.url("/ordered"),
        json!({"ordering": "ordered"}),
    )
    .await;
    for step in 2..=6 {
        app.notify("mars", mars(step), json!(null)).await;
    }
    let received = receiver.wait_for("/ordered", 7, WAIT).await;
    let ids: Vec<String> = received.iter().map(Received::webhook_id).collect();
    assert_eq!(
        ids,
        [
            "mars@1", "mars@1", "mars@1", "mars@2", "mars@3", "mars@4", "mars@5"
        ],
        "the failing first holds the rest back, then all in order"
    );
    for pair in received.windows(2).skip(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(25),
            "one at a time"
        );
    }
    app.stop().await;
}

pub async fn unordered_failures_do_not_hold_later_notifications_back(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/mixed", [Answer::status(500)]);
    let (destination, _) = register(
        &app,
        &receiver.url("/mixed"),
        json!({"retry": {"schedule": ["3s"]}}),
    )
    .await;
    app.notify("mars", mars(2), json!(null)).await;
    receiver.wait_for("/mixed", 1, WAIT).await;
    app.notify("mars", mars(3), json!(null)).await;
    let received = receiver.wait_for("/mixed", 2, WAIT).await;
    assert_eq!(
        received[1].webhook_id(),
        "mars@2",
        "sent while mars@1 waits"
    );
    assert!(received[1].at - received[0].at < Duration::from_millis(2500));
    delivery_until(
        &app,
        &format!("{destination}:mars@1"),
        status_is("succeeded"),
    )
    .await;
    app.stop().await;
}

pub async fn deleted_notifications_and_destinations_end_cancelled(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    let (destination, _) = register(&app, &receiver.url("/c"), json!({})).await;
    let path = format!("/api/v1/destinations/{destination}");
    assert_eq!(
        app.post(&format!("{path}/disable"), &json!({}))
            .await
            .status(),
        200
    );
    for step in 2..=4 {
        app.notify("mars", mars(step), json!(null)).await;
    }
    let first = format!("{destination}:mars@1");
    delivery_until(&app, &first, status_is("pending")).await;
    let deleted = app
        .client
        .delete(app.url("/api/v1/admin/notification/mars@1"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        app.post(&format!("{path}/enable"), &json!({}))
            .await
            .status(),
        200
    );
    delivery_until(&app, &first, status_is("cancelled")).await;
    delivery_until(
        &app,
        &format!("{destination}:mars@3"),
        status_is("succeeded"),
    )
    .await;
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.webhook_id() != "mars@1"),
        "a deleted notification is never sent"
    );

    // A destination deleted with a backlog: its deliveries end cancelled, still readable.
    let (other, _) = register(&app, &receiver.url("/d"), json!({})).await;
    let other_path = format!("/api/v1/destinations/{other}");
    assert_eq!(
        app.post(&format!("{other_path}/disable"), &json!({}))
            .await
            .status(),
        200
    );
    app.notify("mars", mars(5), json!(null)).await;
    app.notify("mars", mars(6), json!(null)).await;
    delivery_until(&app, &format!("{other}:mars@5"), status_is("pending")).await;
    delivery_until(&app, &format!("{other}:mars@4"), status_is("pending")).await;
    let dry = app
        .client
        .delete(app.url(&format!("{other_path}?dry_run=true")))
        .send()
        .await
        .unwrap();
    assert_eq!(dry.json::<Value>().await.unwrap()["cancelled"], 2);
    let gone = app
        .client
        .delete(app.url(&other_path))
        .send()
        .await
        .unwrap();
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["cancelled"], 2, "{gone}");
    delivery_until(&app, &format!("{other}:mars@5"), status_is("cancelled")).await;
    assert!(receiver.received_on("/d").is_empty());
    app.stop().await;
}

pub async fn delivery_lists_filter_order_and_page(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.default_answer("/no", Answer::status(400));
    let (ok, _) = register(&app, &receiver.url("/yes"), json!({})).await;
    let (bad, _) = register(
        &app,
        &receiver.url("/no"),
        json!({"retry": {"schedule": []}}),
    )
    .await;
    for step in 2..=5 {
        app.notify("mars", mars(step), json!(null)).await;
    }
    delivery_until(&app, &format!("{bad}:mars@4"), status_is("failed")).await;
    delivery_until(&app, &format!("{ok}:mars@4"), status_is("succeeded")).await;
    let ids = |page: &Value| -> Vec<String> {
        page["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, failed) = get(&app, "/api/v1/deliveries?status=failed&dir=asc").await;
    assert_eq!(
        ids(&failed),
        (1..=4)
            .map(|n| format!("{bad}:mars@{n}"))
            .collect::<Vec<_>>()
    );
    let (_, first) = get(
        &app,
        &format!("/api/v1/deliveries?destination_id={ok}&limit=3"),
    )
    .await;
    assert_eq!(
        ids(&first),
        [4, 3, 2].map(|n| format!("{ok}:mars@{n}")).to_vec()
    );
    let next = first["pagination"]["next"].as_str().unwrap();
    let (_, second) = get(
        &app,
        &format!("/api/v1/deliveries?destination_id={ok}&limit=3&next={next}"),
    )
    .await;
    assert_eq!(ids(&second), [format!("{ok}:mars@1")]);
    let prev = second["pagination"]["prev"].as_str().unwrap();
    let (_, back) = get(
        &app,
        &format!("/api/v1/deliveries?destination_id={ok}&limit=3&prev={prev}"),
    )
    .await;
    assert_eq!(ids(&back), ids(&first));
    let (_, none) = get(&app, "/api/v1/deliveries?event_type=diss").await;
    assert!(ids(&none).is_empty());
    let (_, timed) = get(&app, "/api/v1/deliveries?time[gte]=2999-01-01T00:00:00Z").await;
    assert!(ids(&timed).is_empty());
    for (query, code) in [
        ("status=done", "INVALID_QUERY"),
        ("dir=up", "INVALID_QUERY"),
        ("time[lte]=yesterday", "INVALID_QUERY"),
        ("limit=0", "INVALID_QUERY"),
        ("next=forged", "INVALID_QUERY"),
        ("colour=red", "INVALID_QUERY"),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/deliveries?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (body["code"].as_str(), body["request_id"].as_str()),
            (Some(code), Some(header.as_str())),
            "{query}"
        );
    }
    let (status, body) = get(&app, "/api/v1/deliveries/not-an-id").await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (400, Some("INVALID_ID"))
    );
    let (status, body) = get(&app, &format!("/api/v1/deliveries/{ok}:mars@99")).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("DELIVERY_NOT_FOUND"))
    );
    let (status, body) = get(&app, &format!("/api/v1/deliveries/{ok}:mars@99/attempts")).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("DELIVERY_NOT_FOUND"))
    );
    app.stop().await;
}

/// Two instances on one NATS share the work: every delivery made once, none twice.
pub async fn instances_share_the_deliveries() {
    let first = TestApp::spawn_with(StoreKind::Jetstream, quick).await;
    let url = first.nats.as_ref().unwrap().url();
    let second = TestApp::spawn_with(StoreKind::Memory, |settings| {
        settings.store.kind = StoreKind::Jetstream;
        settings.store.jetstream.url = url;
        quick(settings);
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.default_answer(
        "/shared",
        Answer {
            delay: Duration::from_millis(5),
            ..Answer::status(200)
        },
    );
    let (_, _) = register(&first, &receiver.url("/shared"), json!({})).await;
    let (_, _) = register(&second, &receiver.url("/other"), json!({})).await;
    let (_, _) = register(
        &second,
        &receiver.url("/in-order"),
        json!({"ordering": "ordered"}),
    )
    .await;
    for step in 0..60 {
        let app = if step % 2 == 0 { &first } else { &second };
        app.notify("mars", mars(2 + step), json!(null)).await;
    }
    let received = receiver.wait_for("/shared", 60, WAIT).await;
    receiver.wait_for("/other", 60, WAIT).await;
    let in_order: Vec<u64> = receiver
        .wait_for("/in-order", 60, WAIT)
        .await
        .iter()
        .map(|request| request.webhook_id()["mars@".len()..].parse().unwrap())
        .collect();
    assert_eq!(
        in_order,
        (1..=60).collect::<Vec<_>>(),
        "an ordered destination gets sequence order, whichever instance stored"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids: Vec<String> = receiver
        .received_on("/shared")
        .iter()
        .map(Received::webhook_id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60, "every notification");
    assert_eq!(received.len(), 60);
    assert_eq!(receiver.received_on("/shared").len(), 60, "none twice");
    second.stop().await;
    first.stop().await;
}

async fn delete_json(app: &TestApp, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = app.client.delete(app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

pub async fn the_failed_view_keeps_an_entry_until_an_operator_removes_it(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/twice", [Answer::status(500), Answer::status(502)]);
    let (destination, _) = register(&app, &receiver.url("/twice"), json!({})).await;
    app.notify("mars", mars(2), json!(null)).await;
    let one = format!("{destination}:mars@1");
    let delivered = delivery_until(&app, &one, status_is("succeeded")).await;
    app.notify("mars", mars(3), json!(null)).await;
    delivery_until(
        &app,
        &format!("{destination}:mars@2"),
        status_is("succeeded"),
    )
    .await;
    let (_, view) = get(
        &app,
        &format!("/api/v1/failed-deliveries?destination_id={destination}"),
    )
    .await;
    let entries = view["models"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only the delivery that failed: {view}");
    let entry = &entries[0];
    assert_eq!(entry["delivery_id"], one.as_str());
    assert_eq!(entry["notification_id"], "mars@1");
    assert_eq!(entry["failure_count"], 2);
    assert_eq!(
        entry["status"], "succeeded",
        "the view shows where it stands now"
    );
    assert_eq!(entry["last_response_status_code"], 502);
    assert!(entry["first_failed_at"].as_str() <= entry["last_failed_at"].as_str());
    let (_, by_status) = get(&app, "/api/v1/failed-deliveries?status=failed").await;
    assert!(by_status["models"].as_array().unwrap().is_empty());
    let (_, attempts_before) = get(&app, &format!("/api/v1/deliveries/{one}/attempts")).await;

    let path = format!("/api/v1/failed-deliveries/{one}");
    let (status, dry) = delete_json(&app, &format!("{path}?dry_run=true"), None).await;
    assert_eq!(
        (status.as_u16(), dry["dry_run"].clone()),
        (200, json!(true)),
        "{dry}"
    );
    let (_, still) = get(&app, "/api/v1/failed-deliveries").await;
    assert_eq!(
        still["models"].as_array().unwrap().len(),
        1,
        "a dry run removes nothing"
    );
    let (status, removed) = delete_json(&app, &path, None).await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["success"], true);
    let (_, after) = get(&app, "/api/v1/failed-deliveries").await;
    assert!(after["models"].as_array().unwrap().is_empty());
    // Nothing else changed: the delivery, its attempts, the notification.
    let (_, delivery) = get(&app, &format!("/api/v1/deliveries/{one}")).await;
    assert_eq!(delivery, delivered);
    let (_, attempts_after) = get(&app, &format!("/api/v1/deliveries/{one}/attempts")).await;
    assert_eq!(attempts_after, attempts_before);
    let (status, _) = get(&app, "/api/v1/notification/mars@1").await;
    assert_eq!(status, 200);
    for missing in [
        path.clone(),
        format!("/api/v1/failed-deliveries/{destination}:mars@2"),
        "/api/v1/failed-deliveries/garbage".to_owned(),
    ] {
        let (status, body) = delete_json(&app, &missing, None).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (404, Some("FAILED_DELIVERY_NOT_FOUND")),
            "{missing}"
        );
    }
    app.stop().await;
}

pub async fn terminal_histories_are_deleted_id_by_id_and_dry_runs_predict_it(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/h", [Answer::status(500)]);
    let (done, _) = register(&app, &receiver.url("/h"), json!({})).await;
    let (waiting, _) = register(&app, &receiver.url("/w"), json!({})).await;
    assert_eq!(
        app.post(
            &format!("/api/v1/destinations/{waiting}/disable"),
            &json!({})
        )
        .await
        .status(),
        200
    );
    app.notify("mars", mars(2), json!(null)).await;
    app.notify("mars", mars(3), json!(null)).await;
    let first = format!("{done}:mars@1");
    let second = format!("{done}:mars@2");
    delivery_until(&app, &first, status_is("succeeded")).await;
    delivery_until(&app, &second, status_is("succeeded")).await;
    let pending = format!("{waiting}:mars@1");
    delivery_until(&app, &pending, status_is("pending")).await;
    let ids = json!({"ids": [first, second, pending, format!("{done}:mars@99"), "nonsense"]});
    let (status, dry) = delete_json(
        &app,
        "/api/v1/deliveries/history?dry_run=true",
        Some(ids.clone()),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    let (status, real) = delete_json(&app, "/api/v1/deliveries/history", Some(ids)).await;
    assert_eq!(status, 200, "{real}");
    for field in ["successful", "failed", "success"] {
        assert_eq!(dry[field], real[field], "the dry run predicts {field}");
    }
    assert_eq!(real["successful"], json!([first, second]));
    assert_eq!(real["success"], false);
    assert_eq!(real["message"], "2 deleted, 3 failed");
    let codes: Vec<&str> = real["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["NOT_TERMINAL", "NOT_FOUND", "INVALID_ID"]);
    for gone in [
        format!("/api/v1/deliveries/{first}"),
        format!("/api/v1/deliveries/{first}/attempts"),
    ] {
        let (status, body) = get(&app, &gone).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (404, Some("DELIVERY_NOT_FOUND"))
        );
    }
    let (_, view) = get(&app, "/api/v1/failed-deliveries").await;
    assert!(
        view["models"].as_array().unwrap().is_empty(),
        "its failed-view entry went too"
    );
    let (status, _) = get(&app, "/api/v1/notification/mars@1").await;
    assert_eq!(status, 200, "the notification stays");
    let mut replay = app
        .stream(
            "/api/v1/replay",
            json!({"event_type": "mars", "identifier": {"class": "od"}, "from_id": "1"}),
            None,
        )
        .await;
    let frames = replay
        .until(|frame| frame.id.as_deref() == Some("mars@2"), WAIT)
        .await;
    assert!(
        frames
            .iter()
            .any(|frame| frame.id.as_deref() == Some("mars@1"))
    );
    delivery_until(&app, &pending, status_is("pending")).await;
    for body in [
        json!({"ids": []}),
        json!({"ids": vec!["x"; 1001]}),
        json!({"id": "x"}),
    ] {
        let (status, error) = delete_json(&app, "/api/v1/deliveries/history", Some(body)).await;
        assert_eq!(
            (status.as_u16(), error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{error}"
        );
    }
    app.stop().await;
}

pub async fn subscriptions_are_deleted_by_condition(kind: StoreKind) {
    let app = app(kind).await;
    let diss = json!({"event_type": "dissemination", "identifier": {"destination": "ecmwf", "class": "od"}});
    let mars_only = json!({"event_type": "mars", "identifier": {"class": "od"}});
    let make = |subscriptions: Value| {
        let app = &app;
        async move {
            let response = app
                .post(
                    "/api/v1/destinations",
                    &json!({"url": "http://127.0.0.1:9/x", "subscriptions": subscriptions}),
                )
                .await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let only_mars = make(json!([mars_only])).await;
    let both = make(json!([mars_only, diss])).await;
    let only_diss = make(json!([diss])).await;
    let condition = json!({"condition": {"event": "mars"}});
    let (status, dry) = delete_json(
        &app,
        "/api/v1/destinations?dry_run=true",
        Some(condition.clone()),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["updated"].clone(), dry["deleted"].clone()),
        (json!([both]), json!([only_mars]))
    );
    let (status, _) = get(&app, &format!("/api/v1/destinations/{only_mars}")).await;
    assert_eq!(status, 200, "a dry run changes nothing");
    let (status, real) = delete_json(&app, "/api/v1/destinations", Some(condition)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (real["updated"].clone(), real["deleted"].clone()),
        (dry["updated"].clone(), dry["deleted"].clone())
    );
    let (status, _) = get(&app, &format!("/api/v1/destinations/{only_mars}")).await;
    assert_eq!(status, 404);
    let (_, kept) = get(&app, &format!("/api/v1/destinations/{both}")).await;
    assert_eq!(kept["subscriptions"], json!([diss]));
    let (status, grouped) = delete_json(
        &app,
        "/api/v1/destinations",
        Some(json!({"condition": {"group": "DISS"}})),
    )
    .await;
    assert_eq!(status, 200);
    let mut deleted: Vec<String> = grouped["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    deleted.sort();
    let mut expected = vec![both.clone(), only_diss.clone()];
    expected.sort();
    assert_eq!(deleted, expected);
    for (body, code) in [
        (json!({"condition": {"all": false}}), "INVALID_DESTINATION"),
        (
            json!({"condition": {"event": "mars", "all": true}}),
            "INVALID_DESTINATION",
        ),
        (json!({"condition": {}}), "INVALID_DESTINATION"),
        (json!({"condition": {"event": ""}}), "INVALID_DESTINATION"),
        (
            json!({"condition": {"event": "x".repeat(1001)}}),
            "INVALID_DESTINATION",
        ),
        (
            json!({"condition": {"event": "nope"}}),
            "UNKNOWN_EVENT_TYPE",
        ),
        (
            json!({"condition": {"group": "nope"}}),
            "INVALID_DESTINATION",
        ),
        (json!({"filter": {"all": true}}), "INVALID_DESTINATION"),
    ] {
        let (status, error) = delete_json(&app, "/api/v1/destinations", Some(body.clone())).await;
        assert_eq!(
            (status.as_u16(), error["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let (status, all) = delete_json(
        &app,
        "/api/v1/destinations",
        Some(json!({"condition": {"all": true}})),
    )
    .await;
    assert_eq!((status.as_u16(), all["deleted"].clone()), (200, json!([])));
    app.stop().await;
}

async fn post_empty(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.post(app.url(path)).send().await.unwrap()
}

async fn attempts_of(app: &TestApp, id: &str) -> Vec<Value> {
    get(app, &format!("/api/v1/deliveries/{id}/attempts"))
        .await
        .1["models"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn manual_retries_resend_refuse_disabled_and_report_per_item(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    let (ok, _) = register(&app, &receiver.url("/r"), json!({})).await;
    receiver.default_answer("/f", Answer::status(500));
    let (broken, _) = register(
        &app,
        &receiver.url("/f"),
        json!({"retry": {"schedule": []}}),
    )
    .await;
    app.notify("mars", mars(2), json!(null)).await;
    let sent = format!("{ok}:mars@1");
    let failed = format!("{broken}:mars@1");
    delivery_until(&app, &sent, status_is("succeeded")).await;
    delivery_until(&app, &failed, status_is("failed")).await;

    // A succeeded delivery is sent again.
    let response = post_empty(&app, &format!("/api/v1/deliveries/{sent}/retry")).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["success"].clone(), body["id"].clone()),
        (json!(true), json!(sent))
    );
    let received = receiver.wait_for("/r", 2, WAIT).await;
    assert_eq!(received[1].webhook_id(), "mars@1", "the same webhook-id");
    let deadline = std::time::Instant::now() + WAIT;
    while attempts_of(&app, &sent).await.len() < 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let triggers: Vec<Value> = attempts_of(&app, &sent)
        .await
        .iter()
        .map(|a| a["trigger"].clone())
        .collect();
    assert_eq!(triggers, [json!("scheduled"), json!("manual")]);
    delivery_until(&app, &sent, |d| {
        d["status"] == "succeeded" && d["attempts"] == 2
    })
    .await;

    // A failed one succeeds once the receiver is fixed.
    receiver.default_answer("/f", Answer::status(200));
    let response = post_empty(&app, &format!("/api/v1/deliveries/{failed}/retry")).await;
    assert_eq!(response.status(), 202);
    delivery_until(&app, &failed, status_is("succeeded")).await;

    // Refusals.
    let (status, body) = {
        let response = post_empty(&app, "/api/v1/deliveries/nonsense/retry").await;
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (400, Some("INVALID_ID"))
    );
    let response = post_empty(&app, &format!("/api/v1/deliveries/{ok}:mars@77/retry")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        app.post(
            &format!("/api/v1/destinations/{broken}/disable"),
            &json!({})
        )
        .await
        .status(),
        200
    );
    let response = post_empty(&app, &format!("/api/v1/deliveries/{failed}/retry")).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "DESTINATION_DISABLED"
    );

    // Bulk, by ids: each on its own; the dry run predicts the real call.
    let ids = json!({"ids": [sent, format!("{ok}:mars@77"), "nonsense", failed]});
    let dry: Value = app
        .post("/api/v1/deliveries/retry?dry_run=true", &ids)
        .await
        .json()
        .await
        .unwrap();
    let real: Value = app
        .post("/api/v1/deliveries/retry", &ids)
        .await
        .json()
        .await
        .unwrap();
    for field in ["successful", "failed", "success"] {
        assert_eq!(dry[field], real[field], "{field}");
    }
    assert_eq!(real["successful"], json!([sent]));
    let codes: Vec<&str> = real["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["NOT_FOUND", "INVALID_ID", "DESTINATION_DISABLED"]);
    receiver.wait_for("/r", 3, WAIT).await;
    // Bulk, by destination and status.
    let chosen: Value = app
        .post(
            "/api/v1/deliveries/retry?dry_run=true",
            &json!({"destination_id": ok, "status": "succeeded"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chosen["successful"], json!([sent]));
    for bad in [
        json!({"ids": []}),
        json!({"ids": ["a"], "destination_id": ok}),
        json!({"status": "failed"}),
        json!({"destination_id": ok, "status": "done"}),
    ] {
        let response = app.post("/api/v1/deliveries/retry", &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    app.stop().await;
}

pub async fn a_manual_retry_never_runs_beside_the_scheduled_attempt(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    let slow = |status| Answer {
        delay: Duration::from_millis(300),
        ..Answer::status(status)
    };
    receiver.queue("/slow", [slow(500), slow(500)]);
    receiver.default_answer("/slow", slow(200));
    let (destination, _) = register(
        &app,
        &receiver.url("/slow"),
        json!({"retry": {"schedule": ["100ms", "100ms"]}}),
    )
    .await;
    app.notify("mars", mars(2), json!(null)).await;
    let id = format!("{destination}:mars@1");
    receiver.wait_for("/slow", 1, WAIT).await;
    // Asked while the first attempt is still waiting for its answer.
    let response = post_empty(&app, &format!("/api/v1/deliveries/{id}/retry")).await;
    assert_eq!(response.status(), 202);
    delivery_until(&app, &id, status_is("succeeded")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received_on("/slow");
    assert!(received.len() >= 2, "{}", received.len());
    for pair in received.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(290),
            "two requests of one delivery at once: {:?}",
            pair[1].at - pair[0].at
        );
    }
    app.stop().await;
}

pub async fn a_replay_resends_exactly_the_history_asked_for(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    for step in [2, 1, 3, 4] {
        app.notify("mars", mars(step), json!(null)).await; // mars@1..4; step 1 does not match
    }
    let deleted = app
        .client
        .delete(app.url("/api/v1/admin/notification/mars@3"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    // Routing runs a moment behind storing (a fresh instance takes its router lease
    // first): let it pass these before the destination exists, so only a replay sends them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (destination, _) = register(&app, &receiver.url("/replayed"), json!({})).await;
    app.notify("mars", mars(5), json!(null)).await; // mars@5, delivered live
    receiver.wait_for("/replayed", 1, WAIT).await;
    let path = format!("/api/v1/destinations/{destination}/replay");
    let range = json!({"from_id": "1", "to_id": "4"});
    let dry = app.post(&format!("{path}?dry_run=true"), &range).await;
    assert_eq!(dry.status(), 200);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(
        (dry["queued"].clone(), dry["dry_run"].clone()),
        (json!(2), json!(true))
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.received_on("/replayed").len(),
        1,
        "a dry run sends nothing"
    );
    let real = app.post(&path, &range).await;
    assert_eq!(real.status(), 202);
    assert_eq!(real.json::<Value>().await.unwrap()["queued"], 2);
    let received = receiver.wait_for("/replayed", 3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids: Vec<String> = receiver
        .received_on("/replayed")
        .iter()
        .map(Received::webhook_id)
        .collect();
    assert_eq!(ids.len(), received.len().max(3));
    ids.sort();
    assert_eq!(
        ids,
        ["mars@1", "mars@4", "mars@5"],
        "history before the destination existed, deleted and unmatched ones skipped"
    );
    let first = format!("{destination}:mars@1");
    let delivery = delivery_until(&app, &first, status_is("succeeded")).await;
    assert_eq!(delivery["attempts"], 1);
    let attempts = attempts_of(&app, &first).await;
    assert_eq!(attempts[0]["trigger"], "replay");
    // By date, up to now: every matching notification still there, mars@5 included.
    let all = app
        .post(
            &format!("{path}?dry_run=true"),
            &json!({"from_date": "2000-01-01T00:00:00Z"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(all["queued"], 3);
    for bad in [
        json!({}),
        json!({"to_id": "3"}),
        json!({"from_id": "x"}),
        json!({"from_id": "1", "colour": "red"}),
    ] {
        let response = app.post(&path, &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    assert_eq!(
        app.post(
            &format!("/api/v1/destinations/{destination}/disable"),
            &json!({})
        )
        .await
        .status(),
        200
    );
    let refused = app.post(&path, &range).await;
    assert_eq!(refused.status(), 409);
    app.stop().await;
}

/// `delivery.enabled: false`: the instance answers the delivery routes but routes and sends
/// nothing; another instance on the same NATS does the work.
pub async fn an_instance_with_delivery_off_sends_nothing_itself() {
    let off = TestApp::spawn_with(StoreKind::Jetstream, |settings| {
        settings.delivery.enabled = false;
    })
    .await;
    let receiver = Receiver::start().await;
    let (destination, _) = register(&off, &receiver.url("/off"), json!({})).await;
    off.notify("mars", mars(2), json!(null)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        receiver.received_on("/off").is_empty(),
        "nothing routed or sent"
    );
    let url = off.nats.as_ref().unwrap().url();
    let on = TestApp::spawn_with(StoreKind::Memory, |settings| {
        settings.store.kind = StoreKind::Jetstream;
        settings.store.jetstream.url = url;
        quick(settings);
    })
    .await;
    let sent = receiver.wait_for("/off", 1, WAIT).await;
    assert_eq!(
        sent[0].webhook_id(),
        "mars@1",
        "the enabled instance routes what was stored"
    );
    delivery_until(
        &off,
        &format!("{destination}:mars@1"),
        status_is("succeeded"),
    )
    .await;
    on.stop().await;
    off.stop().await;
}

/// Opens `GET /api/v1/deliveries/events?<query>`, optionally after `last_event_id`.
async fn outcome_stream(
    app: &TestApp,
    query: &str,
    last_event_id: Option<&str>,
) -> crate::helpers::FrameReader {
    let mut request = app
        .client
        .get(app.url(&format!("/api/v1/deliveries/events?{query}")));
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    crate::helpers::FrameReader::new(response)
}

/// The `delivery-outcome` frames up to the first one of type `last`: (id, data).
async fn outcomes_until(
    stream: &mut crate::helpers::FrameReader,
    last: &str,
) -> Vec<(String, Value)> {
    let frames = stream
        .until(
            |frame| frame.event == "delivery-outcome" && frame.data["type"] == last,
            WAIT,
        )
        .await;
    frames
        .into_iter()
        .filter(|frame| frame.event == "delivery-outcome")
        .map(|frame| (frame.id.expect("an id line"), frame.data))
        .collect()
}

/// The `type` of each outcome.
fn types(outcomes: &[(String, Value)]) -> Vec<&str> {
    outcomes
        .iter()
        .map(|(_, data)| data["type"].as_str().unwrap_or_default())
        .collect()
}

pub async fn live_outcomes_stream_and_resume_after_last_event_id(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/flaky", [Answer::status(503), Answer::status(503)]);
    let (destination, _) = register(&app, &receiver.url("/flaky"), json!({})).await;
    let mut live = outcome_stream(&app, "", None).await;
    let opening = live.next(WAIT).await.unwrap();
    assert_eq!(opening.data["type"], "connection_established");
    app.notify("mars", mars(2), json!(null)).await;
    let seen = outcomes_until(&mut live, "attempt_succeeded").await;
    assert_eq!(
        types(&seen),
        ["attempt_failed", "attempt_failed", "attempt_succeeded"]
    );
    let delivery = format!("{destination}:mars@1");
    for (number, (_, data)) in seen.iter().enumerate() {
        assert_eq!(data["delivery_id"], delivery.as_str());
        assert_eq!(data["destination_id"], destination.as_str());
        assert_eq!(data["notification_id"], "mars@1");
        assert_eq!(data["attempt"], number + 1);
        assert!(data["time"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(seen[0].1["response_status_code"], 503);
    assert_eq!(seen[2].1["response_status_code"], 200);
    drop(live);

    // Resumed after the first: the other two, then live again; nothing lost or repeated.
    let mut resumed = outcome_stream(&app, "", Some(&seen[0].0)).await;
    let opening = resumed.next(WAIT).await.unwrap();
    assert_eq!(opening.data["type"], "replay_started");
    assert_eq!(opening.data["last_event_id"], seen[0].0.as_str());
    let again = outcomes_until(&mut resumed, "attempt_succeeded").await;
    assert_eq!(again, seen[1..].to_vec());
    let completed = resumed.next(WAIT).await.unwrap();
    assert_eq!(completed.data["type"], "replay_completed");

    // A 410 on another destination: its attempt, the exhausted delivery and the disabled
    // destination, on a stream narrowed to that destination.
    receiver.queue("/gone", [Answer::status(410)]);
    let (gone, _) = register(&app, &receiver.url("/gone"), json!({})).await;
    let mut narrowed = outcome_stream(&app, &format!("destination_id={gone}"), None).await;
    narrowed.next(WAIT).await.unwrap();
    app.notify("mars", mars(3), json!(null)).await;
    let ended = outcomes_until(&mut narrowed, "destination_disabled").await;
    assert_eq!(
        types(&ended),
        [
            "attempt_failed",
            "delivery_exhausted",
            "destination_disabled"
        ]
    );
    assert!(
        ended
            .iter()
            .all(|(_, data)| data["destination_id"] == gone.as_str())
    );
    assert_eq!(ended[0].1["error"], "gone");
    // The first destination's success of mars@2 went to the resumed stream, not here.
    let more = outcomes_until(&mut resumed, "attempt_succeeded").await;
    assert_eq!(more.last().unwrap().1["notification_id"], "mars@2");

    // History from an id: everything from there on, in order.
    let mut history = outcome_stream(&app, &format!("from_id={}", seen[1].0), None).await;
    let replayed = outcomes_until(&mut history, "destination_disabled").await;
    assert_eq!(replayed[..2].to_vec(), seen[1..].to_vec());

    // Bad queries and ids are 400s in the request error shape.
    for (query, last) in [
        ("from_id=0", None),
        ("from_id=1&from_date=2026-01-01T00:00:00Z", None),
        ("destination_id=nope", None),
        ("since=1", None),
        ("", Some("mars@1")),
    ] {
        let mut request = app
            .client
            .get(app.url(&format!("/api/v1/deliveries/events?{query}")));
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "INVALID_QUERY", "{query}: {body}");
        assert_eq!(body["request_id"], request_id.as_str());
    }
    app.stop().await;
}

/// Whether two requests of one `webhook-id` overlapped (each answered after `busy`).
fn overlapping(received: &[Received], busy: Duration) -> Vec<String> {
    let mut by_id: std::collections::BTreeMap<String, Vec<std::time::Instant>> =
        std::collections::BTreeMap::new();
    for request in received {
        by_id
            .entry(request.webhook_id())
            .or_default()
            .push(request.at);
    }
    let mut overlaps = Vec::new();
    for (id, mut arrivals) in by_id {
        arrivals.sort();
        for pair in arrivals.windows(2) {
            if pair[1] - pair[0] < busy {
                overlaps.push(format!("{id}: {:?} apart", pair[1] - pair[0]));
            }
        }
    }
    overlaps
}

pub async fn a_manual_retry_on_another_instance_never_runs_beside_the_scheduled_attempt() {
    // The first instance sends one request at a time and takes at most four tasks: the
    // manual retries asked for below are mostly taken by the second, while the first is
    // sending a scheduled attempt of the same delivery. Both keep the default takeover
    // time: tasks the first has fetched but cannot start yet must not be handed to the
    // second as abandoned meanwhile (see the README's bounds on prefetched tasks).
    let first = TestApp::spawn_with(StoreKind::Jetstream, |settings| {
        settings.delivery.max_in_flight = 1;
    })
    .await;
    let receiver = Receiver::start().await;
    let busy = Duration::from_millis(600);
    let slow = |status| Answer {
        delay: busy,
        ..Answer::status(status)
    };
    receiver.queue("/slow", (0..4).map(|_| slow(500)));
    receiver.default_answer("/slow", slow(200));
    let (destination, _) = register(
        &first,
        &receiver.url("/slow"),
        json!({"retry": {"schedule": ["100ms", "100ms", "100ms"]}}),
    )
    .await;
    for step in 2..6 {
        first.notify("mars", mars(step), json!(null)).await;
    }
    receiver.wait_for("/slow", 1, WAIT).await;
    let url = first.nats.as_ref().unwrap().url();
    let second = TestApp::spawn_with(StoreKind::Memory, |settings| {
        settings.store.kind = StoreKind::Jetstream;
        settings.store.jetstream.url = url;
    })
    .await;
    // Routing may still be behind the first request on a loaded machine: every record
    // exists before its retry is asked for.
    for sequence in 1..=4 {
        let id = format!("{destination}:mars@{sequence}");
        delivery_until(&second, &id, |_| true).await;
    }
    for sequence in 1..=4 {
        let id = format!("{destination}:mars@{sequence}");
        let response = post_empty(&second, &format!("/api/v1/deliveries/{id}/retry")).await;
        assert_eq!(response.status(), 202);
    }
    for sequence in 1..=4 {
        let id = format!("{destination}:mars@{sequence}");
        delivery_until(&first, &id, status_is("succeeded")).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = receiver.received_on("/slow");
    let overlaps = overlapping(&received, busy - Duration::from_millis(20));
    if !overlaps.is_empty() {
        for sequence in 1..=4 {
            let id = format!("{destination}:mars@{sequence}");
            eprintln!(
                "DEBUG {id}: {:?}",
                attempts_of(&first, &id)
                    .await
                    .iter()
                    .map(|a| (
                        a["trigger"].clone(),
                        a["delivered_at"].clone(),
                        a["response_status_code"].clone()
                    ))
                    .collect::<Vec<_>>()
            );
        }
    }
    assert!(
        overlaps.is_empty(),
        "requests of one delivery at once: {overlaps:?}"
    );
    second.stop().await;
    first.stop().await;
}

pub async fn a_retry_on_an_ordered_destination_brings_the_waiting_attempt_forward(kind: StoreKind) {
    let app = app(kind).await;
    let receiver = Receiver::start().await;
    receiver.queue("/in-order", [Answer::status(500)]);
    let (destination, _) = register(
        &app,
        &receiver.url("/in-order"),
        json!({"ordering": "ordered", "retry": {"schedule": ["1h"]}}),
    )
    .await;
    app.notify("mars", mars(2), json!(null)).await;
    app.notify("mars", mars(3), json!(null)).await;
    let first = format!("{destination}:mars@1");
    delivery_until(&app, &first, status_is("retrying")).await;
    // mars@2 waits behind mars@1's hour.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received_on("/in-order").len(), 1);
    let response = post_empty(&app, &format!("/api/v1/deliveries/{first}/retry")).await;
    assert_eq!(response.status(), 202);
    let done = delivery_until(&app, &first, status_is("succeeded")).await;
    assert_eq!(done["attempts"], 2);
    let attempts = attempts_of(&app, &first).await;
    assert_eq!(attempts[1]["trigger"], "manual");
    delivery_until(
        &app,
        &format!("{destination}:mars@2"),
        status_is("succeeded"),
    )
    .await;
    let order: Vec<String> = receiver
        .received_on("/in-order")
        .iter()
        .map(Received::webhook_id)
        .collect();
    assert_eq!(
        order,
        ["mars@1", "mars@1", "mars@2"],
        "order kept, once each"
    );
    app.stop().await;
}
