//! The in-process engine: the `cargo run` default and a real option for a single process.
//! Same semantics as the JetStream layout (sequences per stream from 1 and never reused,
//! latest-per-subject unless duplicates are allowed, time-based starts, idempotency keys),
//! bounded per stream (oldest discarded; the audit trail by age and bytes only), and not
//! durable: a restart loses everything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};

use tokio::sync::broadcast;

use super::error::{Failure, Lock, StoreError};
use super::fanout::{self, Subscription};
use super::idempotency::KeyUse;
use super::retraction::{self, Retraction};
use super::types::{
    DeleteOutcome, Publication, PublishAck, PurgeReport, ReadRequest, SharedMessage, Start,
    StoredMessage, StreamInfo, StreamSpec, sequence_after,
};
use crate::domain::{Sequence, StreamKey};
use crate::subject::nats_filter_matches;

/// Messages copied out of the lock per read step: bounds lock hold time and memory.
const READ_CHUNK: usize = 256;

mod memory_stream;
pub(crate) mod work_queue;

use memory_stream::MemoryStream;

/// The memory engine: one ordered map per managed stream.
pub struct MemoryStore {
    streams: HashMap<String, Arc<Mutex<MemoryStream>>>,
    max_messages_per_stream: usize,
    retractions: broadcast::Sender<Retraction>,
}

fn poisoned() -> StoreError {
    StoreError::Backend(Failure::Poisoned(Lock::MemoryStream))
}

impl MemoryStore {
    pub fn new(specs: Vec<StreamSpec>, max_messages_per_stream: usize) -> Self {
        let streams = specs
            .into_iter()
            .map(|spec| {
                (
                    spec.key.stream_name(),
                    Arc::new(Mutex::new(MemoryStream::new(spec))),
                )
            })
            .collect();
        Self {
            streams,
            max_messages_per_stream,
            retractions: retraction::channel(),
        }
    }

    fn stream(&self, key: &StreamKey) -> Result<&Arc<Mutex<MemoryStream>>, StoreError> {
        self.streams
            .get(&key.stream_name())
            .ok_or_else(|| StoreError::UnknownStream(key.clone()))
    }

    fn lock(&self, key: &StreamKey) -> Result<MutexGuard<'_, MemoryStream>, StoreError> {
        self.stream(key)?.lock().map_err(|_| poisoned())
    }

    pub fn publish(&self, publication: Publication) -> Result<PublishAck, StoreError> {
        let mut stream = self.lock(&publication.stream)?;
        let window = stream.spec.policy.duplicate_window;
        let now = Instant::now();
        stream.idempotency.expire(now, window);
        let fingerprint = publication
            .idempotency_key
            .as_ref()
            .map(|_| publication.fingerprint());
        if let Some(key) = &publication.idempotency_key
            && let Some(seen) = stream.idempotency.get(key)
        {
            if Some(seen.fingerprint) != fingerprint {
                return Err(StoreError::IdempotencyKeyReused(key.clone()));
            }
            let time = stream
                .messages
                .get(&seen.sequence.get())
                .map_or(stream.last_time, |m| m.time);
            return Ok(PublishAck {
                sequence: seen.sequence,
                time,
                duplicate: true,
            });
        }
        let sequence = sequence_after(stream.last_sequence);
        // Store times never go backwards, so time-based starts stay consistent with order.
        let time = Utc::now().max(stream.last_time);
        let message = Arc::new(StoredMessage {
            sequence,
            time,
            subject: publication.subject,
            headers: publication.headers,
            payload: publication.payload,
            rendition: OnceLock::new(),
            live_frame: OnceLock::new(),
        });
        if stream.spec.policy.max_messages_per_subject == 1
            && let Some(previous) = stream
                .latest_by_subject
                .get(message.subject.as_str())
                .copied()
        {
            stream.remove(previous);
        }
        stream.last_sequence = sequence.get();
        stream.last_time = time;
        stream.bytes += message.payload.len() as u64;
        stream
            .latest_by_subject
            .insert(message.subject.as_str().to_owned(), sequence.get());
        stream.messages.insert(sequence.get(), message.clone());
        if let (Some(key), Some(fingerprint)) = (publication.idempotency_key, fingerprint) {
            stream.idempotency.insert(
                key,
                KeyUse {
                    sequence,
                    fingerprint,
                },
                now,
            );
        }
        stream.enforce_limits(self.max_messages_per_stream);
        stream.fanout.dispatch(&message);
        Ok(PublishAck {
            sequence: message.sequence,
            time,
            duplicate: false,
        })
    }

    pub fn get(
        &self,
        key: &StreamKey,
        sequence: Sequence,
    ) -> Result<Option<SharedMessage>, StoreError> {
        Ok(self.lock(key)?.messages.get(&sequence.get()).cloned())
    }

    pub fn delete(&self, key: &StreamKey, sequence: Sequence) -> Result<DeleteOutcome, StoreError> {
        let mut stream = self.lock(key)?;
        if stream.spec.protected {
            return Err(StoreError::Protected(key.clone()));
        }
        Ok(if stream.remove(sequence.get()) {
            DeleteOutcome::Deleted
        } else {
            DeleteOutcome::NotFound
        })
    }

    pub fn purge(
        &self,
        key: &StreamKey,
        filter: Option<&str>,
        dry_run: bool,
    ) -> Result<PurgeReport, StoreError> {
        let mut stream = self.lock(key)?;
        if stream.spec.protected {
            return Err(StoreError::Protected(key.clone()));
        }
        let sequences: Vec<u64> = stream.matching(filter).map(|m| m.sequence.get()).collect();
        let report = PurgeReport {
            count: sequences.len() as u64,
            first_sequence: sequences.first().copied().and_then(Sequence::new),
            last_sequence: sequences.last().copied().and_then(Sequence::new),
        };
        if !dry_run {
            for sequence in sequences {
                stream.remove(sequence);
            }
        }
        Ok(report)
    }

    pub fn managed_streams(&self) -> Vec<StreamKey> {
        let mut keys: Vec<StreamKey> = self
            .streams
            .values()
            .filter_map(|stream| {
                stream
                    .lock()
                    .ok()
                    .filter(|s| !s.spec.protected)
                    .map(|s| s.spec.key.clone())
            })
            .collect();
        keys.sort();
        keys
    }

    pub fn last_sequence(&self, key: &StreamKey) -> Result<u64, StoreError> {
        Ok(self.lock(key)?.last_sequence)
    }

    /// The sequence before the first message stored after `time` (the last sequence when
    /// none is), as the JetStream engine answers it.
    pub fn last_sequence_at(
        &self,
        key: &StreamKey,
        time: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let stream = self.lock(key)?;
        let first_after = stream
            .messages
            .values()
            .find(|message| message.time > time)
            .map(|message| message.sequence.get());
        Ok(first_after.map_or(stream.last_sequence, |sequence| sequence - 1))
    }

    pub fn read(
        &self,
        key: &StreamKey,
        request: ReadRequest,
    ) -> Result<BoxStream<'static, Result<SharedMessage, StoreError>>, StoreError> {
        let stream = self.stream(key)?.clone();
        stream.lock().map_err(|_| poisoned())?.expire();
        let start = match request.start {
            Start::Beginning => 1,
            Start::Sequence(sequence) => sequence.get(),
            Start::Time(time) => {
                let locked = stream.lock().map_err(|_| poisoned())?;
                locked
                    .messages
                    .values()
                    .find(|message| message.time >= time)
                    .map_or(locked.last_sequence + 1, |message| message.sequence.get())
            }
        };
        let limit = request.limit.unwrap_or(usize::MAX);
        let state = (start, 0usize, stream, request);
        let chunks = stream::unfold(
            state,
            move |(next, delivered, stream, request)| async move {
                if next > request.last_sequence || delivered >= limit {
                    return None;
                }
                let Ok(locked) = stream.lock() else {
                    return Some((
                        vec![Err(poisoned())],
                        (u64::MAX, delivered, stream, request),
                    ));
                };
                let mut chunk = Vec::new();
                let mut cursor = next;
                let mut done = true;
                for (sequence, message) in locked.messages.range(next..=request.last_sequence) {
                    cursor = sequence + 1;
                    if request.until.is_some_and(|until| message.time > until) {
                        cursor = u64::MAX;
                        break;
                    }
                    if nats_filter_matches(&request.filter, message.subject.as_str()) {
                        chunk.push(Ok(message.clone()));
                        if delivered + chunk.len() >= limit || chunk.len() >= READ_CHUNK {
                            done = false;
                            break;
                        }
                    }
                }
                drop(locked);
                if done && cursor != u64::MAX {
                    cursor = u64::MAX;
                }
                if chunk.is_empty() {
                    return None;
                }
                let delivered = delivered + chunk.len();
                Some((chunk, (cursor, delivered, stream, request)))
            },
        );
        Ok(chunks.flat_map(stream::iter).boxed())
    }

    pub fn subscribe(
        &self,
        key: &StreamKey,
        filter: String,
        after: u64,
        budget: usize,
    ) -> Result<Subscription, StoreError> {
        let attachment = self.lock(key)?.fanout.attach(filter.clone(), budget);
        let catch_up = attachment
            .catch_up(filter, after)
            .map(|request| self.read(key, request))
            .transpose()?;
        Ok(fanout::subscription(after, attachment, catch_up))
    }

    pub fn announce(&self, retraction: Retraction) {
        let _ = self.retractions.send(retraction);
    }

    pub fn retractions(&self) -> broadcast::Receiver<Retraction> {
        self.retractions.subscribe()
    }

    pub fn stream_info(&self, key: &StreamKey) -> Result<StreamInfo, StoreError> {
        let mut stream = self.lock(key)?;
        stream.expire();
        let first = stream.messages.values().next();
        let last = stream.messages.values().next_back();
        Ok(StreamInfo {
            key: stream.spec.key.clone(),
            messages: stream.messages.len() as u64,
            bytes: stream.bytes,
            first_sequence: first.map_or(stream.last_sequence + 1, |m| m.sequence.get()),
            last_sequence: stream.last_sequence,
            first_time: first.map(|m| m.time),
            last_time: last.map(|m| m.time),
            policy: stream.spec.policy.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::settings::{AuditSettings, JetstreamSettings};
    use crate::store::types::AUDIT_BASE;
    use crate::subject::Subject;

    fn audit_store(max_age: Duration, max_bytes: u64) -> MemoryStore {
        let retention = AuditSettings {
            max_age,
            max_bytes: std::num::NonZeroU64::new(max_bytes).unwrap(),
        };
        let spec = StreamSpec::audit(&JetstreamSettings::default(), &retention);
        MemoryStore::new(vec![spec], 2)
    }

    fn record(store: &MemoryStore, size: usize) {
        store
            .publish(Publication {
                stream: StreamKey::new(AUDIT_BASE),
                subject: Subject::build(AUDIT_BASE, ["wipe_all"]).unwrap(),
                headers: Vec::new(),
                payload: vec![b'x'; size].into(),
                idempotency_key: None,
            })
            .unwrap();
    }

    fn info(store: &MemoryStore) -> StreamInfo {
        store.stream_info(&StreamKey::new(AUDIT_BASE)).unwrap()
    }

    #[test]
    fn the_audit_trail_ignores_the_message_cap_and_drops_the_oldest_by_bytes() {
        let store = audit_store(Duration::from_secs(3600), 1000);
        for _ in 0..5 {
            record(&store, 100);
        }
        assert_eq!(info(&store).messages, 5, "the cap of 2 does not apply");
        for _ in 0..10 {
            record(&store, 100);
        }
        let info = info(&store);
        assert_eq!((info.messages, info.bytes), (10, 1000));
        assert_eq!(info.first_sequence, 6, "the oldest went first");
    }

    #[test]
    fn the_audit_trail_drops_records_older_than_max_age() {
        let store = audit_store(Duration::from_millis(100), 1_000_000);
        record(&store, 10);
        record(&store, 10);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(info(&store).messages, 0, "expired without a new record");
        record(&store, 10);
        assert_eq!(info(&store).first_sequence, 3);
    }

    #[test]
    fn an_age_beyond_the_calendar_expires_nothing() {
        let store = audit_store(Duration::from_secs(1 << 50), 1_000_000);
        record(&store, 10);
        assert_eq!(info(&store).messages, 1);
    }
}
