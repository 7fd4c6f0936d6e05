//! Document buckets: small JSON records by key with a revision, for what the gateway keeps
//! beside its streams (push-delivery destinations, delivery records and attempts). The
//! jetstream engine keeps them in JetStream KV buckets, shared by every instance; the memory
//! engine keeps them in process. Updates are conditional on the revision read, so two
//! instances changing one record cannot lose either change silently, and every bucket can
//! be watched, so caches on every instance follow changes made on any of them.

mod kv_listing;
mod memory_bucket;

use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use super::error::{Operation, StoreError};
use super::jetstream::convert::request_error;
use memory_bucket::SharedBucket;

/// One record and the revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub value: Bytes,
    pub revision: u64,
}

/// How a bucket is made when it does not exist yet.
#[derive(Debug, Clone, Copy)]
pub struct BucketOptions {
    pub replicas: usize,
    /// Records not written for this long go (JetStream KV `max_age`; the memory engine drops
    /// them as it goes). `None` keeps them until deleted.
    pub max_age: Option<Duration>,
    pub description: &'static str,
}

/// One change seen by a watcher: a record written (`Some`) or removed (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub revision: u64,
    pub value: Option<Bytes>,
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

#[derive(Clone)]
enum Engine {
    Memory(SharedBucket),
    Kv(Box<kv::Store>),
}

/// A bucket of documents (see the module documentation).
#[derive(Clone)]
pub struct Documents {
    engine: Engine,
}

fn kv_error(error: impl super::jetstream::convert::NatsError) -> StoreError {
    request_error(Operation::Documents, error)
}

/// Whether `key` can name a KV record (what async-nats checks before a KV read): a key with
/// a wildcard would select other records' subjects.
fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..")
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-/_=.".contains(&byte))
}

/// Whether a KV stream message is a removal (a delete or purge marker).
fn is_removal(headers: Option<&async_nats::HeaderMap>) -> bool {
    headers
        .and_then(|headers| headers.get("KV-Operation"))
        .is_some_and(|operation| matches!(operation.as_str(), "DEL" | "PURGE"))
}

impl Documents {
    pub(crate) fn in_memory(max_age: Option<Duration>) -> Self {
        Self {
            engine: Engine::Memory(SharedBucket::new(max_age)),
        }
    }

    pub(crate) fn in_kv(store: kv::Store) -> Self {
        Self {
            engine: Engine::Kv(Box::new(store)),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Document>, StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => bucket.get(key),
            // Asked of the bucket stream's leader (`STREAM.MSG.GET`): a KV entry read is a
            // direct get, which any replica of an R3 bucket answers, one that may not hold
            // yet what another instance wrote a moment ago.
            Engine::Kv(_) if !is_valid_key(key) => Ok(None),
            Engine::Kv(store) => {
                let subject = format!("{}{key}", store.prefix);
                match store.stream.get_last_raw_message_by_subject(&subject).await {
                    Ok(message) if is_removal(Some(&message.headers)) => Ok(None),
                    Ok(message) => Ok(Some(Document {
                        value: message.payload,
                        revision: message.sequence,
                    })),
                    Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {
                        Ok(None)
                    }
                    Err(error) => Err(kv_error(error)),
                }
            }
        }
    }

    /// Writes a new record; `Exists` if the key is taken.
    pub async fn create(&self, key: &str, value: Bytes) -> Result<u64, WriteError> {
        match &self.engine {
            Engine::Memory(bucket) => bucket.create(key, value),
            Engine::Kv(store) => {
                store
                    .create(key, value)
                    .await
                    .map_err(|error| match error.kind() {
                        kv::CreateErrorKind::AlreadyExists => WriteError::Exists,
                        _ => kv_error(error).into(),
                    })
            }
        }
    }

    /// Writes a record whatever was there.
    pub async fn put(&self, key: &str, value: Bytes) -> Result<u64, StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => bucket.put(key, value),
            Engine::Kv(store) => store.put(key, value).await.map_err(kv_error),
        }
    }

    /// Replaces a record read at `revision`; `Conflict` if it changed (or went) since.
    pub async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, WriteError> {
        match &self.engine {
            Engine::Memory(bucket) => bucket.update(key, value, revision),
            Engine::Kv(store) => {
                store
                    .update(key, value, revision)
                    .await
                    .map_err(|error| match error.kind() {
                        kv::UpdateErrorKind::WrongLastRevision => WriteError::Conflict,
                        _ => kv_error(error).into(),
                    })
            }
        }
    }

    /// Removes a record (nothing happens for a key that is not there).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => bucket.delete(key),
            Engine::Kv(store) => store.purge(key).await.map_err(kv_error),
        }
    }

    /// Every record, by key.
    pub async fn all(&self) -> Result<Vec<(String, Document)>, StoreError> {
        self.list(None).await
    }

    /// The records whose key starts with `prefix` and a dot (all with `None`), by key. The
    /// jetstream engine reads them in one pass of one consumer, not one request per key.
    pub async fn list(&self, prefix: Option<&str>) -> Result<Vec<(String, Document)>, StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => bucket.list(prefix),
            Engine::Kv(store) => kv_listing::list(store, prefix).await,
        }
    }

    /// Changes from now on, made by any instance. A watcher that falls behind (memory) or
    /// loses its consumer (jetstream) sees its stream end: read [`Documents::all`] again and
    /// watch anew, watching first so nothing falls between.
    pub async fn watch(&self) -> Result<BoxStream<'static, Change>, StoreError> {
        match &self.engine {
            Engine::Memory(bucket) => Ok(bucket.watch()),
            Engine::Kv(store) => {
                let watch = store.watch_all().await.map_err(kv_error)?;
                Ok(watch
                    .take_while(|entry| std::future::ready(entry.is_ok()))
                    .filter_map(|entry| {
                        std::future::ready(entry.ok().map(|entry| Change {
                            key: entry.key,
                            revision: entry.revision,
                            value: (entry.operation == kv::Operation::Put).then_some(entry.value),
                        }))
                    })
                    .boxed())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_wildcards_or_empty_tokens_name_no_record() {
        assert!(is_valid_key("destinations.d_1-x/y=z"));
        for key in ["", ".a", "a.", "a..b", "a.*", "a.>", "a b", "é"] {
            assert!(!is_valid_key(key), "{key:?}");
        }
    }

    #[tokio::test]
    async fn memory_lists_by_prefix_and_watchers_see_every_change() {
        let bucket = Documents::in_memory(None);
        let mut changes = bucket.watch().await.unwrap();
        bucket
            .create("a.1", Bytes::from_static(b"1"))
            .await
            .unwrap();
        bucket.put("a.2", Bytes::from_static(b"2")).await.unwrap();
        bucket.put("ab.1", Bytes::from_static(b"3")).await.unwrap();
        bucket.delete("a.1").await.unwrap();
        let listed: Vec<String> = bucket
            .list(Some("a"))
            .await
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(listed, ["a.2"]);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let change = changes.next().await.unwrap();
            seen.push((change.key, change.value.is_some()));
        }
        assert_eq!(
            seen,
            [
                ("a.1".to_owned(), true),
                ("a.2".to_owned(), true),
                ("ab.1".to_owned(), true),
                ("a.1".to_owned(), false)
            ]
        );
    }

    #[tokio::test]
    async fn memory_records_older_than_the_bucket_age_are_gone() {
        let bucket = Documents::in_memory(Some(Duration::from_millis(30)));
        bucket.put("old", Bytes::from_static(b"1")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        bucket.put("new", Bytes::from_static(b"2")).await.unwrap();
        assert_eq!(bucket.get("old").await.unwrap(), None);
        assert_eq!(bucket.all().await.unwrap().len(), 1);
    }
}
