//! Hostile input: arbitrary bytes and arbitrary JSON at the request edge never panic and
//! never produce a 5xx; identifier values cannot widen a subject or reach another stream.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::TestApp;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "od",
            "*",
            ">",
            "a.b",
            "mars.>",
            "%2A",
            " ",
            "\t",
            "0001",
            "2025-07-06",
            "(1,2,3,4,5,6,1,2)",
            "1,2"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "class", "step", "date", "time", "polygon", "point", "gte", "in", "between",
                    "x"
                ]),
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(
                map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn request_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (
            prop::sample::select(vec!["mars", "dissemination", "test_polygon", "nosuch", ""]),
            json_value(),
            prop::option::of(json_value()),
            prop::option::of(prop::sample::select(vec![
                "0",
                "1",
                "-1",
                "x",
                "99999999999999999999",
                ""
            ])),
        )
            .prop_map(|(event_type, identifier, payload, from_id)| {
                let mut body = json!({"event_type": event_type, "identifier": identifier});
                if let Some(payload) = payload {
                    body["payload"] = payload;
                }
                if let Some(from_id) = from_id {
                    body["from_id"] = json!(from_id);
                }
                body.to_string().into_bytes()
            }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_requests_never_panic_or_fail_the_server() {
    let app = TestApp::spawn(tidings::settings::StoreKind::Memory).await;
    let state = app.state.clone().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 300,
        ..Default::default()
    });
    let strategy = (
        prop::sample::select(vec![
            "/api/v1/notification",
            "/api/v1/replay",
            "/api/v1/watch",
        ]),
        request_body(),
    );
    for _ in 0..300 {
        let (path, body) = strategy.new_tree(&mut runner).unwrap().current();
        let router = tidings::api::router(state.clone());
        let request = axum::http::Request::post(path)
            .body(axum::body::Body::from(body.clone()))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        assert!(
            status == 200 || (400..500).contains(&status),
            "{path} {} -> {status}",
            String::from_utf8_lossy(&body)
        );
    }
    for id in [
        "%00@1",
        "mars@%2A",
        "MARS.%3E@1",
        "..@1",
        "mars@18446744073709551616",
        "@",
        "a@b@c",
        "mars@1%20x",
    ] {
        let router = tidings::api::router(state.clone());
        let uri = format!("/api/v1/admin/notification/{id}");
        let mut request = axum::http::Request::delete(uri.as_str())
            .body(axum::body::Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                1,
            ))));
        let status = router.oneshot(request).await.unwrap().status().as_u16();
        assert!((400..500).contains(&status), "{id} -> {status}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifier_values_cannot_widen_a_watch_or_reach_another_stream() {
    let app = TestApp::spawn(tidings::settings::StoreKind::Memory).await;
    app.notify_mars(1).await;
    let mut other = crate::helpers::mars(2);
    other["class"] = json!("rd");
    app.notify("mars", other, Value::Null).await;
    for hostile in ["*", ">", "o*", "%2", "\t", " "] {
        let body = json!({"event_type":"mars","identifier":{"class":hostile},"from_id":"1"});
        let response = app.post("/api/v1/replay", &body).await;
        assert!(
            response.status() == 200 || response.status() == 400,
            "{hostile:?}"
        );
        if response.status() == 200 {
            let mut reader = crate::helpers::FrameReader::new(response);
            let frames = reader
                .until(
                    |f| f.event == "connection-closing",
                    std::time::Duration::from_secs(10),
                )
                .await;
            let ids: Vec<_> = frames.iter().filter_map(|f| f.id.clone()).collect();
            assert!(ids.is_empty(), "class {hostile:?} matched {ids:?}");
        }
    }
    for name in ["MARS.>", "*", ">", "diss.>", "mars.od"] {
        let response = app
            .delete_json("/api/v1/admin/wipe/stream", &json!({"stream_name": name}))
            .await;
        assert_eq!(response.status(), 404, "{name:?}");
    }
    assert_eq!(
        app.replay_ids(json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"}))
            .await,
        ["mars@1"]
    );
    app.stop().await;
}
