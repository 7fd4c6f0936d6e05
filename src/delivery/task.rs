//! A delivery task as queued: thin (the delivery id, where the notification is, when it was
//! stored), never the payload, which the worker reads by sequence when it sends, so a
//! notification deleted meanwhile is found missing and its delivery ends `cancelled`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::delivery_id::DeliveryId;
use super::record::DeliveryRecord;
use crate::domain::StreamKey;
use crate::store::work_queue::Task;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryTask {
    pub delivery: DeliveryId,
    pub stream: StreamKey,
    pub time: DateTime<Utc>,
}

impl DeliveryTask {
    /// The queue entry: lane = destination, de-duplicated by delivery id.
    pub fn to_task(&self) -> Result<Task, serde_json::Error> {
        Ok(Task {
            lane: self.delivery.destination.to_string(),
            id: self.delivery.to_string(),
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
