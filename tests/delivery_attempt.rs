//! Delivery attempts against real receivers started here on 127.0.0.1: what a receiver gets
//! (DELIVERY.md §4) and what the attempt record says (§5). Nothing else is contacted.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tidings::delivery::address::{AddressPolicy, USER_AGENT};
use tidings::delivery::attempt::{
    Attempt, AttemptError, AttemptStatus, Attempter, ErrorClass, MAX_RESPONSE_BODY, Outcome,
    Trigger,
};
use tidings::delivery::destination::{
    Destination, DestinationId, Format, Ordering, Settings, SigningKey, State as DestinationState,
};
use tidings::delivery::signature;

const OPEN: AddressPolicy = AddressPolicy {
    allow_private_networks: true,
};
const CLOSED: AddressPolicy = AddressPolicy {
    allow_private_networks: false,
};

const EVENT: &str = concat!(
    r#"{"data":{"identifier":{"class":"od","step":"6"},"payload":{"url":"x"}},"#,
    r#""datacontenttype":"application/json","dataschema":"http://127.0.0.1:8000/api/v1/schema/mars","#,
    r#""id":"mars@7","source":"http://127.0.0.1:8000","specversion":"1.0","#,
    r#""time":"2026-11-22T05:37:08.406020562Z","type":"int.ecmwf.aviso.mars"}"#
);
const DATA: &str = r#"{"identifier":{"class":"od","step":"6"},"payload":{"url":"x"}}"#;
const WEBHOOK_ID: &str = "mars@7";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    /// Whether `key` signed this request, as a receiver checks it.
    fn signed_by(&self, key: &SigningKey) -> bool {
        let timestamp = self.header("webhook-timestamp").parse().unwrap();
        let signed = self.header("webhook-signature");
        signature::verify(
            WEBHOOK_ID,
            timestamp,
            &self.body,
            signed,
            &key.secret().unwrap(),
        )
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A receiver on 127.0.0.1 that records every request and answers by path.
async fn receiver() -> (SocketAddr, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let log = Log::default();
    let app = axum::Router::new()
        .fallback(record_and_answer)
        .with_state(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, log)
}

async fn record_and_answer(
    State(log): State<Log>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    log.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body,
    });
    scripted(&path).await
}

async fn scripted(path: &str) -> Response {
    let in_half_an_hour = (Utc::now() + chrono::Duration::minutes(30))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    match path {
        "/ok" => (StatusCode::OK, "fine").into_response(),
        "/empty" => StatusCode::NO_CONTENT.into_response(),
        "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response(),
        "/moved" => (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response(),
        "/gone" => (StatusCode::GONE, "bye").into_response(),
        "/busy" => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "120")],
        )
            .into_response(),
        "/busy-until" => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, in_half_an_hour)],
        )
            .into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
        "/big" => vec![b'x'; 1024 * 1024].into_response(),
        "/endless" => {
            let chunk = Bytes::from(vec![b'y'; 64 * 1024]);
            let chunks = futures::stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone()));
            Body::from_stream(chunks).into_response()
        }
        "/garbled" => b"ok \xff\xfe done".to_vec().into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn destination(url: String, keys: Vec<SigningKey>) -> Destination {
    let now = Utc::now();
    Destination {
        id: DestinationId::generate(now).unwrap(),
        settings: Settings {
            url,
            subscriptions: Vec::new(),
            name: None,
            headers: BTreeMap::from([("X-Team".to_owned(), "ops".to_owned())]),
            timeout: Duration::from_secs(5),
            schedule: Vec::new(),
            ordering: Ordering::Unordered,
            format: Format::Structured,
        },
        state: DestinationState::Enabled,
        disabled_reason: None,
        owner: None,
        created_at: now,
        updated_at: now,
        keys,
    }
}

fn key() -> SigningKey {
    SigningKey::generate().unwrap()
}

async fn try_attempt(
    policy: AddressPolicy,
    destination: &Destination,
) -> Result<Outcome, AttemptError> {
    let attempt = Attempt {
        destination,
        event: Bytes::from_static(EVENT.as_bytes()),
        webhook_id: WEBHOOK_ID,
        number: 3,
        trigger: Trigger::Manual,
    };
    Attempter::new(policy, 4).unwrap().attempt(&attempt).await
}

async fn attempt_with(policy: AddressPolicy, destination: &Destination) -> Outcome {
    try_attempt(policy, destination).await.unwrap()
}

/// An attempt at `path` of a fresh receiver, and what the receiver got.
async fn attempt_at(path: &str) -> (Outcome, Vec<Received>) {
    let (address, log) = receiver().await;
    let target = destination(format!("http://{address}{path}"), vec![key()]);
    let outcome = attempt_with(OPEN, &target).await;
    let received = log.lock().unwrap().clone();
    (outcome, received)
}

#[tokio::test]
async fn a_200_succeeds_and_the_receiver_gets_the_signed_cloudevent() {
    let (address, log) = receiver().await;
    let signing = key();
    let target = destination(format!("http://{address}/ok"), vec![signing.clone()]);
    let outcome = attempt_with(OPEN, &target).await;
    let record = &outcome.record;
    assert_eq!(record.status, AttemptStatus::Success);
    assert_eq!(record.response_status_code, Some(200));
    assert_eq!(record.response_body.as_deref(), Some("fine"));
    assert!(!record.response_body_truncated && record.error.is_none());
    assert!(!outcome.gone && outcome.retry_after.is_none() && outcome.succeeded());
    assert_eq!((record.attempt, record.trigger), (3, Trigger::Manual));

    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.body.as_ref(), EVENT.as_bytes(), "byte for byte");
    assert_eq!(
        request.header("content-type"),
        "application/cloudevents+json"
    );
    assert_eq!(request.header("user-agent"), USER_AGENT);
    assert_eq!(request.header("x-team"), "ops");
    assert_eq!(request.header("webhook-id"), WEBHOOK_ID);
    let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
    assert_eq!(timestamp, record.delivered_at.timestamp());
    assert!(request.signed_by(&signing));
    assert!(request.headers.get("ce-id").is_none(), "structured mode");
}

#[tokio::test]
async fn the_record_has_the_attempt_shape() {
    let (outcome, _) = attempt_at("/fail").await;
    let json = serde_json::to_value(&outcome.record).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = "attempt delivered_at duration_ms error response_body \
                    response_body_truncated response_status_code status trigger";
    assert_eq!(keys, expected.split_whitespace().collect::<Vec<_>>());
    assert_eq!(json["trigger"], "manual");
    assert_eq!(json["status"], "failed");
    assert_eq!(json["response_status_code"], 500);
    assert_eq!(json["response_body"], "broken");
    assert_eq!(json["error"], serde_json::Value::Null);
    let delivered_at = json["delivered_at"].as_str().unwrap();
    assert!(
        delivered_at.ends_with('Z') && delivered_at.len() == 24,
        "{delivered_at}"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(delivered_at).is_ok());
}

/// 2xx succeed; a 3xx is `redirect` and is not followed; a 410 is `gone`; any other
/// answer fails with no error class (§8).
#[tokio::test]
async fn statuses_are_recorded_as_the_contract_says() {
    use AttemptStatus::{Failed, Success};
    let table = [
        ("/empty", Success, 204, None, ""),
        ("/fail", Failed, 500, None, "broken"),
        ("/moved", Failed, 302, Some(ErrorClass::Redirect), ""),
        ("/gone", Failed, 410, Some(ErrorClass::Gone), "bye"),
        ("/nowhere", Failed, 404, None, ""),
        ("/garbled", Success, 200, None, "ok \u{fffd}\u{fffd} done"),
    ];
    for (path, status, code, error, body) in table {
        let (outcome, received) = attempt_at(path).await;
        let record = &outcome.record;
        assert_eq!(record.status, status, "{path}");
        assert_eq!(record.response_status_code, Some(code), "{path}");
        assert_eq!(record.error, error, "{path}");
        assert_eq!(record.response_body.as_deref(), Some(body), "{path}");
        assert!(!record.response_body_truncated, "{path}");
        assert_eq!(outcome.gone, code == 410, "{path}");
        assert_eq!(outcome.retry_after, None, "{path}");
        let paths: Vec<&str> = received
            .iter()
            .map(|request| request.path.as_str())
            .collect();
        assert_eq!(paths, [path], "one request, no redirect followed");
    }
}

#[tokio::test]
async fn retry_after_is_read_in_seconds_and_as_an_http_date() {
    let (busy, _) = attempt_at("/busy").await;
    assert_eq!(busy.record.response_status_code, Some(429));
    assert_eq!(busy.record.error, None);
    assert_eq!(busy.retry_after, Some(Duration::from_secs(120)));
    let (until, _) = attempt_at("/busy-until").await;
    assert_eq!(until.record.response_status_code, Some(503));
    let asked = until.retry_after.unwrap();
    assert!(
        asked > Duration::from_secs(29 * 60) && asked <= Duration::from_secs(30 * 60),
        "{asked:?}"
    );
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_a_timeout() {
    let (address, _log) = receiver().await;
    let mut target = destination(format!("http://{address}/slow"), vec![key()]);
    target.settings.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let outcome = attempt_with(OPEN, &target).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the destination's timeout"
    );
    assert_eq!(outcome.record.status, AttemptStatus::Failed);
    assert_eq!(outcome.record.error, Some(ErrorClass::Timeout));
    assert_eq!(outcome.record.response_status_code, None);
    assert_eq!(outcome.record.response_body, None);
    assert!(
        outcome.record.duration_ms >= 1000,
        "{}",
        outcome.record.duration_ms
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let target = destination(format!("http://{address}/"), vec![key()]);
    let outcome = attempt_with(OPEN, &target).await;
    assert_eq!(outcome.record.error, Some(ErrorClass::Connect));
    assert_eq!(outcome.record.response_status_code, None);
    assert_eq!(outcome.record.status, AttemptStatus::Failed);
}

#[tokio::test]
async fn a_blocked_address_is_never_contacted() {
    let (address, log) = receiver().await;
    let port = address.port();
    for url in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://0x7f000001:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
        format!("http://localhost:{port}/ok"),
    ] {
        let outcome = attempt_with(CLOSED, &destination(url.clone(), vec![key()])).await;
        assert_eq!(
            outcome.record.error,
            Some(ErrorClass::BlockedAddress),
            "{url}"
        );
        assert_eq!(outcome.record.response_status_code, None);
    }
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_tls_failure_is_a_tls_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let target = destination(format!("https://{address}/"), vec![key()]);
    let outcome = attempt_with(OPEN, &target).await;
    assert_eq!(outcome.record.error, Some(ErrorClass::Tls));
    assert_eq!(outcome.record.response_status_code, None);
}

/// A 1 MiB body and an endless one: 16 KiB kept, the rest never read (the endless one
/// would otherwise run into the timeout).
#[tokio::test]
async fn long_bodies_are_capped_at_16_kib() {
    for (path, byte) in [("/big", b'x'), ("/endless", b'y')] {
        let started = Instant::now();
        let (outcome, _) = attempt_at(path).await;
        assert!(started.elapsed() < Duration::from_secs(4), "{path}");
        assert_eq!(outcome.record.status, AttemptStatus::Success);
        let body = outcome.record.response_body.unwrap();
        assert_eq!(body.len(), MAX_RESPONSE_BODY, "{path}");
        assert!(body.bytes().all(|found| found == byte), "{path}");
        assert!(outcome.record.response_body_truncated, "{path}");
    }
}

#[tokio::test]
async fn every_key_in_force_signs_and_an_expired_one_does_not() {
    let (address, log) = receiver().await;
    let (current, mut graced, mut expired) = (key(), key(), key());
    graced.expires_at = Some(Utc::now() + chrono::Duration::hours(1));
    expired.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
    let keys = vec![current.clone(), graced.clone(), expired.clone()];
    attempt_with(OPEN, &destination(format!("http://{address}/ok"), keys)).await;
    let request = log.lock().unwrap()[0].clone();
    let signed = request.header("webhook-signature");
    let entries: Vec<&str> = signed.split(' ').collect();
    assert!(entries.len() == 2 && entries.iter().all(|entry| entry.starts_with("v1,")));
    assert!(request.signed_by(&current) && request.signed_by(&graced));
    assert!(!request.signed_by(&expired));
}

#[tokio::test]
async fn without_a_key_in_force_nothing_is_sent() {
    let (address, log) = receiver().await;
    let mut expired = key();
    expired.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
    let target = destination(format!("http://{address}/ok"), vec![expired]);
    let error = try_attempt(OPEN, &target).await;
    assert!(matches!(error, Err(AttemptError::NoKey)), "{error:?}");
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn binary_mode_sends_data_and_attribute_headers() {
    let (address, log) = receiver().await;
    let signing = key();
    let mut target = destination(format!("http://{address}/ok"), vec![signing.clone()]);
    target.settings.format = Format::Binary;
    let outcome = attempt_with(OPEN, &target).await;
    assert!(outcome.succeeded());
    let request = log.lock().unwrap()[0].clone();
    assert_eq!(request.body.as_ref(), DATA.as_bytes());
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("ce-specversion"), "1.0");
    assert_eq!(request.header("ce-id"), "mars@7");
    assert_eq!(request.header("ce-type"), "int.ecmwf.aviso.mars");
    assert_eq!(request.header("ce-source"), "http://127.0.0.1:8000");
    assert_eq!(request.header("ce-time"), "2026-11-22T05:37:08.406020562Z");
    assert_eq!(
        request.header("ce-dataschema"),
        "http://127.0.0.1:8000/api/v1/schema/mars"
    );
    assert_eq!(request.header("x-team"), "ops");
    assert!(request.signed_by(&signing), "signed over the body sent");
}
