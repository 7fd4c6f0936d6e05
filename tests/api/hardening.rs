//! Regressions found by attacking the release build: silent and slow connections, admin
//! reachable from foreign pages, outages answered 500, `end_sequence` with `to_date`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidings::settings::StoreKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{FrameReader, TestApp, mars};

const SECOND: Duration = Duration::from_secs(1);

fn socket_address(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// A raw connection with a small receive buffer, so that a client that stops reading
/// fills it quickly.
async fn raw_connection(app: &TestApp) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(socket_address(app)).await.unwrap()
}

/// Reads until `needle` has arrived (or panics after `timeout`).
async fn read_until(connection: &mut TcpStream, needle: &str, timeout: Duration) -> String {
    let mut seen = Vec::new();
    let deadline = Instant::now() + timeout;
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let mut buffer = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout(left, connection.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within {timeout:?}"))
            .unwrap();
        assert!(read > 0, "closed before {needle:?}");
        seen.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Whether the server closes the connection within `timeout` (reading whatever is left).
async fn closed_within(connection: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, connection.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn watch_request(body: &Value) -> String {
    let body = body.to_string();
    format!(
        "POST /api/v1/watch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Opens a watch on a raw connection and reads up to its opening frame.
async fn silent_watcher(app: &TestApp) -> TcpStream {
    let mut connection = raw_connection(app).await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    connection
        .write_all(watch_request(&body).as_bytes())
        .await
        .unwrap();
    read_until(&mut connection, "connection_established", 5 * SECOND).await;
    connection
}

async fn watch_status(app: &TestApp) -> u16 {
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    app.open("/api/v1/watch", body).await.status().as_u16()
}

/// Publishes `count` notifications of about 64 KiB each.
async fn flood(app: &TestApp, count: u64) {
    let blob = "x".repeat(64 * 1024);
    for step in 1..=count {
        app.notify("mars", mars(step), json!({"blob": blob})).await;
    }
}

pub async fn a_watcher_that_never_reads_is_cut_off_by_its_byte_budget(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.sse.watcher_buffer_bytes = 256 * 1024;
        settings.sse.max_connections = 1;
        settings.store.jetstream.max_bytes = None;
    })
    .await;
    let mut silent = silent_watcher(&app).await;
    assert_eq!(
        watch_status(&app).await,
        503,
        "the silent watcher holds the one slot"
    );
    // 250 × 64 KiB: far more than the 256 KiB budget plus what may wait beyond it: 32
    // frames in the channel (2 MiB), hyper's write queue, and the loopback socket's send
    // and receive buffers, which autotune to several MiB (100 notifications were once not
    // enough under the full suite's load).
    flood(&app, 250).await;
    let deadline = Instant::now() + 30 * SECOND;
    while watch_status(&app).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the silent watcher kept its slot"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        closed_within(&mut silent, 30 * SECOND).await,
        "the silent watcher's connection stayed open"
    );
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.lines().any(
            |line| line.starts_with("tidings_sse_watchers_cut_off_total") && !line.ends_with(" 0")
        ),
        "a cut-off is counted"
    );
    app.stop().await;
}

pub async fn a_watcher_that_never_reads_does_not_outlive_max_duration(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.sse.max_duration = 2 * SECOND;
        settings.sse.max_connections = 1;
        settings.store.jetstream.max_bytes = None;
    })
    .await;
    let started = Instant::now();
    let mut silent = silent_watcher(&app).await;
    // Enough to fill the socket and the frame queue, under the 4 MiB budget.
    flood(&app, 40).await;
    assert!(
        closed_within(&mut silent, 10 * SECOND).await,
        "a silent watcher outlived max_duration"
    );
    assert!(started.elapsed() < 2 * SECOND + 8 * SECOND);
    assert_eq!(watch_status(&app).await, 200, "its slot is free again");
    app.stop().await;
}

pub async fn partial_headers_and_missing_bodies_do_not_hold_connections(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.http.header_read_timeout = SECOND;
        settings.http.body_read_timeout = SECOND;
    })
    .await;
    // Headers that never end.
    let mut partial = raw_connection(&app).await;
    partial
        .write_all(b"POST /api/v1/watch HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut partial, 5 * SECOND).await,
        "partial headers"
    );
    // A watch whose body never arrives: 408 in the JSON error shape.
    let mut bodiless = raw_connection(&app).await;
    bodiless
        .write_all(b"POST /api/v1/watch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let answer = read_until(&mut bodiless, "request_id", 5 * SECOND).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    // An idle keep-alive connection is closed after the header read timeout.
    let mut idle = raw_connection(&app).await;
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut idle, "\"ok\"", 5 * SECOND).await;
    assert!(
        closed_within(&mut idle, 5 * SECOND).await,
        "idle keep-alive"
    );
    app.stop().await;
}

/// The protocol is told from the first bytes without consuming them: HTTP/1 requests that
/// trickle in byte by byte, an HTTP/2 preface that arrives in pieces, and a connection that
/// sends nothing (closed at the head timeout).
pub async fn http1_and_http2_are_told_apart_by_their_first_bytes(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.http.header_read_timeout = SECOND;
    })
    .await;
    let mut trickle = raw_connection(&app).await;
    for byte in b"PATCH /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" {
        trickle.write_all(&[*byte]).await.unwrap();
        if *byte == b'P' || *byte == b'A' {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let answer = read_until(&mut trickle, "request_id", 5 * SECOND).await;
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    let mut get = raw_connection(&app).await;
    get.write_all(b"G").await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    get.write_all(b"ET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut get, "\"ok\"", 5 * SECOND).await;
    // HTTP/2 with prior knowledge: the preface in two pieces, then an empty SETTINGS frame;
    // the server answers with its own SETTINGS frame (type 4 on stream 0).
    let mut h2 = raw_connection(&app).await;
    h2.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    h2.write_all(b"\r\nSM\r\n\r\n").await.unwrap();
    h2.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let mut frame = [0u8; 9];
    tokio::time::timeout(5 * SECOND, h2.read_exact(&mut frame))
        .await
        .expect("an HTTP/2 answer")
        .unwrap();
    assert_eq!(frame[3], 4, "the first frame is SETTINGS: {frame:?}");
    let mut silent = raw_connection(&app).await;
    assert!(
        closed_within(&mut silent, 5 * SECOND).await,
        "a connection that sends nothing"
    );
    app.stop().await;
}

async fn admin_status(app: &TestApp, host: &str, origin: Option<&str>) -> (u16, Option<String>) {
    let mut request = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .header("host", host);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status().as_u16(), allowed)
}

async fn preflight(app: &TestApp, path: &str, method: &str, origin: &str) -> Option<String> {
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|value| value.to_str().unwrap().to_owned())
}

pub async fn foreign_pages_cannot_drive_admin_routes(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let port = socket_address(&app).port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_owned(),
    ] {
        assert_eq!(admin_status(&app, &host, None).await.0, 200, "{host}");
    }
    // DNS rebinding: a foreign name that resolves to 127.0.0.1.
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1.evil.example".to_owned(),
    ] {
        let (status, _) = admin_status(&app, &host, None).await;
        assert_eq!(status, 403, "{host}");
    }
    // CORS `*` stays on public routes, never on admin ones.
    let foreign = "https://evil.example";
    let local = format!("127.0.0.1:{port}");
    assert_eq!(admin_status(&app, &local, Some(foreign)).await.1, None);
    assert_eq!(
        preflight(&app, "/api/v1/admin/wipe/all", "DELETE", foreign).await,
        None
    );
    assert_eq!(
        preflight(&app, "/api/v1/notification", "POST", foreign)
            .await
            .as_deref(),
        Some("*")
    );
    let wipe = app
        .client
        .delete(app.url("/api/v1/admin/wipe/all"))
        .header("origin", foreign)
        .send()
        .await
        .unwrap();
    assert!(!wipe.headers().contains_key("access-control-allow-origin"));
    app.stop().await;
    // Configured admin origins are allowed.
    let console = "https://console.example";
    let app = TestApp::spawn_with(kind, |settings| {
        settings.http.cors_admin_origins = vec![console.to_owned()];
    })
    .await;
    assert!(
        preflight(&app, "/api/v1/admin/wipe/all", "DELETE", console)
            .await
            .is_some()
    );
    assert_eq!(
        preflight(&app, "/api/v1/admin/wipe/all", "DELETE", foreign).await,
        None
    );
    app.stop().await;
}

pub async fn ipv4_clients_of_a_dual_stack_listener_count_as_loopback(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| settings.listen = "[::]:0".to_owned()).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let url = format!("http://127.0.0.1:{port}/api/v1/admin/streams");
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

pub async fn stream_routes_answer_503_during_an_outage(kind: StoreKind) {
    if kind == StoreKind::Memory {
        return; // the memory store has no outage
    }
    let mut app = TestApp::spawn(kind).await;
    app.notify_mars(1).await;
    app.nats.as_mut().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1"});
    for path in ["/api/v1/replay", "/api/v1/watch"] {
        let response = app.open(path, body.clone()).await;
        assert_eq!(response.status(), 503, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "SERVICE_UNAVAILABLE", "{path}");
    }
    let live = json!({"event_type":"mars","identifier":{"class":"od"}});
    assert_eq!(app.open("/api/v1/watch", live).await.status(), 503);
    for path in [
        "/api/v1/notifications/mars?class=od",
        "/api/v1/notification/mars@1",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
    }
    app.stop().await;
}

pub async fn replay_started_ends_at_the_last_sequence_before_to_date(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for step in 1..=3 {
        app.notify_mars(step).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for step in 4..=5 {
        app.notify_mars(step).await;
    }
    let to_date = cut.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body =
        json!({"event_type":"mars","identifier":{"class":"od"},"from_id":"1","to_date":to_date});
    let response = app.open("/api/v1/replay", body).await;
    let mut reader = FrameReader::new(response);
    let frames = reader
        .until(|frame| frame.event == "connection-closing", 10 * SECOND)
        .await;
    let started = &frames[0].data;
    assert_eq!(started["type"], "replay_started");
    assert_eq!(started["end_sequence"], 3, "{started}");
    let ids: Vec<_> = frames.iter().filter_map(|frame| frame.id.clone()).collect();
    assert_eq!(ids, ["mars@1", "mars@2", "mars@3"]);
    app.stop().await;
}
