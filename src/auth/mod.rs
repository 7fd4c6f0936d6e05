//! Authentication and authorisation, aviso's model: bearer JWTs validated locally
//! (`trusted_proxy`) or credentials forwarded to an authentication service (`direct`),
//! realm-scoped roles with `*`, per-stream read/write rules, admin roles for admin routes.

mod keys;
mod service;
mod user;
mod verifier;

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use secrecy::ExposeSecret;

pub use keys::JwksError;
pub use user::User;

use crate::domain::RoleMap;
use crate::schema::StreamAuth;
use crate::settings::{AuthMode, AuthSettings};
use keys::KeySet;
use service::AuthService;
use verifier::{Verifier, VerifyError};

/// Why a request was not authenticated or not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// The `Authorization` header is not a credential this mode reads (ignored off admin routes).
    Malformed(String),
    /// 401: no valid credential where one is needed.
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    Forbidden(String),
    /// 503: the authentication service cannot be reached.
    Unavailable,
}

impl From<VerifyError> for AuthFailure {
    fn from(error: VerifyError) -> Self {
        AuthFailure::Unauthorized(error.to_string())
    }
}

/// Why the authenticator cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("auth.jwks_file {}: {source}", .path.display())]
    UnreadableJwksFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("auth.jwks_file {}: {source}", .path.display())]
    InvalidJwksFile { path: PathBuf, source: JwksError },
    #[error("cannot build an HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("auth.mode direct needs auth.auth_service_url")]
    DirectWithoutServiceUrl,
}

/// The public keys the settings name: a JWKS file read now, or a URL fetched when needed.
fn public_keys(settings: &AuthSettings) -> Result<Option<KeySet>, AuthSetupError> {
    match (&settings.jwks_file, &settings.jwks_url) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|source| {
                AuthSetupError::UnreadableJwksFile {
                    path: path.clone(),
                    source,
                }
            })?;
            let keys =
                keys::parse_jwks(&text).map_err(|source| AuthSetupError::InvalidJwksFile {
                    path: path.clone(),
                    source,
                })?;
            Ok(Some(KeySet::fixed(keys)))
        }
        (None, Some(url)) => KeySet::from_url(
            url.clone(),
            settings.timeout,
            settings.jwks_refresh_interval,
        )
        .map(Some)
        .map_err(AuthSetupError::HttpClient),
        (None, None) => Ok(None),
    }
}

/// Whether a stream operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

pub struct Authenticator {
    mode: AuthMode,
    verifier: Verifier,
    service: Option<AuthService>,
    admin_roles: RoleMap,
}

impl Authenticator {
    /// Builds the authenticator from enabled settings (validated beforehand).
    pub fn new(settings: &AuthSettings) -> Result<Self, AuthSetupError> {
        let secret = settings
            .jwt_secret
            .as_ref()
            .map(|secret| DecodingKey::from_secret(secret.expose_secret().as_bytes()));
        let keys = public_keys(settings)?;
        let service = match (settings.mode, &settings.auth_service_url) {
            (AuthMode::Direct, Some(url)) => Some(
                AuthService::new(url, settings.timeout, settings.cache_size)
                    .map_err(AuthSetupError::HttpClient)?,
            ),
            (AuthMode::Direct, None) => return Err(AuthSetupError::DirectWithoutServiceUrl),
            (AuthMode::TrustedProxy, _) => None,
        };
        Ok(Self {
            mode: settings.mode,
            verifier: Verifier {
                secret,
                keys,
                issuer: settings.issuer.clone(),
                audience: settings.audience.clone(),
                leeway: settings.leeway,
            },
            service,
            admin_roles: settings.admin_roles.clone(),
        })
    }

    /// `WWW-Authenticate` challenges sent with a 401.
    pub fn challenges(&self) -> &'static [&'static str] {
        match self.mode {
            AuthMode::TrustedProxy => &["Bearer"],
            AuthMode::Direct => &["Bearer", "Basic realm=\"tidings\""],
        }
    }

    /// Authenticates an `Authorization` header value.
    pub async fn authenticate(&self, authorization: &str) -> Result<User, AuthFailure> {
        let trimmed = authorization.trim();
        let (scheme, credential) = trimmed
            .split_once(' ')
            .map(|(scheme, rest)| (scheme, rest.trim()))
            .ok_or_else(|| {
                AuthFailure::Malformed("expected '<scheme> <credentials>'".to_owned())
            })?;
        if credential.is_empty() {
            return Err(AuthFailure::Malformed("empty credentials".to_owned()));
        }
        let bearer = scheme.eq_ignore_ascii_case("bearer");
        let basic = scheme.eq_ignore_ascii_case("basic");
        match (&self.service, bearer, basic) {
            (Some(service), true, _) | (Some(service), _, true) => service
                .authenticate(&format!("{scheme} {credential}"), &self.verifier)
                .await
                .map(|verified| verified.user),
            (None, true, _) => self
                .verifier
                .verify(credential)
                .await
                .map(|verified| verified.user)
                .map_err(AuthFailure::from),
            (None, _, true) => Err(AuthFailure::Unauthorized(
                "Basic credentials are not accepted in trusted_proxy mode; send a bearer token"
                    .to_owned(),
            )),
            _ => Err(AuthFailure::Malformed(format!(
                "unsupported scheme '{scheme}'"
            ))),
        }
    }

    pub fn is_admin(&self, user: &User) -> bool {
        user.matches(&self.admin_roles)
    }

    /// Aviso's per-stream table: who may read or write a stream with this `auth` block.
    pub fn authorize(
        &self,
        user: Option<&User>,
        rules: Option<&StreamAuth>,
        access: Access,
    ) -> Result<(), AuthFailure> {
        let Some(rules) = rules.filter(|rules| rules.required) else {
            return Ok(());
        };
        let user = user.ok_or_else(|| {
            AuthFailure::Unauthorized("Authentication is required for this stream".to_owned())
        })?;
        if self.is_admin(user) {
            return Ok(());
        }
        match access {
            Access::Read => match &rules.read_roles {
                Some(roles) if !user.matches(roles) => Err(AuthFailure::Forbidden(
                    "User does not have required read role for this stream".to_owned(),
                )),
                _ => Ok(()),
            },
            Access::Write => match &rules.write_roles {
                Some(roles) if user.matches(roles) => Ok(()),
                Some(_) => Err(AuthFailure::Forbidden(
                    "User does not have required write role for this stream".to_owned(),
                )),
                None => Err(AuthFailure::Forbidden(
                    "Only administrators can write to this stream".to_owned(),
                )),
            },
        }
    }
}

/// How long a cached direct-mode answer or a JWKS fetch may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
