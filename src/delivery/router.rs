//! Routing: every notification stored in a managed stream, read once through the stream's
//! feed (on JetStream a durable consumer shared by every instance), matched against the
//! subscription index, and turned into one delivery per matching destination: its record
//! (`pending`) and its task, which carries the record's revision and the rendered
//! CloudEvent for a prompt first attempt. The notification is acknowledged only once both
//! are stored,
//! so a crash in between routes it again, and the task's id (the delivery id) keeps the
//! repeat from queuing a second task.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::delivery_id::DeliveryId;
use super::lease::Lease;
use super::service::Delivery;
use super::task::DeliveryTask;
use crate::cloudevent;
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

/// Routes `stream` until `shutdown`, while this instance holds the stream's router lease
/// (one router per stream at a time, so that tasks are queued in sequence order; another
/// instance takes over within `delivery.takeover_after` of this one's end).
pub(super) async fn run(delivery: Delivery, stream: StreamKey, shutdown: CancellationToken) {
    let store = delivery.store();
    let mut after = store.last_sequence(&stream).await.unwrap_or(0);
    let lease_name = format!("router.{}", stream.stream_name());
    tokio::select! {
        () = shutdown.cancelled() => return,
        () = delivery.directory().loaded() => {}
    }
    let mut lease = Lease::default();
    loop {
        let leases = match delivery.leases().await {
            Ok(leases) => leases,
            Err(error) => {
                tracing::debug!(%stream, %error, "router leases not open yet");
                if wait(&shutdown, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        if !leases.hold(&lease_name, &mut lease).await {
            if wait(&shutdown, leases.renew_every()).await {
                return;
            }
            continue;
        }
        let mut renew = tokio::time::interval(leases.renew_every());
        renew.tick().await;
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
                    () = shutdown.cancelled() => {
                        leases.release(&lease_name, &mut lease).await;
                        return;
                    }
                    _ = renew.tick() => {
                        if leases.hold(&lease_name, &mut lease).await {
                            continue;
                        }
                        tracing::info!(%stream, "router lease lost; another instance routes");
                        break;
                    }
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
        if wait(&shutdown, Duration::from_secs(1)).await {
            return;
        }
    }
}

/// Sleeps `delay`; true when shut down meanwhile.
async fn wait(shutdown: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(delay) => false,
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
    let mut routed = Vec::new();
    for item in items {
        let message = &item.message;
        for route in snapshot
            .index
            .routes(stream, &message.subject, || message.polygon())
        {
            // Rendered once per message (the rendition is kept on it), attached to every
            // task of it so that a prompt first attempt reads nothing (see `task`). Not to
            // the parked tasks of a disabled destination: they wait for an enable, then read.
            let event = route
                .enabled
                .then(|| delivery.catalog().event_type(&route.event_type))
                .flatten()
                .and_then(|schema| {
                    cloudevent::render_shared(schema, message, delivery.cloudevents()).ok()
                });
            let lane = super::task::lane_for(&route.destination, route.enabled, route.ordered);
            let mut task = DeliveryTask::new(
                DeliveryId {
                    destination: route.destination,
                    event_type: route.event_type,
                    sequence: message.sequence,
                },
                stream.clone(),
                message.time,
                super::attempt::Trigger::Scheduled,
            );
            task.routed_at = route.enabled.then_some(now);
            routed.push((task, lane, event));
        }
    }
    if !routed.is_empty() {
        let count = routed.len() as u64;
        let records: Vec<_> = routed
            .iter()
            .map(|(task, _, _)| task.pending_record(now))
            .collect();
        // Records first: each task carries its record's revision.
        let revisions = delivery.records().create_pending(&records).await?;
        let mut tasks = Vec::with_capacity(routed.len());
        for ((mut task, lane, event), revision) in routed.into_iter().zip(revisions) {
            task.record_revision = revision;
            tasks.push(task.to_task_with(lane, None, event.as_deref())?);
        }
        delivery.queue().await?.enqueue(tasks).await?;
        delivery
            .metrics()
            .delivery_deliveries
            .with_label_values(&["routed"])
            .inc_by(count);
    }
    for acked in join_all(items.iter().map(FeedItem::ack)).await {
        // A lost ack routes the message again; its tasks are then dropped as repeats.
        if let Err(error) = acked {
            tracing::debug!(%stream, %error, "router ack not sent");
        }
    }
    Ok(())
}
