//! A delivery as stored and listed (DELIVERY.md §1, §5): where it stands, how many attempts
//! it took, when the next is due. Kept by key `<destination>.<event_type>.<sequence>` so one
//! destination's deliveries (and one delivery's attempts) are a prefix of the bucket.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::attempt::{AttemptRecord, ErrorClass};
use super::delivery_id::DeliveryId;
use crate::domain::StreamKey;

/// §1 `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    /// Whether nothing more happens to the delivery on its own.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Retrying,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == raw)
    }
}

/// One delivery's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    /// The stream holding the notification (the event type's stream when routed).
    pub stream: StreamKey,
    /// When the notification was stored: lists sort by it.
    pub notification_time: DateTime<Utc>,
    pub status: DeliveryStatus,
    /// Attempts made so far (their records are numbered 1..=attempts).
    pub attempts: u32,
    /// Failed attempts so far.
    #[serde(default)]
    pub failures: u32,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub last_response_status_code: Option<u16>,
    #[serde(default)]
    pub last_error: Option<ErrorClass>,
    /// Its entry in the failed view (DELIVERY.md §6): made at the first failed attempt, kept
    /// whatever happens later, gone only when an operator removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_view: Option<FailedEntry>,
    /// When a manual retry was asked for and not made yet: a scheduled attempt of an
    /// unordered destination waits for it, so that one delivery never has two requests at
    /// once (an ordered destination's lane runs one at a time anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_requested_at: Option<DateTime<Utc>>,
    /// When the scheduled attempt last stood back for an asked-for manual one: tells the
    /// manual attempt, on whichever instance, that the scheduled one is not running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_deferred_at: Option<DateTime<Utc>>,
    /// Made by a replay of history routing never saw (stored before the destination
    /// existed): no scheduled attempt follows, so its replay attempt decides how it ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay_only: bool,
    /// The first attempt, when its record is small (see [`INLINE_ATTEMPT_LIMIT`]): written
    /// with the delivery record in one write instead of a second key in the attempts
    /// bucket, which is most of what a delivery that succeeds at once costs to record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt: Option<AttemptRecord>,
}

/// The largest response body an attempt kept inside its delivery record may carry: larger
/// ones go to the attempts bucket, so that listing delivery records stays cheap however
/// much receivers answer.
pub const INLINE_ATTEMPT_LIMIT: usize = 512;

/// What the failed view keeps of a delivery's failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedEntry {
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    pub last_error: Option<ErrorClass>,
    pub last_response_status_code: Option<u16>,
}

fn millis(time: Option<DateTime<Utc>>) -> Value {
    time.map_or(Value::Null, |time| {
        Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    })
}

impl DeliveryRecord {
    /// A delivery routed now, before any attempt.
    pub fn pending(
        id: DeliveryId,
        stream: StreamKey,
        notification_time: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            stream,
            notification_time,
            status: DeliveryStatus::Pending,
            attempts: 0,
            failures: 0,
            created_at: now,
            last_attempt_at: None,
            next_attempt_at: None,
            succeeded_at: None,
            last_response_status_code: None,
            last_error: None,
            failed_view: None,
            manual_requested_at: None,
            scheduled_deferred_at: None,
            replay_only: false,
            first_attempt: None,
        }
    }

    /// The bucket key of this delivery.
    pub fn key(&self) -> String {
        key_of(&self.id)
    }

    /// Takes in an attempt just made: counts, codes, times. The caller sets the status
    /// and the next attempt, which depend on the schedule.
    pub fn count(&mut self, attempt: &AttemptRecord) {
        self.attempts = self.attempts.max(attempt.attempt);
        self.last_attempt_at = Some(attempt.delivered_at);
        self.last_response_status_code = attempt.response_status_code;
        self.last_error = attempt.error;
        if attempt.status == super::attempt::AttemptStatus::Success {
            self.succeeded_at = Some(attempt.delivered_at);
        } else {
            self.failures += 1;
            let entry = self.failed_view.get_or_insert(FailedEntry {
                first_failed_at: attempt.delivered_at,
                last_failed_at: attempt.delivered_at,
                last_error: None,
                last_response_status_code: None,
            });
            entry.last_failed_at = attempt.delivered_at;
            entry.last_error = attempt.error;
            entry.last_response_status_code = attempt.response_status_code;
        }
    }

    /// Whether `attempt` is kept inside this record rather than under its own key: the
    /// first attempt, when its response body is short.
    pub fn keeps_inline(&self, attempt: &AttemptRecord) -> bool {
        attempt.attempt == 1
            && self.first_attempt.is_none()
            && attempt
                .response_body
                .as_ref()
                .is_none_or(|body| body.len() <= INLINE_ATTEMPT_LIMIT)
    }

    /// The §6 representation of its failed-view entry, if it has one.
    pub fn failed_view(&self) -> Option<Value> {
        let entry = self.failed_view.as_ref()?;
        Some(json!({
            "delivery_id": self.id.to_string(),
            "destination_id": self.id.destination,
            "notification_id": self.id.notification_id(),
            "event_type": self.id.event_type,
            "failure_count": self.failures,
            "status": self.status,
            "last_error": entry.last_error,
            "last_response_status_code": entry.last_response_status_code,
            "first_failed_at": millis(Some(entry.first_failed_at)),
            "last_failed_at": millis(Some(entry.last_failed_at)),
        }))
    }

    /// The §5 representation.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "destination_id": self.id.destination,
            "notification_id": self.id.notification_id(),
            "event_type": self.id.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": millis(Some(self.created_at)),
            "notification_time": millis(Some(self.notification_time)),
            "last_attempt_at": millis(self.last_attempt_at),
            "next_attempt_at": millis(self.next_attempt_at),
            "succeeded_at": millis(self.succeeded_at),
            "last_response_status_code": self.last_response_status_code,
        })
    }
}

/// `<destination>.<event_type>.<sequence>`: event types are letters, digits, `_` and `-`
/// (the schema allows no more), so the key needs no escaping.
pub fn key_of(id: &DeliveryId) -> String {
    format!("{}.{}.{}", id.destination, id.event_type, id.sequence.get())
}

/// The key of attempt `number` of a delivery: zero-padded so keys sort by number.
pub fn attempt_key(delivery: &DeliveryId, number: u32) -> String {
    format!("{}.{number:06}", key_of(delivery))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::destination::DestinationId;
    use crate::domain::Sequence;

    #[test]
    fn keys_nest_attempts_under_their_delivery_under_its_destination() {
        let destination = DestinationId::generate(Utc::now()).unwrap();
        let id = DeliveryId {
            destination: destination.clone(),
            event_type: "test_polygon".to_owned(),
            sequence: Sequence::new(7).unwrap(),
        };
        assert_eq!(key_of(&id), format!("{destination}.test_polygon.7"));
        assert_eq!(
            attempt_key(&id, 3),
            format!("{destination}.test_polygon.7.000003")
        );
        assert!(DeliveryStatus::parse("retrying").is_some_and(|s| !s.is_terminal()));
        assert!(DeliveryStatus::parse("cancelled").is_some_and(DeliveryStatus::is_terminal));
        assert_eq!(DeliveryStatus::parse("done"), None);
    }

    fn attempt(number: u32, body: usize) -> AttemptRecord {
        AttemptRecord {
            attempt: number,
            trigger: super::super::attempt::Trigger::Scheduled,
            // Whole milliseconds: the stored form keeps no more.
            delivered_at: "2026-12-01T10:00:00.123Z".parse().unwrap(),
            duration_ms: 3,
            status: super::super::attempt::AttemptStatus::Success,
            response_status_code: Some(200),
            response_body: Some("x".repeat(body)),
            response_body_truncated: false,
            error: None,
        }
    }

    #[test]
    fn only_a_short_first_attempt_rides_in_the_record() {
        let id = DeliveryId {
            destination: DestinationId::generate(Utc::now()).unwrap(),
            event_type: "mars".to_owned(),
            sequence: Sequence::new(1).unwrap(),
        };
        let mut record =
            DeliveryRecord::pending(id, StreamKey::new("mars"), Utc::now(), Utc::now());
        assert!(record.keeps_inline(&attempt(1, INLINE_ATTEMPT_LIMIT)));
        assert!(!record.keeps_inline(&attempt(1, INLINE_ATTEMPT_LIMIT + 1)));
        assert!(!record.keeps_inline(&attempt(2, 0)));
        record.first_attempt = Some(attempt(1, 0));
        // A repeated first attempt (its first record lost) goes to its own key.
        assert!(!record.keeps_inline(&attempt(1, 0)));
        let stored = serde_json::to_string(&record).unwrap();
        let read: DeliveryRecord = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, record);
        assert!(record.view().get("first_attempt").is_none());
    }
}
