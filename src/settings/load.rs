//! Loading the layers and the rules that span fields.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{AuthMode, MIN_AUDIT_BYTES, MIN_JWT_SECRET_BYTES, Settings, SettingsError, StoreKind};

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
