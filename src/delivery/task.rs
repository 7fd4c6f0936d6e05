//! A delivery task as queued: thin (the delivery id, where the notification is, when it was
//! stored), never the payload, which the worker reads by sequence when it sends, so a
//! notification deleted meanwhile is found missing and its delivery ends `cancelled`.

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
}

fn scheduled() -> Trigger {
    Trigger::Scheduled
}

impl DeliveryTask {
    /// The queue entry in `lane` (see [`lane_for`]), keyed by destination, de-duplicated by
    /// delivery id (a manual or
    /// replay task by its own request id, so that each request makes its attempt).
    pub fn to_task(&self, lane: String, request: Option<&str>) -> Result<Task, serde_json::Error> {
        let id = match request {
            None => self.delivery.to_string(),
            Some(request) => format!("{}#{}-{request}", self.delivery, self.trigger.as_str()),
        };
        Ok(Task {
            lane,
            key: self.delivery.destination.to_string(),
            id,
            payload: Bytes::from(serde_json::to_vec(self)?),
        })
    }

    pub fn parse(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    /// The record of this delivery before anything happened to it.
    pub fn pending_record(&self, now: DateTime<Utc>) -> DeliveryRecord {
        DeliveryRecord::pending(self.delivery.clone(), self.stream.clone(), self.time, now)
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
