//! One SSE stream, run as a task that writes frames into a small bounded channel (the
//! response body reads from it): opening frame, history up to the boundary captured before
//! the response started, then (watch) live notifications above it, heartbeats, and a
//! closing frame on natural end, maximum duration or shutdown.
//!
//! Memory per stream is bounded: at most [`FRAME_QUEUE`] encoded frames wait for a slow
//! client; live messages wait in the store subscription's bounded queue, and a watcher that
//! overflows it is told the last id it got and disconnected.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::cloudevent::{self, CloudEventSettings};
use super::frame::{CloseReason, Frame, FrameContext, Phase, Resume};
use crate::domain::Sequence;
use crate::metrics::{Metrics, OpenStreamGuard};
use crate::schema::{EventSchema, IdentifierFilter};
use crate::store::{ReadRequest, Retraction, SharedMessage, Start, Store, StoreError};

/// Encoded frames buffered per connection before the task waits for the client.
pub const FRAME_QUEUE: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Watch,
    Replay,
}

/// Where history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryStart {
    /// Inclusive; 0 is the beginning.
    Sequence(u64),
    Time(DateTime<Utc>),
}

/// Where history ends (inclusive), besides the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryEnd {
    Sequence(u64),
    Time(DateTime<Utc>),
}

/// Everything a stream needs, validated before the 200 is sent.
pub struct Plan {
    pub kind: Kind,
    /// Route template, for metrics.
    pub route: &'static str,
    pub schema: Arc<EventSchema>,
    pub filter: IdentifierFilter,
    pub nats_filter: String,
    pub context: FrameContext,
    pub start: Option<HistoryStart>,
    pub end: Option<HistoryEnd>,
    /// Most notifications the history part delivers.
    pub limit: usize,
    /// The stream's last sequence when the request arrived: history ≤ it < live.
    pub boundary: u64,
    /// Set when the stream resumes after a `Last-Event-ID`.
    pub resume: Option<Resume>,
    /// Reconnection delay announced to `EventSource` clients (GET forms only: aviso clients
    /// expect no `retry:` line).
    pub retry: Option<Duration>,
}

/// Timings and CloudEvent settings shared by every stream.
#[derive(Clone)]
pub struct SessionSettings {
    pub metrics: Arc<Metrics>,
    /// Bytes of live notifications that may wait for one watcher before it is cut off.
    pub watcher_buffer: usize,
    pub heartbeat: Duration,
    pub max_duration: Duration,
    pub keep_alive: Duration,
    pub cloudevents: CloudEventSettings,
}

/// The client went away; nothing more can be written.
struct Gone;

struct Emitter {
    sender: mpsc::Sender<Bytes>,
    context: FrameContext,
    last_sent: Instant,
}

impl Emitter {
    async fn send(&mut self, frame: Frame) -> Result<(), Gone> {
        self.sender
            .send(frame.encode(&self.context))
            .await
            .map_err(|_| Gone)?;
        self.last_sent = Instant::now();
        Ok(())
    }
}

/// Starts the stream task and returns the response body fed by it.
/// The task holds `permit` (one of `sse.max_connections`) until the stream ends.
pub fn spawn(
    plan: Plan,
    store: Arc<Store>,
    settings: Arc<SessionSettings>,
    shutdown: CancellationToken,
    permit: OwnedSemaphorePermit,
) -> Body {
    let (sender, receiver) = mpsc::channel(FRAME_QUEUE);
    tokio::spawn(async move {
        let mut emitter = Emitter {
            sender,
            context: plan.context.clone(),
            last_sent: Instant::now(),
        };
        let open = settings
            .metrics
            .sse_open
            .with_label_values(&[plan.route, plan.schema.event_type.as_str()]);
        let guard = OpenStreamGuard::new(open);
        let _ = run(&plan, &store, &settings, &shutdown, &mut emitter).await;
        drop(guard);
        drop(permit);
    });
    // Frames already waiting are written as one chunk: fewer writes on a fast replay.
    let frames = tokio_stream::wrappers::ReceiverStream::new(receiver)
        .ready_chunks(FRAME_QUEUE)
        .map(|frames| {
            let bytes = if frames.len() == 1 {
                frames.into_iter().next().unwrap_or_default()
            } else {
                Bytes::from(frames.concat())
            };
            Ok::<_, std::convert::Infallible>(bytes)
        });
    Body::from_stream(frames)
}

fn admits(plan: &Plan, message: &SharedMessage) -> bool {
    let Ok(values) = message.subject.decode_values(plan.schema.key_order.len()) else {
        return false;
    };
    let polygon = plan.filter.spatial.as_ref().and_then(|_| message.polygon());
    plan.filter.matches(&values, polygon.as_ref())
}

async fn notification(
    plan: &Plan,
    settings: &SessionSettings,
    emitter: &mut Emitter,
    phase: Phase,
    message: &SharedMessage,
) -> Result<(), Gone> {
    let frame = match cloudevent::render_shared(&plan.schema, message, &settings.cloudevents) {
        Ok(cloudevent) => Frame::Notification {
            phase,
            id: cloudevent::event_id(&plan.schema, message.sequence.get()),
            cloudevent,
        },
        Err(error) => Frame::Error {
            error: "CloudEvent creation failed",
            message: error.to_string(),
        },
    };
    let delivered = matches!(frame, Frame::Notification { .. });
    emitter.send(frame).await?;
    if delivered {
        let labels = [plan.route, plan.schema.event_type.as_str()];
        settings.metrics.sse_frames.with_label_values(&labels).inc();
        if phase == Phase::Replay {
            settings
                .metrics
                .replay_delivered
                .with_label_values(&[plan.schema.event_type.as_str()])
                .inc();
        }
    }
    Ok(())
}

/// Reports a store failure to the client as aviso does: an `error` frame.
async fn report(emitter: &mut Emitter, error: &StoreError) -> Result<(), Gone> {
    emitter
        .send(Frame::Error {
            error: "stream_processing_failed",
            message: error.to_string(),
        })
        .await
}

/// Reports a failure that ends a live stream: `error` frame, then the closing frame.
async fn report_and_close(emitter: &mut Emitter, error: &StoreError) -> Result<(), Gone> {
    report(emitter, error).await?;
    emitter.send(Frame::Closing(CloseReason::EndOfStream)).await
}

/// How the history phase ended.
enum History {
    Completed,
    Closed(CloseReason),
}

async fn run(
    plan: &Plan,
    store: &Store,
    settings: &SessionSettings,
    shutdown: &CancellationToken,
    emitter: &mut Emitter,
) -> Result<(), Gone> {
    let watch = plan.kind == Kind::Watch;
    if let Some(retry) = plan.retry {
        emitter.send(Frame::Retry(retry)).await?;
    }
    let far_future = Instant::now() + Duration::from_secs(10 * 365 * 86_400);
    let deadline = if watch {
        Instant::now() + settings.max_duration
    } else {
        far_future
    };
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    if let Some(start) = plan.start {
        let (from_sequence, from_date) = match start {
            HistoryStart::Sequence(sequence) => (Some(sequence), None),
            HistoryStart::Time(time) => (None, Some(time)),
        };
        let (end_sequence, to_date) = match plan.end {
            Some(HistoryEnd::Sequence(sequence)) => (Some(sequence.min(plan.boundary)), None),
            Some(HistoryEnd::Time(time)) => (Some(plan.boundary), Some(time)),
            None => (None, None),
        };
        emitter
            .send(Frame::ReplayStarted {
                from_sequence,
                from_date,
                end_sequence,
                to_date,
                resume: plan.resume.clone(),
            })
            .await?;
        match history(
            plan,
            store,
            settings,
            shutdown,
            emitter,
            deadline,
            watch.then_some(&mut heartbeat),
        )
        .await?
        {
            History::Completed => emitter.send(Frame::ReplayCompleted).await?,
            History::Closed(reason) => return emitter.send(Frame::Closing(reason)).await,
        }
        if !watch {
            return emitter.send(Frame::Closing(CloseReason::EndOfStream)).await;
        }
    } else {
        emitter
            .send(Frame::ConnectionEstablished {
                closes_in_seconds: settings.max_duration.as_secs(),
            })
            .await?;
    }
    live(
        plan,
        store,
        settings,
        shutdown,
        emitter,
        deadline,
        &mut heartbeat,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn history(
    plan: &Plan,
    store: &Store,
    settings: &SessionSettings,
    shutdown: &CancellationToken,
    emitter: &mut Emitter,
    deadline: Instant,
    mut heartbeat: Option<&mut tokio::time::Interval>,
) -> Result<History, Gone> {
    let start = match plan.start {
        Some(HistoryStart::Sequence(0)) | None => Start::Beginning,
        Some(HistoryStart::Sequence(sequence)) => {
            Sequence::new(sequence).map_or(Start::Beginning, Start::Sequence)
        }
        Some(HistoryStart::Time(time)) => Start::Time(time),
    };
    let (last_sequence, until) = match plan.end {
        Some(HistoryEnd::Sequence(sequence)) => (sequence.min(plan.boundary), None),
        Some(HistoryEnd::Time(time)) => (plan.boundary, Some(time)),
        None => (plan.boundary, None),
    };
    let request = ReadRequest {
        filter: plan.nats_filter.clone(),
        start,
        last_sequence,
        until,
        limit: None,
    };
    let mut read = match store.read(&plan.schema.stream, request).await {
        Ok(read) => read,
        Err(error) => {
            report(emitter, &error).await?;
            return Ok(History::Completed);
        }
    };
    let mut delivered = 0;
    let keep_alive_enabled = heartbeat.is_none();
    loop {
        let keep_alive_at = emitter.last_sent + settings.keep_alive;
        let heartbeat_tick = async {
            match heartbeat.as_mut() {
                Some(interval) => {
                    interval.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(History::Closed(CloseReason::ServerShutdown)),
            () = sleep_until(deadline) => return Ok(History::Closed(CloseReason::MaxDurationReached)),
            () = emitter.sender.closed() => return Err(Gone),
            () = heartbeat_tick => emitter.send(Frame::Heartbeat).await?,
            () = sleep_until(keep_alive_at), if keep_alive_enabled => emitter.send(Frame::KeepAlive).await?,
            item = read.next() => match item {
                None => return Ok(History::Completed),
                Some(Err(error)) => {
                    report(emitter, &error).await?;
                    return Ok(History::Completed);
                }
                Some(Ok(message)) if admits(plan, &message) => {
                    if delivered == plan.limit {
                        emitter.send(Frame::LimitReached { max_allowed: plan.limit }).await?;
                        return Ok(History::Completed);
                    }
                    notification(plan, settings, emitter, Phase::Replay, &message).await?;
                    delivered += 1;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn live(
    plan: &Plan,
    store: &Store,
    settings: &SessionSettings,
    shutdown: &CancellationToken,
    emitter: &mut Emitter,
    deadline: Instant,
    heartbeat: &mut tokio::time::Interval,
) -> Result<(), Gone> {
    let mut retractions = store.retractions();
    let stream_name = plan.schema.stream.stream_name();
    let mut subscription = match store
        .subscribe(
            &plan.schema.stream,
            plan.nats_filter.clone(),
            plan.boundary,
            settings.watcher_buffer,
        )
        .await
    {
        Ok(subscription) => subscription,
        Err(error) => {
            return report_and_close(emitter, &error).await;
        }
    };
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return emitter.send(Frame::Closing(CloseReason::ServerShutdown)).await,
            () = sleep_until(deadline) => return emitter.send(Frame::Closing(CloseReason::MaxDurationReached)).await,
            () = emitter.sender.closed() => return Err(Gone),
            _ = heartbeat.tick() => emitter.send(Frame::Heartbeat).await?,
            retraction = retractions.recv() => {
                if let Ok(retraction) = retraction
                    && retraction.stream() == stream_name
                {
                    let frame = match retraction {
                        Retraction::Deleted { sequence, request_id, .. } => Frame::Deleted {
                            id: cloudevent::event_id(&plan.schema, sequence),
                            request_id,
                        },
                        Retraction::Wiped { stream, count, request_id } => Frame::Wiped { stream, count, request_id },
                    };
                    emitter.send(frame).await?;
                }
            }
            item = subscription.next() => match item {
                Some(Ok(message)) => {
                    if admits(plan, &message) {
                        notification(plan, settings, emitter, Phase::Live, &message).await?;
                    }
                }
                Some(Err(StoreError::SubscriberOverflow { last_sequence })) => {
                    settings
                        .metrics
                        .sse_cut_off
                        .with_label_values(&[plan.schema.event_type.as_str()])
                        .inc();
                    let last = cloudevent::event_id(&plan.schema, last_sequence);
                    emitter
                        .send(Frame::Error {
                            error: "slow_consumer",
                            message: format!(
                                "the client fell behind and was disconnected; last id sent: {last}; resume with from_id {}",
                                last_sequence + 1
                            ),
                        })
                        .await?;
                    return emitter.send(Frame::Closing(CloseReason::EndOfStream)).await;
                }
                Some(Err(error)) => return report_and_close(emitter, &error).await,
                None => return emitter.send(Frame::Closing(CloseReason::EndOfStream)).await,
            },
        }
    }
}
