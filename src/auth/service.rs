//! `direct` mode (aviso's): credentials are forwarded to an authentication service, which
//! answers with a JWT; answers are cached per credential until the token expires, in a
//! bounded cache, so a busy client costs one upstream call per token lifetime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::AuthFailure;
use super::verifier::{Verified, Verifier};

pub(crate) struct AuthService {
    url: String,
    client: reqwest::Client,
    cache: Mutex<HashMap<[u8; 32], Verified>>,
    capacity: usize,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The JWT in an answer: `Authorization: Bearer` header, a `token`/`jwt`/`access_token`
/// field, a JSON string, or the raw body.
fn token_from(headers: &reqwest::header::HeaderMap, body: &str) -> Option<String> {
    if let Some(token) = headers
        .get(reqwest::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return Some(token.trim().to_owned());
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => ["token", "jwt", "access_token"]
            .iter()
            .find_map(|field| object.get(*field).and_then(|value| value.as_str()))
            .map(str::to_owned),
        Ok(serde_json::Value::String(token)) => Some(token),
        _ => Some(body.trim().to_owned()).filter(|token| !token.is_empty()),
    }
}

impl AuthService {
    /// Fails only when no HTTP client can be built.
    pub(crate) fn new(
        url: &str,
        timeout: Duration,
        capacity: usize,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            url: format!("{}/authenticate", url.trim_end_matches('/')),
            client,
            cache: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        })
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Verified> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|verified| verified.expires_at > now())
            .cloned()
    }

    fn remember(&self, key: [u8; 32], verified: Verified) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= self.capacity {
            let current = now();
            cache.retain(|_, entry| entry.expires_at > current);
            if cache.len() >= self.capacity {
                cache.clear();
            }
        }
        cache.insert(key, verified);
    }

    /// Authenticates the `Authorization` header value with the service.
    pub(crate) async fn authenticate(
        &self,
        authorization: &str,
        verifier: &Verifier,
    ) -> Result<Verified, AuthFailure> {
        let key: [u8; 32] = Sha256::digest(authorization.as_bytes()).into();
        if let Some(verified) = self.cached(&key) {
            return Ok(verified);
        }
        let response = self
            .client
            .get(&self.url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "authentication service unreachable");
                AuthFailure::Unavailable
            })?;
        match response.status().as_u16() {
            200 => {}
            401 => {
                return Err(AuthFailure::Unauthorized(
                    "Invalid or expired token".to_owned(),
                ));
            }
            403 => {
                return Err(AuthFailure::Forbidden(
                    "Token validation was denied".to_owned(),
                ));
            }
            status => {
                tracing::warn!(status, "authentication service answered unexpectedly");
                return Err(AuthFailure::Unavailable);
            }
        }
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .map_err(|_| AuthFailure::Unavailable)?;
        let token = token_from(&headers, &body).ok_or(AuthFailure::Unavailable)?;
        let verified = verifier.verify(&token).await?;
        self.remember(key, verified.clone());
        Ok(verified)
    }
}
