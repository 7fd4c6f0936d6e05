//! Live delivery outcomes (DELIVERY.md §6a): one event per attempt made, plus one when a
//! delivery is exhausted and one when a receiver's `410` disables its destination, appended
//! to the protected stream `TIDINGS_OUTCOMES` that `GET /api/v1/deliveries/events` reads.
//! The stream's sequence is the event's SSE id, so a client resumes with `Last-Event-ID`.
//!
//! Subjects are `tidings_outcomes.<destination_id>.<type>`: one destination's events are a
//! subject filter away. Events are sent unconfirmed (a core NATS publish the stream stores):
//! waiting for an ack per attempt cost the bench a quarter of its deliveries per second. The
//! records stay the authority; an event NATS does not store (NATS away) is lost, the attempt
//! it describes is not.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::attempt::{AttemptRecord, ErrorClass};
use super::delivery_id::DeliveryId;
use super::destination::DestinationId;
use crate::domain::{OUTCOMES_BASE, StreamKey};
use crate::store::{Publication, Store};
use crate::subject::Subject;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    AttemptSucceeded,
    AttemptFailed,
    /// The schedule is spent (or a `410` ended it): the delivery is `failed`.
    DeliveryExhausted,
    /// A `410 Gone` disabled the destination.
    DestinationDisabled,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AttemptSucceeded => "attempt_succeeded",
            Self::AttemptFailed => "attempt_failed",
            Self::DeliveryExhausted => "delivery_exhausted",
            Self::DestinationDisabled => "destination_disabled",
        }
    }
}

/// One event of the outcome stream, as its `data:` line carries it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeEvent {
    #[serde(rename = "type")]
    pub kind: OutcomeKind,
    pub delivery_id: String,
    pub destination_id: String,
    pub notification_id: String,
    pub attempt: u32,
    pub response_status_code: Option<u16>,
    pub error: Option<ErrorClass>,
    #[serde(serialize_with = "rfc3339_millis")]
    pub time: DateTime<Utc>,
}

fn rfc3339_millis<S: serde::Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The outcome stream's key.
pub fn outcomes_stream() -> StreamKey {
    StreamKey::new(OUTCOMES_BASE)
}

/// The subject filter of one destination's events, or of all.
pub fn filter(destination: Option<&DestinationId>) -> String {
    match destination {
        Some(id) => format!("{OUTCOMES_BASE}.{id}.*"),
        None => format!("{OUTCOMES_BASE}.>"),
    }
}

/// The destination an event's subject names (`None`: not an outcome subject).
pub fn destination_of(subject: &str) -> Option<DestinationId> {
    let rest = subject.strip_prefix(OUTCOMES_BASE)?.strip_prefix('.')?;
    let (destination, _) = rest.split_once('.')?;
    DestinationId::parse(destination)
}

/// The events of one attempt: its success or failure, and what it ended. `exhausted`: the
/// delivery ends `failed` with it; `gone`: the receiver answered `410`.
pub fn of_attempt(
    delivery: &DeliveryId,
    attempt: &AttemptRecord,
    exhausted: bool,
    gone: bool,
) -> Vec<OutcomeEvent> {
    let event = |kind| OutcomeEvent {
        kind,
        delivery_id: delivery.to_string(),
        destination_id: delivery.destination.to_string(),
        notification_id: delivery.notification_id(),
        attempt: attempt.attempt,
        response_status_code: attempt.response_status_code,
        error: attempt.error,
        time: Utc::now(),
    };
    let mut events = vec![event(
        if attempt.status == super::attempt::AttemptStatus::Success {
            OutcomeKind::AttemptSucceeded
        } else {
            OutcomeKind::AttemptFailed
        },
    )];
    if exhausted {
        events.push(event(OutcomeKind::DeliveryExhausted));
    }
    if gone {
        events.push(event(OutcomeKind::DestinationDisabled));
    }
    events
}

/// Appends `events`, in order; a failure is logged (see the module documentation).
pub async fn publish(store: &Store, events: Vec<OutcomeEvent>) {
    for event in events {
        let subject = match Subject::build(
            OUTCOMES_BASE,
            [event.destination_id.as_str(), event.kind.as_str()],
        ) {
            Ok(subject) => subject,
            Err(error) => {
                tracing::error!(%error, "cannot address a delivery outcome");
                continue;
            }
        };
        let payload = match serde_json::to_vec(&event) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "cannot encode a delivery outcome");
                continue;
            }
        };
        let publication = Publication {
            stream: outcomes_stream(),
            subject,
            headers: Vec::new(),
            payload: payload.into(),
            idempotency_key: None,
        };
        if let Err(error) = store.publish_unconfirmed(publication).await {
            tracing::warn!(%error, delivery = %event.delivery_id, "delivery outcome not stored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::attempt::{AttemptStatus, Trigger};

    fn attempt(status: AttemptStatus, code: Option<u16>) -> AttemptRecord {
        AttemptRecord {
            attempt: 2,
            trigger: Trigger::Scheduled,
            delivered_at: Utc::now(),
            duration_ms: 3,
            status,
            response_status_code: code,
            response_body: None,
            response_body_truncated: false,
            error: None,
        }
    }

    fn delivery() -> DeliveryId {
        DeliveryId {
            destination: DestinationId::generate(Utc::now()).unwrap(),
            event_type: "mars".to_owned(),
            sequence: crate::domain::Sequence::new(7).unwrap(),
        }
    }

    #[test]
    fn a_410_is_a_failed_attempt_an_exhausted_delivery_and_a_disabled_destination() {
        let id = delivery();
        let events = of_attempt(&id, &attempt(AttemptStatus::Failed, Some(410)), true, true);
        let kinds: Vec<_> = events.iter().map(|event| event.kind).collect();
        assert_eq!(
            kinds,
            [
                OutcomeKind::AttemptFailed,
                OutcomeKind::DeliveryExhausted,
                OutcomeKind::DestinationDisabled
            ]
        );
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["type"], "attempt_failed");
        assert_eq!(json["delivery_id"], id.to_string());
        assert_eq!(json["notification_id"], "mars@7");
        assert_eq!(json["attempt"], 2);
        assert_eq!(json["response_status_code"], 410);
        assert!(json["error"].is_null());
    }

    #[test]
    fn subjects_name_their_destination() {
        let id = delivery().destination;
        let subject = format!("{OUTCOMES_BASE}.{id}.attempt_failed");
        assert_eq!(destination_of(&subject), Some(id.clone()));
        assert_eq!(destination_of("mars.od.1"), None);
        assert_eq!(filter(Some(&id)), format!("{OUTCOMES_BASE}.{id}.*"));
    }
}
