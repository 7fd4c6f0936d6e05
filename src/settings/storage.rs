//! Where the schema comes from and how notifications are stored.

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaSettings {
    /// Schema files or directories of them; empty means the schema bundled in the binary.
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    #[default]
    Memory,
    Jetstream,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    pub kind: StoreKind,
    pub memory: MemorySettings,
    pub jetstream: JetstreamSettings,
    pub audit: AuditSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySettings {
    /// Oldest messages of a stream are discarded beyond this many.
    pub max_messages_per_stream: usize,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            max_messages_per_stream: 100_000,
        }
    }
}

/// Retention of the audit trail, on either engine: records older than `max_age` go, and the
/// oldest go once the trail holds more than `max_bytes`. The per-stream message cap of the
/// memory engine does not apply to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    pub max_bytes: NonZeroU64,
}

/// Smallest `store.audit.max_bytes`: room for a few records at their bounded size.
pub const MIN_AUDIT_BYTES: u64 = 64 * 1024;

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(90 * 86_400),
            max_bytes: NonZeroU64::new(256 * 1024 * 1024).expect("256 MiB is not zero"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JetstreamSettings {
    /// One NATS URL, or several separated by commas.
    pub url: String,
    /// Token authentication to NATS.
    pub token: Option<SecretString>,
    /// User and password authentication to NATS.
    pub user: Option<String>,
    pub password: Option<SecretString>,
    /// NKey seed (`SU...`) authentication to NATS.
    pub nkey_seed: Option<SecretString>,
    /// A `.creds` file (JWT + NKey) for NATS.
    pub credentials_file: Option<PathBuf>,
    /// TLS to NATS: CA bundle, client certificate and key, and whether TLS is required.
    pub tls_ca_file: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_required: bool,
    /// Stream replicas (3 in a production cluster).
    pub replicas: usize,
    /// Defaults for every stream; a schema's `storage_policy` overrides them.
    #[serde(with = "humantime_serde")]
    pub max_age: Option<Duration>,
    pub max_messages: Option<i64>,
    pub max_bytes: Option<i64>,
    /// JetStream duplicate window for `Idempotency-Key`.
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// How long one request to NATS may take before it fails as unavailable.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

/// NATS's standard client port: where `cargo run` with `store.kind: jetstream` looks for a
/// local `nats-server` unless `store.jetstream.url` says otherwise. Tests never use it: they
/// start their own server on a port it picks.
pub const DEFAULT_NATS_PORT: u16 = 4222;

impl Default for JetstreamSettings {
    fn default() -> Self {
        Self {
            url: format!("nats://127.0.0.1:{DEFAULT_NATS_PORT}"),
            token: None,
            user: None,
            password: None,
            nkey_seed: None,
            credentials_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_required: false,
            replicas: 1,
            max_age: None,
            max_messages: None,
            max_bytes: None,
            duplicate_window: Duration::from_secs(120),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl JetstreamSettings {
    /// The configured URLs, trimmed, empty entries dropped.
    pub fn urls(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
