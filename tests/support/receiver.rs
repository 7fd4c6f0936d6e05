//! A webhook receiver on 127.0.0.1, started by the test that uses it: records every request
//! (time, path, headers, body) and answers from a script per path: a queue of answers used
//! up in order, then a default. Nothing else is ever contacted.
#![allow(dead_code, reason = "each test crate uses part of it")]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub delay: Duration,
    /// The body answered; `scripted` when `None`.
    pub body: Option<String>,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
            body: None,
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// `webhook-id`.
    pub fn webhook_id(&self) -> String {
        self.header("webhook-id").unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct Script {
    queued: HashMap<String, VecDeque<Answer>>,
    defaults: HashMap<String, Answer>,
    log: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub address: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    /// Serves on a listener bound by the caller (a receiver coming back on its old port).
    pub fn serve(listener: tokio::net::TcpListener) -> Self {
        let address = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, script }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Answers for `path` from now on, before its default.
    pub fn queue(&self, path: &str, answers: impl IntoIterator<Item = Answer>) {
        self.script
            .lock()
            .unwrap()
            .queued
            .entry(path.to_owned())
            .or_default()
            .extend(answers);
    }

    /// What `path` answers once its queue is used up (200 when never set).
    pub fn default_answer(&self, path: &str, answer: Answer) {
        self.script
            .lock()
            .unwrap()
            .defaults
            .insert(path.to_owned(), answer);
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().log.clone()
    }

    pub fn received_on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    /// Waits until `path` has received `count` requests (panics after `within`).
    pub async fn wait_for(&self, path: &str, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received_on(path);
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} of {count} requests within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let answer = {
        let mut script = script.lock().unwrap();
        script.log.push(Received {
            at: Instant::now(),
            path: path.clone(),
            headers,
            body,
        });
        let queued = script.queued.get_mut(&path).and_then(VecDeque::pop_front);
        queued
            .or_else(|| script.defaults.get(&path).cloned())
            .unwrap_or(Answer::status(200))
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap();
    let body = answer.body.unwrap_or_else(|| "scripted".to_owned());
    match answer.retry_after {
        Some(value) => (status, [("retry-after", value)], body).into_response(),
        None => (status, body).into_response(),
    }
}
