//! One SSE stream, run as a task that writes frames into a small bounded channel (the
//! response body reads from it): opening frame, history up to the boundary captured before
//! the response started, then (watch) live notifications above it, heartbeats, and a
//! closing frame on natural end, maximum duration or shutdown.
//!
//! Memory per stream is bounded by the watcher's byte budget (`sse.watcher_buffer_bytes`):
//! see [`super::emitter`] for how history waits for a slow client while live delivery cuts
//! off a client that falls behind or stops reading, and the store subscription's own
//! bounded queue, which the session empties as fast as messages arrive.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::emitter::{
    BEHIND_CLOSE_GRACE, CLOSE_GRACE, Emitter, FRAME_QUEUE, Limits, Outbox, Stop, client_gone,
};
use super::frame::{self, CloseReason, Frame, Phase};
use super::history;
use crate::cloudevent;
use crate::domain::{End, EventId, Sequence, Start};
use crate::metrics::OpenStreamGuard;
use crate::serve::ConnectionControl;
use crate::store::{Retraction, SharedMessage, Store, StoreError};

pub use super::plan::{Kind, Plan, SessionSettings};

/// Starts the stream task and returns the response body fed by it.
/// The task holds `permit` (one of `sse.max_connections`) until the stream ends.
pub fn spawn(
    plan: Plan,
    store: Arc<Store>,
    settings: Arc<SessionSettings>,
    shutdown: CancellationToken,
    permit: OwnedSemaphorePermit,
    connection: Option<ConnectionControl>,
) -> Body {
    let (sender, receiver) = mpsc::channel(FRAME_QUEUE);
    let outbox = Arc::new(Outbox::default());
    let deadline = match plan.kind {
        Kind::Watch => Instant::now() + settings.max_duration,
        // Replays end when history does; a client that stops reading one is cut by the
        // connection's idle timeout.
        Kind::Replay => Instant::now() + Duration::from_secs(10 * 365 * 86_400),
    };
    let limits = Limits {
        budget: settings.watcher_buffer,
        deadline,
        shutdown,
        connection,
    };
    let mut emitter = Emitter::new(sender, outbox.clone(), plan.context.clone(), limits);
    tokio::spawn(async move {
        let open = settings
            .metrics
            .sse_open
            .with_label_values(&[plan.route, plan.schema.event_type.as_str()]);
        let guard = OpenStreamGuard::new(open);
        let ran = run(&plan, &store, &settings, &mut emitter).await;
        finish(emitter, ran, permit).await;
        drop(guard);
    });
    response_body(receiver, outbox)
}

/// The response body a session's task feeds through `receiver`; `outbox` learns what the
/// body took.
pub(super) fn response_body(receiver: mpsc::Receiver<Bytes>, outbox: Arc<Outbox>) -> Body {
    // Frames already waiting are written as one chunk: fewer writes on a fast replay.
    let frames = tokio_stream::wrappers::ReceiverStream::new(receiver)
        .ready_chunks(FRAME_QUEUE)
        .map(move |frames| {
            let bytes = if frames.len() == 1 {
                frames.into_iter().next().unwrap_or_default()
            } else {
                Bytes::from(frames.concat())
            };
            outbox.took(bytes.len());
            Ok::<_, std::convert::Infallible>(bytes)
        });
    Body::from_stream(frames)
}

pub(super) fn admits(plan: &Plan, message: &SharedMessage) -> bool {
    plan.filter.admits(&message.subject, || message.polygon())
}

/// Ends a stream as `ran` says: its last frames (a closing frame naming why it stopped), no
/// frame for a client already gone; the connection permit goes first, so a slow client's
/// close grace holds no place of `sse.max_connections`.
pub(super) async fn finish(
    emitter: Emitter,
    ran: Result<Ending, Stop>,
    permit: OwnedSemaphorePermit,
) {
    let closing = |reason| Some(Ending::close(vec![Frame::Closing(reason)]));
    let ending = match ran {
        Ok(ending) => Some(ending),
        Err(Stop::Gone) => None,
        Err(Stop::Deadline) => closing(CloseReason::MaxDurationReached),
        Err(Stop::Shutdown) => closing(CloseReason::ServerShutdown),
        Err(Stop::Behind) => closing(CloseReason::EndOfStream),
    };
    drop(permit);
    if let Some(Ending { frames, grace }) = ending {
        emitter.close(frames, grace).await;
    }
}

/// The counters a notification frame moves, looked up once per phase: a lookup hashes
/// the labels under a lock, which per frame was a visible part of a replay's cost.
pub(super) struct FrameCounters {
    frames: prometheus::IntCounter,
    replayed: prometheus::IntCounter,
}

impl FrameCounters {
    pub(super) fn new(plan: &Plan, settings: &SessionSettings) -> Self {
        let event_type = plan.schema.event_type.as_str();
        let metrics = &settings.metrics;
        FrameCounters {
            frames: metrics
                .sse_frames
                .with_label_values(&[plan.route, event_type]),
            replayed: metrics.replay_delivered.with_label_values(&[event_type]),
        }
    }
}

/// The frame of one notification (an `error` frame if it cannot be rendered), counted.
pub(super) fn notification(
    plan: &Plan,
    settings: &SessionSettings,
    counters: &FrameCounters,
    phase: Phase,
    message: &SharedMessage,
) -> Frame {
    match cloudevent::render_shared(&plan.schema, message, &settings.cloudevents) {
        Ok(cloudevent) => {
            counters.frames.inc();
            if phase == Phase::Replay {
                counters.replayed.inc();
            }
            Frame::Notification {
                phase,
                id: cloudevent::event_id(&plan.schema, message.sequence),
                cloudevent,
            }
        }
        Err(error) => render_failure(&error),
    }
}

/// The `error` frame sent in place of a notification whose CloudEvent cannot be rendered.
fn render_failure(error: &cloudevent::RenderError) -> Frame {
    Frame::Error {
        error: "CloudEvent creation failed",
        message: error.to_string(),
    }
}

/// A live notification's frame, encoded by its first watcher and shared by the rest (a
/// stream has one event type, so one frame fits all), counted. A message not rendered yet
/// keeps its CloudEvent as a slice of the frame: one buffer on the message, not two (the
/// memory store keeps its messages).
fn live_frame(
    plan: &Plan,
    settings: &SessionSettings,
    counters: &FrameCounters,
    message: &SharedMessage,
) -> Frame {
    if let Some(frame) = message.live_frame.get() {
        counters.frames.inc();
        return Frame::Encoded(frame.clone());
    }
    let cloudevent = match message.rendition.get() {
        Some(rendered) => rendered.clone(),
        None => match cloudevent::render_fast(&plan.schema, message, &settings.cloudevents) {
            Ok(rendered) => rendered,
            Err(error) => return render_failure(&error),
        },
    };
    counters.frames.inc();
    let id = EventId::new(plan.schema.event_type.as_str(), message.sequence);
    let (encoded, within) = frame::live_notification(id, &cloudevent);
    let _ = message.rendition.set(within);
    Frame::Encoded(message.live_frame.get_or_init(|| encoded).clone())
}

/// A store failure as aviso reports it: an `error` frame.
pub(super) fn failure(error: &StoreError) -> Frame {
    Frame::Error {
        error: "stream_processing_failed",
        message: error.to_string(),
    }
}

/// The last frames of a stream, and how long the client gets to take them.
pub(super) struct Ending {
    pub(super) frames: Vec<Frame>,
    pub(super) grace: Duration,
}

impl Ending {
    pub(super) fn close(frames: Vec<Frame>) -> Self {
        Self {
            frames,
            grace: CLOSE_GRACE,
        }
    }
}

/// The frames that end a live stream after a failure.
pub(super) fn failure_and_close(error: &StoreError) -> Ending {
    Ending::close(vec![
        failure(error),
        Frame::Closing(CloseReason::EndOfStream),
    ])
}

/// Runs the stream; answers the frames that end it.
async fn run(
    plan: &Plan,
    store: &Store,
    settings: &SessionSettings,
    emitter: &mut Emitter,
) -> Result<Ending, Stop> {
    let watch = plan.kind == Kind::Watch;
    if let Some(retry) = plan.retry {
        emitter.send(Frame::Retry(retry)).await?;
    }
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    if let Some(start) = plan.start {
        let (from_sequence, from_date) = match start {
            Start::Beginning => (Some(0), None),
            Start::Sequence(sequence) => (Some(sequence.get()), None),
            Start::Time(time) => (None, Some(time)),
        };
        let to_date = match plan.end {
            Some(End::Time(time)) => Some(time),
            _ => None,
        };
        emitter
            .send(Frame::ReplayStarted {
                from_sequence,
                from_date,
                end_sequence: plan.end.map(|_| plan.last_deliverable),
                to_date,
                resume: plan.resume.clone(),
            })
            .await?;
        let heartbeat = watch.then_some(&mut heartbeat);
        // Boxed: a replay's reading state would otherwise stay in every watcher's task for
        // its whole life, live and idle included.
        Box::pin(history::deliver(plan, store, settings, emitter, heartbeat)).await?;
        emitter.send(Frame::ReplayCompleted).await?;
        if !watch {
            return Ok(Ending::close(vec![Frame::Closing(
                CloseReason::EndOfStream,
            )]));
        }
    } else {
        emitter
            .send(Frame::ConnectionEstablished {
                closes_in_seconds: settings.max_duration.as_secs(),
            })
            .await?;
    }
    live(plan, store, settings, emitter, &mut heartbeat).await
}

/// Delivers live notifications above the boundary without ever waiting for the client: a
/// client over its byte budget is cut off with the last id it was sent.
async fn live(
    plan: &Plan,
    store: &Store,
    settings: &SessionSettings,
    emitter: &mut Emitter,
    heartbeat: &mut tokio::time::Interval,
) -> Result<Ending, Stop> {
    let mut retractions = store.retractions();
    // Boxed: the subscribing future is large and would stay part of the task's size (every
    // idle watcher's) long after it finished.
    let subscribing = Box::pin(store.subscribe(
        &plan.schema.stream,
        plan.nats_filter.clone(),
        plan.boundary,
        settings.watcher_buffer,
    ));
    let mut subscription = match subscribing.await {
        Ok(subscription) => subscription,
        Err(error) => return Ok(failure_and_close(&error)),
    };
    let gone = client_gone(emitter.sender.clone(), emitter.limits().connection.clone());
    tokio::pin!(gone);
    let counters = FrameCounters::new(plan, settings);
    let shutdown = emitter.limits().shutdown.clone();
    // One timer for the whole live phase: a new one per frame went in and out of the timer
    // wheel for every notification of every watcher.
    let deadline = sleep_until(emitter.limits().deadline);
    tokio::pin!(deadline);
    loop {
        let queued = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            () = &mut deadline => return Err(Stop::Deadline),
            () = &mut gone => return Err(Stop::Gone),
            drained = emitter.drain_one(), if emitter.has_backlog() => drained,
            _ = heartbeat.tick() => emitter.queue(Frame::Heartbeat, None),
            retraction = retractions.recv() => match retraction {
                Ok(retraction) if retraction.concerns(&plan.schema.stream) => {
                    emitter.queue(retraction_frame(plan, retraction), None)
                }
                _ => Ok(()),
            },
            item = subscription.next() => match item {
                Some(Ok(message)) if admits(plan, &message) => {
                    let sequence = Some(message.sequence);
                    emitter.queue(live_frame(plan, settings, &counters, &message), sequence)
                }
                Some(Ok(_)) => Ok(()),
                Some(Err(StoreError::SubscriberOverflow { .. })) => {
                    return Ok(cut_off(plan, settings, emitter));
                }
                Some(Err(error)) => return Ok(failure_and_close(&error)),
                None => return Ok(Ending::close(vec![Frame::Closing(CloseReason::EndOfStream)])),
            },
        };
        match queued {
            Ok(()) => {}
            Err(Stop::Behind) => return Ok(cut_off(plan, settings, emitter)),
            Err(stop) => return Err(stop),
        }
    }
}

fn retraction_frame(plan: &Plan, retraction: Retraction) -> Frame {
    match retraction {
        Retraction::Deleted {
            sequence,
            request_id,
            ..
        } => Frame::Deleted {
            id: cloudevent::event_id(&plan.schema, sequence),
            request_id,
        },
        Retraction::Wiped {
            stream,
            count,
            request_id,
        } => Frame::Wiped {
            stream,
            count,
            request_id,
        },
    }
}

/// Ends a watcher that fell behind: the frames it has not taken are dropped, and it is told
/// the last id it was sent and how to resume.
fn cut_off(plan: &Plan, settings: &SessionSettings, emitter: &mut Emitter) -> Ending {
    emitter.drop_backlog();
    let last_sequence = emitter.last_handed().map_or(plan.boundary, Sequence::get);
    settings
        .metrics
        .sse_cut_off
        .with_label_values(&[plan.schema.event_type.as_str()])
        .inc();
    let last = Sequence::new(last_sequence).map_or_else(
        || "none".to_owned(),
        |sequence| cloudevent::event_id(&plan.schema, sequence),
    );
    let frames = vec![
        Frame::Error {
            error: "slow_consumer",
            message: format!(
                "the client fell behind and was disconnected; last id sent: {last}; resume with from_id {}",
                last_sequence + 1
            ),
        },
        Frame::Closing(CloseReason::EndOfStream),
    ];
    Ending {
        frames,
        grace: BEHIND_CLOSE_GRACE,
    }
}
