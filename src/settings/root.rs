//! The root of the tree and why loading it can fail.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{
    AdminSettings, AuthSettings, CloudEventSettings, DeliverySettings, HttpSettings,
    MetricsSettings, ReplaySettings, SchemaSettings, SseSettings, StoreSettings,
};

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid settings: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `host:port` of the HTTP listener.
    pub listen: String,
    /// After SIGTERM, how long open requests may take before the process exits anyway.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Public URL of this gateway: CloudEvent `source` and the root of `dataschema`.
    pub base_url: String,
    pub schema: SchemaSettings,
    pub store: StoreSettings,
    pub sse: SseSettings,
    pub replay: ReplaySettings,
    pub cloudevents: CloudEventSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    pub admin: AdminSettings,
    pub metrics: MetricsSettings,
    pub delivery: DeliverySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".to_owned(),
            shutdown_timeout: Duration::from_secs(10),
            base_url: "http://localhost:8000".to_owned(),
            schema: SchemaSettings::default(),
            store: StoreSettings::default(),
            sse: SseSettings::default(),
            replay: ReplaySettings::default(),
            cloudevents: CloudEventSettings::default(),
            http: HttpSettings::default(),
            auth: AuthSettings::default(),
            admin: AdminSettings::default(),
            metrics: MetricsSettings::default(),
            delivery: DeliverySettings::default(),
        }
    }
}
