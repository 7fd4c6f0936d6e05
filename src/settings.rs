//! The one typed settings tree. Layers, later wins: built-in defaults, a YAML file
//! (`--config PATH` or `TIDINGS_CONFIG`), then `TIDINGS__SECTION__KEY` environment variables.
//! Unknown keys anywhere are errors; secrets are `SecretString` and never printed.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

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
        }
    }
}

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

impl Default for JetstreamSettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
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

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseSettings {
    /// Interval of `heartbeat` frames on watch streams.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// A watch is closed with `max_duration_reached` after this long.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// A replay that has sent nothing for this long gets a `: keep-alive` comment.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// Bytes of live notifications that may wait for one slow watcher before it is cut off
    /// (with an `error` frame naming the last id it was sent).
    pub watcher_buffer_bytes: usize,
    /// Open SSE streams per instance; more are refused with 503.
    pub max_connections: usize,
}

impl Default for SseSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(30),
            max_duration: Duration::from_secs(3600),
            keep_alive: Duration::from_secs(15),
            watcher_buffer_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySettings {
    /// Most notifications one replay request delivers (a schema entry may override it).
    pub max_historical_notifications: usize,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            max_historical_notifications: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudEventSettings {
    /// Prepended to the event type in the CloudEvent `type`; aviso clients expect the default.
    pub type_prefix: String,
}

impl Default for CloudEventSettings {
    fn default() -> Self {
        Self {
            type_prefix: "int.ecmwf.aviso.".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest accepted request body in bytes (aviso: 256 KiB).
    pub body_limit: usize,
    /// Origins allowed by CORS on the public and stream routes; `*` allows any.
    pub cors_allowed_origins: Vec<String>,
    /// Origins allowed by CORS on admin routes (`DELETE` included); empty by default, so a
    /// page on another origin can neither delete nor read admin answers. `*` is refused.
    pub cors_admin_origins: Vec<String>,
    /// Non-streaming requests taking longer are answered 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest accepted query string, in bytes.
    pub max_query_length: usize,
    /// A connection that has not sent a whole request head within this time is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A stream route (watch, replay) whose body has not arrived within this time is
    /// answered 408 (other routes are bounded by `request_timeout`).
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// A connection on which no byte moved either way for this long is closed: idle
    /// keep-alive connections, and clients that stopped reading a stream. Longer than
    /// `sse.heartbeat` and `sse.keep_alive`, so healthy streams never reach it.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit: 256 * 1024,
            cors_allowed_origins: vec!["*".to_owned()],
            cors_admin_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            max_query_length: 8192,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Bearer JWTs validated locally (a proxy in front authenticated the user).
    #[default]
    TrustedProxy,
    /// Credentials forwarded to `auth_service_url` (aviso's auth-o-tron), which returns a JWT.
    Direct,
}

/// Shortest accepted `auth.jwt_secret`: HS256 keys shorter than its 256-bit output are
/// guessable offline from any one token (RFC 7518 section 3.2), and an empty one is what an
/// unset Kubernetes secret gives.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub enabled: bool,
    pub mode: AuthMode,
    /// HS256 shared secret (aviso's `jwt_secret`), at least [`MIN_JWT_SECRET_BYTES`] long.
    pub jwt_secret: Option<SecretString>,
    /// RS256/ES256 public keys, from a JWKS file or URL.
    pub jwks_file: Option<PathBuf>,
    pub jwks_url: Option<String>,
    /// Shortest time between two fetches of `jwks_url` (tokens naming an unknown `kid`
    /// trigger them), so unknown kids cannot make Tidings hammer the identity provider.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh_interval: Duration,
    /// Checked when set.
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp`/`nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Realm → roles allowed on `/api/v1/admin` (`*`: any role of that realm).
    pub admin_roles: crate::domain::RoleMap,
    /// `direct` mode: base URL of the authentication service (`GET <url>/authenticate`).
    #[serde(alias = "auth_o_tron_url")]
    pub auth_service_url: Option<String>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Cached `direct` answers (one per credential, until the token expires).
    pub cache_size: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: AuthMode::TrustedProxy,
            jwt_secret: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_interval: Duration::from_secs(10),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(60),
            admin_roles: crate::domain::RoleMap::new(),
            auth_service_url: None,
            timeout: Duration::from_secs(5),
            cache_size: 10_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// A second listener (`host:port`) serving only `/metrics`; `/metrics` on the main
    /// listener stays.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// With auth off, admin routes answer only loopback clients unless this is true.
    pub allow_unauthenticated_remote: bool,
}

impl Settings {
    /// Loads defaults, then `file` (or `TIDINGS_CONFIG`), then `TIDINGS__*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let from_env = std::env::var_os("TIDINGS_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(from_env);
        let environment = std::env::vars().collect();
        Self::load_from(file.as_deref(), environment)
    }

    /// [`Settings::load`] with the environment passed in, so tests need not mutate it.
    pub fn load_from(
        file: Option<&Path>,
        environment: config::Map<String, String>,
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(SettingsError::MissingFile(path.to_path_buf()));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Yaml));
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("TIDINGS")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("schema.paths")
                    .with_list_parse_key("http.cors_allowed_origins")
                    .with_list_parse_key("http.cors_admin_origins")
                    .try_parsing(true)
                    .source(Some(environment)),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Rules that span fields or that serde cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |message: String| Err(SettingsError::Invalid(message));
        if self
            .listen
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            return invalid(format!("listen must be host:port, got '{}'", self.listen));
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return invalid(format!(
                "base_url must be an http(s) URL, got '{}'",
                self.base_url
            ));
        }
        if self.store.kind == StoreKind::Jetstream && self.store.jetstream.urls().is_empty() {
            return invalid("store.jetstream.url must name at least one NATS URL".to_owned());
        }
        let nats = &self.store.jetstream;
        if nats.user.is_some() != nats.password.is_some() {
            return invalid(
                "store.jetstream.user and store.jetstream.password go together".to_owned(),
            );
        }
        if nats.tls_cert_file.is_some() != nats.tls_key_file.is_some() {
            return invalid(
                "store.jetstream.tls_cert_file and tls_key_file go together".to_owned(),
            );
        }
        if self.store.jetstream.replicas == 0 || self.store.jetstream.replicas > 5 {
            return invalid("store.jetstream.replicas must be between 1 and 5".to_owned());
        }
        if self.store.memory.max_messages_per_stream == 0 {
            return invalid("store.memory.max_messages_per_stream must be at least 1".to_owned());
        }
        if self.sse.heartbeat.is_zero()
            || self.sse.max_duration.is_zero()
            || self.sse.keep_alive.is_zero()
        {
            return invalid("sse durations must be greater than zero".to_owned());
        }
        if self.replay.max_historical_notifications == 0 {
            return invalid("replay.max_historical_notifications must be at least 1".to_owned());
        }
        if self.sse.watcher_buffer_bytes == 0 || self.sse.max_connections == 0 {
            return invalid(
                "sse.watcher_buffer_bytes and sse.max_connections must be at least 1".to_owned(),
            );
        }
        if self.auth.enabled {
            if self.auth.admin_roles.is_empty() {
                return invalid(
                    "auth.admin_roles must name at least one realm when auth is enabled".to_owned(),
                );
            }
            if self.auth.jwt_secret.is_none()
                && self.auth.jwks_file.is_none()
                && self.auth.jwks_url.is_none()
            {
                return invalid(
                    "auth needs auth.jwt_secret, auth.jwks_file or auth.jwks_url".to_owned(),
                );
            }
            if let Some(secret) = &self.auth.jwt_secret {
                let length = secret.expose_secret().len();
                if length < MIN_JWT_SECRET_BYTES {
                    return invalid(format!(
                        "auth.jwt_secret must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256), got {length}"
                    ));
                }
            }
            if self.auth.jwks_refresh_interval.is_zero() {
                return invalid("auth.jwks_refresh_interval must be greater than zero".to_owned());
            }
            if self.auth.mode == AuthMode::Direct && self.auth.auth_service_url.is_none() {
                return invalid("auth.mode direct needs auth.auth_service_url".to_owned());
            }
        }
        if self.http.body_limit == 0 {
            return invalid("http.body_limit must be at least 1".to_owned());
        }
        if self.store.audit.max_age.is_zero() {
            return invalid("store.audit.max_age must be greater than zero".to_owned());
        }
        if self.store.audit.max_bytes.get() < MIN_AUDIT_BYTES {
            return invalid(format!(
                "store.audit.max_bytes must be at least {MIN_AUDIT_BYTES}"
            ));
        }
        self.validate_connection_timeouts()
    }

    fn validate_connection_timeouts(&self) -> Result<(), SettingsError> {
        let invalid = |message: String| Err(SettingsError::Invalid(message));
        let http = &self.http;
        if http.header_read_timeout.is_zero()
            || http.body_read_timeout.is_zero()
            || http.idle_timeout.is_zero()
        {
            return invalid(
                "http.header_read_timeout, body_read_timeout and idle_timeout must be greater than zero"
                    .to_owned(),
            );
        }
        if http.idle_timeout <= self.sse.heartbeat
            || http.idle_timeout <= self.sse.keep_alive
            || http.idle_timeout <= http.request_timeout
        {
            return invalid(format!(
                "http.idle_timeout ({}) must be longer than sse.heartbeat, sse.keep_alive and http.request_timeout, or healthy requests would be cut",
                humantime::format_duration(http.idle_timeout)
            ));
        }
        if http.cors_admin_origins.iter().any(|origin| origin == "*") {
            return invalid(
                "http.cors_admin_origins must list origins; '*' would let any web page call admin routes"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> config::Map<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn yaml(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn defaults_serve_memory_on_loopback_with_bundled_schema() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8000");
        assert_eq!(settings.store.kind, StoreKind::Memory);
        assert!(settings.schema.paths.is_empty());
        assert_eq!(settings.sse.heartbeat, Duration::from_secs(30));
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let file = yaml(
            "listen: 127.0.0.1:9000\nstore:\n  kind: jetstream\n  jetstream:\n    url: nats://127.0.0.1:4333\nsse:\n  heartbeat: 5s\n",
        );
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[("TIDINGS__LISTEN", "127.0.0.1:9100")]),
        )
        .unwrap();
        assert_eq!(settings.listen, "127.0.0.1:9100");
        assert_eq!(settings.store.kind, StoreKind::Jetstream);
        assert_eq!(settings.store.jetstream.url, "nats://127.0.0.1:4333");
        assert_eq!(settings.sse.heartbeat, Duration::from_secs(5));
    }

    #[test]
    fn env_sets_every_fixed_key() {
        let settings = Settings::load_from(
            None,
            env(&[
                ("TIDINGS__BASE_URL", "https://tidings.example"),
                ("TIDINGS__SCHEMA__PATHS", "a.yaml,b"),
                ("TIDINGS__STORE__KIND", "jetstream"),
                (
                    "TIDINGS__STORE__JETSTREAM__URL",
                    "nats://127.0.0.1:1,nats://127.0.0.1:2",
                ),
                ("TIDINGS_CONFIG_UNRELATED", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.base_url, "https://tidings.example");
        assert_eq!(
            settings.schema.paths,
            vec![PathBuf::from("a.yaml"), PathBuf::from("b")]
        );
        assert_eq!(settings.store.kind, StoreKind::Jetstream);
        assert_eq!(settings.store.jetstream.urls().len(), 2);
    }

    #[test]
    fn rejects_unknown_keys() {
        let file = yaml("listen: 127.0.0.1:9000\nlisten_port: 3\n");
        let error = Settings::load_from(Some(file.path()), env(&[])).unwrap_err();
        assert!(error.to_string().contains("listen_port"), "{error}");
        let file = yaml("store:\n  kind: memory\n  memroy: {}\n");
        assert!(Settings::load_from(Some(file.path()), env(&[])).is_err());
    }

    #[test]
    fn rejects_unknown_store_kind() {
        assert!(Settings::load_from(None, env(&[("TIDINGS__STORE__KIND", "redis")])).is_err());
    }

    #[test]
    fn rejects_bad_listen_address() {
        let error = Settings::load_from(None, env(&[("TIDINGS__LISTEN", "nowhere")])).unwrap_err();
        assert!(error.to_string().contains("host:port"));
    }

    #[test]
    fn rejects_missing_config_file() {
        let error =
            Settings::load_from(Some(Path::new("/no/such/file.yaml")), env(&[])).unwrap_err();
        assert!(matches!(error, SettingsError::MissingFile(_)));
    }

    #[test]
    fn secrets_are_not_printed() {
        let file = yaml("store:\n  jetstream:\n    token: hunter2\n");
        let settings = Settings::load_from(Some(file.path()), env(&[])).unwrap();
        assert_eq!(
            settings
                .store
                .jetstream
                .token
                .as_ref()
                .unwrap()
                .expose_secret(),
            "hunter2"
        );
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn loads_every_shipped_config_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for name in [
            "deploy/config.yaml",
            "deploy/config.jetstream.yaml",
            "deploy/config.auth.yaml",
        ] {
            Settings::load_from(Some(&root.join(name)), env(&[]))
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    fn with_auth(secret: &str) -> Vec<(&str, &str)> {
        vec![
            ("TIDINGS__AUTH__ENABLED", "true"),
            ("TIDINGS__AUTH__JWT_SECRET", secret),
        ]
    }

    fn auth_file() -> tempfile::NamedTempFile {
        yaml("auth:\n  admin_roles:\n    localrealm: [admin]\n")
    }

    #[test]
    fn rejects_an_empty_jwt_secret_with_auth_on() {
        let file = auth_file();
        let error = Settings::load_from(Some(file.path()), env(&with_auth(""))).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("auth.jwt_secret must be at least 32 bytes (HS256), got 0"),
            "{error}"
        );
    }

    #[test]
    fn rejects_a_jwt_secret_shorter_than_32_bytes() {
        let file = auth_file();
        let short = "x".repeat(MIN_JWT_SECRET_BYTES - 1);
        let error = Settings::load_from(Some(file.path()), env(&with_auth(&short))).unwrap_err();
        assert!(error.to_string().contains("got 31"), "{error}");
        assert!(
            !error.to_string().contains(&short),
            "the secret is not printed"
        );
        let long = "x".repeat(MIN_JWT_SECRET_BYTES);
        Settings::load_from(Some(file.path()), env(&with_auth(&long))).unwrap();
    }

    #[test]
    fn a_short_jwt_secret_is_ignored_while_auth_is_off() {
        Settings::load_from(None, env(&[("TIDINGS__AUTH__JWT_SECRET", "short")])).unwrap();
    }

    #[test]
    fn rejects_a_zero_jwks_refresh_interval_with_auth_on() {
        let file = auth_file();
        let long = "x".repeat(MIN_JWT_SECRET_BYTES);
        let mut pairs = with_auth(&long);
        pairs.push(("TIDINGS__AUTH__JWKS_REFRESH_INTERVAL", "0s"));
        let error = Settings::load_from(Some(file.path()), env(&pairs)).unwrap_err();
        assert!(
            error.to_string().contains("jwks_refresh_interval"),
            "{error}"
        );
    }

    #[test]
    fn audit_retention_defaults_to_ninety_days_and_256_mib_and_takes_overrides() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(
            settings.store.audit.max_age,
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(settings.store.audit.max_bytes.get(), 256 * 1024 * 1024);
        let file = yaml("store:\n  audit:\n    max_age: 30days\n");
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[("TIDINGS__STORE__AUDIT__MAX_BYTES", "1048576")]),
        )
        .unwrap();
        assert_eq!(
            settings.store.audit.max_age,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(settings.store.audit.max_bytes.get(), 1024 * 1024);
        let file = yaml("store:\n  audit:\n    max_messages: 5\n");
        assert!(Settings::load_from(Some(file.path()), env(&[])).is_err());
    }

    #[test]
    fn rejects_an_audit_trail_without_age_limit() {
        let error = Settings::load_from(None, env(&[("TIDINGS__STORE__AUDIT__MAX_AGE", "0s")]))
            .unwrap_err();
        assert!(error.to_string().contains("store.audit.max_age"), "{error}");
    }

    #[test]
    fn rejects_an_audit_trail_too_small_for_a_record() {
        let error = Settings::load_from(None, env(&[("TIDINGS__STORE__AUDIT__MAX_BYTES", "1000")]))
            .unwrap_err();
        assert!(
            error.to_string().contains("store.audit.max_bytes"),
            "{error}"
        );
        assert!(
            Settings::load_from(None, env(&[("TIDINGS__STORE__AUDIT__MAX_BYTES", "0")])).is_err()
        );
    }

    #[test]
    fn connection_timeouts_have_defaults_and_must_not_cut_healthy_streams() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(settings.http.header_read_timeout, Duration::from_secs(30));
        assert_eq!(settings.http.body_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.http.idle_timeout, Duration::from_secs(75));
        let error =
            Settings::load_from(None, env(&[("TIDINGS__HTTP__IDLE_TIMEOUT", "20s")])).unwrap_err();
        assert!(error.to_string().contains("http.idle_timeout"), "{error}");
        let error = Settings::load_from(None, env(&[("TIDINGS__HTTP__HEADER_READ_TIMEOUT", "0s")]))
            .unwrap_err();
        assert!(error.to_string().contains("header_read_timeout"), "{error}");
    }

    #[test]
    fn admin_cors_origins_must_be_listed_not_starred() {
        let error = Settings::load_from(None, env(&[("TIDINGS__HTTP__CORS_ADMIN_ORIGINS", "*")]))
            .unwrap_err();
        assert!(error.to_string().contains("cors_admin_origins"), "{error}");
        let settings = Settings::load_from(
            None,
            env(&[(
                "TIDINGS__HTTP__CORS_ADMIN_ORIGINS",
                "https://a.example,https://b.example",
            )]),
        )
        .unwrap();
        assert_eq!(settings.http.cors_admin_origins.len(), 2);
    }
}
