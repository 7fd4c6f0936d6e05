//! Admin operations beyond aviso (bulk delete, purge by identifier, dry runs, audit, stream
//! overview, retraction frames) and browsing history in pages.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::{FrameReader, TestApp, mars};

const SECOND: Duration = Duration::from_secs(1);

async fn body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let value: Value = response.json().await.unwrap();
    (status, value)
}

fn replay_all() -> Value {
    json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"})
}

pub async fn bulk_delete_reports_each_id(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    let ids = json!({"ids":["mars@1","MARS@2","mars@abc","nosuch@1","mars@99"]});
    let (status, dry) = body(
        app.delete_json("/api/v1/admin/notifications?dry_run=true", &ids)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["successful"], json!(["mars@1", "MARS@2"]));
    assert_eq!(
        app.replay_ids(replay_all()).await.len(),
        3,
        "a dry run removes nothing"
    );
    let (status, real) = body(app.delete_json("/api/v1/admin/notifications", &ids).await).await;
    assert_eq!(status, 200);
    assert_eq!(real["successful"], dry["successful"]);
    let codes: Vec<(&str, &str)> = real["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_str().unwrap(), item["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("mars@abc", "INVALID_ID"),
            ("nosuch@1", "UNKNOWN_STREAM"),
            ("mars@99", "NOT_FOUND")
        ]
    );
    assert_eq!(app.replay_ids(replay_all()).await, ["mars@3"]);
    let too_many: Vec<String> = (1..=1001).map(|n| format!("mars@{n}")).collect();
    for bad in [
        json!({"ids":[]}),
        json!({"ids": too_many}),
        json!({"idz":["mars@3"]}),
    ] {
        let (status, error) =
            body(app.delete_json("/api/v1/admin/notifications", &bad).await).await;
        assert_eq!(status, 400);
        assert_eq!(error["success"], false);
    }
    let malformed = app
        .client
        .delete(app.url("/api/v1/admin/notifications"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    app.stop().await;
}

pub async fn dry_runs_predict_exactly_what_the_real_call_removes(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=4 {
        app.notify_mars(step).await;
    }
    let (_, dry) = body(
        app.delete("/api/v1/admin/notification/mars@2?dry_run=true")
            .await,
    )
    .await;
    assert_eq!(
        (
            dry["dry_run"].clone(),
            dry["count"].clone(),
            dry["first_sequence"].clone()
        ),
        (json!(true), json!(1), json!(2))
    );
    let (status, _) = body(
        app.delete("/api/v1/admin/notification/mars@9?dry_run=true")
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let wipe = json!({"stream_name":"mars"});
    let (_, dry) = body(
        app.delete_json("/api/v1/admin/wipe/stream?dry_run=true", &wipe)
            .await,
    )
    .await;
    assert_eq!(dry["count"], 4);
    assert_eq!(
        (dry["first_sequence"].clone(), dry["last_sequence"].clone()),
        (json!(1), json!(4))
    );
    assert_eq!(app.replay_ids(replay_all()).await.len(), 4);
    let (_, dry_all) = body(app.delete("/api/v1/admin/wipe/all?dry_run=true").await).await;
    assert_eq!(dry_all["count"], 4);
    let mars = dry_all["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "MARS")
        .unwrap()
        .clone();
    assert_eq!(mars["count"], 4);
    let (_, real) = body(app.delete_json("/api/v1/admin/wipe/stream", &wipe).await).await;
    assert_eq!(real["count"], dry["count"]);
    assert_eq!(real["first_sequence"], dry["first_sequence"]);
    assert!(app.replay_ids(replay_all()).await.is_empty());
    app.stop().await;
}

pub async fn purge_by_identifier_removes_only_matches(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=6 {
        app.notify_mars(step).await;
    }
    let mut other = mars(1);
    other["stream"] = json!("oper");
    app.notify("mars", other, Value::Null).await;
    let exact = json!({"identifier":{"class":"od","stream":"oper"}});
    let (status, dry) = body(
        app.delete_json("/api/v1/admin/notifications/mars?dry_run=true", &exact)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["count"].clone(), dry["first_sequence"].clone()),
        (json!(1), json!(7))
    );
    let (_, real) = body(
        app.delete_json("/api/v1/admin/notifications/mars", &exact)
            .await,
    )
    .await;
    assert_eq!(real["count"], 1);
    let constrained = json!({"identifier":{"class":"od","step":{"gte":5}}});
    let (_, dry) = body(
        app.delete_json(
            "/api/v1/admin/notifications/mars?dry_run=true",
            &constrained,
        )
        .await,
    )
    .await;
    assert_eq!(dry["count"], 2);
    let (_, real) = body(
        app.delete_json("/api/v1/admin/notifications/mars", &constrained)
            .await,
    )
    .await;
    assert_eq!(real["count"], 2);
    assert_eq!(
        app.replay_ids(replay_all()).await,
        ["mars@1", "mars@2", "mars@3", "mars@4"]
    );
    let long = "x".repeat(1001);
    let refusals = [
        (
            "/api/v1/admin/notifications/mars",
            json!({"identifier":{}}),
            400,
        ),
        (
            "/api/v1/admin/notifications/mars",
            json!({"identifier":{"class":"od","stream":long}}),
            400,
        ),
        (
            "/api/v1/admin/notifications/mars",
            json!({"identifier":{"class":""}}),
            400,
        ),
        (
            "/api/v1/admin/notifications/mars",
            json!({"identifier":{"stream":"x"}}),
            400,
        ),
        (
            "/api/v1/admin/notifications/mars",
            json!({"filter":{}}),
            400,
        ),
        (
            "/api/v1/admin/notifications/nosuch",
            json!({"identifier":{"a":"b"}}),
            404,
        ),
    ];
    for (path, request, expected) in refusals {
        let (status, error) = body(app.delete_json(path, &request).await).await;
        assert_eq!(status, expected, "{request}: {error}");
        assert_eq!(error["success"], false);
    }
    assert_eq!(app.replay_ids(replay_all()).await.len(), 4);
    app.stop().await;
}

async fn audit_records(app: &TestApp) -> Vec<Value> {
    let mut records = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(cursor) => format!("/api/v1/admin/audit?limit=7&next={cursor}"),
            None => "/api/v1/admin/audit?limit=7".to_owned(),
        };
        let (status, page) = body(app.client.get(app.url(&url)).send().await.unwrap()).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["success"], true);
        records.extend(
            page["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|event| event["data"].clone()),
        );
        match page["pagination"]["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return records,
        }
    }
}

pub async fn every_destructive_request_is_audited(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.delete("/api/v1/admin/notification/mars@1?dry_run=true")
        .await;
    app.delete("/api/v1/admin/notification/mars@abc").await;
    app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":"nope"}))
        .await;
    app.delete("/api/v1/admin/wipe/all").await;
    let concurrent = (0..8).map(|index| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/admin/notification/mars@{}", index + 100));
        tokio::spawn(async move { client.delete(url).send().await.unwrap().status().as_u16() })
    });
    for status in futures::future::join_all(concurrent).await {
        assert_eq!(status.unwrap(), 404);
    }
    let records = audit_records(&app).await;
    assert_eq!(records.len(), 12, "{records:#?}");
    let newest_first: Vec<(&str, &str)> = records
        .iter()
        .skip(8)
        .map(|record| {
            (
                record["operation"].as_str().unwrap(),
                record["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        newest_first,
        [
            ("wipe_all", "success"),
            ("wipe_stream", "refused"),
            ("delete_notification", "refused"),
            ("delete_notification", "success"),
        ]
    );
    let dry = &records[11];
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["target"], "mars@1");
    assert_eq!(dry["route"], "/api/v1/admin/notification/{id}");
    assert!(
        dry["client_address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(dry["request_id"].as_str().unwrap().len() == 36);
    app.stop().await;
}

/// The trail narrowed by operation, outcome and dry-run flag, each on its own and together;
/// an unknown value is a 400 naming what is accepted.
pub async fn the_audit_trail_filters_by_operation_outcome_and_dry_run(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.notify_mars(2).await;
    app.delete("/api/v1/admin/notification/mars@1?dry_run=true")
        .await;
    app.delete("/api/v1/admin/notification/mars@1").await;
    app.delete("/api/v1/admin/notification/mars@abc").await;
    app.delete_json(
        "/api/v1/admin/wipe/stream?dry_run=true",
        &json!({"stream_name":"mars"}),
    )
    .await;
    app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":"mars"}))
        .await;
    let shown = |query: &'static str| {
        let app = &app;
        async move {
            let url = app.url(&format!("/api/v1/admin/audit?{query}"));
            let (status, page) = body(app.client.get(url).send().await.unwrap()).await;
            assert_eq!(status, 200, "{query}: {page}");
            page["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|event| {
                    let data = &event["data"];
                    format!(
                        "{} {} {}",
                        data["operation"].as_str().unwrap(),
                        data["outcome"].as_str().unwrap(),
                        data["dry_run"]
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        shown("operation=delete_notification").await,
        [
            "delete_notification refused false",
            "delete_notification success false",
            "delete_notification success true"
        ]
    );
    assert_eq!(
        shown("outcome=refused").await,
        ["delete_notification refused false"]
    );
    assert_eq!(
        shown("dry_run=true&dir=asc").await,
        [
            "delete_notification success true",
            "wipe_stream success true"
        ]
    );
    assert_eq!(
        shown("operation=wipe_stream&dry_run=false&outcome=success").await,
        ["wipe_stream success false"]
    );
    assert_eq!(shown("operation=wipe_all").await, Vec::<String>::new());
    // A page of one, then the next: the cursor keeps the filter's place.
    let url = app.url("/api/v1/admin/audit?dry_run=false&limit=1");
    let (_, first) = body(app.client.get(url).send().await.unwrap()).await;
    let cursor = first["pagination"]["next"].as_str().unwrap();
    let url = app.url(&format!(
        "/api/v1/admin/audit?dry_run=false&limit=1&next={cursor}"
    ));
    let (_, second) = body(app.client.get(url).send().await.unwrap()).await;
    assert_eq!(
        second["models"][0]["data"]["operation"],
        "delete_notification"
    );
    assert_eq!(second["models"][0]["data"]["outcome"], "refused");
    for (query, named) in [
        ("operation=wipe", "operation 'wipe' is not audited"),
        ("operation=%3E", "operation '>' is not audited"),
        ("outcome=ok", "outcome must be success, refused or failed"),
        ("dry_run=yes", "dry_run must be true or false"),
        ("outcome=refused&outcome=failed", "given more than once"),
    ] {
        let url = app.url(&format!("/api/v1/admin/audit?{query}"));
        let (status, error) = body(app.client.get(url).send().await.unwrap()).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            error["message"].as_str().unwrap().contains(named),
            "{query}: {error}"
        );
        assert!(error["request_id"].is_string());
    }
    app.stop().await;
}

pub async fn the_stream_overview_lists_managed_streams(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.notify_mars(2).await;
    let (status, overview) = body(
        app.client
            .get(app.url("/api/v1/admin/streams"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = overview["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["DISS", "MARS", "POLYGON"]);
    let mars = &overview["streams"][1];
    assert_eq!(mars["event_types"], json!(["mars"]));
    assert_eq!(
        (
            mars["messages"].clone(),
            mars["first_sequence"].clone(),
            mars["last_sequence"].clone()
        ),
        (json!(2), json!(1), json!(2))
    );
    assert_eq!(mars["policy"]["max_messages_per_subject"], 1);
    assert!(mars["last_time"].is_string());
    app.stop().await;
}

pub async fn watchers_hear_about_deletions_and_wipes(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.notify_mars(2).await;
    let response = app
        .post(
            "/api/v1/watch",
            &json!({"event_type":"mars","identifier":{"class":"od"}}),
        )
        .await;
    let mut reader = FrameReader::new(response);
    reader.next(5 * SECOND).await.unwrap();
    app.delete("/api/v1/admin/notification/mars@1?dry_run=true")
        .await;
    let deleted = app.delete("/api/v1/admin/notification/mars@1").await;
    let request_id = deleted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let frame = reader
        .until(|f| f.event != "heartbeat", 5 * SECOND)
        .await
        .pop()
        .unwrap();
    assert_eq!(frame.event, "notification-deleted");
    assert_eq!(
        frame.data,
        json!({"id":"mars@1","request_id":request_id,"type":"notification_deleted"})
    );
    app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name":"MARS"}))
        .await;
    let frame = reader
        .until(|f| f.event != "heartbeat", 5 * SECOND)
        .await
        .pop()
        .unwrap();
    assert_eq!(frame.event, "stream-wiped");
    assert_eq!(frame.data["stream"], "MARS");
    app.notify_mars(3).await;
    let frame = reader
        .until(|f| f.event != "heartbeat", 5 * SECOND)
        .await
        .pop()
        .unwrap();
    assert_eq!(
        frame.id.as_deref(),
        Some("mars@3"),
        "the watch goes on after a wipe"
    );
    app.stop().await;
}

async fn browse(app: &TestApp, query: &str) -> (u16, Value) {
    body(
        app.client
            .get(app.url(&format!("/api/v1/notifications/mars?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn ids(page: &Value) -> Vec<String> {
    page["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn browsing_visits_every_notification_once_both_ways(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=23 {
        app.notify_mars(step).await;
    }
    let (status, first) = browse(&app, "class=od&limit=5").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        ids(&first),
        ["mars@23", "mars@22", "mars@21", "mars@20", "mars@19"]
    );
    assert!(first["pagination"]["prev"].is_null());
    let mut seen = ids(&first);
    let mut pages = vec![first.clone()];
    let mut cursor = first["pagination"]["next"].as_str().map(str::to_owned);
    let mut published = 23;
    while let Some(next) = cursor {
        published += 1;
        app.notify_mars(published).await;
        let (_, page) = browse(&app, &format!("class=od&limit=5&next={next}")).await;
        seen.extend(ids(&page));
        cursor = page["pagination"]["next"].as_str().map(str::to_owned);
        pages.push(page);
    }
    let expected: Vec<String> = (1..=23).rev().map(|n| format!("mars@{n}")).collect();
    assert_eq!(seen, expected, "forwards: every one once");
    let mut back = Vec::new();
    let mut cursor = pages.last().unwrap()["pagination"]["prev"]
        .as_str()
        .map(str::to_owned);
    while let Some(prev) = cursor {
        let (_, page) = browse(&app, &format!("class=od&limit=5&prev={prev}")).await;
        back.extend(ids(&page));
        cursor = page["pagination"]["prev"].as_str().map(str::to_owned);
    }
    let back_set: BTreeSet<u64> = back.iter().map(|id| id[5..].parse().unwrap()).collect();
    assert_eq!(back.len(), back_set.len(), "backwards: no duplicates");
    // Back from the last page (1..3) to the newest: 4..23, then whatever was published since.
    let expected_back: BTreeSet<u64> = (4..=published).collect();
    assert_eq!(back_set, expected_back);
    let (_, ascending) = browse(&app, "class=od&limit=3&dir=asc").await;
    assert_eq!(ids(&ascending), ["mars@1", "mars@2", "mars@3"]);
    let (_, filtered) = browse(&app, "class=od&step[between]=20,21&dir=asc").await;
    assert_eq!(ids(&filtered), ["mars@20", "mars@21"]);
    let (status, _) = browse(&app, "class=od&step[gte]=20&step[lte]=21").await;
    assert_eq!(status, 400, "one constraint per key");
    app.stop().await;
}

pub async fn browsing_filters_by_time_and_checks_its_parameters(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let middle = chrono::Utc::now().timestamp().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.notify_mars(2).await;
    let (_, after) = browse(&app, &format!("class=od&time[gte]={middle}")).await;
    assert_eq!(ids(&after), ["mars@2"]);
    let (_, before) = browse(&app, &format!("class=od&time[lte]={middle}")).await;
    assert_eq!(ids(&before), ["mars@1"]);
    for query in [
        "class=od&limit=0",
        "class=od&limit=1001",
        "class=od&dir=up",
        "class=od&next=zz",
        "class=od&next=a1&prev=b1",
        "limit=5",
        "class=od&from_id=1",
    ] {
        let (status, error) = browse(&app, query).await;
        assert_eq!(status, 400, "{query}: {error}");
    }
    let one = app
        .client
        .get(app.url("/api/v1/notification/mars@2"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let event: Value = one.json().await.unwrap();
    assert_eq!(event["id"], "mars@2");
    assert_eq!(event["data"]["identifier"]["step"], "2");
    app.delete("/api/v1/admin/notification/mars@2").await;
    let gone = app
        .client
        .get(app.url("/api/v1/notification/MARS@2"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let unknown = app
        .client
        .get(app.url("/api/v1/notification/nosuch@1"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}

/// The next frame that is not a heartbeat.
async fn next_event(reader: &mut FrameReader) -> crate::helpers::Frame {
    reader
        .until(|f| f.event != "heartbeat", 5 * SECOND)
        .await
        .pop()
        .unwrap()
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

pub async fn every_real_wipe_is_announced_with_its_count(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let mut reader = app.watch_mars().await;
    let wipe = json!({"stream_name":"mars"});
    app.delete_json("/api/v1/admin/wipe/stream?dry_run=true", &wipe)
        .await;
    let wiped = app.delete_json("/api/v1/admin/wipe/stream", &wipe).await;
    assert_eq!(wiped.status(), 200);
    let frame = next_event(&mut reader).await;
    assert_eq!(frame.event, "stream-wiped", "a dry run announces nothing");
    assert_eq!(
        frame.data,
        json!({"count":0,"request_id":request_id(&wiped),"stream":"MARS","type":"stream_wiped"}),
        "an empty stream's wipe is announced too"
    );
    let purge = json!({"identifier":{"class":"od","step":{"gte":5}}});
    let purged = app
        .delete_json("/api/v1/admin/notifications/mars", &purge)
        .await;
    assert_eq!(purged.status(), 200);
    let frame = next_event(&mut reader).await;
    assert_eq!(frame.event, "stream-wiped");
    assert_eq!(frame.data["count"], 0);
    assert_eq!(frame.data["request_id"], request_id(&purged).as_str());
    app.notify_mars(1).await;
    app.notify_mars(7).await;
    assert_eq!(next_event(&mut reader).await.id.as_deref(), Some("mars@1"));
    assert_eq!(next_event(&mut reader).await.id.as_deref(), Some("mars@2"));
    app.delete_json("/api/v1/admin/notifications/mars", &purge)
        .await;
    assert_eq!(next_event(&mut reader).await.data["count"], 1);
    let all = app.delete("/api/v1/admin/wipe/all").await;
    let frame = next_event(&mut reader).await;
    assert_eq!(
        frame.data,
        json!({"count":1,"request_id":request_id(&all),"stream":"MARS","type":"stream_wiped"}),
        "wipe all announces each managed stream"
    );
    app.delete("/api/v1/admin/wipe/all").await;
    assert_eq!(next_event(&mut reader).await.data["count"], 0);
    app.stop().await;
}

/// Stores mars notifications for `steps` through the store itself: no HTTP request, so no
/// request timeout, however small the test configures it.
async fn store_mars(app: &TestApp, steps: std::ops::RangeInclusive<u64>) {
    use futures::StreamExt;
    let state = app.state.as_ref().unwrap();
    let schema = state.catalog.event_type("mars").unwrap().clone();
    futures::stream::iter(steps)
        .map(|step| {
            let identifier = schema
                .canonicalize(mars(step).as_object().unwrap())
                .unwrap();
            let publication = tidings::store::Publication {
                stream: schema.stream.clone(),
                subject: schema.subject(&identifier).unwrap(),
                headers: Vec::new(),
                payload: bytes::Bytes::from_static(b"null"),
                idempotency_key: None,
            };
            async move { state.store.publish(publication).await.unwrap() }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
}

pub async fn a_purge_cut_by_the_request_timeout_runs_to_its_end_audited_and_announced(
    kind: StoreKind,
) {
    // Measured on JetStream (debug build, 2 shared cores): about 4 ms per deletion, so the
    // purge outlasts the timeout forty times over; even at 0.2 ms it would outlast it twice.
    const COUNT: u64 = 1000;
    let timeout = Duration::from_millis(100);
    let app = TestApp::spawn_with(kind, |settings| settings.http.request_timeout = timeout).await;
    store_mars(&app, 1..=COUNT).await;
    let mut reader = app.watch_mars().await;
    // A constraint is not a subject filter: the purge finds and deletes one by one.
    let purge = json!({"identifier":{"class":"od","step":{"gte":0}}});
    let started = std::time::Instant::now();
    let response = app
        .delete_json("/api/v1/admin/notifications/mars", &purge)
        .await;
    let answered = started.elapsed();
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    if kind == StoreKind::Jetstream {
        assert_eq!(
            status, 408,
            "{COUNT} deletions take longer than {timeout:?}"
        );
    } else {
        assert!(status == 200 || status == 408, "{status}");
    }
    let frame = reader
        .until(|f| f.event != "heartbeat", 30 * SECOND)
        .await
        .pop()
        .unwrap();
    let finished = started.elapsed();
    eprintln!(
        "purge of {COUNT}: answered {status} after {answered:?}, announced after {finished:?}"
    );
    assert_eq!(
        frame.data,
        json!({"count":COUNT,"request_id":request_id,"stream":"MARS","type":"stream_wiped"})
    );
    assert!(
        app.replay_ids(replay_all()).await.is_empty(),
        "every match is gone"
    );
    let records = audit_records(&app).await;
    let record = records
        .iter()
        .find(|record| record["request_id"] == request_id.as_str())
        .expect("the purge is audited");
    assert_eq!(record["operation"], "purge_by_identifier");
    assert_eq!(record["outcome"], "success");
    assert_eq!(record["count"], COUNT);
    if status == 408 {
        assert_eq!(record["client_left"], true, "{record}");
    }
    app.stop().await;
}

pub async fn a_huge_refused_wipe_leaves_a_bounded_audit_record(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let name = "x".repeat(250_000);
    let (status, _) = body(
        app.delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name": name}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let records = audit_records(&app).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["outcome"], "refused");
    assert_eq!(record["truncated"], true);
    let target = record["target"].as_str().unwrap();
    assert!(
        target.ends_with("…(truncated, 250000 bytes)"),
        "{target:.40}"
    );
    assert!(target.starts_with(&name[..1024]));
    let size = record.to_string().len();
    assert!(size < 4096, "the record takes {size} bytes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_audit_trail_keeps_to_age_and_bytes_not_the_message_cap() {
    let app = TestApp::spawn_with(StoreKind::Memory, |settings| {
        settings.store.memory.max_messages_per_stream = 2;
    })
    .await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    for index in 0..5 {
        app.delete(&format!("/api/v1/admin/notification/mars@{}", index + 100))
            .await;
    }
    assert_eq!(
        app.replay_ids(replay_all()).await.len(),
        2,
        "notification streams keep to the cap"
    );
    assert_eq!(
        audit_records(&app).await.len(),
        5,
        "the audit trail does not"
    );
    app.stop().await;
}

/// The audit stream's configuration once it has `max_age` (reconciliation runs in the
/// background once NATS is connected, so it may lag `/ready` a little).
async fn audit_stream_config(
    nats_url: &str,
    max_age: Duration,
) -> async_nats::jetstream::stream::Config {
    let client = async_nats::connect(nats_url).await.unwrap();
    let context = async_nats::jetstream::new(client);
    let deadline = tokio::time::Instant::now() + 10 * SECOND;
    loop {
        if let Ok(mut stream) = context.get_stream("TIDINGS_AUDIT").await
            && let Ok(info) = stream.info().await
            && info.config.max_age == max_age
        {
            return info.config.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "TIDINGS_AUDIT never got max_age {max_age:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jetstream_audit_stream_has_the_configured_retention() {
    let first = TestApp::spawn(StoreKind::Jetstream).await;
    let url = first.nats.as_ref().unwrap().url();
    let config = audit_stream_config(&url, Duration::from_secs(90 * 86_400)).await;
    assert_eq!(config.max_bytes, 256 * 1024 * 1024);
    assert!(config.deny_purge && config.deny_delete);
    // A restart with other settings reconciles the existing stream.
    let second = TestApp::spawn_with(StoreKind::Memory, |settings| {
        settings.store.kind = StoreKind::Jetstream;
        settings.store.jetstream.url = url.clone();
        settings.store.audit.max_age = Duration::from_secs(7200);
        settings.store.audit.max_bytes = std::num::NonZeroU64::new(1 << 20).unwrap();
    })
    .await;
    let config = audit_stream_config(&url, Duration::from_secs(7200)).await;
    assert_eq!(config.max_bytes, 1 << 20);
    assert!(config.deny_purge && config.deny_delete);
    second.stop().await;
    first.stop().await;
}
