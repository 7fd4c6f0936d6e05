//! Admin routes: delete one notification, wipe one stream, wipe all.

use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::TestApp;

async fn answer(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["request_id"], header.as_str(), "{text}");
    (status, text, body)
}

fn replay_all(event_type: &str) -> Value {
    let identifier = if event_type == "mars" {
        json!({"class":"od"})
    } else {
        json!({"destination":"FOO","class":"od"})
    };
    json!({"event_type": event_type, "identifier": identifier, "from_id": "1"})
}

pub async fn delete_accepts_alias_and_canonical_ids(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=4 {
        app.notify_mars(step).await;
    }
    assert_eq!(app.replay_ids(replay_all("mars")).await[0], "mars@1");
    let (status, text, _) = answer(app.delete("/api/v1/admin/notification/mars@1").await).await;
    assert_eq!(status, 200);
    assert!(text.starts_with(r#"{"success":true,"message":"Notification deleted","notification_id":"mars@1","request_id":""#), "{text}");
    for id in ["MARS@2", "Mars@3"] {
        let (status, _, body) = answer(
            app.delete(&format!("/api/v1/admin/notification/{id}"))
                .await,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["notification_id"], id);
    }
    assert_eq!(app.replay_ids(replay_all("mars")).await, ["mars@4"]);
    let identifier = json!({"destination":"FOO","target":"t","class":"od","expver":"1","domain":"g","date":"20250706","time":"1200","stream":"enfo","step":"1"});
    app.notify("dissemination", identifier.clone(), json!({}))
        .await;
    let mut second = identifier;
    second["step"] = json!("2");
    app.notify("dissemination", second, json!({})).await;
    assert_eq!(
        answer(app.delete("/api/v1/admin/notification/diss@1").await)
            .await
            .0,
        200
    );
    assert_eq!(
        answer(
            app.delete("/api/v1/admin/notification/dissemination@2")
                .await
        )
        .await
        .0,
        200
    );
    assert!(app.replay_ids(replay_all("dissemination")).await.is_empty());
    app.stop().await;
}

pub async fn delete_errors_use_the_admin_envelope(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    let cases = [
        (
            "mars",
            400,
            "notification_id must be in '<stream>@<sequence>' format",
        ),
        (
            "@5",
            400,
            "notification_id must be in '<stream>@<sequence>' format",
        ),
        (
            "mars@",
            400,
            "notification_id must be in '<stream>@<sequence>' format",
        ),
        (
            "mars@0",
            400,
            "notification_id sequence must be greater than zero",
        ),
        (
            "mars@abc",
            400,
            "notification_id sequence must be a positive integer",
        ),
        (
            "mars@-1",
            400,
            "notification_id sequence must be a positive integer",
        ),
        ("nosuch@1", 404, "Notification not found"),
        ("mars@999999", 404, "Notification not found"),
    ];
    for (id, status, message) in cases {
        let (got, _, body) = answer(
            app.delete(&format!("/api/v1/admin/notification/{id}"))
                .await,
        )
        .await;
        assert_eq!(got, status, "{id}: {body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["message"], message, "{id}");
        assert_eq!(body["notification_id"], id);
    }
    app.stop().await;
}

pub async fn wipe_stream_purges_only_the_named_stream(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.notify_mars(2).await;
    let identifier = json!({"destination":"FOO","target":"t","class":"od","expver":"1","domain":"g","date":"20250706","time":"1200","stream":"enfo","step":"1"});
    app.notify("dissemination", identifier, json!({})).await;
    let (status, text, _) = answer(
        app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":"Mars"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        text.starts_with(
            r#"{"success":true,"message":"Successfully wiped stream: Mars","request_id":""#
        ),
        "{text}"
    );
    assert!(app.replay_ids(replay_all("mars")).await.is_empty());
    assert_eq!(
        app.replay_ids(replay_all("dissemination")).await,
        ["dissemination@1"]
    );
    assert_eq!(
        app.notify_mars(3).await,
        "mars@3",
        "sequences keep counting after a wipe"
    );
    assert_eq!(app.replay_ids(replay_all("mars")).await, ["mars@3"]);
    for name in [
        "DISS",
        "dissemination",
        "DiSs",
        "polygon",
        "test_polygon",
        "MARS",
    ] {
        let (status, _, _) = answer(
            app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":name}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{name}");
    }
    let (status, _, body) = answer(
        app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":"Nope"}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        "Stream not found: Nope. Known event types: dissemination, mars, test_polygon"
    );
    for name in ["", "mars.*", "MARS.>"] {
        let (status, _, _) = answer(
            app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":name}))
                .await,
        )
        .await;
        assert_eq!(status, 404, "{name:?}");
    }
    app.stop().await;
}

pub async fn wipe_stream_body_errors_are_400s(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let url = app.url("/api/v1/admin/wipe/stream");
    let requests = [
        app.client.delete(&url),
        app.client
            .delete(&url)
            .header("content-type", "application/json"),
        app.client
            .delete(&url)
            .header("content-type", "application/json")
            .body("{"),
        app.client
            .delete(&url)
            .header("content-type", "application/json")
            .body("{}"),
        app.client
            .delete(&url)
            .header("content-type", "application/json")
            .body(r#"{"stream_name":5}"#),
        app.client
            .delete(&url)
            .header("content-type", "text/plain")
            .body(r#"{"stream_name":"mars"}"#),
    ];
    for request in requests {
        let (status, _, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["success"], false);
    }
    let (_, _, body) = answer(
        app.client
            .delete(&url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing field `stream_name`")
    );
    app.stop().await;
}

pub async fn wipe_all_purges_managed_streams_and_writes_continue(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    let (status, text, _) = answer(app.delete("/api/v1/admin/wipe/all").await).await;
    assert_eq!(status, 200);
    assert!(
        text.starts_with(
            r#"{"success":true,"message":"Successfully wiped all data","request_id":""#
        )
    );
    assert!(app.replay_ids(replay_all("mars")).await.is_empty());
    assert_eq!(app.notify_mars(2).await, "mars@2");
    assert_eq!(app.replay_ids(replay_all("mars")).await, ["mars@2"]);
    app.stop().await;
}

/// Every destructive route with a request it would carry out for real.
fn destructive_requests(app: &TestApp) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let url = |path: &str, query: &str| app.url(&format!("{path}?{query}"));
    let routes: [(&'static str, Option<Value>); 5] = [
        ("/api/v1/admin/notification/mars@1", None),
        (
            "/api/v1/admin/notifications",
            Some(json!({"ids":["mars@1"]})),
        ),
        (
            "/api/v1/admin/notifications/mars",
            Some(json!({"identifier":{"class":"od"}})),
        ),
        (
            "/api/v1/admin/wipe/stream",
            Some(json!({"stream_name":"mars"})),
        ),
        ("/api/v1/admin/wipe/all", None),
    ];
    let mut requests = Vec::new();
    for query in [
        "DRY_RUN=true",
        "dryrun=true",
        "dry-run=true",
        "dry_run=yes",
        "dry_run=1",
        "dry_run",
        "dry_run=true&dry_run=false",
        "dry_run=true&force=true",
    ] {
        for (path, body) in &routes {
            let mut request = app.client.delete(url(path, query));
            if let Some(body) = body {
                request = request.json(body);
            }
            requests.push((*path, request));
        }
    }
    let with_field =
        |path: &'static str, body: Value| (path, app.client.delete(app.url(path)).json(&body));
    requests.extend([
        with_field("/api/v1/admin/notification/mars@1", json!({"dry_run":true})),
        with_field(
            "/api/v1/admin/notifications",
            json!({"ids":["mars@1"],"dry_run":true}),
        ),
        with_field(
            "/api/v1/admin/notifications/mars",
            json!({"identifier":{"class":"od"},"dry_run":true}),
        ),
        with_field(
            "/api/v1/admin/wipe/stream",
            json!({"stream_name":"mars","dry_run":true}),
        ),
        with_field("/api/v1/admin/wipe/all", json!({"dry_run":true})),
        (
            "/api/v1/admin/wipe/all",
            app.client
                .delete(app.url("/api/v1/admin/wipe/all"))
                .body("dry_run=true"),
        ),
    ]);
    requests
}

pub async fn misspelled_dry_runs_are_refused_and_remove_nothing(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    for (path, request) in destructive_requests(&app) {
        let (status, _, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["success"], false, "{path}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("dry_run") || message.contains("force"),
            "{path}: {message}"
        );
        if path.contains("notification/") {
            assert_eq!(body["notification_id"], "mars@1");
        }
    }
    assert_eq!(
        app.replay_ids(replay_all("mars")).await.len(),
        3,
        "nothing removed"
    );
    let (_, _, body) = answer(app.delete("/api/v1/admin/wipe/all?DRY_RUN=true").await).await;
    assert_eq!(
        body["message"],
        "unknown query parameter 'DRY_RUN' (did you mean dry_run?); the only accepted one is dry_run=true|false"
    );
    let (_, _, body) = answer(
        app.delete_json(
            "/api/v1/admin/wipe/stream",
            &json!({"stream_name":"mars","dry_run":true}),
        )
        .await,
    )
    .await;
    assert_eq!(
        body["message"],
        "unknown field 'dry_run' in the request body; accepted fields: stream_name (a dry run is the query parameter ?dry_run=true)"
    );
    let (_, _, body) = answer(
        app.delete_json(
            "/api/v1/admin/notifications",
            &json!({"ids":["mars@1"],"idz":[]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        body["message"],
        "unknown field 'idz' in the request body; accepted fields: ids"
    );
    app.stop().await;
}

pub async fn bodyless_routes_accept_no_body_or_an_empty_one(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    let one = |id: &str| app.url(&format!("/api/v1/admin/notification/{id}"));
    let accepted = [
        app.client.delete(one("mars@1")),
        app.client
            .delete(one("mars@2"))
            .header("content-type", "application/json")
            .body(""),
        app.client.delete(one("mars@3")).json(&json!({})),
        app.client
            .delete(app.url("/api/v1/admin/wipe/all?dry_run=false")),
        app.client
            .delete(app.url("/api/v1/admin/wipe/all"))
            .header("content-type", "application/json")
            .body(""),
        app.client
            .delete(app.url("/api/v1/admin/wipe/all"))
            .json(&json!({})),
    ];
    for request in accepted {
        let (status, text, _) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, 200, "{text}");
    }
    assert!(app.replay_ids(replay_all("mars")).await.is_empty());
    app.stop().await;
}
