//! The destinations, kept as JSON documents by id in a document bucket (JetStream KV in
//! production, so every instance reads the same destinations at once). Changes are
//! read-modify-write on the revision read, retried when another instance changed the
//! destination in between, so no change is lost.

use chrono::{DateTime, Utc};

use super::destination::{Destination, DestinationId};
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::store::{BucketOptions, Documents, Store, StoreError, WriteError};

/// Concurrent changes of one destination a change waits out before giving up.
const CHANGE_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no destination {0}")]
    NotFound(DestinationId),
    #[error("destination {0} kept changing; try again")]
    Busy(DestinationId),
    #[error("destination record {id} cannot be read: {source}")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The destinations (see the module documentation). The bucket is opened on first use, so
/// the gateway starts (and serves everything else) while NATS is still out of reach.
#[derive(Clone)]
pub struct Registry {
    store: Arc<Store>,
    bucket: String,
    replicas: usize,
    documents: Arc<OnceCell<Documents>>,
}

fn encode(destination: &Destination) -> Result<bytes::Bytes, RegistryError> {
    serde_json::to_vec(destination)
        .map(bytes::Bytes::from)
        .map_err(|source| RegistryError::Corrupt {
            id: destination.id.to_string(),
            source,
        })
}

fn decode(id: &str, value: &[u8]) -> Result<Destination, RegistryError> {
    serde_json::from_slice(value).map_err(|source| RegistryError::Corrupt {
        id: id.to_owned(),
        source,
    })
}

fn written(error: WriteError, id: &DestinationId) -> RegistryError {
    match error {
        WriteError::Store(error) => RegistryError::Store(error),
        WriteError::Exists | WriteError::Conflict => RegistryError::Busy(id.clone()),
    }
}

impl Registry {
    pub fn new(store: Arc<Store>, bucket: impl Into<String>, replicas: usize) -> Self {
        Self {
            store,
            bucket: bucket.into(),
            replicas,
            documents: Arc::default(),
        }
    }

    async fn documents(&self) -> Result<&Documents, RegistryError> {
        Ok(self
            .documents
            .get_or_try_init(|| {
                self.store.documents(
                    &self.bucket,
                    BucketOptions {
                        replicas: self.replicas,
                        max_age: None,
                        description: "Tidings push-delivery destinations",
                    },
                )
            })
            .await?)
    }

    /// Stores a new destination (its id is fresh: a clash means a broken random source).
    pub async fn insert(&self, destination: &Destination) -> Result<(), RegistryError> {
        self.documents()
            .await?
            .create(destination.id.as_str(), encode(destination)?)
            .await
            .map(|_| ())
            .map_err(|error| written(error, &destination.id))
    }

    pub async fn get(&self, id: &DestinationId) -> Result<Option<Destination>, RegistryError> {
        match self.documents().await?.get(id.as_str()).await? {
            Some(document) => Ok(Some(decode(id.as_str(), &document.value)?)),
            None => Ok(None),
        }
    }

    /// Applies `change` to the destination as stored now and writes the result, retrying
    /// on a concurrent change. `change` may refuse (its error is returned as is).
    pub async fn change<E: From<RegistryError>>(
        &self,
        id: &DestinationId,
        now: DateTime<Utc>,
        change: impl Fn(&mut Destination) -> Result<(), E>,
    ) -> Result<Destination, E> {
        for _ in 0..CHANGE_ATTEMPTS {
            let documents = self.documents().await?;
            let document = documents
                .get(id.as_str())
                .await
                .map_err(RegistryError::from)?
                .ok_or_else(|| RegistryError::NotFound(id.clone()))?;
            let mut destination = decode(id.as_str(), &document.value)?;
            change(&mut destination)?;
            destination.updated_at = now;
            match documents
                .update(id.as_str(), encode(&destination)?, document.revision)
                .await
            {
                Ok(_) => return Ok(destination),
                Err(WriteError::Conflict) => continue,
                Err(error) => return Err(written(error, id).into()),
            }
        }
        Err(RegistryError::Busy(id.clone()).into())
    }

    pub async fn remove(&self, id: &DestinationId) -> Result<(), RegistryError> {
        Ok(self.documents().await?.delete(id.as_str()).await?)
    }

    /// Changes from now on, by id: the destination as written, or `None` once removed. A
    /// record that does not read back is skipped (and logged); see [`Documents::watch`] for
    /// when the stream ends.
    pub async fn watch(
        &self,
    ) -> Result<
        futures::stream::BoxStream<'static, (DestinationId, Option<Destination>)>,
        RegistryError,
    > {
        use futures::StreamExt;
        let changes = self.documents().await?.watch().await?;
        Ok(changes
            .filter_map(|change| {
                let decoded = DestinationId::parse(&change.key).and_then(|id| match change.value {
                    None => Some((id, None)),
                    Some(value) => match decode(&change.key, &value) {
                        Ok(destination) => Some((id, Some(destination))),
                        Err(error) => {
                            tracing::warn!(%error, "skipping an unreadable destination");
                            None
                        }
                    },
                });
                std::future::ready(decoded)
            })
            .boxed())
    }

    /// Every destination, newest first (ids sort by creation time).
    pub async fn list(&self) -> Result<Vec<Destination>, RegistryError> {
        let mut destinations = self
            .documents()
            .await?
            .all()
            .await?
            .into_iter()
            .map(|(key, document)| decode(&key, &document.value))
            .collect::<Result<Vec<_>, _>>()?;
        destinations.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(destinations)
    }
}
