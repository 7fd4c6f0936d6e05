//! `TestApp`: the real application on a random loopback port, with the memory store or
//! JetStream on its own `nats-server`, plus an HTTP client and an SSE frame reader.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tidings::app::App;
use tidings::settings::{Settings, StoreKind};
use tokio_util::sync::CancellationToken;

use crate::support::nats::NatsServer;

pub struct TestApp {
    pub address: String,
    /// The running app's state, for in-process requests (`tower::ServiceExt::oneshot`).
    #[allow(dead_code, reason = "read in the api crate; not in slow_clients")]
    pub state: Option<tidings::api::AppState>,
    #[allow(dead_code, reason = "read in the api crate; not in slow_clients")]
    pub metrics_port: Option<u16>,
    pub client: Client,
    pub shutdown: CancellationToken,
    pub server: tokio::task::JoinHandle<()>,
    /// Owns the JetStream store's server, which lives as long as the app.
    #[allow(dead_code, reason = "read in the api crate; slow_clients only owns it")]
    pub nats: Option<NatsServer>,
}

/// One SSE frame as a client sees it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

pub fn mars(step: u64) -> Value {
    json!({"class":"od","expver":"1","domain":"g","date":"2025-07-06","time":"12","stream":"enfo","step":step})
}

impl TestApp {
    pub async fn spawn_with(kind: StoreKind, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings {
            listen: "127.0.0.1:0".to_owned(),
            ..Settings::default()
        };
        settings.store.kind = kind;
        // Test receivers listen on 127.0.0.1.
        settings.delivery.allow_private_networks = true;
        let nats = (kind == StoreKind::Jetstream).then(NatsServer::start);
        if let Some(nats) = &nats {
            settings.store.jetstream.url = nats.url();
            settings.store.jetstream.request_timeout = Duration::from_secs(2);
        }
        tweak(&mut settings);
        let shutdown = CancellationToken::new();
        let app = App::build(settings, shutdown.clone())
            .await
            .expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = Some(app.state().clone());
        let metrics_port = app.metrics_port();
        let server = tokio::spawn(async move {
            app.run_until_stopped().await.expect("server runs");
        });
        let test_app = Self {
            address,
            state,
            metrics_port,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            shutdown,
            server,
            nats,
        };
        test_app.wait_until_ready().await;
        test_app
    }

    async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(response) = self.client.get(self.url("/ready")).send().await
                && response.status() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not ready within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Publishes and returns the `id` of the stored notification.
    pub async fn notify(&self, event_type: &str, identifier: Value, payload: Value) -> String {
        let response = self
            .post(
                "/api/v1/notification",
                &json!({"event_type": event_type, "identifier": identifier, "payload": payload}),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Opens a stream (200 expected), optionally resuming after `last_event_id`.
    pub async fn stream(
        &self,
        path: &str,
        body: Value,
        last_event_id: Option<&str>,
    ) -> FrameReader {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        FrameReader::new(response)
    }

    /// Stops the server and waits (at most 10 s) for it to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let server = std::mem::replace(&mut self.server, tokio::spawn(async {}));
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    }
}

/// A test that panics before `stop` still stops its server (and, dropping `nats`, its
/// nats-server).
impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Reads SSE frames off a streaming response.
pub struct FrameReader {
    #[allow(dead_code, reason = "read in the api crate; not in slow_clients")]
    pub request_id: String,
    #[allow(dead_code, reason = "read in the api crate; not in slow_clients")]
    pub content_type: String,
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
    /// Where the unread part of `buffer` starts (avoids moving large buffers per frame).
    read: usize,
}

impl FrameReader {
    pub fn new(response: Response) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            request_id: header("x-request-id"),
            content_type: header("content-type"),
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
            read: 0,
        }
    }

    /// The next frame, or `None` when the server closed the stream.
    pub async fn next(&mut self, timeout: Duration) -> Option<Frame> {
        loop {
            if let Some(offset) = self.buffer[self.read..].find("\n\n") {
                let end = self.read + offset;
                let block = self.buffer[self.read..end + 2].to_owned();
                self.read = end + 2;
                if self.read == self.buffer.len() || self.read > 1 << 20 {
                    self.buffer.drain(..self.read);
                    self.read = 0;
                }
                let mut event = None;
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(rest) = line.strip_prefix("event: ") {
                        event = Some(rest.to_owned());
                    } else if let Some(rest) = line.strip_prefix("id: ") {
                        id = Some(rest.to_owned());
                    } else if let Some(rest) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(rest).expect("data is JSON"));
                    }
                }
                if let (Some(event), Some(data)) = (event, data) {
                    return Some(Frame { event, id, data });
                }
                continue;
            }
            match tokio::time::timeout(timeout, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Some(Err(error))) => panic!("stream failed: {error}"),
                Ok(None) => return None,
                Err(_) => panic!("no frame within {timeout:?}; buffered: {:?}", self.buffer),
            }
        }
    }

    /// Frames up to and including the first that satisfies `done`.
    pub async fn until(&mut self, done: impl Fn(&Frame) -> bool, timeout: Duration) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next(timeout).await {
            let finished = done(&frame);
            frames.push(frame);
            if finished {
                break;
            }
        }
        frames
    }
}
