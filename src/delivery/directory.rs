//! Every instance's copy of the destinations and their subscription index, followed from
//! the registry: a watch opened first, then a full read, then each change as it comes (on
//! every instance within milliseconds of the write). Routing and the workers read the
//! current snapshot without touching storage.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::destination::{Destination, DestinationId, State};
use super::index::SubscriptionIndex;
use super::registry::Registry;
use crate::metrics::Metrics;
use crate::schema::Catalog;

/// A full read even when the watch is quiet, in case a change was missed (a watch broken
/// and reopened between two writes is caught up by the read that follows it anyway).
const FULL_READ_EVERY: Duration = Duration::from_secs(60);
/// Changes applied together: the index is rebuilt once per batch.
const CHANGE_BATCH: usize = 1024;

/// The destinations and their index as of one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub destinations: HashMap<DestinationId, Arc<Destination>>,
    pub index: SubscriptionIndex,
}

/// The followed copy (see the module documentation); clones share it.
#[derive(Clone)]
pub struct Directory {
    current: Arc<RwLock<Arc<Snapshot>>>,
    version: watch::Sender<u64>,
    catalog: Arc<Catalog>,
}

impl Directory {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            current: Arc::default(),
            version: watch::channel(0).0,
            catalog,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .map(|snapshot| snapshot.clone())
            .unwrap_or_default()
    }

    pub fn get(&self, id: &DestinationId) -> Option<Arc<Destination>> {
        self.snapshot().destinations.get(id).cloned()
    }

    /// Waits (at most `within`) until this copy shows destination `id` as `seen` says (for
    /// a removed one, `None`): a change an API call made is then in force on this instance
    /// before the call answers. Other instances follow within milliseconds.
    pub async fn wait_for(
        &self,
        id: &DestinationId,
        within: Duration,
        seen: impl Fn(Option<&Destination>) -> bool,
    ) {
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + within;
        while !seen(self.get(id).as_deref()) {
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                tracing::debug!(destination = %id, "change not seen by this instance in time");
                return;
            }
        }
    }

    /// Waits until the first full read of the registry is in: before it, the copy is empty
    /// and routing from it would send notifications to nobody.
    pub async fn loaded(&self) {
        let mut changes = self.changes();
        // The sender lives as long as `self`, so this ends only once loaded.
        let _ = changes.wait_for(|version| *version > 0).await;
    }

    /// Ticks after every change of the snapshot.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn install(&self, destinations: HashMap<DestinationId, Arc<Destination>>, metrics: &Metrics) {
        let list: Vec<Destination> = destinations.values().map(|d| (**d).clone()).collect();
        let index = SubscriptionIndex::build(&list, &self.catalog);
        let enabled = list.iter().filter(|d| d.state == State::Enabled).count();
        metrics
            .delivery_destinations
            .with_label_values(&["enabled"])
            .set(enabled as i64);
        metrics
            .delivery_destinations
            .with_label_values(&["disabled"])
            .set((list.len() - enabled) as i64);
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(Snapshot {
                destinations,
                index,
            });
        }
        self.version.send_modify(|version| *version += 1);
    }

    /// Follows the registry until `shutdown`.
    pub fn spawn_follow(
        &self,
        registry: Registry,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) {
        let directory = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = directory.follow_once(&registry, &metrics) => {}
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }

    /// One watch: open, read all, apply changes until the watch ends or a full read is due.
    async fn follow_once(&self, registry: &Registry, metrics: &Metrics) {
        let changes = match registry.watch().await {
            Ok(changes) => changes,
            Err(error) => {
                tracing::debug!(%error, "destinations: watch not open yet");
                return;
            }
        };
        let mut destinations: HashMap<DestinationId, Arc<Destination>> = match registry.list().await
        {
            Ok(list) => list
                .into_iter()
                .map(|destination| (destination.id.clone(), Arc::new(destination)))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "destinations: full read failed");
                return;
            }
        };
        self.install(destinations.clone(), metrics);
        let mut batches = changes.ready_chunks(CHANGE_BATCH);
        let refresh = tokio::time::sleep(FULL_READ_EVERY);
        tokio::pin!(refresh);
        loop {
            tokio::select! {
                () = &mut refresh => return,
                batch = batches.next() => {
                    let Some(batch) = batch else { return };
                    for (id, destination) in batch {
                        match destination {
                            Some(destination) => destinations.insert(id, Arc::new(destination)),
                            None => destinations.remove(&id),
                        };
                    }
                    self.install(destinations.clone(), metrics);
                }
            }
        }
    }
}
