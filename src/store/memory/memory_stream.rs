//! One stream of the memory engine: messages by sequence, the latest per subject, the
//! idempotency keys, and the limits that discard the oldest.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::store::fanout::FanOut;
use crate::store::idempotency::IdempotencyIndex;
use crate::store::types::{SharedMessage, StreamSpec};
use crate::subject::nats_filter_matches;

/// One stream: its messages in sequence order and what publishing needs to find fast.
pub(super) struct MemoryStream {
    pub(super) spec: StreamSpec,
    pub(super) messages: BTreeMap<u64, SharedMessage>,
    pub(super) latest_by_subject: HashMap<String, u64>,
    pub(super) idempotency: IdempotencyIndex,
    pub(super) last_sequence: u64,
    pub(super) last_time: DateTime<Utc>,
    pub(super) bytes: u64,
    pub(super) fanout: FanOut,
}

impl MemoryStream {
    pub(super) fn new(spec: StreamSpec) -> Self {
        Self {
            spec,
            messages: BTreeMap::new(),
            latest_by_subject: HashMap::new(),
            idempotency: IdempotencyIndex::default(),
            last_sequence: 0,
            last_time: DateTime::<Utc>::MIN_UTC,
            bytes: 0,
            fanout: FanOut::new(0),
        }
    }

    pub(super) fn remove(&mut self, sequence: u64) -> bool {
        let Some(message) = self.messages.remove(&sequence) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(message.payload.len() as u64);
        if self.latest_by_subject.get(message.subject.as_str()) == Some(&sequence) {
            self.latest_by_subject.remove(message.subject.as_str());
        }
        true
    }

    /// Drops what the stream's limits no longer allow, oldest first: the message cap (not for
    /// the protected audit trail, which keeps to its age and bytes), `max_bytes` (payload
    /// bytes) and `max_age`.
    pub(super) fn enforce_limits(&mut self, cap: usize) {
        let cap = if self.spec.protected { usize::MAX } else { cap };
        let cap = match self.spec.policy.max_messages {
            Some(max) => cap.min(usize::try_from(max).unwrap_or(usize::MAX)),
            None => cap,
        };
        let max_bytes = self
            .spec
            .policy
            .max_bytes
            .and_then(|max| u64::try_from(max).ok());
        while self.messages.len() > cap || max_bytes.is_some_and(|max| self.bytes > max) {
            let Some(oldest) = self.messages.keys().next().copied() else {
                break;
            };
            self.remove(oldest);
        }
        self.expire();
    }

    /// Drops messages older than `max_age`, as JetStream does continuously.
    pub(super) fn expire(&mut self) {
        if let Some(max_age) = self.spec.policy.max_age {
            // An age reaching back before the earliest representable time expires nothing;
            // subtracting it outright would panic under the stream's lock.
            let Some(cutoff) = chrono::Duration::from_std(max_age)
                .ok()
                .and_then(|age| Utc::now().checked_sub_signed(age))
            else {
                return;
            };
            let expired: Vec<u64> = self
                .messages
                .iter()
                .take_while(|(_, message)| message.time < cutoff)
                .map(|(sequence, _)| *sequence)
                .collect();
            for sequence in expired {
                self.remove(sequence);
            }
        }
    }

    pub(super) fn matching(&self, filter: Option<&str>) -> impl Iterator<Item = &SharedMessage> {
        self.messages.values().filter(move |message| {
            filter.is_none_or(|f| nats_filter_matches(f, message.subject.as_str()))
        })
    }
}
