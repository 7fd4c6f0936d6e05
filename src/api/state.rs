//! What every handler shares: the schema, the store, stream settings, the shutdown signal.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use crate::auth::Authenticator;
use crate::delivery::attempt::Attempter;
use crate::delivery::registry::Registry;
use crate::metrics::Metrics;
use crate::schema::{Catalog, EventSchema};
use crate::settings::Settings;
use crate::sse::session::SessionSettings;
use crate::store::Store;

/// Cloned for every request, by each layer that carries it and by the handler's extractor:
/// one reference count to bump, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub catalog: Arc<Catalog>,
    pub store: Arc<Store>,
    pub settings: Arc<Settings>,
    pub session: Arc<SessionSettings>,
    pub shutdown: CancellationToken,
    /// One permit per open SSE stream (`sse.max_connections`).
    pub streams: Arc<Semaphore>,
    /// `None` when auth is disabled.
    pub auth: Option<Arc<Authenticator>>,
    pub metrics: Arc<Metrics>,
    /// Push-delivery destinations.
    pub destinations: Registry,
    /// Makes webhook attempts (one guarded HTTP client for the process).
    pub attempter: Attempter,
    /// Routing, sending and the delivery records.
    pub delivery: crate::delivery::service::Delivery,
}

impl Shared {
    /// The schema of an event type a request names, or the 400 listing the configured ones.
    pub(crate) fn schema(&self, event_type: &str) -> Result<Arc<EventSchema>, ApiError> {
        self.catalog.event_type(event_type).cloned().ok_or_else(|| {
            ApiError::UnknownEventType(event_type.to_owned(), self.catalog.event_type_names())
        })
    }
}
