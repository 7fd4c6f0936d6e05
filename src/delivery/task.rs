//! A delivery task as queued: the delivery id, where the notification is and when it was
//! stored. A routed task also carries the revision of the record the router created and the
//! CloudEvent it rendered, so that the first attempt made right after routing needs neither
//! read (two JetStream round trips less per delivery). Any later attempt, and any task that
//! waited longer than [`FRESH_FOR`], reads both again: a notification deleted meanwhile is
//! found missing and its delivery ends `cancelled`.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attempt::Trigger;
use super::delivery_id::DeliveryId;
use super::destination::DestinationId;
use super::record::DeliveryRecord;
use crate::domain::StreamKey;
use crate::store::work_queue::Task;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryTask {
    pub delivery: DeliveryId,
    pub stream: StreamKey,
    pub time: DateTime<Utc>,
    /// `scheduled` for routed deliveries; `manual` (a retry asked for) and `replay` tasks
    /// make one attempt whatever the delivery's status, and retry nothing themselves.
    #[serde(default = "scheduled")]
    pub trigger: Trigger,
    /// When the router made the delivery's record (its `created_at`); routed tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_at: Option<DateTime<Utc>>,
    /// The revision of the `pending` record the router created; routed tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_revision: Option<u64>,
}

/// How long after routing a task's first attempt may use what the router attached (the
/// record revision and the rendered CloudEvent) instead of reading them: a notification
/// deleted within this time of being stored may still be sent once, as if the attempt had
/// come first. One second: well above routing-to-sending under load, far below what an
/// operator needs to delete something by hand.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Between the task's JSON and an attached CloudEvent: JSON as serde writes it holds no
/// raw newline.
const EVENT_SEPARATOR: u8 = b'\n';

fn scheduled() -> Trigger {
    Trigger::Scheduled
}

impl DeliveryTask {
    /// A task with nothing attached by a router (a manual retry, a replay).
    pub fn new(
        delivery: DeliveryId,
        stream: StreamKey,
        time: DateTime<Utc>,
        trigger: Trigger,
    ) -> Self {
        Self {
            delivery,
            stream,
            time,
            trigger,
            routed_at: None,
            record_revision: None,
        }
    }

    /// The queue entry in `lane` (see [`lane_for`]), keyed by destination, de-duplicated by
    /// delivery id (a manual or
    /// replay task by its own request id, so that each request makes its attempt).
    pub fn to_task(&self, lane: String, request: Option<&str>) -> Result<Task, serde_json::Error> {
        self.to_task_with(lane, request, None)
    }

    /// [`DeliveryTask::to_task`] with the rendered CloudEvent attached (see [`FRESH_FOR`]).
    pub fn to_task_with(
        &self,
        lane: String,
        request: Option<&str>,
        event: Option<&[u8]>,
    ) -> Result<Task, serde_json::Error> {
        let id = match request {
            None => self.delivery.to_string(),
            Some(request) => format!("{}#{}-{request}", self.delivery, self.trigger.as_str()),
        };
        let mut payload = serde_json::to_vec(self)?;
        if let Some(event) = event {
            payload.reserve(event.len() + 1);
            payload.push(EVENT_SEPARATOR);
            payload.extend_from_slice(event);
        }
        Ok(Task {
            lane,
            key: self.delivery.destination.to_string(),
            id,
            payload: Bytes::from(payload),
        })
    }

    /// The task and the CloudEvent attached to it, if any.
    pub fn parse_with_event(payload: &Bytes) -> Result<(Self, Option<Bytes>), serde_json::Error> {
        match payload.iter().position(|byte| *byte == EVENT_SEPARATOR) {
            Some(at) => Ok((
                serde_json::from_slice(&payload[..at])?,
                Some(payload.slice(at + 1..)),
            )),
            None => Ok((serde_json::from_slice(payload)?, None)),
        }
    }

    /// Whether a lease of this task handed out for the `handed_out`th time may use what the
    /// router attached: the first hand-out of a routed task within [`FRESH_FOR`].
    pub fn is_fresh(&self, handed_out: u64, now: DateTime<Utc>) -> bool {
        let fresh_for = chrono::Duration::from_std(FRESH_FOR).unwrap_or_default();
        self.trigger == Trigger::Scheduled
            && handed_out == 1
            && self
                .routed_at
                .is_some_and(|routed| (now - routed).abs() < fresh_for)
    }

    /// The record of this delivery before anything happened to it.
    pub fn pending_record(&self, now: DateTime<Utc>) -> DeliveryRecord {
        DeliveryRecord::pending(self.delivery.clone(), self.stream.clone(), self.time, now)
    }

    /// The record as the router created it (a routed task; otherwise as of `now`).
    pub fn routed_record(&self, now: DateTime<Utc>) -> DeliveryRecord {
        self.pending_record(self.routed_at.unwrap_or(now))
    }
}

/// The lane every enabled unordered destination shares.
pub const SHARED_LANE: &str = "shared";
/// Where the tasks of disabled unordered destinations wait (nobody takes it); they move to
/// the shared lane when the destination is enabled again.
pub const PARKED_LANE: &str = "parked";

/// An ordered destination's own lane (one request at a time).
pub fn ordered_lane(destination: &DestinationId) -> String {
    format!("o-{destination}")
}

/// Where a task of a destination in this state goes.
pub fn lane_for(destination: &DestinationId, enabled: bool, ordered: bool) -> String {
    match (ordered, enabled) {
        (true, _) => ordered_lane(destination),
        (false, true) => SHARED_LANE.to_owned(),
        (false, false) => PARKED_LANE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(routed_at: Option<DateTime<Utc>>) -> DeliveryTask {
        DeliveryTask {
            delivery: DeliveryId {
                destination: DestinationId::generate(Utc::now()).unwrap(),
                event_type: "mars".to_owned(),
                sequence: crate::domain::Sequence::new(7).unwrap(),
            },
            stream: StreamKey::new("mars"),
            time: Utc::now(),
            trigger: Trigger::Scheduled,
            routed_at,
            record_revision: Some(3),
        }
    }

    #[test]
    fn an_attached_event_reads_back_byte_for_byte() {
        let routed = task(Some(Utc::now()));
        let event = b"{\"id\":\"mars@7\",\n\"data\":{}}";
        let queued = routed
            .to_task_with(SHARED_LANE.to_owned(), None, Some(event))
            .unwrap();
        let (read, attached) = DeliveryTask::parse_with_event(&queued.payload).unwrap();
        assert_eq!(read, routed);
        assert_eq!(attached.as_deref(), Some(&event[..]));
    }

    #[test]
    fn a_task_without_event_reads_back_without_one() {
        let plain = task(None);
        let queued = plain.to_task(SHARED_LANE.to_owned(), None).unwrap();
        let (read, attached) = DeliveryTask::parse_with_event(&queued.payload).unwrap();
        assert_eq!(read, plain);
        assert!(attached.is_none());
    }

    #[test]
    fn only_the_first_prompt_hand_out_of_a_routed_task_is_fresh() {
        let now = Utc::now();
        assert!(task(Some(now)).is_fresh(1, now));
        assert!(
            !task(Some(now)).is_fresh(2, now),
            "a redelivery reads again"
        );
        assert!(!task(None).is_fresh(1, now), "not routed");
        let old = now - chrono::Duration::seconds(2);
        assert!(!task(Some(old)).is_fresh(1, now), "waited too long");
        let mut manual = task(Some(now));
        manual.trigger = Trigger::Manual;
        assert!(!manual.is_fresh(1, now));
    }
}
