//! Storage behind one interface with two engines: `memory` (in-process, not durable) and
//! `jetstream` (NATS JetStream, the production engine). Both pass the same conformance suite.

mod fanout;
mod jetstream;
mod memory;
mod retraction;
mod types;

use futures::stream::BoxStream;

pub use fanout::{DEFAULT_SUBSCRIBER_BUDGET, MAX_QUEUED_MESSAGES, Subscription};
pub use jetstream::{JetstreamStore, Reconciled};
pub use memory::MemoryStore;
pub use retraction::{RETRACTION_SUBJECT, Retraction};
pub use types::{
    AUDIT_BASE, DeleteOutcome, Publication, PublishAck, PurgeReport, ReadRequest,
    SPATIAL_BBOX_HEADER, SPATIAL_GEOMETRY_HEADER, SharedMessage, Start, StoreError, StoredMessage,
    StreamInfo, StreamPolicy, StreamSpec,
};

use crate::domain::{Sequence, StreamKey};
use crate::schema::Catalog;
use crate::settings::{StoreKind, StoreSettings};

/// A finite, ordered read.
pub type MessageStream = BoxStream<'static, Result<SharedMessage, StoreError>>;

/// The configured engine.
pub enum Store {
    Memory(MemoryStore),
    Jetstream(Box<JetstreamStore>),
}

impl Store {
    /// Opens the engine named by settings, managing one stream per event type.
    pub async fn open(settings: &StoreSettings, catalog: &Catalog) -> Result<Self, StoreError> {
        let mut specs: Vec<StreamSpec> = catalog
            .event_types()
            .map(|schema| StreamSpec::new(schema, &settings.jetstream))
            .collect();
        specs.push(StreamSpec::audit(&settings.jetstream));
        Ok(match settings.kind {
            StoreKind::Memory => Store::Memory(MemoryStore::new(
                specs,
                settings.memory.max_messages_per_stream,
            )),
            StoreKind::Jetstream => Store::Jetstream(Box::new(
                JetstreamStore::connect(&settings.jetstream, specs).await?,
            )),
        })
    }

    /// Whether the backend is reachable (`/ready`).
    pub fn is_connected(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            Store::Jetstream(store) => store.is_connected(),
        }
    }

    pub async fn publish(&self, publication: Publication) -> Result<PublishAck, StoreError> {
        match self {
            Store::Memory(store) => store.publish(publication),
            Store::Jetstream(store) => store.publish(publication).await,
        }
    }

    pub async fn get(
        &self,
        stream: &StreamKey,
        sequence: Sequence,
    ) -> Result<Option<SharedMessage>, StoreError> {
        match self {
            Store::Memory(store) => store.get(stream, sequence),
            Store::Jetstream(store) => store.get(stream, sequence).await,
        }
    }

    pub async fn delete(
        &self,
        stream: &StreamKey,
        sequence: Sequence,
    ) -> Result<DeleteOutcome, StoreError> {
        match self {
            Store::Memory(store) => store.delete(stream, sequence),
            Store::Jetstream(store) => store.delete(stream, sequence).await,
        }
    }

    /// Removes every message of a stream, or only those matching `filter`; the stream and
    /// its sequence counter stay.
    pub async fn purge(
        &self,
        stream: &StreamKey,
        filter: Option<&str>,
        dry_run: bool,
    ) -> Result<PurgeReport, StoreError> {
        match self {
            Store::Memory(store) => store.purge(stream, filter, dry_run),
            Store::Jetstream(store) => store.purge(stream, filter, dry_run).await,
        }
    }

    /// Purges every stream of the schema, and nothing else.
    pub async fn purge_managed(
        &self,
        dry_run: bool,
    ) -> Result<Vec<(StreamKey, PurgeReport)>, StoreError> {
        let mut reports = Vec::new();
        for stream in self.managed_streams() {
            let report = self.purge(&stream, None, dry_run).await?;
            reports.push((stream, report));
        }
        Ok(reports)
    }

    pub fn managed_streams(&self) -> Vec<StreamKey> {
        match self {
            Store::Memory(store) => store.managed_streams(),
            Store::Jetstream(store) => store.managed_streams(),
        }
    }

    /// The stream's last sequence (0 when nothing was ever stored): the history boundary.
    pub async fn last_sequence(&self, stream: &StreamKey) -> Result<u64, StoreError> {
        match self {
            Store::Memory(store) => store.last_sequence(stream),
            Store::Jetstream(store) => store.last_sequence(stream).await,
        }
    }

    pub async fn read(
        &self,
        stream: &StreamKey,
        request: ReadRequest,
    ) -> Result<MessageStream, StoreError> {
        match self {
            Store::Memory(store) => store.read(stream, request),
            Store::Jetstream(store) => store.read(stream, request).await,
        }
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
        match self {
            Store::Memory(store) => store.subscribe(stream, filter, after, budget),
            Store::Jetstream(store) => store.subscribe(stream, filter, after, budget).await,
        }
    }

    pub async fn stream_info(&self, stream: &StreamKey) -> Result<StreamInfo, StoreError> {
        match self {
            Store::Memory(store) => store.stream_info(stream),
            Store::Jetstream(store) => store.stream_info(stream).await,
        }
    }

    /// The append-only audit trail.
    pub fn audit_stream(&self) -> StreamKey {
        StreamKey::new(AUDIT_BASE)
    }

    /// Tells the watchers of a stream, on every instance, that notifications are gone.
    pub async fn announce(&self, retraction: Retraction) {
        match self {
            Store::Memory(store) => store.announce(retraction),
            Store::Jetstream(store) => store.announce(retraction).await,
        }
    }

    /// Retractions announced by any instance, from now on.
    pub fn retractions(&self) -> tokio::sync::broadcast::Receiver<Retraction> {
        match self {
            Store::Memory(store) => store.retractions(),
            Store::Jetstream(store) => store.retractions(),
        }
    }

    pub async fn close(&self) {
        if let Store::Jetstream(store) = self {
            store.close().await;
        }
    }
}
