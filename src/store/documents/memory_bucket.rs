//! The memory engine's bucket: records by key under one lock, a revision counter, an age
//! limit applied as records are touched, and a broadcast of changes for watchers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;

use super::{Change, Document, WriteError};
use crate::store::error::{Failure, Lock, StoreError};

/// Changes a watcher may fall behind by before its stream ends (it then reads afresh).
const WATCH_BUFFER: usize = 4096;
/// How often at most the age limit sweeps the whole bucket.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Record {
    document: Document,
    written: Instant,
}

struct Bucket {
    records: BTreeMap<String, Record>,
    last_revision: u64,
    max_age: Option<Duration>,
    last_sweep: Instant,
}

impl Bucket {
    fn expired(&self, record: &Record, now: Instant) -> bool {
        self.max_age
            .is_some_and(|age| now.duration_since(record.written) > age)
    }

    fn sweep(&mut self, now: Instant) {
        let Some(age) = self.max_age else { return };
        if now.duration_since(self.last_sweep) < SWEEP_EVERY.min(age) {
            return;
        }
        self.last_sweep = now;
        self.records
            .retain(|_, record| now.duration_since(record.written) <= age);
    }

    fn live(&self, key: &str, now: Instant) -> Option<&Record> {
        self.records
            .get(key)
            .filter(|record| !self.expired(record, now))
    }

    fn write(&mut self, key: &str, value: Bytes, now: Instant) -> u64 {
        self.last_revision += 1;
        let revision = self.last_revision;
        self.records.insert(
            key.to_owned(),
            Record {
                document: Document { value, revision },
                written: now,
            },
        );
        revision
    }
}

/// A bucket shared by the clones of one `Documents`.
#[derive(Clone)]
pub(super) struct SharedBucket {
    bucket: Arc<Mutex<Bucket>>,
    changes: broadcast::Sender<Change>,
}

impl SharedBucket {
    pub(super) fn new(max_age: Option<Duration>) -> Self {
        Self {
            bucket: Arc::new(Mutex::new(Bucket {
                records: BTreeMap::new(),
                last_revision: 0,
                max_age,
                last_sweep: Instant::now(),
            })),
            changes: broadcast::channel(WATCH_BUFFER).0,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Bucket>, StoreError> {
        self.bucket
            .lock()
            .map_err(|_| StoreError::Backend(Failure::Poisoned(Lock::MemoryStream)))
    }

    fn announce(&self, key: &str, revision: u64, value: Option<Bytes>) {
        // No watcher is no error.
        let _ = self.changes.send(Change {
            key: key.to_owned(),
            revision,
            value,
        });
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Document>, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()?
            .live(key, now)
            .map(|record| record.document.clone()))
    }

    pub(super) fn create(&self, key: &str, value: Bytes) -> Result<u64, WriteError> {
        let now = Instant::now();
        let revision = {
            let mut bucket = self.lock()?;
            bucket.sweep(now);
            if bucket.live(key, now).is_some() {
                return Err(WriteError::Exists);
            }
            bucket.write(key, value.clone(), now)
        };
        self.announce(key, revision, Some(value));
        Ok(revision)
    }

    pub(super) fn put(&self, key: &str, value: Bytes) -> Result<u64, StoreError> {
        let now = Instant::now();
        let revision = {
            let mut bucket = self.lock()?;
            bucket.sweep(now);
            bucket.write(key, value.clone(), now)
        };
        self.announce(key, revision, Some(value));
        Ok(revision)
    }

    pub(super) fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, WriteError> {
        let now = Instant::now();
        let written = {
            let mut bucket = self.lock()?;
            match bucket.live(key, now) {
                Some(record) if record.document.revision == revision => {}
                _ => return Err(WriteError::Conflict),
            }
            bucket.write(key, value.clone(), now)
        };
        self.announce(key, written, Some(value));
        Ok(written)
    }

    pub(super) fn delete(&self, key: &str) -> Result<(), StoreError> {
        let revision = {
            let mut bucket = self.lock()?;
            if bucket.records.remove(key).is_none() {
                return Ok(());
            }
            bucket.last_revision += 1;
            bucket.last_revision
        };
        self.announce(key, revision, None);
        Ok(())
    }

    pub(super) fn list(&self, prefix: Option<&str>) -> Result<Vec<(String, Document)>, StoreError> {
        let now = Instant::now();
        let bucket = self.lock()?;
        let start = prefix
            .map(|prefix| format!("{prefix}."))
            .unwrap_or_default();
        Ok(bucket
            .records
            .range(start.clone()..)
            .take_while(|(key, _)| key.starts_with(&start))
            .filter(|(_, record)| !bucket.expired(record, now))
            .map(|(key, record)| (key.clone(), record.document.clone()))
            .collect())
    }

    pub(super) fn watch(&self) -> BoxStream<'static, Change> {
        tokio_stream::wrappers::BroadcastStream::new(self.changes.subscribe())
            .take_while(|change| std::future::ready(change.is_ok()))
            .filter_map(|change| std::future::ready(change.ok()))
            .boxed()
    }
}
