//! Verification keys: an HS256 shared secret (aviso compatible) and RS256/ES256 public keys
//! from a JWKS file or URL. A URL is fetched on first use and again when a token names a
//! `kid` it does not know (at most once per [`REFRESH_INTERVAL`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::RwLock;

/// Shortest time between two fetches of a JWKS URL.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_secs(10);

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

/// Parses a JWKS document into keys by `kid`; keys without a kid or of other types are skipped.
pub(crate) fn parse_jwks(text: &str) -> Result<HashMap<String, PublicKey>, String> {
    let set: JwkSet =
        serde_json::from_str(text).map_err(|error| format!("not a JWKS document: {error}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), algorithm_of(jwk)) else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|error| format!("key '{kid}': {error}"))?;
        keys.insert(kid, PublicKey { key, algorithm });
    }
    Ok(keys)
}

enum Source {
    Fixed,
    Url {
        url: String,
        client: reqwest::Client,
    },
}

/// The public keys in use, refreshed from a URL when needed.
pub(crate) struct KeySet {
    source: Source,
    keys: RwLock<(HashMap<String, PublicKey>, Option<Instant>)>,
}

impl KeySet {
    pub(crate) fn fixed(keys: HashMap<String, PublicKey>) -> Self {
        Self {
            source: Source::Fixed,
            keys: RwLock::new((keys, None)),
        }
    }

    pub(crate) fn from_url(url: String, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| format!("cannot build an HTTP client: {error}"))?;
        Ok(Self {
            source: Source::Url { url, client },
            keys: RwLock::new((HashMap::new(), None)),
        })
    }

    async fn refresh(&self) {
        let Source::Url { url, client } = &self.source else {
            return;
        };
        let mut guard = self.keys.write().await;
        if guard
            .1
            .is_some_and(|fetched| fetched.elapsed() < REFRESH_INTERVAL)
        {
            return;
        }
        guard.1 = Some(Instant::now());
        let fetched = async {
            let response = client.get(url).send().await.map_err(|e| e.to_string())?;
            let text = response
                .error_for_status()
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            parse_jwks(&text)
        }
        .await;
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "JWKS refreshed");
                guard.0 = keys;
            }
            Err(error) => tracing::warn!(%error, "JWKS refresh failed"),
        }
    }

    /// The key for `kid`, fetching the URL again when it is unknown.
    pub(crate) async fn key(&self, kid: &str) -> Option<PublicKey> {
        if let Some(key) = self.keys.read().await.0.get(kid) {
            return Some(key.clone());
        }
        self.refresh().await;
        self.keys.read().await.0.get(kid).cloned()
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
