//! Purging what an identifier matches. A filter NATS can apply itself (fixed and open
//! tokens only) is one purge request; constraints and spatial filters are not subject
//! filters, so their matches are found by reading the stream and deleted one by one.

use futures::StreamExt;

use crate::domain::{Sequence, Start, StreamKey};
use crate::schema::IdentifierFilter;
use crate::store::{DeleteOutcome, PurgeReport, ReadRequest, Store, StoreError};

/// Removes (or, with `dry_run`, counts) the notifications of `stream` that `filter`
/// admits; `nats_filter` is its subject form.
pub async fn purge_matching(
    store: &Store,
    stream: &StreamKey,
    filter: &IdentifierFilter,
    nats_filter: String,
    dry_run: bool,
) -> Result<PurgeReport, StoreError> {
    if filter.constraints.is_empty() && filter.spatial.is_none() {
        return store.purge(stream, Some(&nats_filter), dry_run).await;
    }
    let matching = matching_sequences(store, stream, filter, nats_filter).await?;
    let mut report = PurgeReport {
        count: 0,
        first_sequence: matching.first().copied(),
        last_sequence: matching.last().copied(),
    };
    for sequence in matching {
        if dry_run {
            report.count += 1;
            continue;
        }
        if store.delete(stream, sequence).await? == DeleteOutcome::Deleted {
            report.count += 1;
        }
    }
    Ok(report)
}

/// The sequences `filter` admits, up to the last one stored when the purge began.
async fn matching_sequences(
    store: &Store,
    stream: &StreamKey,
    filter: &IdentifierFilter,
    nats_filter: String,
) -> Result<Vec<Sequence>, StoreError> {
    let boundary = store.last_sequence(stream).await?;
    let request = ReadRequest {
        filter: nats_filter,
        start: Start::Beginning,
        last_sequence: boundary,
        until: None,
        limit: None,
    };
    let mut read = store.read(stream, request).await?;
    let mut matching = Vec::new();
    while let Some(message) = read.next().await {
        let message = message?;
        if filter.admits(&message.subject, || message.polygon()) {
            matching.push(message.sequence);
        }
    }
    Ok(matching)
}
