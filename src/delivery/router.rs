//! Routing: every notification stored in a managed stream, read once through the stream's
//! feed (on JetStream a durable consumer shared by every instance), matched against the
//! subscription index, and turned into one delivery per matching destination: its record
//! (`pending`) and its task. The notification is acknowledged only once both are stored,
//! so a crash in between routes it again, and the task's id (the delivery id) keeps the
//! repeat from queuing a second task.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::delivery_id::DeliveryId;
use super::service::Delivery;
use super::task::DeliveryTask;
use crate::domain::StreamKey;
use crate::store::StoreError;
use crate::store::feed::FeedItem;

/// The durable consumer every instance's router shares, per stream.
pub const ROUTER_CONSUMER: &str = "tidings_router";

#[derive(Debug, thiserror::Error)]
enum RouteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Records(#[from] super::records::RecordsError),
    #[error("a task does not encode: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Routes `stream` until `shutdown`.
pub(super) async fn run(delivery: Delivery, stream: StreamKey, shutdown: CancellationToken) {
    let store = delivery.store();
    let mut after = store.last_sequence(&stream).await.unwrap_or(0);
    loop {
        let opened = store
            .feed(
                &stream,
                ROUTER_CONSUMER,
                after,
                delivery.settings().takeover_after,
            )
            .await;
        match opened {
            Ok(mut feed) => loop {
                let batch = tokio::select! {
                    () = shutdown.cancelled() => return,
                    batch = feed.next() => batch,
                };
                let Some(batch) = batch else { break };
                let (items, failure) = split(batch);
                if let Some(last) = items.last() {
                    match route(&delivery, &stream, &items).await {
                        Ok(()) => after = last.message.sequence.get(),
                        Err(error) => {
                            tracing::warn!(%stream, %error, "routing failed; the batch comes again");
                            break;
                        }
                    }
                }
                if let Some(error) = failure {
                    tracing::debug!(%stream, %error, "router feed ended");
                    break;
                }
            },
            Err(error) => tracing::debug!(%stream, %error, "router feed not open yet"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The messages of a batch up to its first error, and that error.
fn split(batch: Vec<Result<FeedItem, StoreError>>) -> (Vec<FeedItem>, Option<StoreError>) {
    let mut items = Vec::with_capacity(batch.len());
    for item in batch {
        match item {
            Ok(item) => items.push(item),
            Err(error) => return (items, Some(error)),
        }
    }
    (items, None)
}

async fn route(
    delivery: &Delivery,
    stream: &StreamKey,
    items: &[FeedItem],
) -> Result<(), RouteError> {
    let snapshot = delivery.directory().snapshot();
    let now = Utc::now();
    let mut records = Vec::new();
    let mut tasks = Vec::new();
    for item in items {
        let message = &item.message;
        for route in snapshot
            .index
            .routes(stream, &message.subject, || message.polygon())
        {
            let task = DeliveryTask {
                delivery: DeliveryId {
                    destination: route.destination,
                    event_type: route.event_type,
                    sequence: message.sequence,
                },
                stream: stream.clone(),
                time: message.time,
            };
            records.push(task.pending_record(now));
            tasks.push(task.to_task()?);
        }
    }
    if !tasks.is_empty() {
        let routed = tasks.len() as u64;
        let queue = delivery.queue().await?;
        let (created, queued) = tokio::join!(
            delivery.records().create_pending(&records),
            queue.enqueue(tasks)
        );
        created?;
        queued?;
        delivery
            .metrics()
            .delivery_deliveries
            .with_label_values(&["routed"])
            .inc_by(routed);
    }
    for acked in join_all(items.iter().map(FeedItem::ack)).await {
        // A lost ack routes the message again; its tasks are then dropped as repeats.
        if let Err(error) = acked {
            tracing::debug!(%stream, %error, "router ack not sent");
        }
    }
    Ok(())
}
