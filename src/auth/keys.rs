//! Verification keys: an HS256 shared secret (aviso compatible) and RS256/ES256 public keys
//! from a JWKS file or URL. A URL is fetched on first use and again when a token names a
//! `kid` it does not know, at most once per refresh interval and never while holding the
//! keys: tokens with known kids are verified against the current set while a fetch runs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

#[derive(Clone)]
pub(crate) struct PublicKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        None => match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Some(Algorithm::ES256),
            _ => None,
        },
        _ => None,
    }
}

/// Why a JWKS document gave no keys.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("not a JWKS document: {0}")]
    NotJwks(#[source] serde_json::Error),
    #[error("key '{kid}': {source}")]
    UnusableKey {
        kid: String,
        source: jsonwebtoken::errors::Error,
    },
}

/// Why fetching the JWKS URL gave no keys (logged; the keys in use stay).
#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error(transparent)]
    Fetch(#[from] reqwest::Error),
    #[error(transparent)]
    Document(#[from] JwksError),
}

/// Parses a JWKS document into keys by `kid`; keys without a kid or of other types are skipped.
pub(crate) fn parse_jwks(text: &str) -> Result<HashMap<String, PublicKey>, JwksError> {
    let set: JwkSet = serde_json::from_str(text).map_err(JwksError::NotJwks)?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), algorithm_of(jwk)) else {
            continue;
        };
        let key = match DecodingKey::from_jwk(jwk) {
            Ok(key) => key,
            Err(source) => return Err(JwksError::UnusableKey { kid, source }),
        };
        keys.insert(kid, PublicKey { key, algorithm });
    }
    Ok(keys)
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, PublicKey>, RefreshError> {
    let response = client.get(url).send().await?;
    let text = response.error_for_status()?.text().await?;
    Ok(parse_jwks(&text)?)
}

enum Source {
    Fixed,
    Url {
        url: String,
        client: reqwest::Client,
        interval: Duration,
    },
}

/// Keys by `kid`, swapped whole on refresh so readers never wait for a fetch.
type Keys = Arc<HashMap<String, PublicKey>>;

/// The last fetch of the URL: when it ended, and how many have ended so far.
#[derive(Default)]
struct Fetched {
    at: Option<Instant>,
    count: u64,
}

/// The public keys in use, refreshed from a URL when needed.
pub(crate) struct KeySet {
    source: Source,
    /// Held only to clone or swap the `Arc`, never across an `.await`.
    keys: RwLock<Keys>,
    /// Held for the whole fetch: one fetch at a time; unknown-kid callers queue here, not
    /// callers whose kid is known.
    refresh: tokio::sync::Mutex<Fetched>,
}

impl KeySet {
    pub(crate) fn fixed(keys: HashMap<String, PublicKey>) -> Self {
        Self {
            source: Source::Fixed,
            keys: RwLock::new(Arc::new(keys)),
            refresh: tokio::sync::Mutex::new(Fetched::default()),
        }
    }

    /// Keys from `url`, fetched with `timeout`, at most once per `interval`; fails only
    /// when no HTTP client can be built.
    pub(crate) fn from_url(
        url: String,
        timeout: Duration,
        interval: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            source: Source::Url {
                url,
                client,
                interval,
            },
            keys: RwLock::new(Arc::new(HashMap::new())),
            refresh: tokio::sync::Mutex::new(Fetched::default()),
        })
    }

    fn current(&self) -> Keys {
        // A poisoned lock still holds a whole `Arc` (it is only ever replaced whole).
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, keys: HashMap<String, PublicKey>) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut guard) => *guard = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// Fetches the URL unless a fetch ended while this caller waited for its turn (`seen`
    /// is the count it saw before) or less than the interval ago.
    async fn refresh(&self, seen: u64) {
        let Source::Url {
            url,
            client,
            interval,
        } = &self.source
        else {
            return;
        };
        let mut fetched = self.refresh.lock().await;
        if fetched.count != seen || fetched.at.is_some_and(|at| at.elapsed() < *interval) {
            return;
        }
        match fetch(client, url).await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "JWKS refreshed");
                self.replace(keys);
            }
            Err(error) => tracing::warn!(%error, "JWKS refresh failed"),
        }
        fetched.at = Some(Instant::now());
        fetched.count += 1;
    }

    /// The key for `kid`, fetching the URL again when it is unknown.
    pub(crate) async fn key(&self, kid: &str) -> Option<PublicKey> {
        let seen = self.refresh.try_lock().map(|fetched| fetched.count);
        if let Some(key) = self.current().get(kid) {
            return Some(key.clone());
        }
        // While a fetch runs, `try_lock` fails: wait for it (count unknown, so `u64::MAX`
        // never matches) and use its result rather than fetching again.
        self.refresh(seen.unwrap_or(u64::MAX)).await;
        self.current().get(kid).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rsa_and_ec_keys_by_kid() {
        let text = include_str!("../../tests/fixtures/auth/jwks.json");
        let keys = parse_jwks(text).unwrap();
        assert_eq!(keys["rsa-1"].algorithm, Algorithm::RS256);
        assert_eq!(keys["ec-1"].algorithm, Algorithm::ES256);
        assert!(parse_jwks("{}").is_err());
    }
}
