//! Who may call: authentication, admin access, the metrics listener.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

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
