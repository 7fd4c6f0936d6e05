//! `POST /api/v1/notification` and the error shapes every route shares.

use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::{TestApp, mars};

pub async fn accepts_a_notification_and_returns_its_id(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let response = app
        .post(
            "/api/v1/notification",
            &json!({"event_type":"mars","identifier":mars(1),"payload":{"note":"hello"}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        text.starts_with(r#"{"status":"success","request_id":""#),
        "{text}"
    );
    assert_eq!(body["request_id"], header.as_str());
    assert_eq!(body["id"], "mars@1");
    let processed_at = body["processed_at"].as_str().unwrap();
    assert_eq!(processed_at.len(), 20);
    assert!(processed_at.ends_with('Z'));
    assert_eq!(app.notify_mars(2).await, "mars@2");
    // A form-encoded body (curl -d) is still read as JSON, as aviso does.
    let form = app
        .client
        .post(app.url("/api/v1/notification"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(json!({"event_type":"mars","identifier":mars(3)}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let ids = app
        .replay_ids(json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
        .await;
    assert_eq!(ids, ["mars@1", "mars@2", "mars@3"]);
    app.stop().await;
}

async fn error(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post("/api/v1/notification", &body).await;
    let status = response.status().as_u16();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], header.as_str(), "{body}");
    (status, body)
}

pub async fn every_request_error_class_is_a_json_400(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let response = app
        .post_raw(
            "/api/v1/notification",
            r#"{"event_type":"mars","identifier":"#,
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_JSON");
    assert_eq!(body["error"], "Invalid Notification Request");
    assert_eq!(
        body["message"],
        "JSON parsing failed: EOF while parsing a value at line 1 column 34"
    );

    let (status, body) = error(&app, json!({"event_type":"mars","identifier":{},"foo":1})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("UNKNOWN_FIELD"))
    );
    assert_eq!(
        body["message"],
        r#"Request contains unknown fields: Unknown field 'foo' in request. Allowed fields: ["event_type", "identifier", "from_id", "from_date", "to_id", "to_date", "payload"]"#
    );
    let (status, body) = error(&app, json!({"identifier":{}})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_REQUEST_SHAPE"))
    );
    assert_eq!(
        body["message"],
        "Request deserialization failed: missing field `event_type`"
    );

    let (status, body) = error(&app, json!({"event_type":"nosuch","identifier":{}})).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "UNKNOWN_EVENT_TYPE");
    assert_eq!(body["error"], "unknown_event_type");
    assert_eq!(body["message"], "unknown event type 'nosuch'");
    assert_eq!(
        body["configured_event_types"],
        json!(["dissemination", "mars", "test_polygon"])
    );
    assert!(body.get("details").is_none());

    let mut missing = mars(1);
    missing.as_object_mut().unwrap().remove("step");
    let (status, body) = error(&app, json!({"event_type":"mars","identifier":missing})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_NOTIFICATION_REQUEST"))
    );
    assert_eq!(
        body["message"],
        "Required field 'step' missing for notify operation"
    );

    let mut unknown = mars(1);
    unknown["foo"] = json!("x");
    let (status, body) = error(&app, json!({"event_type":"mars","identifier":unknown})).await;
    assert_eq!(
        status, 400,
        "unknown identifier keys are a 400, not aviso's 500"
    );
    assert_eq!(
        body["message"],
        "Unknown field 'foo' provided for notify operation"
    );

    let cases = [
        (
            json!({"step":{"gte":1}}),
            "Field 'step' constraint object is not supported for notify operation",
        ),
        (
            json!({"step":"abc"}),
            "Field 'step' must be a valid integer, got: 'abc'",
        ),
        (
            json!({"step":true}),
            "Field 'step' must be a valid integer, got: 'true'",
        ),
        (
            json!({"class":"odd"}),
            "Field 'class' exceeds maximum length of 2 characters, got: 3",
        ),
        (
            json!({"domain":"zz"}),
            "Field 'domain' has invalid value 'zz'. Allowed: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z]",
        ),
        (
            json!({"point":"1,2"}),
            "identifier.point is only supported for watch/replay endpoints, not /notification",
        ),
        (json!({"step":null}), "Field 'step' cannot be null"),
    ];
    for (change, message) in cases {
        let mut identifier = mars(1);
        for (key, value) in change.as_object().unwrap() {
            identifier[key] = value.clone();
        }
        let (status, body) =
            error(&app, json!({"event_type":"mars","identifier":identifier})).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["message"], message);
    }
    let (status, body) = error(
        &app,
        json!({"event_type":"mars","identifier":{"date":"2025-02-30"}}),
    )
    .await;
    assert_eq!(status, 400);
    let mut bad_date = mars(1);
    bad_date["date"] = json!("2025-02-30");
    let (_, body_date) = error(&app, json!({"event_type":"mars","identifier":bad_date})).await;
    assert_eq!(
        body_date["message"],
        "Failed to parse date value for field 'date'"
    );
    assert_eq!(
        body_date["details"],
        "Field 'date' contains invalid date '2025-02-30'. Expected: YYYY-MM-DD, YYYYMMDD, or YYYY-DDD"
    );
    drop(body);

    let (status, body) = error(
        &app,
        json!({"event_type":"mars","identifier":mars(1),"to_id":"3"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "to_id and to_date are only supported for the replay endpoint, not /notification"
    );

    let polygon = json!({"date":"20250706","time":"1200","polygon":"(52.5,13.4,52.6,13.5,52.4,13.6,52.5,13.4)"});
    let (status, body) = error(
        &app,
        json!({"event_type":"test_polygon","identifier":polygon,"payload":null}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Payload is required for notify operation based on schema configuration"
    );
    let unclosed =
        json!({"date":"20250706","time":"1200","polygon":"(52.5,13.4,52.6,13.5,52.4,13.6"});
    let (status, body) = error(
        &app,
        json!({"event_type":"test_polygon","identifier":unclosed,"payload":{}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("field 'polygon' must be a valid polygon: "),
        "{body}"
    );
    app.stop().await;
}

pub async fn framework_errors_are_json_too(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| settings.http.body_limit = 1024).await;
    for (response, status, code) in [
        (
            app.client.get(app.url("/nope")).send().await.unwrap(),
            404,
            "NOT_FOUND",
        ),
        (
            app.client
                .get(app.url("/api/v1/watch"))
                .send()
                .await
                .unwrap(),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            app.client
                .post(app.url("/api/v1/notification"))
                .body("x".repeat(4096))
                .send()
                .await
                .unwrap(),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ] {
        assert_eq!(response.status(), status);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code);
        assert_eq!(body["request_id"], header.as_str());
    }
    app.stop().await;
}

pub async fn idempotency_keys_answer_the_original_id(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let send = |step: u64| {
        app.client
            .post(app.url("/api/v1/notification"))
            .header("idempotency-key", "batch-7")
            .json(&json!({"event_type":"mars","identifier":mars(step)}))
            .send()
    };
    let first: Value = send(1).await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], "mars@1");
    assert!(first.get("duplicate").is_none());
    let again: Value = send(1).await.unwrap().json().await.unwrap();
    assert_eq!(again["id"], "mars@1");
    assert_eq!(again["duplicate"], true);
    app.stop().await;
}

pub async fn an_idempotency_key_reused_for_another_request_is_a_422(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let send = |identifier: Value, payload: Value| {
        app.client
            .post(app.url("/api/v1/notification"))
            .header("idempotency-key", "batch-8")
            .json(&json!({"event_type":"mars","identifier":identifier,"payload":payload}))
            .send()
    };
    let first = send(mars(1), json!({"a": 1, "b": 2})).await.unwrap();
    assert_eq!(first.status(), 200);
    for (identifier, payload) in [
        (mars(2), json!({"a": 1, "b": 2})),
        (mars(1), json!({"a": 2, "b": 2})),
        (mars(1), Value::Null),
    ] {
        let response = send(identifier.clone(), payload.clone()).await.unwrap();
        assert_eq!(response.status(), 422, "{identifier} {payload}");
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["code", "details", "error", "message", "request_id"]);
        assert_eq!(body["code"], "IDEMPOTENCY_KEY_REUSED");
        assert_eq!(body["request_id"], header.as_str());
        assert!(
            body["message"].as_str().unwrap().contains("'batch-8'"),
            "{body}"
        );
    }
    // The same request again, keys in another order and the date in another form, is the
    // duplicate: the binding is to the canonical request, not to its bytes.
    let mut identifier = mars(1);
    identifier["date"] = json!("20250706");
    let raw =
        format!(r#"{{"payload":{{"b":2,"a":1}},"identifier":{identifier},"event_type":"mars"}}"#);
    let again = app
        .client
        .post(app.url("/api/v1/notification"))
        .header("idempotency-key", "batch-8")
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (&again["id"], &again["duplicate"]),
        (&json!("mars@1"), &json!(true))
    );
    let stored = app
        .replay_ids(json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"0"}))
        .await;
    assert_eq!(stored, ["mars@1"], "the reused key stored nothing");
    app.stop().await;
}

pub async fn polygons_travel_in_headers_and_come_back(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let identifier = json!({"date":"20250706","time":"1200","polygon":"(52.5,13.4,52.6,13.5,52.4,13.6,52.5,13.4)"});
    assert_eq!(
        app.notify("test_polygon", identifier, json!({"a":1})).await,
        "test_polygon@1"
    );
    let frames = app
        .replay(
            json!({"event_type":"test_polygon","identifier":{"point":"52.5,13.5"},"from_id":"1"}),
        )
        .await;
    let event = frames
        .iter()
        .find(|frame| frame.event == "replay")
        .expect("a replayed polygon");
    assert_eq!(
        event.data["data"]["identifier"]["polygon"],
        json!([[52.5, 13.4], [52.6, 13.5], [52.4, 13.6], [52.5, 13.4]])
    );
    let outside = app
        .replay_ids(
            json!({"event_type":"test_polygon","identifier":{"point":"10,10"},"from_id":"1"}),
        )
        .await;
    assert!(outside.is_empty());
    app.stop().await;
}
