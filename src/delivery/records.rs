//! Delivery records and attempt records, each in a document bucket (JetStream KV with the
//! history retention as `max_age`), keyed so that a destination's deliveries and a
//! delivery's attempts are prefixes (see [`super::record`]). Writes are read-modify-write on
//! the revision read, so the router creating a record and a worker recording an attempt
//! never lose each other's change. A short first attempt is kept inside its delivery record
//! instead (see [`DeliveryRecord::keeps_inline`]): most deliveries succeed at once, and
//! that halves what recording them writes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use tokio::sync::OnceCell;

use super::attempt::AttemptRecord;
use super::delivery_id::DeliveryId;
use super::destination::DestinationId;
use super::record::{DeliveryRecord, attempt_key, key_of};
use crate::store::{BucketOptions, Documents, Store, StoreError, WriteError};

/// Concurrent writers of one record a change waits out.
const CHANGE_ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("delivery record {key} cannot be read: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("delivery {0} kept changing; try again")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the buckets are and how long they keep records.
#[derive(Debug, Clone)]
pub struct RecordsConfig {
    pub records_bucket: String,
    pub attempts_bucket: String,
    pub replicas: usize,
    pub retention: Duration,
}

struct Buckets {
    records: Documents,
    attempts: Documents,
}

/// The records (opened on first use, so the gateway starts while NATS is out of reach).
#[derive(Clone)]
pub struct Records {
    store: Arc<Store>,
    config: RecordsConfig,
    buckets: Arc<OnceCell<Buckets>>,
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, value: &[u8]) -> Result<T, RecordsError> {
    serde_json::from_slice(value).map_err(|source| RecordsError::Corrupt {
        key: key.to_owned(),
        source,
    })
}

fn encode<T: serde::Serialize>(key: &str, value: &T) -> Result<Bytes, RecordsError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|source| RecordsError::Corrupt {
            key: key.to_owned(),
            source,
        })
}

impl Records {
    pub fn new(store: Arc<Store>, config: RecordsConfig) -> Self {
        Self {
            store,
            config,
            buckets: Arc::default(),
        }
    }

    async fn buckets(&self) -> Result<&Buckets, RecordsError> {
        Ok(self
            .buckets
            .get_or_try_init(|| async {
                let options = |description| BucketOptions {
                    replicas: self.config.replicas,
                    max_age: Some(self.config.retention),
                    description,
                };
                Ok::<_, StoreError>(Buckets {
                    records: self
                        .store
                        .documents(
                            &self.config.records_bucket,
                            options("Tidings delivery records"),
                        )
                        .await?,
                    attempts: self
                        .store
                        .documents(
                            &self.config.attempts_bucket,
                            options("Tidings delivery attempts"),
                        )
                        .await?,
                })
            })
            .await?)
    }

    /// Creates the records of newly routed deliveries and answers each one's revision; one
    /// that exists already (a routing repeated after a crash) is left as it is, its revision
    /// unknown (`None`).
    pub async fn create_pending(
        &self,
        records: &[DeliveryRecord],
    ) -> Result<Vec<Option<u64>>, RecordsError> {
        let buckets = self.buckets().await?;
        let writes = records.iter().map(|record| async move {
            let key = record.key();
            match buckets.records.create(&key, encode(&key, record)?).await {
                Ok(revision) => Ok(Some(revision)),
                Err(WriteError::Exists | WriteError::Conflict) => Ok(None),
                Err(WriteError::Store(error)) => Err(RecordsError::Store(error)),
            }
        });
        join_all(writes).await.into_iter().collect()
    }

    pub async fn get(&self, id: &DeliveryId) -> Result<Option<DeliveryRecord>, RecordsError> {
        Ok(self.read(id).await?.map(|(record, _)| record))
    }

    /// The record and the revision it was read at (for [`Records::change_from`]).
    pub async fn read(
        &self,
        id: &DeliveryId,
    ) -> Result<Option<(DeliveryRecord, u64)>, RecordsError> {
        let key = key_of(id);
        match self.buckets().await?.records.get(&key).await? {
            Some(document) => Ok(Some((decode(&key, &document.value)?, document.revision))),
            None => Ok(None),
        }
    }

    /// [`Records::change`] starting from a record already read at `revision` (`None`: not
    /// there then): one write instead of a read and a write when nothing changed between.
    pub async fn change_from(
        &self,
        read: &DeliveryRecord,
        revision: Option<u64>,
        change: impl Fn(&mut DeliveryRecord),
    ) -> Result<DeliveryRecord, RecordsError> {
        let records = &self.buckets().await?.records;
        let key = read.key();
        let mut record = read.clone();
        change(&mut record);
        let value = encode(&key, &record)?;
        let written = match revision {
            Some(revision) => records.update(&key, value, revision).await,
            None => records.create(&key, value).await,
        };
        match written {
            Ok(_) => Ok(record),
            Err(WriteError::Conflict | WriteError::Exists) => self.change(read, change).await,
            Err(WriteError::Store(error)) => Err(error.into()),
        }
    }

    /// Applies `change` to the record as stored now (or to `fallback` when there is none
    /// yet) and writes it, retrying on a concurrent change. Returns what was written.
    pub async fn change(
        &self,
        fallback: &DeliveryRecord,
        change: impl Fn(&mut DeliveryRecord),
    ) -> Result<DeliveryRecord, RecordsError> {
        let records = &self.buckets().await?.records;
        let key = fallback.key();
        for _ in 0..CHANGE_ATTEMPTS {
            let current = records.get(&key).await?;
            let mut record = match &current {
                Some(document) => decode(&key, &document.value)?,
                None => fallback.clone(),
            };
            change(&mut record);
            let value = encode(&key, &record)?;
            let written = match &current {
                Some(document) => records.update(&key, value, document.revision).await,
                None => records.create(&key, value).await,
            };
            match written {
                Ok(_) => return Ok(record),
                Err(WriteError::Conflict | WriteError::Exists) => continue,
                Err(WriteError::Store(error)) => return Err(error.into()),
            }
        }
        Err(RecordsError::Busy(key))
    }

    /// The records of one destination, or all.
    pub async fn list(
        &self,
        destination: Option<&DestinationId>,
    ) -> Result<Vec<DeliveryRecord>, RecordsError> {
        let prefix = destination.map(DestinationId::as_str);
        let documents = self.buckets().await?.records.list(prefix).await?;
        let mut records = Vec::with_capacity(documents.len());
        for (key, document) in documents {
            match decode::<DeliveryRecord>(&key, &document.value) {
                Ok(record) => records.push(record),
                Err(error) => tracing::warn!(%error, "skipping an unreadable delivery record"),
            }
        }
        Ok(records)
    }

    pub async fn record_attempt(
        &self,
        id: &DeliveryId,
        attempt: &AttemptRecord,
    ) -> Result<(), RecordsError> {
        let key = attempt_key(id, attempt.attempt);
        let value = encode(&key, attempt)?;
        self.buckets().await?.attempts.put(&key, value).await?;
        Ok(())
    }

    /// Removes a delivery's record and its attempts (never the notification).
    pub async fn remove(&self, id: &DeliveryId) -> Result<(), RecordsError> {
        let buckets = self.buckets().await?;
        for (key, _) in buckets.attempts.list(Some(&key_of(id))).await? {
            buckets.attempts.delete(&key).await?;
        }
        buckets.records.delete(&key_of(id)).await?;
        Ok(())
    }

    /// A delivery's attempts, oldest first: the one its record keeps inline, if any, and
    /// those under their own keys (not looked for when the inline one is the only one; an
    /// attempt whose record update was lost is still found under its key).
    pub async fn attempts(
        &self,
        record: &DeliveryRecord,
    ) -> Result<Vec<AttemptRecord>, RecordsError> {
        let mut attempts: Vec<AttemptRecord> = record.first_attempt.iter().cloned().collect();
        let all_inline = record.first_attempt.is_some() && record.attempts <= 1;
        if !all_inline {
            let documents = self
                .buckets()
                .await?
                .attempts
                .list(Some(&key_of(&record.id)))
                .await?;
            for (key, document) in documents {
                let attempt: AttemptRecord = decode(&key, &document.value)?;
                if !attempts.iter().any(|kept| kept.attempt == attempt.attempt) {
                    attempts.push(attempt);
                }
            }
        }
        attempts.sort_by_key(|attempt| attempt.attempt);
        Ok(attempts)
    }
}
