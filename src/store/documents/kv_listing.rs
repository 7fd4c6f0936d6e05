//! Listing a KV bucket, or the keys under one prefix, in one pass: an ordered consumer on
//! the bucket's stream delivering the last value of each matching key, ending when the
//! server says nothing is pending (deleted keys are skipped).

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{consumer, kv};
use futures::StreamExt;

use super::{Document, is_removal, kv_error};
use crate::store::error::{Operation, Outage, StoreError};
use crate::store::jetstream::consumers::create_retrying;

/// The longest wait for the next record of a listing.
const IDLE: Duration = Duration::from_secs(5);

pub(super) async fn list(
    store: &kv::Store,
    prefix: Option<&str>,
) -> Result<Vec<(String, Document)>, StoreError> {
    let filter = match prefix {
        Some(prefix) => format!("{}{prefix}.>", store.prefix),
        None => format!("{}>", store.prefix),
    };
    let config = consumer::pull::OrderedConfig {
        filter_subject: filter,
        deliver_policy: consumer::DeliverPolicy::LastPerSubject,
        ..Default::default()
    };
    let consumer = create_retrying(&store.stream_name, || {
        store.stream.create_consumer(config.clone())
    })
    .await
    .map_err(kv_error)?;
    let mut records = BTreeMap::new();
    let name = consumer.cached_info().name.clone();
    if consumer.cached_info().num_pending == 0 {
        forget(store, &name).await;
        return Ok(Vec::new());
    }
    let messages = consumer.messages().await.map_err(kv_error)?;
    let listed = read_all(messages, store, &mut records).await;
    forget(store, &name).await;
    listed?;
    Ok(records.into_iter().collect())
}

/// Deletes a listing's consumer at once: left to expire, one per listing would linger for
/// its inactivity threshold (30 s), and a stream holds at most 1,000 consumers.
async fn forget(store: &kv::Store, name: &str) {
    if let Err(error) = store.stream.delete_consumer(name).await {
        tracing::debug!(%error, "listing consumer left to expire");
    }
}

async fn read_all(
    mut messages: consumer::pull::Ordered,
    store: &kv::Store,
    records: &mut BTreeMap<String, Document>,
) -> Result<(), StoreError> {
    loop {
        let message = match tokio::time::timeout(IDLE, messages.next()).await {
            Err(_) => {
                return Err(StoreError::Unavailable(Outage::TimedOut(
                    Operation::Documents,
                )));
            }
            Ok(None) => break,
            Ok(Some(message)) => message.map_err(kv_error)?,
        };
        let info = message
            .info()
            .map_err(|_| StoreError::Unavailable(Outage::TimedOut(Operation::Documents)))?;
        let (revision, pending) = (info.stream_sequence, info.pending);
        // Later revisions replace earlier ones and removals drop the key: the consumer sends
        // one message per key, but one that async-nats (0.51) recreated before its first
        // message (the server lost it) sends every revision from the bucket's start.
        if let Some(key) = message.subject.as_str().strip_prefix(store.prefix.as_str()) {
            if is_removal(message.headers.as_ref()) {
                records.remove(key);
            } else {
                let document = Document {
                    value: message.payload.clone(),
                    revision,
                };
                records.insert(key.to_owned(), document);
            }
        }
        if pending == 0 {
            break;
        }
    }
    Ok(())
}
