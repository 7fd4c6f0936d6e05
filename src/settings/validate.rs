//! The rules that span fields or that serde cannot express. They run in a fixed order and
//! the first broken one is the one reported.

use secrecy::ExposeSecret;

use super::{AuthMode, MIN_AUDIT_BYTES, MIN_JWT_SECRET_BYTES, Settings, SettingsError, StoreKind};

/// A broken rule.
fn invalid(message: impl Into<String>) -> Result<(), SettingsError> {
    Err(SettingsError::Invalid(message.into()))
}

impl Settings {
    /// Rules that span fields or that serde cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_addresses()?;
        self.validate_schema_paths()?;
        self.validate_store_engines()?;
        self.validate_streaming()?;
        self.validate_auth()?;
        self.validate_request_body()?;
        self.validate_audit_retention()?;
        self.validate_connection_timeouts()?;
        self.validate_delivery()
    }

    /// Push delivery's bounds.
    fn validate_delivery(&self) -> Result<(), SettingsError> {
        let delivery = &self.delivery;
        if delivery.max_in_flight == 0 || delivery.max_in_flight_per_destination == 0 {
            return invalid(
                "delivery.max_in_flight and delivery.max_in_flight_per_destination must be at least 1",
            );
        }
        if delivery.takeover_after < std::time::Duration::from_secs(1) {
            return invalid("delivery.takeover_after must be at least 1s");
        }
        if delivery.history_retention < std::time::Duration::from_secs(60) {
            return invalid("delivery.history_retention must be at least 1m");
        }
        if delivery.max_response_body > 1024 * 1024 {
            return invalid("delivery.max_response_body must be at most 1048576 bytes");
        }
        if delivery.outcomes_max_bytes < 65_536 {
            return invalid("delivery.outcomes_max_bytes must be at least 65536");
        }
        Ok(())
    }

    /// An empty entry among others (a stray comma) names no file: said as such, not as a
    /// file that cannot be read.
    fn validate_schema_paths(&self) -> Result<(), SettingsError> {
        if self
            .schema
            .paths
            .iter()
            .any(|path| path.as_os_str().is_empty())
        {
            return invalid("schema.paths has an empty entry (a stray comma?)");
        }
        Ok(())
    }

    /// Where to listen and the public URL.
    fn validate_addresses(&self) -> Result<(), SettingsError> {
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
        Ok(())
    }

    /// The NATS connection (URLs, credentials that come in pairs, replicas) and the memory
    /// engine's cap.
    fn validate_store_engines(&self) -> Result<(), SettingsError> {
        let nats = &self.store.jetstream;
        if self.store.kind == StoreKind::Jetstream && nats.urls().is_empty() {
            return invalid("store.jetstream.url must name at least one NATS URL");
        }
        if nats.user.is_some() != nats.password.is_some() {
            return invalid("store.jetstream.user and store.jetstream.password go together");
        }
        if nats.tls_cert_file.is_some() != nats.tls_key_file.is_some() {
            return invalid("store.jetstream.tls_cert_file and tls_key_file go together");
        }
        if nats.replicas == 0 || nats.replicas > 5 {
            return invalid("store.jetstream.replicas must be between 1 and 5");
        }
        if self.store.memory.max_messages_per_stream == 0 {
            return invalid("store.memory.max_messages_per_stream must be at least 1");
        }
        Ok(())
    }

    /// SSE timings and the bounds on what watchers and replays may hold.
    fn validate_streaming(&self) -> Result<(), SettingsError> {
        if self.sse.heartbeat.is_zero()
            || self.sse.max_duration.is_zero()
            || self.sse.keep_alive.is_zero()
        {
            return invalid("sse durations must be greater than zero");
        }
        if self.replay.max_historical_notifications == 0 {
            return invalid("replay.max_historical_notifications must be at least 1");
        }
        if self.sse.watcher_buffer_bytes == 0 || self.sse.max_connections == 0 {
            return invalid("sse.watcher_buffer_bytes and sse.max_connections must be at least 1");
        }
        Ok(())
    }

    /// With auth enabled: who administers, where keys come from, and how strong they are.
    fn validate_auth(&self) -> Result<(), SettingsError> {
        let auth = &self.auth;
        if !auth.enabled {
            return Ok(());
        }
        if auth.admin_roles.is_empty() {
            return invalid("auth.admin_roles must name at least one realm when auth is enabled");
        }
        if auth.jwt_secret.is_none() && auth.jwks_file.is_none() && auth.jwks_url.is_none() {
            return invalid("auth needs auth.jwt_secret, auth.jwks_file or auth.jwks_url");
        }
        if let Some(secret) = &auth.jwt_secret {
            let length = secret.expose_secret().len();
            if length < MIN_JWT_SECRET_BYTES {
                return invalid(format!(
                    "auth.jwt_secret must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256), got {length}"
                ));
            }
        }
        if auth.jwks_refresh_interval.is_zero() {
            return invalid("auth.jwks_refresh_interval must be greater than zero");
        }
        if auth.mode == AuthMode::Direct && auth.auth_service_url.is_none() {
            return invalid("auth.mode direct needs auth.auth_service_url");
        }
        Ok(())
    }

    fn validate_request_body(&self) -> Result<(), SettingsError> {
        if self.http.body_limit == 0 {
            return invalid("http.body_limit must be at least 1");
        }
        Ok(())
    }

    fn validate_audit_retention(&self) -> Result<(), SettingsError> {
        if self.store.audit.max_age.is_zero() {
            return invalid("store.audit.max_age must be greater than zero");
        }
        if self.store.audit.max_bytes.get() < MIN_AUDIT_BYTES {
            return invalid(format!(
                "store.audit.max_bytes must be at least {MIN_AUDIT_BYTES}"
            ));
        }
        Ok(())
    }

    /// HTTP timeouts: none zero, and the idle timeout longer than anything a healthy
    /// request waits for.
    fn validate_connection_timeouts(&self) -> Result<(), SettingsError> {
        let http = &self.http;
        if http.header_read_timeout.is_zero()
            || http.body_read_timeout.is_zero()
            || http.idle_timeout.is_zero()
        {
            return invalid(
                "http.header_read_timeout, body_read_timeout and idle_timeout must be greater than zero",
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
                "http.cors_admin_origins must list origins; '*' would let any web page call admin routes",
            );
        }
        Ok(())
    }
}
