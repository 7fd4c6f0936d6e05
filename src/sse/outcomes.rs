//! The live delivery outcome stream (`GET /api/v1/deliveries/events`): the frames of a
//! watch (opening frame, `replay-control` around history when it starts from an id, a date
//! or `Last-Event-ID`, heartbeats, closing frame), each outcome a `delivery-outcome` frame
//! whose `id:` is its sequence in `TIDINGS_OUTCOMES`. Bounded as a watch: history waits for
//! a slow client, live events cut off a client over its byte budget (`sse.watcher_buffer_bytes`)
//! with the last id it was sent.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::emitter::{BEHIND_CLOSE_GRACE, Emitter, FRAME_QUEUE, Limits, Outbox, Stop, client_gone};
use super::frame::{CloseReason, Frame, FrameContext, Phase, Resume};
use super::session::{Ending, SessionSettings, failure, failure_and_close, finish, response_body};
use crate::domain::Start;
use crate::metrics::OpenStreamGuard;
use crate::serve::ConnectionControl;
use crate::store::{ReadRequest, SharedMessage, Store, StoreError, StoredMessage};

/// Which outcomes a caller may see (the destinations it may see).
pub type Admits = Box<dyn Fn(&StoredMessage) -> bool + Send + Sync>;

/// One outcome stream, validated before its 200 is sent.
pub struct OutcomePlan {
    pub route: &'static str,
    /// A subject filter of the outcome stream (one destination, or all).
    pub filter: String,
    /// `None`: live only.
    pub start: Option<Start>,
    /// The stream's last sequence when the request arrived: history ≤ it < live.
    pub boundary: u64,
    /// Most events the history part sends.
    pub limit: usize,
    pub resume: Option<Resume>,
    pub retry: Option<Duration>,
    pub context: FrameContext,
    pub admits: Admits,
}

/// The label outcome streams count under in the stream metrics.
const METRIC_LABEL: &str = "delivery-outcome";

/// Starts the stream task and returns the response body fed by it (see [`super::session`]).
pub fn spawn(
    plan: OutcomePlan,
    store: Arc<Store>,
    settings: Arc<SessionSettings>,
    shutdown: CancellationToken,
    permit: OwnedSemaphorePermit,
    connection: Option<ConnectionControl>,
) -> Body {
    let (sender, receiver) = mpsc::channel(FRAME_QUEUE);
    let outbox = Arc::new(Outbox::default());
    let limits = Limits {
        budget: settings.watcher_buffer,
        deadline: Instant::now() + settings.max_duration,
        shutdown,
        connection,
    };
    let mut emitter = Emitter::new(sender, outbox.clone(), plan.context.clone(), limits);
    tokio::spawn(async move {
        let open = settings
            .metrics
            .sse_open
            .with_label_values(&[plan.route, METRIC_LABEL]);
        let guard = OpenStreamGuard::new(open);
        let ran = run(&plan, &store, &settings, &mut emitter).await;
        finish(emitter, ran, permit).await;
        drop(guard);
    });
    response_body(receiver, outbox)
}

fn outcome(message: &SharedMessage) -> Frame {
    Frame::Notification {
        phase: Phase::Outcome,
        id: message.sequence.get().to_string(),
        cloudevent: message.payload.clone(),
    }
}

async fn run(
    plan: &OutcomePlan,
    store: &Store,
    settings: &SessionSettings,
    emitter: &mut Emitter,
) -> Result<Ending, Stop> {
    if let Some(retry) = plan.retry {
        emitter.send(Frame::Retry(retry)).await?;
    }
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    match plan.start {
        Some(start) => {
            let (from_sequence, from_date) = match start {
                Start::Beginning => (Some(0), None),
                Start::Sequence(sequence) => (Some(sequence.get()), None),
                Start::Time(time) => (None, Some(time)),
            };
            emitter
                .send(Frame::ReplayStarted {
                    from_sequence,
                    from_date,
                    end_sequence: None,
                    to_date: None,
                    resume: plan.resume.clone(),
                })
                .await?;
            history(plan, store, start, emitter, &mut heartbeat).await?;
            emitter.send(Frame::ReplayCompleted).await?;
        }
        None => {
            emitter
                .send(Frame::ConnectionEstablished {
                    closes_in_seconds: settings.max_duration.as_secs(),
                })
                .await?;
        }
    }
    live(plan, store, settings, emitter, &mut heartbeat).await
}

/// Sends the stored outcomes from `start` up to the boundary, waiting for a slow client.
async fn history(
    plan: &OutcomePlan,
    store: &Store,
    start: Start,
    emitter: &mut Emitter,
    heartbeat: &mut tokio::time::Interval,
) -> Result<(), Stop> {
    let stream = crate::delivery::outcome::outcomes_stream();
    let request = ReadRequest {
        filter: plan.filter.clone(),
        start,
        last_sequence: plan.boundary,
        until: None,
        limit: None,
    };
    let mut read = match store.read(&stream, request).await {
        Ok(read) => read,
        Err(error) => return emitter.send(failure(&error)).await,
    };
    let sender = emitter.sender.clone();
    let mut sent = 0;
    loop {
        let frame = tokio::select! {
            biased;
            () = emitter.limits().shutdown.cancelled() => return Err(Stop::Shutdown),
            () = sleep_until(emitter.limits().deadline) => return Err(Stop::Deadline),
            () = sender.closed() => return Err(Stop::Gone),
            _ = heartbeat.tick() => Frame::Heartbeat,
            item = read.next() => match item {
                None => return Ok(()),
                Some(Err(error)) => return emitter.send(failure(&error)).await,
                Some(Ok(message)) if (plan.admits)(&message) => {
                    if sent == plan.limit {
                        return emitter.send(Frame::LimitReached { max_allowed: plan.limit }).await;
                    }
                    sent += 1;
                    outcome(&message)
                }
                Some(Ok(_)) => continue,
            },
        };
        emitter.send(frame).await?;
    }
}

/// Sends live outcomes above the boundary without waiting for the client.
async fn live(
    plan: &OutcomePlan,
    store: &Store,
    settings: &SessionSettings,
    emitter: &mut Emitter,
    heartbeat: &mut tokio::time::Interval,
) -> Result<Ending, Stop> {
    let stream = crate::delivery::outcome::outcomes_stream();
    let mut subscription = match store
        .subscribe(
            &stream,
            plan.filter.clone(),
            plan.boundary,
            settings.watcher_buffer,
        )
        .await
    {
        Ok(subscription) => subscription,
        Err(error) => return Ok(failure_and_close(&error)),
    };
    let gone = client_gone(emitter.sender.clone(), emitter.limits().connection.clone());
    tokio::pin!(gone);
    let (shutdown, deadline) = (emitter.limits().shutdown.clone(), emitter.limits().deadline);
    loop {
        let queued = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            () = sleep_until(deadline) => return Err(Stop::Deadline),
            () = &mut gone => return Err(Stop::Gone),
            drained = emitter.drain_one(), if emitter.has_backlog() => drained,
            _ = heartbeat.tick() => emitter.queue(Frame::Heartbeat, None),
            item = subscription.next() => match item {
                Some(Ok(message)) if (plan.admits)(&message) => {
                    emitter.queue(outcome(&message), Some(message.sequence))
                }
                Some(Ok(_)) => Ok(()),
                Some(Err(StoreError::SubscriberOverflow { .. })) => {
                    return Ok(cut_off(plan, emitter));
                }
                Some(Err(error)) => return Ok(failure_and_close(&error)),
                None => return Ok(Ending::close(vec![Frame::Closing(CloseReason::EndOfStream)])),
            },
        };
        match queued {
            Ok(()) => {}
            Err(Stop::Behind) => return Ok(cut_off(plan, emitter)),
            Err(stop) => return Err(stop),
        }
    }
}

/// Ends a client that fell behind, telling it the last id it was sent.
fn cut_off(plan: &OutcomePlan, emitter: &mut Emitter) -> Ending {
    emitter.drop_backlog();
    let last = emitter
        .last_handed()
        .map_or(plan.boundary, crate::domain::Sequence::get);
    Ending {
        frames: vec![
            Frame::Error {
                error: "slow_consumer",
                message: format!(
                    "the client fell behind and was disconnected; last id sent: {last}; resume with Last-Event-ID {last} or from_id {}",
                    last + 1
                ),
            },
            Frame::Closing(CloseReason::EndOfStream),
        ],
        grace: BEHIND_CLOSE_GRACE,
    }
}
