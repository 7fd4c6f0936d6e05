//! Storage behind one interface with two engines: `memory` (in-process, not durable) and
//! `jetstream` (NATS JetStream, the production engine). Both pass the same conformance suite.

mod documents;
mod error;
mod fanout;
pub mod feed;
mod idempotency;
mod jetstream;
mod memory;
mod retraction;
mod types;
pub mod work_queue;

use futures::stream::BoxStream;

pub use documents::{BucketOptions, Change, Document, Documents, WriteError};
pub use error::{Answer, Cause, Failure, Lock, Operation, Outage, ReconcileStep, StoreError};
pub use fanout::{DEFAULT_SUBSCRIBER_BUDGET, MAX_QUEUED_MESSAGES, Subscription};
pub use jetstream::{JetstreamStore, Reconciled};
pub use memory::MemoryStore;
pub use retraction::{RETRACTION_SUBJECT, Retraction};
pub use types::{
    AUDIT_BASE, DeleteOutcome, FeedSpec, Fingerprint, Publication, PublishAck, PurgeReport,
    REQUEST_HASH_HEADER, ReadRequest, SPATIAL_BBOX_HEADER, SPATIAL_GEOMETRY_HEADER, SharedMessage,
    Start, StoredMessage, StreamInfo, StreamPolicy, StreamSpec,
};

use std::sync::Arc;
use std::time::Instant;

use crate::domain::{Sequence, StreamKey};
use crate::metrics::Metrics;
use crate::settings::{StoreKind, StoreSettings};

/// A finite, ordered read.
pub type MessageStream = BoxStream<'static, Result<SharedMessage, StoreError>>;

/// The configured engine.
pub enum Engine {
    Memory(MemoryStore),
    Jetstream(Box<JetstreamStore>),
}

/// The store: an engine plus the metrics every operation reports to.
pub struct Store {
    engine: Engine,
    metrics: Arc<Metrics>,
}

impl Store {
    /// Opens the engine named by settings, managing the streams of `specs` (one per event
    /// type, built from the schema at start-up) plus the audit trail.
    pub async fn open(
        settings: &StoreSettings,
        mut specs: Vec<StreamSpec>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        specs.push(StreamSpec::audit(&settings.jetstream, &settings.audit));
        let engine = match settings.kind {
            StoreKind::Memory => Engine::Memory(MemoryStore::new(
                specs,
                settings.memory.max_messages_per_stream,
            )),
            StoreKind::Jetstream => Engine::Jetstream(Box::new(
                JetstreamStore::connect(&settings.jetstream, specs, metrics.clone()).await?,
            )),
        };
        Ok(Self { engine, metrics })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The JetStream engine, when that is the one configured.
    pub fn jetstream(&self) -> Option<&JetstreamStore> {
        match &self.engine {
            Engine::Jetstream(store) => Some(store),
            Engine::Memory(_) => None,
        }
    }

    fn observe<T>(
        &self,
        operation: &'static str,
        started: Instant,
        result: &Result<T, StoreError>,
    ) {
        self.metrics
            .observe_store(operation, started, result.is_ok());
    }

    /// Whether the backend is reachable (`/ready`).
    pub fn is_connected(&self) -> bool {
        match &self.engine {
            Engine::Memory(_) => true,
            Engine::Jetstream(store) => store.is_connected(),
        }
    }

    pub async fn publish(&self, publication: Publication) -> Result<PublishAck, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.publish(publication),
            Engine::Jetstream(store) => store.publish(publication).await,
        };
        self.observe("publish", started, &result);
        result
    }

    /// Appends `publication` without waiting for the store to confirm it (JetStream: a core
    /// NATS publish). Only for what may be lost, never for notifications.
    pub async fn publish_unconfirmed(&self, publication: Publication) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.publish(publication).map(|_| ()),
            Engine::Jetstream(store) => store.send_unconfirmed(publication).await,
        };
        self.observe("publish_unconfirmed", started, &result);
        result
    }

    pub async fn get(
        &self,
        stream: &StreamKey,
        sequence: Sequence,
    ) -> Result<Option<SharedMessage>, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.get(stream, sequence),
            Engine::Jetstream(store) => store.get(stream, sequence).await,
        };
        self.observe("get", started, &result);
        result
    }

    pub async fn delete(
        &self,
        stream: &StreamKey,
        sequence: Sequence,
    ) -> Result<DeleteOutcome, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.delete(stream, sequence),
            Engine::Jetstream(store) => store.delete(stream, sequence).await,
        };
        self.observe("delete", started, &result);
        result
    }

    /// Removes every message of a stream, or only those matching `filter`; the stream and
    /// its sequence counter stay.
    pub async fn purge(
        &self,
        stream: &StreamKey,
        filter: Option<&str>,
        dry_run: bool,
    ) -> Result<PurgeReport, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.purge(stream, filter, dry_run),
            Engine::Jetstream(store) => store.purge(stream, filter, dry_run).await,
        };
        self.observe("purge", started, &result);
        result
    }

    /// Purges every stream of the schema, and nothing else (never the audit trail).
    pub async fn purge_managed(
        &self,
        dry_run: bool,
    ) -> Result<Vec<(StreamKey, PurgeReport)>, StoreError> {
        let started = Instant::now();
        let mut reports = Vec::new();
        let mut result = Ok(());
        for stream in self.managed_streams() {
            match self.purge(&stream, None, dry_run).await {
                Ok(report) => reports.push((stream, report)),
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        self.observe("purge_managed", started, &result);
        result.map(|()| reports)
    }

    pub fn managed_streams(&self) -> Vec<StreamKey> {
        match &self.engine {
            Engine::Memory(store) => store.managed_streams(),
            Engine::Jetstream(store) => store.managed_streams(),
        }
    }

    /// The stream's last sequence (0 when nothing was ever stored): the history boundary.
    pub async fn last_sequence(&self, stream: &StreamKey) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.last_sequence(stream),
            Engine::Jetstream(store) => store.last_sequence(stream).await,
        };
        self.observe("last_sequence", started, &result);
        result
    }

    /// The sequence before the first message stored after `time`, or the last sequence
    /// when none is: the end of a replay bounded by a time.
    pub async fn last_sequence_at(
        &self,
        stream: &StreamKey,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.last_sequence_at(stream, time),
            Engine::Jetstream(store) => store.last_sequence_at(stream, time).await,
        };
        self.observe("last_sequence_at", started, &result);
        result
    }

    /// Opens a finite read (the time to open it is what is measured).
    pub async fn read(
        &self,
        stream: &StreamKey,
        request: ReadRequest,
    ) -> Result<MessageStream, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.read(stream, request),
            Engine::Jetstream(store) => store.read(stream, request).await,
        };
        self.observe("read", started, &result);
        result
    }

    /// Live messages matching `filter` with sequences above `after`, no gap, no duplicate;
    /// the subscriber is cut off when more than `budget` bytes wait for it.
    pub async fn subscribe(
        &self,
        stream: &StreamKey,
        filter: String,
        after: u64,
        budget: usize,
    ) -> Result<Subscription, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.subscribe(stream, filter, after, budget),
            Engine::Jetstream(store) => store.subscribe(stream, filter, after, budget).await,
        };
        self.observe("subscribe", started, &result);
        result
    }

    pub async fn stream_info(&self, stream: &StreamKey) -> Result<StreamInfo, StoreError> {
        let started = Instant::now();
        let result = match &self.engine {
            Engine::Memory(store) => store.stream_info(stream),
            Engine::Jetstream(store) => store.stream_info(stream).await,
        };
        self.observe("stream_info", started, &result);
        result
    }

    /// Opens document bucket `name` (JetStream: a KV bucket made with `options` when
    /// absent; memory: a bucket in this process). Call once per bucket and share it.
    pub async fn documents(
        &self,
        name: &str,
        options: BucketOptions,
    ) -> Result<Documents, StoreError> {
        match &self.engine {
            Engine::Memory(_) => Ok(Documents::in_memory(options.max_age)),
            Engine::Jetstream(store) => store.documents(name, options).await,
        }
    }

    /// Every message stored in `stream` from now on (see [`feed`]): on the jetstream engine
    /// durable consumer `name`, shared by every instance; on the memory engine the messages
    /// after sequence `after`.
    pub async fn feed(
        &self,
        stream: &StreamKey,
        name: &str,
        after: u64,
        ack_wait: std::time::Duration,
    ) -> Result<feed::Feed, StoreError> {
        match &self.engine {
            Engine::Memory(store) => Ok(feed::from_subscription(store.subscribe(
                stream,
                ">".to_owned(),
                after,
                DEFAULT_SUBSCRIBER_BUDGET,
            )?)),
            Engine::Jetstream(store) => {
                store.ensure_connected()?;
                feed::durable(store.context(), &stream.stream_name(), name, ack_wait).await
            }
        }
    }

    /// Opens work queue `name` (see [`work_queue`]); lanes are subjects under `prefix` on
    /// the jetstream engine. Call once per queue and share it.
    pub async fn work_queue(
        &self,
        name: &str,
        prefix: &str,
        replicas: usize,
    ) -> Result<work_queue::WorkQueue, StoreError> {
        match &self.engine {
            Engine::Memory(_) => Ok(work_queue::WorkQueue::Memory(Default::default())),
            Engine::Jetstream(store) => {
                store.ensure_connected()?;
                Ok(work_queue::WorkQueue::Jetstream(Box::new(
                    work_queue::JetstreamQueue::open(store.context(), name, prefix, replicas)
                        .await?,
                )))
            }
        }
    }

    /// The append-only audit trail.
    pub fn audit_stream(&self) -> StreamKey {
        StreamKey::new(AUDIT_BASE)
    }

    /// Tells the watchers of a stream, on every instance, that notifications are gone.
    pub async fn announce(&self, retraction: Retraction) {
        match &self.engine {
            Engine::Memory(store) => store.announce(retraction),
            Engine::Jetstream(store) => store.announce(retraction).await,
        }
    }

    /// Retractions announced by any instance, from now on.
    pub fn retractions(&self) -> tokio::sync::broadcast::Receiver<Retraction> {
        match &self.engine {
            Engine::Memory(store) => store.retractions(),
            Engine::Jetstream(store) => store.retractions(),
        }
    }

    pub async fn close(&self) {
        if let Engine::Jetstream(store) = &self.engine {
            store.close().await;
        }
    }
}
