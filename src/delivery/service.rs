//! The push-delivery service: what routing, the workers and the API share (store, schema,
//! directory, records, the work queue), and starting them. The work queue is opened on
//! first use, so the gateway starts while NATS is out of reach; routing and sending start
//! once it opens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use super::attempt::Attempter;
use super::delivery_id::DeliveryId;
use super::destination::DestinationId;
use super::directory::Directory;
use super::lease::Leases;
use super::record::DeliveryStatus;
use super::records::{Records, RecordsConfig, RecordsError};
use super::registry::Registry;
use crate::cloudevent::CloudEventSettings;
use crate::metrics::Metrics;
use crate::schema::Catalog;
use crate::settings::DeliverySettings;
use crate::store::work_queue::WorkQueue;
use crate::store::{Store, StoreError};

/// Subjects of the delivery work queue: `<prefix>.<destination id>`.
const QUEUE_SUBJECTS: &str = "tidings.deliveries";
/// The bucket of the router leases (one router per stream across instances).
pub const LEASES_BUCKET: &str = "TIDINGS_DELIVERY_LEASES";
/// How often the backlog gauge is sampled.
const BACKLOG_SAMPLE: Duration = Duration::from_secs(5);

/// What the service is built from.
pub struct Parts {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub registry: Registry,
    pub attempter: Attempter,
    pub metrics: Arc<Metrics>,
    pub cloudevents: CloudEventSettings,
    pub settings: DeliverySettings,
    pub replicas: usize,
}

struct Inner {
    parts: Parts,
    directory: Directory,
    records: Records,
    queue: OnceCell<WorkQueue>,
    leases: OnceCell<Leases>,
    /// This instance, as the holder of its leases.
    instance: String,
    /// Requests in flight per destination on this instance (unordered destinations).
    destination_permits: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// Deliveries this instance is making an attempt of right now.
    in_flight: std::sync::Mutex<std::collections::HashSet<DeliveryId>>,
}

/// An attempt in progress on this instance; dropping it ends the claim.
pub struct Claim {
    delivery: Delivery,
    id: DeliveryId,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut in_flight) = self.delivery.inner.in_flight.lock() {
            in_flight.remove(&self.id);
        }
    }
}

/// The service (clones share it).
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

impl Delivery {
    pub fn new(parts: Parts) -> Self {
        let records = Records::new(
            parts.store.clone(),
            RecordsConfig {
                records_bucket: parts.settings.records_bucket.clone(),
                attempts_bucket: parts.settings.attempts_bucket.clone(),
                replicas: parts.replicas,
                retention: parts.settings.history_retention,
            },
        );
        Self {
            inner: Arc::new(Inner {
                directory: Directory::new(parts.catalog.clone()),
                records,
                queue: OnceCell::new(),
                leases: OnceCell::new(),
                instance: uuid::Uuid::new_v4().to_string(),
                in_flight: Default::default(),
                destination_permits: Default::default(),
                parts,
            }),
        }
    }

    /// Follows the destinations and, when `delivery.enabled`, routes and sends until
    /// `shutdown`.
    pub fn start(&self, shutdown: &CancellationToken) {
        let parts = &self.inner.parts;
        self.inner.directory.spawn_follow(
            parts.registry.clone(),
            parts.metrics.clone(),
            shutdown.clone(),
        );
        if !parts.settings.enabled {
            tracing::info!("delivery: disabled on this instance (delivery.enabled: false)");
            return;
        }
        for stream in parts.store.managed_streams() {
            tokio::spawn(super::router::run(self.clone(), stream, shutdown.clone()));
        }
        tokio::spawn(super::worker::supervise(self.clone(), shutdown.clone()));
        tokio::spawn(sample_backlog(self.clone(), shutdown.clone()));
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.parts.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.parts.catalog
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.parts.registry
    }

    pub fn attempter(&self) -> &Attempter {
        &self.inner.parts.attempter
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.parts.metrics
    }

    pub fn cloudevents(&self) -> &CloudEventSettings {
        &self.inner.parts.cloudevents
    }

    pub fn settings(&self) -> &DeliverySettings {
        &self.inner.parts.settings
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    pub fn records(&self) -> &Records {
        &self.inner.records
    }

    /// The work queue, opened on first use.
    pub async fn queue(&self) -> Result<&WorkQueue, StoreError> {
        let parts = &self.inner.parts;
        self.inner
            .queue
            .get_or_try_init(|| {
                parts
                    .store
                    .work_queue(&parts.settings.queue_stream, QUEUE_SUBJECTS, parts.replicas)
            })
            .await
    }

    /// Claims delivery `id` for one attempt on this instance; `None` while another of its
    /// attempts is in progress here.
    pub fn claim(&self, id: &DeliveryId) -> Option<Claim> {
        let mut in_flight = self.inner.in_flight.lock().ok()?;
        in_flight.insert(id.clone()).then(|| Claim {
            delivery: self.clone(),
            id: id.clone(),
        })
    }

    /// The permits bounding one destination's requests in flight on this instance.
    pub fn destination_permits(&self, key: &str) -> Arc<tokio::sync::Semaphore> {
        let per_destination = self.settings().max_in_flight_per_destination;
        match self.inner.destination_permits.lock() {
            Ok(mut permits) => permits
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(per_destination)))
                .clone(),
            Err(_) => Arc::new(tokio::sync::Semaphore::new(per_destination)),
        }
    }

    /// The router leases, opened on first use.
    pub async fn leases(&self) -> Result<&Leases, StoreError> {
        let parts = &self.inner.parts;
        self.inner
            .leases
            .get_or_try_init(|| {
                Leases::open(
                    &parts.store,
                    LEASES_BUCKET,
                    parts.replicas,
                    parts.settings.takeover_after,
                    &self.inner.instance,
                )
            })
            .await
    }

    /// Queued deliveries not yet terminal, by destination.
    pub async fn backlog(&self) -> Result<HashMap<String, u64>, StoreError> {
        let backlog = self.queue().await?.backlog().await?;
        let mut by_destination = HashMap::new();
        for ((_, key), count) in backlog.0 {
            *by_destination.entry(key).or_insert(0) += count;
        }
        Ok(by_destination)
    }

    /// The lane a new task of destination `id` goes to now (its state as this instance
    /// sees it).
    pub fn lane_of(&self, id: &DestinationId) -> String {
        let (enabled, ordered) = self
            .directory()
            .get(id)
            .map_or((true, false), |destination| {
                (
                    destination.state == super::destination::State::Enabled,
                    destination.settings.ordering == super::destination::Ordering::Ordered,
                )
            });
        super::task::lane_for(id, enabled, ordered)
    }

    /// After a destination is deleted: its queued tasks go and its deliveries not yet
    /// terminal end `cancelled`. Answers how many did.
    pub async fn cancel_destination(&self, id: &DestinationId) -> Result<u64, RecordsError> {
        let own = super::task::ordered_lane(id);
        self.queue().await?.discard(id.as_str(), &[&own]).await?;
        let mut cancelled = 0;
        for record in self.records().list(Some(id)).await? {
            if record.status.is_terminal() {
                continue;
            }
            self.records()
                .change(&record, |stored| {
                    if !stored.status.is_terminal() {
                        stored.status = DeliveryStatus::Cancelled;
                        stored.next_attempt_at = None;
                    }
                })
                .await?;
            cancelled += 1;
        }
        self.metrics()
            .delivery_deliveries
            .with_label_values(&["cancelled"])
            .inc_by(cancelled);
        Ok(cancelled)
    }

    /// How many deliveries of a destination are not terminal, from its records.
    pub async fn open_deliveries(&self, id: &DestinationId) -> Result<u64, RecordsError> {
        Ok(self
            .records()
            .list(Some(id))
            .await?
            .iter()
            .filter(|record| !record.status.is_terminal())
            .count() as u64)
    }
}

async fn sample_backlog(delivery: Delivery, shutdown: CancellationToken) {
    loop {
        if let Ok(backlog) = delivery.backlog().await {
            let total: u64 = backlog.values().sum();
            delivery
                .metrics()
                .delivery_backlog
                .set(i64::try_from(total).unwrap_or(i64::MAX));
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(BACKLOG_SAMPLE) => {}
        }
    }
}
