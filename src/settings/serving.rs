//! How streams, replays, CloudEvents and HTTP connections are served.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseSettings {
    /// Interval of `heartbeat` frames on watch streams.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// A watch is closed with `max_duration_reached` after this long.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// A replay that has sent nothing for this long gets a `: keep-alive` comment.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// Bytes of live notifications that may wait for one slow watcher before it is cut off
    /// (with an `error` frame naming the last id it was sent).
    pub watcher_buffer_bytes: usize,
    /// Open SSE streams per instance; more are refused with 503.
    pub max_connections: usize,
}

impl Default for SseSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(30),
            max_duration: Duration::from_secs(3600),
            keep_alive: Duration::from_secs(15),
            watcher_buffer_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySettings {
    /// Most notifications one replay request delivers (a schema entry may override it).
    pub max_historical_notifications: usize,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            max_historical_notifications: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudEventSettings {
    /// Prepended to the event type in the CloudEvent `type`; aviso clients expect the default.
    pub type_prefix: String,
}

impl Default for CloudEventSettings {
    fn default() -> Self {
        Self {
            type_prefix: "int.ecmwf.aviso.".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest accepted request body in bytes (aviso: 256 KiB).
    pub body_limit: usize,
    /// Origins allowed by CORS on the public and stream routes; `*` allows any.
    pub cors_allowed_origins: Vec<String>,
    /// Origins allowed by CORS on admin routes (`DELETE` included); empty by default, so a
    /// page on another origin can neither delete nor read admin answers. `*` is refused.
    pub cors_admin_origins: Vec<String>,
    /// Non-streaming requests taking longer are answered 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest accepted query string, in bytes.
    pub max_query_length: usize,
    /// A connection that has not sent a whole request head within this time is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A stream route (watch, replay) whose body has not arrived within this time is
    /// answered 408 (other routes are bounded by `request_timeout`).
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// A connection on which no byte moved either way for this long is closed: idle
    /// keep-alive connections, and clients that stopped reading a stream. Longer than
    /// `sse.heartbeat` and `sse.keep_alive`, so healthy streams never reach it.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit: 256 * 1024,
            cors_allowed_origins: vec!["*".to_owned()],
            cors_admin_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            max_query_length: 8192,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
        }
    }
}
