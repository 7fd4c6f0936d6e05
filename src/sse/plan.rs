//! What a stream session is given: the plan of one stream, validated before its 200 is
//! sent, and the settings every session shares.

use std::sync::Arc;
use std::time::Duration;

use super::frame::{FrameContext, Resume};
use crate::cloudevent::CloudEventSettings;
use crate::domain::{End, Start};
use crate::metrics::Metrics;
use crate::schema::{EventSchema, IdentifierFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Watch,
    Replay,
}

/// Everything a stream needs, validated before the 200 is sent.
pub struct Plan {
    pub kind: Kind,
    /// Route template, for metrics.
    pub route: &'static str,
    pub schema: Arc<EventSchema>,
    pub filter: IdentifierFilter,
    pub nats_filter: String,
    pub context: FrameContext,
    /// `None`: live only (a watch without `from_id`/`from_date`).
    pub start: Option<Start>,
    pub end: Option<End>,
    /// Most notifications the history part delivers.
    pub limit: usize,
    /// The stream's last sequence when the request arrived: history ≤ it < live.
    pub boundary: u64,
    /// The last sequence history may deliver: the boundary, or less with `to_id`/`to_date`
    /// (`replay_started.end_sequence`).
    pub last_deliverable: u64,
    /// Set when the stream resumes after a `Last-Event-ID`.
    pub resume: Option<Resume>,
    /// Reconnection delay announced to `EventSource` clients (GET forms only: aviso clients
    /// expect no `retry:` line).
    pub retry: Option<Duration>,
}

/// Timings and CloudEvent settings shared by every stream.
#[derive(Clone)]
pub struct SessionSettings {
    pub metrics: Arc<Metrics>,
    /// Bytes of live notifications that may wait for one watcher before it is cut off.
    pub watcher_buffer: usize,
    pub heartbeat: Duration,
    pub max_duration: Duration,
    pub keep_alive: Duration,
    pub cloudevents: CloudEventSettings,
}
