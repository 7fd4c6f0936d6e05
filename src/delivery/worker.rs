//! Sending: one lane per enabled destination on every instance, taking its tasks from the
//! work queue (so each attempt is made by one instance), and for each task the steps of
//! DELIVERY.md §4: skip what is already terminal, cancel what lost its notification or its
//! destination, read the notification by sequence (unless the router's rendering is still
//! fresh, see `task`), make the attempt, record it, and ack,
//! retry after the schedule's delay, or end the delivery.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::attempt::{Attempt, Outcome, Trigger, next_delay};
use super::destination::{Destination, DestinationId, DisabledReason, Ordering, State};
use super::record::{DeliveryRecord, DeliveryStatus};
use super::service::Delivery;
use super::task::{DeliveryTask, PARKED_LANE, SHARED_LANE, lane_for, ordered_lane};
use crate::cloudevent;
use crate::store::work_queue::{LaneConfig, Lease, Settle};

/// Pending tasks an unordered lane may have handed out (delayed retries included): high, so
/// failing deliveries waiting for their retry never hold later ones back; what runs at once
/// is bounded by `delivery.max_in_flight_per_destination`.
const UNORDERED_PENDING: usize = 10_000;
/// How soon a task comes back when it cannot be handled now (store unreachable, the
/// destination being disabled): no attempt is counted.
const NOT_NOW: Duration = Duration::from_secs(2);
/// How soon a task comes back when another attempt of its delivery goes first.
const BUSY: Duration = Duration::from_millis(500);
/// How long a scheduled attempt waits for an asked-for manual retry at most (a retry task
/// lost with its destination's queue must not hold the schedule for ever).
const MANUAL_WAIT: chrono::Duration = chrono::Duration::minutes(2);

/// How the shared lane of unordered destinations is consumed.
fn shared_config(delivery: &Delivery) -> LaneConfig {
    LaneConfig {
        max_pending: UNORDERED_PENDING,
        ack_wait: delivery.settings().takeover_after,
    }
}

/// How an ordered destination's own lane is consumed: one at a time.
fn ordered_config(delivery: &Delivery) -> LaneConfig {
    LaneConfig {
        max_pending: 1,
        ack_wait: delivery.settings().takeover_after,
    }
}

/// How long an ordered destination's waiting delivery sleeps at most before it reads its
/// record again: its task holds the lane (nothing behind it may go), so a manual retry
/// cannot be queued beside it; instead the retry brings `next_attempt_at` forward, and the
/// waiting task, back within this step, makes the attempt.
const ORDERED_STEP: Duration = Duration::from_secs(2);

/// How often the queue is looked over for tasks to move (parked ones of a destination
/// enabled again, an ordered lane left by a destination now unordered).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Keeps the shared lane running, one lane per enabled ordered destination, and the sweep,
/// following the directory, until `shutdown`.
pub(super) async fn supervise(delivery: Delivery, shutdown: CancellationToken) {
    // A task whose destination this instance does not know yet would end `cancelled`.
    tokio::select! {
        () = shutdown.cancelled() => return,
        () = delivery.directory().loaded() => {}
    }
    let permits = Arc::new(Semaphore::new(delivery.settings().max_in_flight));
    tokio::spawn(run_lane(
        delivery.clone(),
        SHARED_LANE.to_owned(),
        shared_config(&delivery),
        shutdown.child_token(),
        permits.clone(),
    ));
    tokio::spawn(sweep(delivery.clone(), shutdown.clone()));
    let mut changes = delivery.directory().changes();
    let mut running: HashMap<DestinationId, CancellationToken> = HashMap::new();
    loop {
        let snapshot = delivery.directory().snapshot();
        let ordered_and_enabled = |destination: &Destination| {
            destination.state == State::Enabled
                && destination.settings.ordering == Ordering::Ordered
        };
        running.retain(|id, token| {
            let keep = snapshot
                .destinations
                .get(id)
                .is_some_and(|destination| ordered_and_enabled(destination));
            if !keep {
                token.cancel();
            }
            keep
        });
        for (id, destination) in &snapshot.destinations {
            if !ordered_and_enabled(destination) || running.contains_key(id) {
                continue;
            }
            let token = shutdown.child_token();
            running.insert(id.clone(), token.clone());
            tokio::spawn(run_lane(
                delivery.clone(),
                ordered_lane(id),
                ordered_config(&delivery),
                token,
                permits.clone(),
            ));
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

/// Moves what waits in the wrong lane for its destination's state: parked tasks of an
/// enabled destination, tasks in the own lane of a destination no longer ordered.
async fn sweep(delivery: Delivery, shutdown: CancellationToken) {
    let mut changes = delivery.directory().changes();
    loop {
        if let Ok(queue) = delivery.queue().await
            && let Ok(backlog) = queue.backlog().await
        {
            for ((lane, key), _) in backlog.0 {
                let Some(id) = DestinationId::parse(&key) else {
                    continue;
                };
                let Some(destination) = delivery.directory().get(&id) else {
                    continue;
                };
                let enabled = destination.state == State::Enabled;
                let ordered = destination.settings.ordering == Ordering::Ordered;
                let own = ordered_lane(&id);
                let target = lane_for(&id, enabled, ordered);
                let moved = if lane == PARKED_LANE && enabled {
                    queue.relocate(PARKED_LANE, &key, &target, false).await
                } else if lane == own && !ordered {
                    queue.relocate(&own, &key, &target, true).await
                } else {
                    continue;
                };
                match moved {
                    Ok(count) => {
                        tracing::debug!(destination = %id, count, from = %lane, to = %target, "tasks moved")
                    }
                    Err(error) => tracing::debug!(destination = %id, %error, "tasks not moved yet"),
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = changes.changed() => {}
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// Takes one lane until `token`: the shared one (each task sent on its own, at most
/// `delivery.max_in_flight_per_destination` at once per destination) or an ordered
/// destination's own (one at a time).
async fn run_lane(
    delivery: Delivery,
    lane_name: String,
    config: LaneConfig,
    token: CancellationToken,
    permits: Arc<Semaphore>,
) {
    let ordered = config.max_pending == 1;
    // Tasks taken and not finished, waiting ones included: bounds what this instance holds.
    let taken = Arc::new(Semaphore::new(delivery.settings().max_in_flight * 4));
    loop {
        let opened = match delivery.queue().await {
            Ok(queue) => queue.take(&lane_name, config).await,
            Err(error) => Err(error),
        };
        match opened {
            Ok(mut lane) => loop {
                let Ok(hold) = taken.clone().acquire_owned().await else {
                    return;
                };
                let next = tokio::select! {
                    () = token.cancelled() => return,
                    next = lane.next() => next,
                };
                let lease = match next {
                    None => break,
                    Some(Err(error)) => {
                        tracing::debug!(lane = %lane_name, %error, "lane interrupted");
                        break;
                    }
                    Some(Ok(lease)) => lease,
                };
                if ordered {
                    let waiting = permits.clone().acquire_owned();
                    let Ok(permit) = alive_while(&delivery, &lease, waiting).await else {
                        return;
                    };
                    deliver(&delivery, lease).await;
                    drop((permit, hold));
                } else {
                    let delivery = delivery.clone();
                    let permits = permits.clone();
                    tokio::spawn(async move {
                        let own = delivery.destination_permits(&lease.key);
                        let waiting =
                            async { (own.acquire_owned().await, permits.acquire_owned().await) };
                        // A task waiting for a free request keeps its lease: past the ack
                        // wait another instance would be handed it and both would send.
                        let (Ok(own), Ok(permit)) = alive_while(&delivery, &lease, waiting).await
                        else {
                            return;
                        };
                        Box::pin(deliver(&delivery, lease)).await;
                        drop((own, permit, hold));
                    });
                }
            },
            Err(error) => tracing::debug!(lane = %lane_name, %error, "lane not open yet"),
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Runs `work` while telling the queue, every third of the takeover time, that `lease` is
/// still worked on (a request outlasting the ack wait, a wait for a free request slot).
async fn alive_while<F: std::future::Future>(
    delivery: &Delivery,
    lease: &Lease,
    work: F,
) -> F::Output {
    let mut work = std::pin::pin!(work);
    let mut alive = tokio::time::interval(delivery.settings().takeover_after / 3);
    alive.tick().await;
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = alive.tick() => { let _ = lease.progress().await; }
        }
    }
}

/// A task of a disabled unordered destination goes to the parking lane (so it holds no
/// place in the shared one); the sweep brings it back once the destination is enabled. It
/// goes without what the router attached: by then the notification may have been deleted,
/// so the attempt must read it.
async fn park(delivery: &Delivery, lease: Lease, task: &DeliveryTask) {
    let mut plain = task.clone();
    plain.routed_at = None;
    plain.record_revision = None;
    let parked = plain
        .to_task(PARKED_LANE.to_owned(), None)
        .map(|mut parked| {
            parked.id = format!("{}~parked-{}", lease.id, uuid::Uuid::new_v4().simple());
            parked
        });
    let queued = match (parked, delivery.queue().await) {
        (Ok(parked), Ok(queue)) => queue.enqueue(vec![parked]).await.is_ok(),
        _ => false,
    };
    let settled = if queued {
        Settle::Ack
    } else {
        Settle::Retry(NOT_NOW)
    };
    settle(lease, settled).await
}

async fn settle(lease: Lease, settle: Settle) {
    if let Err(error) = lease.settle(settle).await {
        tracing::debug!(%error, "task not settled; it comes again after the takeover time");
    }
}

/// Ends a delivery `status` (if it is not terminal yet) without an attempt. Boxed: the
/// record's read and write would otherwise add some 9 KiB to every delivery's future.
fn end<'a>(
    delivery: &'a Delivery,
    fallback: &'a DeliveryRecord,
    status: DeliveryStatus,
) -> futures::future::BoxFuture<'a, bool> {
    Box::pin(end_now(delivery, fallback, status))
}

async fn end_now(delivery: &Delivery, fallback: &DeliveryRecord, status: DeliveryStatus) -> bool {
    let changed = delivery
        .records()
        .change(fallback, |record| {
            if !record.status.is_terminal() {
                record.status = status;
                record.next_attempt_at = None;
            }
        })
        .await;
    match changed {
        Ok(_) => {
            delivery
                .metrics()
                .delivery_deliveries
                .with_label_values(&[status.as_str()])
                .inc();
            true
        }
        Err(error) => {
            tracing::warn!(delivery = %fallback.id, %error, "delivery record not written");
            false
        }
    }
}

/// One task, start to settle (see the module documentation).
async fn deliver(delivery: &Delivery, lease: Lease) {
    let (task, attached) = match DeliveryTask::parse_with_event(&lease.payload) {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::error!(task = %lease.id, %error, "dropping a task that does not read");
            return settle(lease, Settle::Ack).await;
        }
    };
    let now = Utc::now();
    let fallback = task.pending_record(now);
    let Some(destination) = delivery.directory().get(&task.delivery.destination) else {
        let settled = if end(delivery, &fallback, DeliveryStatus::Cancelled).await {
            Settle::Ack
        } else {
            Settle::Retry(NOT_NOW)
        };
        return settle(lease, settled).await;
    };
    if destination.state == State::Disabled {
        if destination.settings.ordering == Ordering::Unordered {
            return park(delivery, lease, &task).await;
        }
        return settle(lease, Settle::Retry(NOT_NOW)).await;
    }
    // A prompt first attempt trusts what the router attached; should the record have
    // changed meanwhile, the write at that revision fails and `change_from` reads it then.
    let fresh = task.is_fresh(lease.deliveries, now);
    let known = match (fresh, task.record_revision) {
        (true, Some(revision)) => Some((task.routed_record(now), Some(revision))),
        _ => None,
    };
    let (record, revision) = match known {
        Some(known) => known,
        None => match Box::pin(delivery.records().read(&task.delivery)).await {
            Ok(Some((record, revision))) => (record, Some(revision)),
            Ok(None) => (fallback.clone(), None),
            Err(error) => {
                tracing::debug!(delivery = %task.delivery, %error, "record not readable now");
                return settle(lease, Settle::Retry(NOT_NOW)).await;
            }
        },
    };
    let forced = task.trigger != Trigger::Scheduled;
    if record.status.is_terminal() && !forced {
        // Sent already, its ack lost: not again.
        return settle(lease, Settle::Ack).await;
    }
    if !forced
        && destination.settings.ordering == Ordering::Unordered
        && let Some(asked) = record.manual_requested_at
        && Utc::now() - asked < MANUAL_WAIT
    {
        // A manual retry goes first; the schedule continues after it. Saying so (once per
        // request) lets the manual attempt start without waiting out this one's timeout.
        if record.scheduled_deferred_at.is_none_or(|at| at < asked) {
            let stood_back = delivery.records().change_from(&record, revision, |stored| {
                stored.scheduled_deferred_at = Some(Utc::now());
            });
            if let Err(error) = Box::pin(stood_back).await {
                tracing::debug!(delivery = %task.delivery, %error, "deferral not recorded");
            }
        }
        return settle(lease, Settle::Retry(BUSY)).await;
    }
    let ordered = destination.settings.ordering == Ordering::Ordered;
    if ordered
        && !forced
        && let Some(due) = record.next_attempt_at
        && due > now
    {
        // Not due yet: see `ORDERED_STEP`.
        let wait = (due - now).to_std().unwrap_or(ORDERED_STEP);
        return settle(lease, Settle::Retry(wait.min(ORDERED_STEP))).await;
    }
    if task.trigger == Trigger::Manual
        && !ordered
        && scheduled_may_be_running(&record, &destination, now)
    {
        // Another instance may be sending the scheduled attempt right now.
        return settle(lease, Settle::Retry(BUSY)).await;
    }
    let Some(_claim) = delivery.claim(&task.delivery) else {
        return settle(lease, Settle::Retry(BUSY)).await;
    };
    let event = match attached.filter(|_| fresh) {
        Some(event) => event,
        None => match Box::pin(read_event(delivery, &task)).await {
            Ok(Some(event)) => event,
            Ok(None) => {
                let settled = if end(delivery, &fallback, DeliveryStatus::Cancelled).await {
                    Settle::Ack
                } else {
                    Settle::Retry(NOT_NOW)
                };
                return settle(lease, settled).await;
            }
            Err(Unreadable::Store(error)) => {
                tracing::debug!(delivery = %task.delivery, %error, "notification not readable now");
                return settle(lease, Settle::Retry(NOT_NOW)).await;
            }
            Err(Unreadable::Render) => {
                // The schema lost the event type, or the message does not fit it any more.
                tracing::warn!(delivery = %task.delivery, "notification cannot be rendered; delivery ends failed");
                end(delivery, &fallback, DeliveryStatus::Failed).await;
                return settle(lease, Settle::Ack).await;
            }
        },
    };
    let webhook_id = task.delivery.notification_id();
    let attempt = Attempt {
        destination: &destination,
        event,
        webhook_id: &webhook_id,
        number: record.attempts + 1,
        // An ordered destination's attempt brought forward by a retry is the manual one.
        trigger: if ordered && !forced && record.manual_requested_at.is_some() {
            Trigger::Manual
        } else {
            task.trigger
        },
    };
    let outcome = {
        // Boxed, as the other large steps: a task's future is moved when spawned, and
        // inline the request alone made it about 20 KiB to copy per delivery.
        let sending = Box::pin(delivery.attempter().attempt(&attempt));
        alive_while(delivery, &lease, sending).await
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(delivery = %task.delivery, %error, "no request could be made; delivery ends failed");
            end(delivery, &fallback, DeliveryStatus::Failed).await;
            return settle(lease, Settle::Ack).await;
        }
    };
    let settled = Box::pin(conclude(
        delivery,
        &destination,
        (&record, revision),
        task.trigger,
        outcome,
    ))
    .await;
    settle(lease, settled).await;
}

/// How long after its due time a scheduled attempt may still be starting (its task handed
/// out late, the record read before the request).
const DUE_MARGIN: chrono::Duration = chrono::Duration::seconds(2);
/// What an attempt may take beyond its destination's timeout (recording it).
const RECORDING_MARGIN: chrono::Duration = chrono::Duration::seconds(5);

/// Whether an instance may be sending this open delivery's scheduled attempt now, so that a
/// manual attempt must wait (within one instance the in-flight claim already keeps them
/// apart). A scheduled attempt that reads the record after the manual retry was asked for
/// waits for it (`manual_requested_at`) and says so (`scheduled_deferred_at`); one that
/// started before is over by the time the request is older than the destination's timeout
/// plus a margin. Before either, one may be running while the first attempt has not
/// concluded (`pending`) or the next is due.
fn scheduled_may_be_running(
    record: &DeliveryRecord,
    destination: &Destination,
    now: chrono::DateTime<Utc>,
) -> bool {
    let Some(asked) = record.manual_requested_at else {
        return false;
    };
    if record.scheduled_deferred_at.is_some_and(|at| at >= asked) {
        // The scheduled attempt saw the request and stands back.
        return false;
    }
    let longest = chrono::Duration::from_std(destination.settings.timeout)
        .unwrap_or(chrono::Duration::seconds(60))
        + RECORDING_MARGIN;
    if now >= asked + longest {
        return false;
    }
    match record.status {
        DeliveryStatus::Pending => true,
        DeliveryStatus::Retrying => record
            .next_attempt_at
            .is_none_or(|due| due <= now + DUE_MARGIN),
        _ => false,
    }
}

/// Why a task's notification could not be made into its CloudEvent.
enum Unreadable {
    /// The store did not answer: try again later.
    Store(crate::store::StoreError),
    /// The schema lost the event type, or the message no longer fits it.
    Render,
}

/// The task's notification read by sequence and rendered as a watcher gets it; `None` when
/// it is gone (deleted, wiped, aged out).
async fn read_event(
    delivery: &Delivery,
    task: &DeliveryTask,
) -> Result<Option<bytes::Bytes>, Unreadable> {
    let message = delivery
        .store()
        .get(&task.stream, task.delivery.sequence)
        .await
        .map_err(Unreadable::Store)?;
    let Some(message) = message else {
        return Ok(None);
    };
    delivery
        .catalog()
        .event_type(&task.delivery.event_type)
        .and_then(|schema| cloudevent::render_shared(schema, &message, delivery.cloudevents()).ok())
        .map(Some)
        .ok_or(Unreadable::Render)
}

/// Records the attempt, moves the delivery on, and says how to settle its task.
async fn conclude(
    delivery: &Delivery,
    destination: &Destination,
    (record, revision): (&DeliveryRecord, Option<u64>),
    trigger: Trigger,
    outcome: Outcome,
) -> Settle {
    let forced = trigger != Trigger::Scheduled;
    let attempt = &outcome.record;
    attempt.observe(delivery.metrics());
    let failures = record.failures as usize + usize::from(!outcome.succeeded());
    let jitter = super::destination::random_bytes::<4>()
        .map(|bytes| f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0)
        .unwrap_or(0.0);
    let (status, retry) = if outcome.succeeded() {
        (DeliveryStatus::Succeeded, None)
    } else if outcome.gone {
        (DeliveryStatus::Failed, None)
    } else if forced {
        // One attempt only; a terminal delivery stays as it ended, an open one keeps its
        // schedule (its scheduled task is still queued).
        let status = if record.status.is_terminal() {
            record.status
        } else if record.replay_only {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Retrying
        };
        (status, None)
    } else {
        match next_delay(
            &destination.settings.schedule,
            failures,
            outcome.retry_after,
            jitter,
        ) {
            Some(delay) => (DeliveryStatus::Retrying, Some(delay)),
            None => (DeliveryStatus::Failed, None),
        }
    };
    let next_attempt_at = retry
        .and_then(|delay| chrono::Duration::from_std(delay).ok())
        .map(|delay| Utc::now() + delay);
    // A short first attempt rides in the delivery record: one write for both.
    let inline = record.keeps_inline(attempt);
    let attempt_written = async {
        if inline {
            Ok(())
        } else {
            delivery.records().record_attempt(&record.id, attempt).await
        }
    };
    let record_written = delivery.records().change_from(record, revision, |stored| {
        stored.count(attempt);
        if inline {
            stored.first_attempt = Some(attempt.clone());
        }
        if attempt.trigger == Trigger::Manual {
            stored.manual_requested_at = None;
        }
        if forced && !status.is_terminal() {
            // A forced attempt that failed leaves an open delivery's schedule alone.
            if !stored.status.is_terminal() {
                stored.status = DeliveryStatus::Retrying;
            }
        } else {
            stored.status = status;
            stored.next_attempt_at = next_attempt_at;
        }
    });
    // Two keys, two buckets (when the attempt has its own): written side by side.
    let (attempt_written, record_written) = tokio::join!(attempt_written, record_written);
    if let Err(error) = attempt_written {
        tracing::warn!(delivery = %record.id, %error, "attempt record not written");
    }
    if let Err(error) = record_written {
        tracing::warn!(delivery = %record.id, %error, "delivery record not written");
    }
    // After the records, so that whoever reads the event and then the delivery sees it.
    let exhausted = status == DeliveryStatus::Failed && !record.status.is_terminal();
    let events = super::outcome::of_attempt(&record.id, attempt, exhausted, outcome.gone);
    super::outcome::publish(delivery.store(), events).await;
    let metrics = delivery.metrics();
    if status.is_terminal() {
        metrics
            .delivery_deliveries
            .with_label_values(&[status.as_str()])
            .inc();
    }
    if status == DeliveryStatus::Succeeded && record.succeeded_at.is_none() {
        let waited = Utc::now() - record.notification_time;
        metrics
            .delivery_latency
            .observe(waited.num_microseconds().unwrap_or(0).max(0) as f64 / 1e6);
    }
    if outcome.gone {
        disable_gone(delivery, &destination.id, record).await;
    }
    match retry {
        Some(delay) if destination.settings.ordering == Ordering::Ordered => {
            Settle::Retry(delay.min(ORDERED_STEP))
        }
        Some(delay) => Settle::Retry(delay),
        None => Settle::Ack,
    }
}

/// A 410: the destination is disabled (`gone`), and the change audited.
async fn disable_gone(delivery: &Delivery, id: &DestinationId, cause: &DeliveryRecord) {
    let changed = delivery
        .registry()
        .change(id, Utc::now(), |destination| {
            destination.state = State::Disabled;
            destination.disabled_reason = Some(DisabledReason::Gone);
            Ok::<(), super::registry::RegistryError>(())
        })
        .await;
    match changed {
        Ok(_) => {
            tracing::warn!(destination = %id, "receiver answered 410 Gone; destination disabled");
            audit_gone(delivery, id, cause).await;
        }
        Err(error) => {
            tracing::warn!(destination = %id, %error, "could not disable a gone destination")
        }
    }
}

/// The audit record of a destination the gateway disabled itself: the shape of every other
/// record, the delivery that met the 410 in place of a request, `tidings` as the actor.
async fn audit_gone(delivery: &Delivery, id: &DestinationId, cause: &DeliveryRecord) {
    let operation = "destination_disable";
    let record = serde_json::json!({
        "operation": operation,
        "target": id.as_str(),
        "dry_run": false,
        "outcome": "success",
        "status": 200,
        "message": format!("Destination {id} disabled: its receiver answered 410 Gone to delivery {}", cause.id),
        "count": null,
        "request_id": cause.id.to_string(),
        "client_address": null,
        "method": "POST",
        "route": "(delivery)",
        "actor": "tidings",
        "roles": [],
    });
    let store = delivery.store();
    let stream = store.audit_stream();
    let Ok(subject) = crate::subject::Subject::build(stream.base(), [operation]) else {
        return;
    };
    let publication = crate::store::Publication {
        stream,
        subject,
        headers: Vec::new(),
        payload: bytes::Bytes::from(record.to_string()),
        idempotency_key: None,
    };
    if let Err(error) = store.publish(publication).await {
        tracing::error!(%error, destination = %id, "audit record lost");
    }
}
