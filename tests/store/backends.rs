//! Engines under test: the memory store, or a JetStream store on its own `nats-server`.

use std::path::PathBuf;
use std::time::Duration;

use tidings::domain::StreamKey;
use tidings::schema::Catalog;
use tidings::settings::{StoreKind, StoreSettings};
use tidings::store::Store;

use crate::support::nats::NatsServer;

pub struct Backend {
    pub store: Store,
    pub catalog: Catalog,
    pub nats: Option<NatsServer>,
    pub settings: StoreSettings,
}

/// The streams the app would ask the store for.
pub fn specs(catalog: &Catalog, settings: &StoreSettings) -> Vec<tidings::store::StreamSpec> {
    let app_settings = tidings::settings::Settings {
        store: settings.clone(),
        ..Default::default()
    };
    tidings::app::stream_specs(catalog, &app_settings)
}

pub fn metrics() -> std::sync::Arc<tidings::metrics::Metrics> {
    std::sync::Arc::new(tidings::metrics::Metrics::new(&[]))
}

pub fn catalog() -> Catalog {
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store_schema.yaml");
    Catalog::load(&[schema]).unwrap()
}

/// Waits until the JetStream engine is connected, then creates the streams.
pub async fn connect_and_reconcile(store: &Store) {
    let Some(jetstream) = store.jetstream() else {
        return;
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !jetstream.is_connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not connected to NATS within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    jetstream.reconcile().await.unwrap();
}

impl Backend {
    pub async fn memory() -> Self {
        let catalog = catalog();
        let settings = StoreSettings::default();
        let store = Store::open(&settings, specs(&catalog, &settings), metrics())
            .await
            .unwrap();
        Self {
            store,
            catalog,
            nats: None,
            settings,
        }
    }

    pub async fn jetstream() -> Self {
        let nats = NatsServer::start();
        let catalog = catalog();
        let mut settings = StoreSettings {
            kind: StoreKind::Jetstream,
            ..StoreSettings::default()
        };
        settings.jetstream.url = nats.url();
        settings.jetstream.request_timeout = Duration::from_secs(2);
        let store = Store::open(&settings, specs(&catalog, &settings), metrics())
            .await
            .unwrap();
        connect_and_reconcile(&store).await;
        Self {
            store,
            catalog,
            nats: Some(nats),
            settings,
        }
    }

    pub fn alpha(&self) -> StreamKey {
        self.catalog.resolve_stream("alpha").unwrap().clone()
    }

    pub fn beta(&self) -> StreamKey {
        self.catalog.resolve_stream("beta").unwrap().clone()
    }
}
