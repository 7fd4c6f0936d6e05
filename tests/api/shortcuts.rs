//! The API suite's shortcuts on top of `helpers.rs`: more ways to spawn, call and stream,
//! and frame kinds. Kept apart because `slow_clients` includes `helpers.rs` too and uses
//! none of these.

use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use tidings::settings::StoreKind;

use crate::helpers::{Frame, FrameReader, TestApp, mars};

impl Frame {
    pub fn kind(&self) -> String {
        match self.data.get("type").and_then(Value::as_str) {
            Some(kind) if !kind.starts_with("int.") => format!("{}:{kind}", self.event),
            _ => self.event.clone(),
        }
    }
}

impl TestApp {
    pub async fn spawn(kind: StoreKind) -> Self {
        Self::spawn_with(kind, |_| {}).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Response {
        self.client
            .post(self.url(path))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The body of a GET, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// The body of a GET, as text.
    pub async fn get_text(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.text().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    pub async fn delete_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .delete(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn notify_mars(&self, step: u64) -> String {
        self.notify("mars", mars(step), json!({"step": step})).await
    }

    /// Opens a stream and returns the response (status not checked).
    pub async fn open(&self, path: &str, body: Value) -> Response {
        self.post(path, &body).await
    }

    /// A live watch of every `mars` notification of class `od`, its opening frame read.
    pub async fn watch_mars(&self) -> FrameReader {
        let body = json!({"event_type":"mars","identifier":{"class":"od"}});
        let mut reader = self.stream("/api/v1/watch", body, None).await;
        reader.next(Duration::from_secs(5)).await.unwrap();
        reader
    }

    /// A replay's frames, up to and including its closing frame.
    pub async fn replay(&self, body: Value) -> Vec<Frame> {
        let response = self.open("/api/v1/replay", body).await;
        assert_eq!(response.status(), 200);
        let mut reader = FrameReader::new(response);
        reader
            .until(
                |frame| frame.event == "connection-closing",
                Duration::from_secs(20),
            )
            .await
    }

    /// Ids of the notifications a replay delivers.
    pub async fn replay_ids(&self, body: Value) -> Vec<String> {
        self.replay(body)
            .await
            .into_iter()
            .filter(|frame| frame.event == "replay")
            .map(|frame| frame.data["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The frame kinds in order, heartbeats left out.
pub fn kinds(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|frame| frame.event != "heartbeat")
        .map(Frame::kind)
        .collect()
}
