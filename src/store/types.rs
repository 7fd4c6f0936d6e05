//! The vocabulary of the store interface, shared by both engines.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::domain::{Polygon, Sequence, StreamKey};
use crate::settings::{AuditSettings, JetstreamSettings};
use crate::subject::Subject;

/// Header carrying a notification's polygon bounding box: `min_lat,min_lon,max_lat,max_lon`.
pub const SPATIAL_BBOX_HEADER: &str = "spatial_bbox";
/// Header carrying a notification's polygon as `[[lat,lon],...]`.
pub const SPATIAL_GEOMETRY_HEADER: &str = "spatial_geometry";
/// Header carrying the [`Fingerprint`] of a keyed publication, so that a repeat of its
/// idempotency key can be told from a different request reusing it.
pub const REQUEST_HASH_HEADER: &str = "Tidings-Request-Hash";

/// A notification as stored: where, when, under which subject, with which headers.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub sequence: Sequence,
    pub time: DateTime<Utc>,
    pub subject: Subject,
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
    /// The message as its watchers receive it, rendered once by the first of them and
    /// shared by the rest (a stream has one event type, so one rendering fits all).
    pub rendition: OnceLock<Bytes>,
    /// Its whole `live-notification` frame, encoded once and shared by every watcher: a
    /// watcher's frame then costs a reference, not a buffer and a copy of the CloudEvent.
    pub live_frame: OnceLock<Bytes>,
}

impl StoredMessage {
    /// Approximate memory held by the message (payload, subject, headers).
    pub fn size(&self) -> usize {
        self.payload.len()
            + self.subject.as_str().len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + 64
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The polygon from the `spatial_geometry` header, when present and well-formed.
    pub fn polygon(&self) -> Option<Polygon> {
        let geometry: serde_json::Value =
            serde_json::from_str(self.header(SPATIAL_GEOMETRY_HEADER)?).ok()?;
        let vertices = geometry
            .as_array()?
            .iter()
            .map(|pair| Some((pair.get(0)?.as_f64()?, pair.get(1)?.as_f64()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Polygon::from_checked(vertices))
    }
}

/// What to publish: the stream, subject, headers, payload and optional idempotency key.
#[derive(Debug, Clone)]
pub struct Publication {
    pub stream: StreamKey,
    pub subject: Subject,
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
    /// Repeats with the same key within the duplicate window are not stored again.
    pub idempotency_key: Option<String>,
}

/// SHA-256 of what a publication stores (stream, subject, headers, payload): two requests
/// with one idempotency key are the same request exactly when their fingerprints are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl Publication {
    /// The fingerprint of this request; each part is length-prefixed so that no two
    /// different requests can run together into the same bytes.
    pub fn fingerprint(&self) -> Fingerprint {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        part(self.stream.stream_name().as_bytes());
        part(self.subject.as_str().as_bytes());
        for (name, value) in &self.headers {
            part(name.as_bytes());
            part(value.as_bytes());
        }
        part(&self.payload);
        Fingerprint(hash.finalize().into())
    }

    /// Adds the `spatial_*` headers aviso writes for a polygon.
    pub fn with_polygon(mut self, polygon: &Polygon) -> Self {
        let (min_lat, min_lon, max_lat, max_lon) = polygon.bounding_box();
        self.headers.push((
            SPATIAL_BBOX_HEADER.to_owned(),
            format!("{min_lat},{min_lon},{max_lat},{max_lon}"),
        ));
        self.headers.push((
            SPATIAL_GEOMETRY_HEADER.to_owned(),
            polygon.to_json().to_string(),
        ));
        self
    }
}

/// The store's answer to a publish, given only once the notification is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishAck {
    pub sequence: Sequence,
    pub time: DateTime<Utc>,
    /// The idempotency key was seen within the window; `sequence` is the original one.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
}

/// What a purge removed (or, on a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub count: u64,
    pub first_sequence: Option<Sequence>,
    pub last_sequence: Option<Sequence>,
}

pub use crate::domain::Start;

/// The sequence following `last`, where 0 means none yet: a stream's next sequence, or the
/// first one a subscriber that has seen up to `last` still needs.
pub(crate) fn sequence_after(last: u64) -> Sequence {
    Sequence::new(last).map_or(Sequence::FIRST, Sequence::next)
}

/// A finite, ordered read: `start` up to `last_sequence` (inclusive; the history boundary
/// or `to_id`), optionally also up to `until` (inclusive), at most `limit` messages.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// A NATS subject filter within the stream (`*` and a trailing `>` allowed).
    pub filter: String,
    pub start: Start,
    pub last_sequence: u64,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

/// Effective limits of a stream, as the engine applies them.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPolicy {
    /// 1 keeps only the latest notification per identifier; -1 keeps all.
    pub max_messages_per_subject: i64,
    pub max_age: Option<Duration>,
    pub max_messages: Option<i64>,
    pub max_bytes: Option<i64>,
    pub replicas: usize,
    pub compression: bool,
    pub duplicate_window: Duration,
}

pub use crate::domain::AUDIT_BASE;

/// A stream Tidings manages, as derived from the schema and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub key: StreamKey,
    pub policy: StreamPolicy,
    /// Append-only: no delete, no purge (JetStream `deny_delete`/`deny_purge`); wipes skip it.
    pub protected: bool,
    /// The durable feed made with the stream (see [`crate::store::feed`]), so that nothing
    /// stored between the stream's creation and the feed's first reader is missed.
    pub feed: Option<FeedSpec>,
}

/// A stream's durable feed: its consumer name and how long a message may go unacknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSpec {
    pub name: String,
    pub ack_wait: Duration,
}

impl StreamSpec {
    /// The audit trail: protected from deletion and purge, every record kept until the
    /// retention of `store.audit` (age, bytes) drops the oldest.
    pub fn audit(defaults: &JetstreamSettings, retention: &AuditSettings) -> Self {
        Self {
            key: StreamKey::new(AUDIT_BASE),
            policy: StreamPolicy {
                max_messages_per_subject: -1,
                max_age: Some(retention.max_age),
                max_messages: None,
                max_bytes: Some(i64::try_from(retention.max_bytes.get()).unwrap_or(i64::MAX)),
                replicas: defaults.replicas,
                compression: false,
                duplicate_window: defaults.duplicate_window,
            },
            protected: true,
            feed: None,
        }
    }
}

impl StreamSpec {
    /// The live delivery outcomes: protected like the audit trail (no wipe reaches them),
    /// kept `max_age` and at most `max_bytes`, the oldest dropped first.
    pub fn outcomes(defaults: &JetstreamSettings, max_age: Duration, max_bytes: u64) -> Self {
        Self {
            key: StreamKey::new(crate::domain::OUTCOMES_BASE),
            policy: StreamPolicy {
                max_messages_per_subject: -1,
                max_age: Some(max_age),
                max_messages: None,
                max_bytes: Some(i64::try_from(max_bytes).unwrap_or(i64::MAX)),
                replicas: defaults.replicas,
                compression: false,
                duplicate_window: defaults.duplicate_window,
            },
            protected: true,
            feed: None,
        }
    }
}

/// A stream's state and policy (`GET /api/v1/admin/streams`, dry runs).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub key: StreamKey,
    pub messages: u64,
    pub bytes: u64,
    pub first_sequence: u64,
    pub last_sequence: u64,
    pub first_time: Option<DateTime<Utc>>,
    pub last_time: Option<DateTime<Utc>>,
    pub policy: StreamPolicy,
}

/// A live message as handed to subscribers: shared, never copied per watcher.
pub type SharedMessage = Arc<StoredMessage>;

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(subject: &str, payload: &'static [u8]) -> Publication {
        Publication {
            stream: StreamKey::new("mars"),
            subject: Subject::build("mars", [subject]).unwrap(),
            headers: Vec::new(),
            payload: Bytes::from_static(payload),
            idempotency_key: Some("k".to_owned()),
        }
    }

    #[test]
    fn fingerprints_bind_subject_headers_and_payload() {
        let base = publication("od", b"{}");
        assert_eq!(base.fingerprint(), publication("od", b"{}").fingerprint());
        assert_ne!(base.fingerprint(), publication("rd", b"{}").fingerprint());
        assert_ne!(base.fingerprint(), publication("od", b"null").fingerprint());
        let mut with_header = publication("od", b"{}");
        with_header.headers.push(("a".to_owned(), "b".to_owned()));
        assert_ne!(base.fingerprint(), with_header.fingerprint());
        let rendered = base.fingerprint().to_string();
        assert_eq!(rendered.len(), 64);
        assert!(rendered.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
