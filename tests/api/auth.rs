//! Authentication and authorisation: every row of aviso's per-stream table on notify,
//! watch, replay and browse; admin routes; broken tokens; direct mode against a stub
//! authentication service; the loopback-only admin default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tidings::settings::{AuthMode, Settings, StoreKind};

use crate::helpers::TestApp;

const SECRET: &str = "test-jwt-secret-of-at-least-32-bytes";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(user: &str, roles: &[&str]) -> Value {
    json!({"username": user, "realm": "localrealm", "roles": roles, "exp": now() + 600})
}

fn hs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn signed(algorithm: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, key).unwrap()
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&std::fs::read(fixture("auth/rsa-private.pem")).unwrap()).unwrap()
}

fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&std::fs::read(fixture("auth/ec-private.pk8.pem")).unwrap()).unwrap()
}

fn with_auth(settings: &mut Settings) {
    settings.schema.paths = vec![fixture("auth_schema.yaml")];
    settings.auth.enabled = true;
    settings.auth.jwt_secret = Some(SECRET.to_owned().into());
    settings.auth.jwks_file = Some(fixture("auth/jwks.json"));
    settings
        .auth
        .admin_roles
        .insert("localrealm".to_owned(), vec!["admin".to_owned()]);
}

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Reader,
    Producer,
    Admin,
    Stranger,
}

fn token(who: Who) -> Option<String> {
    match who {
        Who::Anonymous => None,
        Who::Reader => Some(hs256(&claims("rita", &["reader"]))),
        Who::Producer => Some(hs256(&claims("paul", &["producer"]))),
        Who::Admin => Some(hs256(&claims("ada", &["admin"]))),
        Who::Stranger => Some(hs256(
            &json!({"username":"sam","realm":"elsewhere","roles":["reader","producer"],"exp": now() + 600}),
        )),
    }
}

async fn call(
    app: &TestApp,
    who: Who,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token(who) {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn the_per_stream_table_holds_on_every_route(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, with_auth).await;
    use Who::*;
    // (event type, who, write allowed?, read allowed?) as status codes.
    let table = [
        ("open_stream", Anonymous, 200, 200),
        ("open_stream", Reader, 200, 200),
        ("any_reader", Anonymous, 401, 401),
        ("any_reader", Reader, 403, 200),
        ("any_reader", Producer, 403, 200),
        ("any_reader", Admin, 200, 200),
        ("role_reader", Reader, 403, 200),
        ("role_reader", Producer, 403, 403),
        ("role_reader", Stranger, 403, 403),
        ("role_reader", Admin, 200, 200),
        ("role_writer", Anonymous, 401, 401),
        ("role_writer", Reader, 403, 200),
        ("role_writer", Producer, 200, 200),
        ("role_writer", Admin, 200, 200),
        ("both_roles", Reader, 200, 200),
        ("both_roles", Producer, 200, 403),
        ("both_roles", Stranger, 403, 403),
        ("both_roles", Admin, 200, 200),
    ];
    for (event_type, who, write, read) in table {
        let context = format!("{event_type} as {who:?}");
        let notify = call(
            &app,
            who,
            reqwest::Method::POST,
            "/api/v1/notification",
            Some(json!({"event_type": event_type, "identifier": {"name": "x"}})),
        )
        .await;
        let status = notify.status().as_u16();
        let body: Value = notify.json().await.unwrap();
        assert_eq!(status, write, "notify {context}: {body}");
        if status == 401 {
            assert_eq!(body["code"], "UNAUTHORIZED");
            assert_eq!(
                body["message"],
                "Authentication is required for this stream"
            );
            assert!(body.get("details").is_none());
        }
        let stream_body =
            json!({"event_type": event_type, "identifier": {"name": "x"}, "from_id": "1"});
        for path in ["/api/v1/replay", "/api/v1/watch"] {
            let response = call(
                &app,
                who,
                reqwest::Method::POST,
                path,
                Some(stream_body.clone()),
            )
            .await;
            assert_eq!(response.status().as_u16(), read, "{path} {context}");
        }
        for path in [
            format!("/api/v1/notifications/{event_type}?name=x"),
            format!("/api/v1/replay/{event_type}?name=x&from_id=1"),
        ] {
            let response = call(&app, who, reqwest::Method::GET, &path, None).await;
            assert_eq!(response.status().as_u16(), read, "{path} {context}");
        }
    }
    let forbidden = call(
        &app,
        Reader,
        reqwest::Method::POST,
        "/api/v1/notification",
        Some(json!({"event_type": "any_reader", "identifier": {"name": "x"}})),
    )
    .await;
    let body: Value = forbidden.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Only administrators can write to this stream"
    );
    app.stop().await;
}

pub async fn admin_routes_need_an_admin_role(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, with_auth).await;
    for (who, status) in [
        (Who::Anonymous, 401),
        (Who::Reader, 403),
        (Who::Producer, 403),
        (Who::Admin, 200),
    ] {
        for (method, path) in [
            (reqwest::Method::GET, "/api/v1/admin/streams"),
            (reqwest::Method::GET, "/api/v1/admin/audit"),
            (
                reqwest::Method::DELETE,
                "/api/v1/admin/wipe/all?dry_run=true",
            ),
        ] {
            let response = call(&app, who, method, path, None).await;
            assert_eq!(response.status().as_u16(), status, "{path} as {who:?}");
            if status == 401 {
                assert_eq!(response.headers()["www-authenticate"], "Bearer");
            }
        }
    }
    let audit = call(
        &app,
        Who::Admin,
        reqwest::Method::GET,
        "/api/v1/admin/audit",
        None,
    )
    .await;
    let page: Value = audit.json().await.unwrap();
    assert_eq!(page["models"][0]["data"]["actor"], "ada@localrealm");
    assert_eq!(page["models"][0]["data"]["roles"], json!(["admin"]));
    let schema = app
        .client
        .get(app.url("/api/v1/schema"))
        .header("authorization", "Bearer garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200, "schema routes stay public");
    app.stop().await;
}

pub async fn broken_tokens_are_refused(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, with_auth).await;
    let read = |token: String| {
        let request = app
            .client
            .post(app.url("/api/v1/replay"))
            .bearer_auth(token)
            .json(&json!({"event_type":"any_reader","identifier":{"name":"x"},"from_id":"1"}));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let mut expired = claims("ada", &["admin"]);
    expired["exp"] = json!(now() - 3600);
    let mut not_yet = claims("ada", &["admin"]);
    not_yet["nbf"] = json!(now() + 3600);
    let wrong_secret = encode(
        &Header::new(Algorithm::HS256),
        &claims("ada", &["admin"]),
        &EncodingKey::from_secret(b"nope"),
    )
    .unwrap();
    let header_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let unsigned = format!(
        "{header_none}.{}.",
        URL_SAFE_NO_PAD.encode(claims("ada", &["admin"]).to_string())
    );
    let public_pem = std::fs::read(fixture("auth/rsa-public.pem")).unwrap();
    let confused = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".to_owned());
        encode(
            &header,
            &claims("ada", &["admin"]),
            &EncodingKey::from_secret(&public_pem),
        )
        .unwrap()
    };
    let unknown_kid = signed(
        Algorithm::RS256,
        "nope",
        &rsa_key(),
        &claims("ada", &["admin"]),
    );
    let no_user = hs256(&json!({"realm":"localrealm","roles":["admin"],"exp": now() + 600}));
    let no_exp = hs256(&json!({"username":"ada","realm":"localrealm","roles":["admin"]}));
    for (name, token) in [
        ("expired", hs256(&expired)),
        ("not yet valid", hs256(&not_yet)),
        ("wrong signature", wrong_secret),
        ("alg none", unsigned),
        ("HS256 signed with the RSA public key", confused),
        ("unknown kid", unknown_kid),
        ("no username", no_user),
        ("no exp", no_exp),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        assert_eq!(read(token).await, 401, "{name}");
    }
    assert_eq!(
        read(signed(
            Algorithm::RS256,
            "rsa-1",
            &rsa_key(),
            &claims("ada", &["admin"])
        ))
        .await,
        200
    );
    assert_eq!(
        read(signed(
            Algorithm::ES256,
            "ec-1",
            &ec_key(),
            &claims("ada", &["admin"])
        ))
        .await,
        200
    );
    assert_eq!(
        read(signed(
            Algorithm::RS256,
            "ec-1",
            &rsa_key(),
            &claims("ada", &["admin"])
        ))
        .await,
        401,
        "kid of another key type"
    );
    // Off admin routes a malformed header is anonymous; on admin routes it is a 401.
    let open = app
        .client
        .post(app.url("/api/v1/notification"))
        .header("authorization", "Token x")
        .json(&json!({"event_type":"open_stream","identifier":{"name":"x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let admin = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .header("authorization", "Token x")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 401);
    app.stop().await;
}

/// A stand-in authentication service: `Basic` for ada, `Bearer good-token` for rita.
async fn stub_auth_service(calls: Arc<AtomicUsize>) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{HeaderMap, StatusCode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/authenticate",
        axum::routing::get(move |headers: HeaderMap| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let credential = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let basic_ada = format!("Basic {}", STANDARD.encode("ada:secret"));
                if credential == basic_ada {
                    let token = hs256(&claims("ada", &["admin"]));
                    (
                        StatusCode::OK,
                        [("authorization", format!("Bearer {token}"))],
                        String::new(),
                    )
                } else if credential == "Bearer good-token" {
                    let token = hs256(&claims("rita", &["reader"]));
                    (
                        StatusCode::OK,
                        [("x-ignored", String::new())],
                        json!({"token": token}).to_string(),
                    )
                } else if credential == "Bearer denied" {
                    (
                        StatusCode::FORBIDDEN,
                        [("x-ignored", String::new())],
                        String::new(),
                    )
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        [("x-ignored", String::new())],
                        String::new(),
                    )
                }
            }
        }),
    );
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (address, server)
}

pub async fn direct_mode_asks_the_auth_service_once_per_credential(kind: StoreKind) {
    let calls = Arc::new(AtomicUsize::new(0));
    let (url, service) = stub_auth_service(calls.clone()).await;
    let app = TestApp::spawn_with(kind, |settings| {
        with_auth(settings);
        settings.auth.mode = AuthMode::Direct;
        settings.auth.auth_service_url = Some(url);
    })
    .await;
    let basic = format!("Basic {}", STANDARD.encode("ada:secret"));
    for _ in 0..3 {
        let response = app
            .client
            .get(app.url("/api/v1/admin/streams"))
            .header("authorization", &basic)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "cached until the token expires"
    );
    let reader = app
        .client
        .post(app.url("/api/v1/replay"))
        .header("authorization", "Bearer good-token")
        .json(&json!({"event_type":"role_reader","identifier":{"name":"x"},"from_id":"1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), 200);
    let bad = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .header("authorization", "Bearer wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let challenges: Vec<&str> = bad
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(challenges, ["Bearer", "Basic realm=\"tidings\""]);
    let denied = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .header("authorization", "Bearer denied")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    service.abort();
    let _ = service.await;
    app.stop().await;
    // An instance whose authentication service is unreachable (nothing listens there; a
    // stopped stub could still answer on a kept-alive connection).
    let nowhere = format!("http://127.0.0.1:{}", crate::port::free_loopback_port());
    let app = TestApp::spawn_with(kind, |settings| {
        with_auth(settings);
        settings.auth.mode = AuthMode::Direct;
        settings.auth.auth_service_url = Some(nowhere);
    })
    .await;
    let unavailable = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .header("authorization", "Bearer other")
        .send()
        .await
        .unwrap();
    assert_eq!(unavailable.status(), 503);
    let body: Value = unavailable.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Authentication service temporarily unavailable"
    );
    app.stop().await;
}

pub async fn admin_routes_answer_only_loopback_while_auth_is_off(kind: StoreKind) {
    use tower::ServiceExt;
    for (open, client, expected) in [
        (false, SocketAddr::from(([127, 0, 0, 1], 4000)), 200),
        (false, SocketAddr::from(([10, 1, 2, 3], 4000)), 403),
        (true, SocketAddr::from(([10, 1, 2, 3], 4000)), 200),
    ] {
        let app = TestApp::spawn_with(kind, |settings| {
            settings.admin.allow_unauthenticated_remote = open
        })
        .await;
        let router = tidings::api::router(app.state.clone().unwrap());
        let mut request = axum::http::Request::get("/api/v1/admin/streams")
            .body(axum::body::Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(client));
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{client} open={open}");
        let notify = tidings::api::router(app.state.clone().unwrap());
        let mut request = axum::http::Request::get("/api/v1/schema")
            .body(axum::body::Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(client));
        assert_eq!(
            notify.oneshot(request).await.unwrap().status(),
            200,
            "other routes stay open"
        );
        app.stop().await;
    }
}

pub async fn oversized_requests_get_json_errors(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let long_value = "x".repeat(1001);
    let response = app
        .post(
            "/api/v1/watch",
            &json!({"event_type":"mars","identifier":{"class":"od","stream":long_value}}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("exceeds maximum length of 1000 characters")
    );
    let many: serde_json::Map<String, Value> =
        (0..65).map(|n| (format!("k{n}"), json!("v"))).collect();
    let response = app
        .post(
            "/api/v1/notification",
            &json!({"event_type":"mars","identifier":many}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let query = format!(
        "/api/v1/notifications/mars?class=od&stream={}",
        "y".repeat(9000)
    );
    let response = app.client.get(app.url(&query)).send().await.unwrap();
    assert_eq!(response.status(), 414);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "URI_TOO_LONG");
    tokio::time::sleep(Duration::from_millis(1)).await;
    app.stop().await;
}

pub async fn jwks_keys_can_come_from_a_url(kind: StoreKind) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let counter = fetches.clone();
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { std::fs::read_to_string(fixture("auth/jwks.json")).unwrap() }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = TestApp::spawn_with(kind, |settings| {
        with_auth(settings);
        settings.auth.jwt_secret = None;
        settings.auth.jwks_file = None;
        settings.auth.jwks_url = Some(url);
    })
    .await;
    let admin = claims("ada", &["admin"]);
    for (kid, algorithm, key) in [
        ("rsa-1", Algorithm::RS256, rsa_key()),
        ("ec-1", Algorithm::ES256, ec_key()),
        ("rsa-1", Algorithm::RS256, rsa_key()),
    ] {
        let token = signed(algorithm, kid, &key, &admin);
        let response = app
            .client
            .get(app.url("/api/v1/admin/streams"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{kid}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "keys are cached");
    let unknown = signed(Algorithm::RS256, "rotated-away", &rsa_key(), &admin);
    let response = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .bearer_auth(unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        fetches.load(Ordering::SeqCst) <= 2,
        "an unknown kid refetches at most once per interval"
    );
    let hs = hs256(&admin);
    let response = app
        .client
        .get(app.url("/api/v1/admin/streams"))
        .bearer_auth(hs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "no shared secret configured: HS256 is refused"
    );
    server.abort();
    app.stop().await;
}

/// A JWKS URL that answers its first fetch at once and every later one after `delay`.
async fn slow_jwks_server(fetches: Arc<AtomicUsize>, delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let earlier = fetches.fetch_add(1, Ordering::SeqCst);
            async move {
                if earlier > 0 {
                    tokio::time::sleep(delay).await;
                }
                std::fs::read_to_string(fixture("auth/jwks.json")).unwrap()
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

pub async fn an_unknown_kid_refresh_holds_up_neither_valid_tokens_nor_the_idp(kind: StoreKind) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let delay = Duration::from_secs(3);
    let interval = Duration::from_millis(500);
    let url = slow_jwks_server(fetches.clone(), delay).await;
    let app = TestApp::spawn_with(kind, |settings| {
        with_auth(settings);
        settings.auth.jwks_file = None;
        settings.auth.jwks_url = Some(url);
        settings.auth.jwks_refresh_interval = interval;
        settings.auth.timeout = Duration::from_secs(10);
    })
    .await;
    let admin = claims("ada", &["admin"]);
    let valid = signed(Algorithm::RS256, "rsa-1", &rsa_key(), &admin);
    let unknown = signed(Algorithm::RS256, "rotated-away", &rsa_key(), &admin);
    let get = |token: String| {
        app.client
            .get(app.url("/api/v1/admin/streams"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(get(valid.clone()).await.unwrap().status(), 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(interval + Duration::from_millis(100)).await;

    let burst: Vec<_> = (0..10)
        .map(|_| {
            let request = app
                .client
                .get(app.url("/api/v1/admin/streams"))
                .bearer_auth(unknown.clone());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while fetches.load(Ordering::SeqCst) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no refresh started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The refresh is now in flight for `delay`; a known kid must not wait for it.
    let started = std::time::Instant::now();
    assert_eq!(get(valid.clone()).await.unwrap().status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "a valid token waited {:?} for the JWKS refresh",
        started.elapsed()
    );
    for request in burst {
        assert_eq!(request.await.unwrap(), 401);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "ten unknown kids in one interval fetch once"
    );
    for _ in 0..5 {
        assert_eq!(get(unknown.clone()).await.unwrap().status(), 401);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "no second fetch within the interval after the last one ended"
    );
    app.stop().await;
}

/// A request for every route of the table, on the `role_reader` stream (readers may read,
/// nobody but admins may write): the route table is walked, so a new route without an
/// example here fails this test instead of slipping past the guard.
/// `destination` is the id owner routes name: one the reader made, so nobody else sees it.
fn example(
    method: &str,
    path: &str,
    destination: &str,
) -> (reqwest::Method, String, Option<Value>) {
    let stream_body =
        json!({"event_type": "role_reader", "identifier": {"name": "x"}, "from_id": "1"});
    let (path, body) = match (method, path) {
        ("POST", "/api/v1/notification") => (
            path.to_owned(),
            Some(json!({"event_type": "role_reader", "identifier": {"name": "x"}})),
        ),
        ("POST", "/api/v1/watch" | "/api/v1/replay") => (path.to_owned(), Some(stream_body)),
        ("GET", "/api/v1/watch/{event_type}" | "/api/v1/replay/{event_type}") => (
            format!(
                "{}?name=x&from_id=1",
                path.replace("{event_type}", "role_reader")
            ),
            None,
        ),
        ("GET", "/api/v1/notifications/{event_type}") => {
            ("/api/v1/notifications/role_reader?name=x".to_owned(), None)
        }
        ("GET", "/api/v1/notification/{id}") => {
            ("/api/v1/notification/role_reader@1".to_owned(), None)
        }
        ("DELETE", "/api/v1/admin/notification/{id}") => {
            ("/api/v1/admin/notification/role_reader@1".to_owned(), None)
        }
        ("DELETE", "/api/v1/admin/notifications") => {
            (path.to_owned(), Some(json!({"ids": ["role_reader@1"]})))
        }
        ("DELETE", "/api/v1/admin/notifications/{event_type}") => (
            "/api/v1/admin/notifications/role_reader".to_owned(),
            Some(json!({"identifier": {"name": "x"}})),
        ),
        ("DELETE", "/api/v1/admin/wipe/stream") => {
            (path.to_owned(), Some(json!({"stream_name": "role_reader"})))
        }
        ("DELETE", "/api/v1/admin/wipe/all")
        | ("GET", "/api/v1/admin/streams" | "/api/v1/admin/audit") => (path.to_owned(), None),
        ("POST", "/api/v1/destinations") => (
            path.to_owned(),
            Some(
                json!({"url": "http://127.0.0.1:9/hook", "subscriptions": [{"event_type": "role_reader", "identifier": {"name": "x"}}]}),
            ),
        ),
        (
            "GET",
            "/api/v1/destinations"
            | "/api/v1/deliveries"
            | "/api/v1/failed-deliveries"
            | "/api/v1/deliveries/events",
        ) => (path.to_owned(), None),
        ("DELETE", "/api/v1/destinations") => {
            (path.to_owned(), Some(json!({"condition": {"all": true}})))
        }
        ("POST", "/api/v1/deliveries/{id}/retry") => (
            path.replace("{id}", &format!("{destination}:role_reader@1")),
            None,
        ),
        ("POST", "/api/v1/deliveries/retry") => (
            path.to_owned(),
            Some(json!({"ids": [format!("{destination}:role_reader@1")]})),
        ),
        ("DELETE", "/api/v1/deliveries/history") => (
            path.to_owned(),
            Some(json!({"ids": [format!("{destination}:role_reader@1")]})),
        ),
        ("DELETE", "/api/v1/failed-deliveries/{id}") => (
            path.replace("{id}", &format!("{destination}:role_reader@1")),
            None,
        ),
        ("GET", "/api/v1/deliveries/{id}" | "/api/v1/deliveries/{id}/attempts") => (
            path.replace("{id}", &format!("{destination}:role_reader@1")),
            None,
        ),
        (
            _,
            "/api/v1/destinations/{id}"
            | "/api/v1/destinations/{id}/disable"
            | "/api/v1/destinations/{id}/enable"
            | "/api/v1/destinations/{id}/rotate-secret"
            | "/api/v1/destinations/{id}/replay"
            | "/api/v1/destinations/{id}/test",
        ) => {
            let body = match (method, path) {
                ("PATCH", _) => Some(json!({"name": "x"})),
                (_, "/api/v1/destinations/{id}/replay") => Some(json!({"from_id": "1"})),
                _ => None,
            };
            (path.replace("{id}", destination), body)
        }
        _ => panic!("no example request for {method} {path}: add one"),
    };
    (method.parse().unwrap(), path, body)
}

pub async fn every_route_of_the_table_refuses_anonymous_and_wrong_role_callers(kind: StoreKind) {
    use Who::*;
    let app = TestApp::spawn_with(kind, with_auth).await;
    let stored = call(
        &app,
        Admin,
        reqwest::Method::POST,
        "/api/v1/notification",
        Some(json!({"event_type": "role_reader", "identifier": {"name": "x"}})),
    )
    .await;
    assert_eq!(stored.status(), 200);
    let made = call(
        &app,
        Reader,
        reqwest::Method::POST,
        "/api/v1/destinations",
        Some(json!({"url": "http://127.0.0.1:9/hook", "subscriptions": [{"event_type": "role_reader", "identifier": {"name": "x"}}]})),
    )
    .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let destination = made["id"].as_str().unwrap().to_owned();
    let mut destructive = 0;
    // Owner routes that change something: audited, refused by the guard (401) and, for a
    // caller who does not own the destination, by the handler (403 or 404).
    let mut owner_changes = Vec::new();
    for (method, path, audience) in tidings::api::route_audiences() {
        if audience == "public" {
            let (method, path, body) = match path.as_str() {
                "/api/v1/schema/{event_type}" => (
                    reqwest::Method::GET,
                    "/api/v1/schema/role_reader".to_owned(),
                    None,
                ),
                "/console/{asset}" => (reqwest::Method::GET, "/console/app.js".to_owned(), None),
                _ => (method.parse().unwrap(), path.clone(), None),
            };
            let response = call(&app, Anonymous, method, &path, body).await;
            assert!(response.status().is_success(), "{path} is public");
            continue;
        }
        let (verb, url, body) = example(&method, &path, &destination);
        let anonymous = call(&app, Anonymous, verb.clone(), &url, body.clone()).await;
        assert_eq!(anonymous.status(), 401, "anonymous {method} {path}");
        let error: Value = anonymous.json().await.unwrap();
        assert!(error["request_id"].is_string());
        if audience == "owner" {
            // Any authenticated caller passes the guard; a producer may not subscribe to
            // `role_reader` and does not see the reader's destination.
            let other = call(&app, Producer, verb.clone(), &url, body.clone()).await;
            let expected = match (method.as_str(), path.as_str()) {
                ("POST", "/api/v1/destinations") => 403,
                (
                    "GET",
                    "/api/v1/destinations"
                    | "/api/v1/deliveries"
                    | "/api/v1/failed-deliveries"
                    | "/api/v1/deliveries/events",
                )
                | ("DELETE", "/api/v1/destinations" | "/api/v1/deliveries/history")
                | ("POST", "/api/v1/deliveries/retry") => 200,
                _ => 404,
            };
            assert_eq!(other.status(), expected, "producer {method} {path}");
            if method == "GET"
                && ["/api/v1/destinations", "/api/v1/deliveries"].contains(&path.as_str())
            {
                let page: Value = other.json().await.unwrap();
                assert_eq!(
                    page["models"],
                    json!([]),
                    "a producer sees no one else's destinations or deliveries"
                );
            }
            if method != "GET" {
                owner_changes.push(expected);
            }
            continue;
        }
        // Producers may neither read nor write `role_reader`; readers are not admins.
        let wrong = if audience == "admin" {
            Reader
        } else {
            Producer
        };
        let refused = call(&app, wrong, verb.clone(), &url, body.clone()).await;
        assert_eq!(refused.status(), 403, "{wrong:?} {method} {path}");
        if method == "DELETE" {
            destructive += 1;
        }
        if audience == "read" && method == "GET" {
            let allowed = call(&app, Reader, verb, &url, body).await;
            assert_eq!(allowed.status(), 200, "reader {method} {path}");
        }
    }
    // Nothing was removed by the refused calls.
    let one = call(
        &app,
        Reader,
        reqwest::Method::GET,
        "/api/v1/notification/role_reader@1",
        None,
    )
    .await;
    assert_eq!(one.status(), 200);
    // Every refusal of a destructive route is on the audit trail.
    let trail = call(
        &app,
        Admin,
        reqwest::Method::GET,
        "/api/v1/admin/audit?limit=100",
        None,
    )
    .await;
    let trail: Value = trail.json().await.unwrap();
    let refusals: Vec<(String, u64)> = trail["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["data"]["outcome"] == "refused")
        .map(|event| {
            let data = &event["data"];
            (
                data["operation"].as_str().unwrap().to_owned(),
                data["status"].as_u64().unwrap(),
            )
        })
        .collect();
    for status in [401, 403, 404] {
        let count = refusals.iter().filter(|(_, code)| *code == status).count();
        let owners = owner_changes
            .iter()
            .filter(|code| u64::from(**code) == status)
            .count();
        let expected = match status {
            401 => destructive + owner_changes.len(),
            403 => destructive + owners,
            _ => owners,
        };
        assert_eq!(count, expected, "{status} refusals audited: {refusals:?}");
    }
    // The reader's destination is untouched by the refused calls.
    let kept = call(
        &app,
        Reader,
        reqwest::Method::GET,
        &format!("/api/v1/destinations/{destination}"),
        None,
    )
    .await;
    assert_eq!(kept.status(), 200);
    app.stop().await;
}
