//! Wiring: settings in, a running server out. `App::build` loads the schema and opens the
//! store; `run_until_stopped` serves until the token is cancelled, then closes the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::auth::{AuthSetupError, Authenticator};
use crate::cloudevent::CloudEventSettings;
use crate::delivery::address::AddressPolicy;
use crate::delivery::attempt::{AttemptError, Attempter};
use crate::delivery::registry::Registry;
use crate::delivery::service::{Delivery, Parts as DeliveryParts};
use crate::metrics::Metrics;
use crate::schema::{Catalog, EventSchema, SchemaError};
use crate::serve::{self, ConnectionLimits};
use crate::settings::Settings;
use crate::sse::session::SessionSettings;
use crate::store::{FeedSpec, Store, StoreError, StreamPolicy, StreamSpec};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot build the delivery client: {0}")]
    Delivery(#[source] AttemptError),
    #[error("invalid auth settings: {0}")]
    Auth(#[source] AuthSetupError),
}

async fn bind(address: &str) -> Result<TcpListener, AppError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| AppError::Listen {
            address: address.to_owned(),
            source,
        })
}

/// What every stream session shares.
fn session_settings(settings: &Settings, metrics: &Arc<Metrics>) -> SessionSettings {
    SessionSettings {
        metrics: metrics.clone(),
        watcher_buffer: settings.sse.watcher_buffer_bytes,
        heartbeat: settings.sse.heartbeat,
        max_duration: settings.sse.max_duration,
        keep_alive: settings.sse.keep_alive,
        cloudevents: CloudEventSettings {
            base_url: settings.base_url.clone(),
            type_prefix: settings.cloudevents.type_prefix.clone(),
        },
    }
}

/// The authenticator when auth is on; either way the log says who admin routes answer.
fn authenticator(settings: &Settings) -> Result<Option<Arc<Authenticator>>, AppError> {
    if settings.auth.enabled {
        let authenticator = Authenticator::new(&settings.auth).map_err(AppError::Auth)?;
        tracing::info!(mode = ?settings.auth.mode, "auth: enabled; admin routes need an admin role");
        return Ok(Some(Arc::new(authenticator)));
    }
    if settings.admin.allow_unauthenticated_remote {
        tracing::warn!(
            "auth: disabled; admin routes open to every client (admin.allow_unauthenticated_remote)"
        );
    } else {
        tracing::info!("auth: disabled; admin routes answer loopback clients only");
    }
    Ok(None)
}

pub struct App {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl App {
    /// Loads the schema, opens the store and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> Result<Self, AppError> {
        let catalog = Arc::new(Catalog::load(&settings.schema.paths)?);
        let metrics = Arc::new(Metrics::new(&catalog.event_type_names()));
        let specs = stream_specs(&catalog, &settings);
        let store = Arc::new(Store::open(&settings.store, specs, metrics.clone()).await?);
        match store.jetstream() {
            None => {
                metrics.nats_connected.set(1);
                tracing::warn!(
                    "store: memory (not durable: notifications are lost when the process stops)"
                )
            }
            Some(_) => tracing::info!(urls = %settings.store.jetstream.url, "store: jetstream"),
        }
        spawn_reconciliation(store.clone(), shutdown.clone());
        let listener = bind(&settings.listen).await?;
        let metrics_listener = match &settings.metrics.listen {
            Some(address) => Some(bind(address).await?),
            None => None,
        };
        let session = session_settings(&settings, &metrics);
        let settings_max_connections = settings.sse.max_connections;
        let auth = authenticator(&settings)?;
        let destinations = Registry::new(
            store.clone(),
            settings.delivery.destinations_bucket.clone(),
            settings.store.jetstream.replicas,
        );
        let attempter = Attempter::new(
            AddressPolicy {
                allow_private_networks: settings.delivery.allow_private_networks,
            },
            settings.delivery.max_in_flight,
        )
        .map_err(AppError::Delivery)?
        .with_max_response_body(settings.delivery.max_response_body);
        let delivery = Delivery::new(DeliveryParts {
            store: store.clone(),
            catalog: catalog.clone(),
            registry: destinations.clone(),
            attempter: attempter.clone(),
            metrics: metrics.clone(),
            cloudevents: session.cloudevents.clone(),
            settings: settings.delivery.clone(),
            replicas: settings.store.jetstream.replicas,
        });
        delivery.start(&shutdown);
        let state = AppState::new(api::AppStateParts {
            catalog,
            store,
            settings: Arc::new(settings),
            session: Arc::new(session),
            streams: Arc::new(tokio::sync::Semaphore::new(settings_max_connections)),
            auth,
            metrics,
            shutdown,
            destinations,
            attempter,
            delivery,
        });
        Ok(Self {
            listener,
            metrics_listener,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or_default()
    }

    /// Port of the separate metrics listener, when configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map(|address| address.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled: open streams get their closing frame, then
    /// the listener stops and the store is flushed.
    pub async fn run_until_stopped(self) -> Result<(), AppError> {
        let shutdown = self.state.shutdown.clone();
        let store = self.state.store.clone();
        let address = self
            .listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(%address, event_types = ?self.state.catalog.event_type_names(), "listening");
        let limits = ConnectionLimits {
            header_read_timeout: self.state.settings.http.header_read_timeout,
            idle_timeout: self.state.settings.http.idle_timeout,
        };
        if let Some(listener) = self.metrics_listener {
            let router = api::metrics_router(self.state.clone());
            tokio::spawn(serve::serve(listener, router, limits, shutdown.clone()));
        }
        let grace = self.state.settings.shutdown_timeout;
        let router = api::router(self.state);
        let server = serve::serve(self.listener, router, limits, shutdown.clone());
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        // Graceful shutdown waits for open requests; the deadline bounds that wait.
        tokio::select! {
            () = server => {}
            () = deadline => tracing::warn!(?grace, "shutdown deadline reached; exiting with requests still open"),
        }
        if tokio::time::timeout(grace, store.close()).await.is_err() {
            tracing::warn!("store did not close within the shutdown deadline");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The streams the schema asks for: each event type's `storage_policy` over the store's
/// defaults. Built here so that the store knows nothing of schemas.
/// The streams of the schema's event types, and the delivery outcomes.
pub fn stream_specs(catalog: &Catalog, settings: &Settings) -> Vec<StreamSpec> {
    let mut specs: Vec<_> = catalog
        .event_types()
        .map(|schema| stream_spec(schema, settings))
        .collect();
    specs.push(StreamSpec::outcomes(
        &settings.store.jetstream,
        settings.delivery.history_retention,
        settings.delivery.outcomes_max_bytes,
    ));
    specs
}

fn stream_spec(schema: &EventSchema, settings: &Settings) -> StreamSpec {
    let defaults = &settings.store.jetstream;
    let policy = schema.storage_policy.clone().unwrap_or_default();
    StreamSpec {
        key: schema.stream.clone(),
        policy: StreamPolicy {
            max_messages_per_subject: if policy.allow_duplicates { -1 } else { 1 },
            max_age: policy.max_age.or(defaults.max_age),
            max_messages: policy.max_messages.or(defaults.max_messages),
            max_bytes: policy.max_bytes.or(defaults.max_bytes),
            replicas: defaults.replicas,
            compression: policy.compression,
            duplicate_window: policy.duplicate_window.unwrap_or(defaults.duplicate_window),
        },
        protected: false,
        feed: Some(FeedSpec {
            name: crate::delivery::router::ROUTER_CONSUMER.to_owned(),
            ack_wait: settings.delivery.takeover_after,
        }),
    }
}

/// JetStream streams are created or reconciled once the first connection is up; until
/// then requests fail fast as unavailable and `/ready` says so.
fn spawn_reconciliation(store: Arc<Store>, shutdown: CancellationToken) {
    if store.jetstream().is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        loop {
            if let Some(jetstream) = store.jetstream()
                && jetstream.is_connected()
            {
                match jetstream.reconcile().await {
                    Ok(outcomes) => {
                        for (stream, outcome) in outcomes {
                            tracing::info!(%stream, ?outcome, "stream reconciled");
                        }
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "stream reconciliation failed; retrying"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    });
}
