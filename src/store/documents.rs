//! Document buckets: small JSON records by key with a revision, for configuration the
//! gateway keeps beside its streams (push-delivery destinations). The jetstream engine
//! keeps them in a JetStream KV bucket, shared by every instance and read fresh on every
//! call, so a change made on one instance is seen by all at once; the memory engine keeps
//! them in process. Updates are conditional on the revision read, so two instances
//! changing one record cannot lose either change silently.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::StreamExt;

use super::error::{Failure, Lock, Operation, StoreError};
use super::jetstream::convert::request_error;

/// One record and the revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub value: Bytes,
    pub revision: u64,
}

/// Why a conditional write did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("a record with this key already exists")]
    Exists,
    #[error("the record changed since it was read")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default)]
struct MemoryBucket {
    records: BTreeMap<String, Document>,
    last_revision: u64,
}

#[derive(Clone)]
enum Engine {
    Memory(Arc<Mutex<MemoryBucket>>),
    Kv(Box<kv::Store>),
}

/// A bucket of documents (see the module documentation).
#[derive(Clone)]
pub struct Documents {
    engine: Engine,
}

impl Documents {
    pub(crate) fn in_memory() -> Self {
        Self {
            engine: Engine::Memory(Arc::default()),
        }
    }

    pub(crate) fn in_kv(store: kv::Store) -> Self {
        Self {
            engine: Engine::Kv(Box::new(store)),
        }
    }

    fn memory(
        bucket: &Mutex<MemoryBucket>,
    ) -> Result<std::sync::MutexGuard<'_, MemoryBucket>, StoreError> {
        bucket
            .lock()
            .map_err(|_| StoreError::Backend(Failure::Poisoned(Lock::MemoryStream)))
    }

    pub async fn get(&self, key: &str) -> Result<Option<Document>, StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => Ok(Self::memory(bucket)?.records.get(key).cloned()),
            Engine::Kv(store) => {
                let entry = store
                    .entry(key)
                    .await
                    .map_err(|error| request_error(Operation::Documents, error))?;
                Ok(entry
                    .filter(|entry| entry.operation == kv::Operation::Put)
                    .map(|entry| Document {
                        value: entry.value,
                        revision: entry.revision,
                    }))
            }
        }
    }

    /// Writes a new record; `Exists` if the key is taken.
    pub async fn create(&self, key: &str, value: Bytes) -> Result<u64, WriteError> {
        match &self.engine {
            Engine::Memory(bucket) => {
                let mut bucket = Self::memory(bucket)?;
                if bucket.records.contains_key(key) {
                    return Err(WriteError::Exists);
                }
                bucket.last_revision += 1;
                let revision = bucket.last_revision;
                bucket
                    .records
                    .insert(key.to_owned(), Document { value, revision });
                Ok(revision)
            }
            Engine::Kv(store) => {
                store
                    .create(key, value)
                    .await
                    .map_err(|error| match error.kind() {
                        kv::CreateErrorKind::AlreadyExists => WriteError::Exists,
                        _ => request_error(Operation::Documents, error).into(),
                    })
            }
        }
    }

    /// Replaces a record read at `revision`; `Conflict` if it changed (or went) since.
    pub async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, WriteError> {
        match &self.engine {
            Engine::Memory(bucket) => {
                let mut bucket = Self::memory(bucket)?;
                let next = bucket.last_revision + 1;
                match bucket.records.get_mut(key) {
                    Some(document) if document.revision == revision => {
                        *document = Document {
                            value,
                            revision: next,
                        };
                    }
                    _ => return Err(WriteError::Conflict),
                }
                bucket.last_revision = next;
                Ok(next)
            }
            Engine::Kv(store) => {
                store
                    .update(key, value, revision)
                    .await
                    .map_err(|error| match error.kind() {
                        kv::UpdateErrorKind::WrongLastRevision => WriteError::Conflict,
                        _ => request_error(Operation::Documents, error).into(),
                    })
            }
        }
    }

    /// Removes a record (nothing happens for a key that is not there).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => {
                Self::memory(bucket)?.records.remove(key);
                Ok(())
            }
            Engine::Kv(store) => store
                .purge(key)
                .await
                .map_err(|error| request_error(Operation::Documents, error)),
        }
    }

    /// Every record, by key.
    pub async fn all(&self) -> Result<Vec<(String, Document)>, StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => Ok(Self::memory(bucket)?
                .records
                .iter()
                .map(|(key, document)| (key.clone(), document.clone()))
                .collect()),
            Engine::Kv(store) => {
                let mut keys = store
                    .keys()
                    .await
                    .map_err(|error| request_error(Operation::Documents, error))?;
                let mut names = Vec::new();
                while let Some(key) = keys.next().await {
                    names.push(key.map_err(|error| request_error(Operation::Documents, error))?);
                }
                let mut documents = Vec::with_capacity(names.len());
                for key in names {
                    if let Some(document) = self.get(&key).await? {
                        documents.push((key, document));
                    }
                }
                Ok(documents)
            }
        }
    }
}
