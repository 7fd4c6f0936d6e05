//! Retractions: news that notifications were deleted or a stream wiped, for the watchers of
//! that stream on every instance. The memory store broadcasts in-process; the JetStream
//! store publishes on a core NATS subject that every instance subscribes to.

use serde::{Deserialize, Serialize};

use crate::domain::{Sequence, StreamKey};
use tokio::sync::broadcast;

pub use crate::domain::RETRACTION_SUBJECT;

/// Retractions buffered per local listener before a slow one skips some.
pub(crate) const RETRACTION_QUEUE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Retraction {
    /// One notification was deleted.
    Deleted {
        stream: String,
        sequence: Sequence,
        request_id: String,
    },
    /// The stream was purged (all of it, or the part an identifier matched); sent on every
    /// real purge, `count` 0 included, so a watcher knows its view was checked.
    Wiped {
        stream: String,
        /// Notifications removed. Absent from an older instance's announcement: 0.
        #[serde(default)]
        count: u64,
        request_id: String,
    },
}

impl Retraction {
    /// One notification of `stream` was deleted.
    pub fn deleted(stream: &StreamKey, sequence: Sequence, request_id: &str) -> Self {
        Retraction::Deleted {
            stream: stream.stream_name(),
            sequence,
            request_id: request_id.to_owned(),
        }
    }

    /// `count` notifications of `stream` were purged.
    pub fn wiped(stream: &StreamKey, count: u64, request_id: &str) -> Self {
        Retraction::Wiped {
            stream: stream.stream_name(),
            count,
            request_id: request_id.to_owned(),
        }
    }

    /// Whether it concerns `stream`. On the wire the stream travels by its JetStream name,
    /// which older instances send too; the comparison stays here, in one place.
    pub fn concerns(&self, stream: &StreamKey) -> bool {
        match self {
            Retraction::Deleted { stream: name, .. } | Retraction::Wiped { stream: name, .. } => {
                *name == stream.stream_name()
            }
        }
    }
}

/// A fresh local fan-out for retractions.
pub(crate) fn channel() -> broadcast::Sender<Retraction> {
    broadcast::channel(RETRACTION_QUEUE).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wipe_announced_without_a_count_reads_as_zero() {
        let old: Retraction =
            serde_json::from_str(r#"{"kind":"wiped","stream":"MARS","request_id":"r"}"#).unwrap();
        assert_eq!(
            old,
            Retraction::Wiped {
                stream: "MARS".to_owned(),
                count: 0,
                request_id: "r".to_owned()
            }
        );
    }
}
