//! The history part of a stream: notifications up to the boundary captured before the
//! response started, delivered at the pace of the client (back-pressure, never a cut-off).
//!
//! Frames are gathered into chunks of up to [`CHUNK_BYTES`] from what the store already
//! has at hand, so that a fast replay costs one channel send, one wake of the response body
//! and one socket write per chunk rather than per notification (these wake-ups and the
//! timers of a `select!` per frame were a tenth of a replay's profile). A chunk never waits
//! for the store: it is sent as soon as the next message is not ready.

use futures::{FutureExt, StreamExt};
use tokio::time::sleep_until;

use super::emitter::{Emitter, Stop};
use super::frame::{Frame, Phase};
use super::session::{FrameCounters, Plan, SessionSettings, admits, failure, notification};
use crate::domain::{End, Start};
use crate::store::{ReadRequest, SharedMessage, Store, StoreError};

/// Frames of history gathered into one write at most (a chunk may pass it by one frame).
/// Far below any watcher's byte budget (`sse.watcher_buffer_bytes`), which a chunk counts
/// against like any frame.
pub(super) const CHUNK_BYTES: usize = 32 * 1024;

/// What ended the gathering of a chunk.
enum Gathered {
    /// The chunk is full, or the store has nothing more at hand yet: read on.
    ReadOn,
    /// History is complete.
    Complete,
    /// The replay limit is reached: one more notification was there.
    LimitReached,
    /// The store failed.
    Failed(StoreError),
}

/// Delivers history up to the last deliverable sequence, waiting for a slow client;
/// `heartbeat` (watch only) keeps ticking while history is read.
pub(super) async fn deliver(
    plan: &Plan,
    store: &Store,
    settings: &SessionSettings,
    emitter: &mut Emitter,
    mut heartbeat: Option<&mut tokio::time::Interval>,
) -> Result<(), Stop> {
    let start = plan.start.unwrap_or(Start::Beginning);
    let until = match plan.end {
        Some(End::Time(time)) => Some(time),
        _ => None,
    };
    let request = ReadRequest {
        filter: plan.nats_filter.clone(),
        start,
        last_sequence: plan.last_deliverable,
        until,
        limit: None,
    };
    let mut read = match store.read(&plan.schema.stream, request).await {
        Ok(read) => read,
        Err(error) => return emitter.send(failure(&error)).await,
    };
    let mut chunk = Chunk {
        plan,
        settings,
        counters: FrameCounters::new(plan, settings),
        delivered: 0,
        bytes: Vec::new(),
    };
    let keep_alive_enabled = heartbeat.is_none();
    let sender = emitter.sender.clone();
    let deadline = sleep_until(emitter.limits().deadline);
    tokio::pin!(deadline);
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
        let first = tokio::select! {
            biased;
            () = emitter.limits().shutdown.cancelled() => return Err(Stop::Shutdown),
            () = &mut deadline => return Err(Stop::Deadline),
            () = sender.closed() => return Err(Stop::Gone),
            () = heartbeat_tick => {
                emitter.send(Frame::Heartbeat).await?;
                continue;
            }
            () = sleep_until(keep_alive_at), if keep_alive_enabled => {
                emitter.send(Frame::KeepAlive).await?;
                continue;
            }
            item = read.next() => item,
        };
        let gathered = chunk.gather(first, &mut read, emitter);
        if !chunk.bytes.is_empty() {
            let mut bytes = std::mem::take(&mut chunk.bytes);
            if bytes.capacity() > 2 * bytes.len() {
                // A short chunk: what waits for the client holds no more than twice its size.
                bytes.shrink_to_fit();
            }
            emitter.send_encoded(bytes.into()).await?;
        }
        match gathered {
            Gathered::ReadOn => {}
            Gathered::Complete => return Ok(()),
            Gathered::LimitReached => {
                let max_allowed = plan.limit;
                return emitter.send(Frame::LimitReached { max_allowed }).await;
            }
            Gathered::Failed(error) => return emitter.send(failure(&error)).await,
        }
    }
}

/// The frames of history not yet sent, and what the stream delivered so far.
struct Chunk<'a> {
    plan: &'a Plan,
    settings: &'a SessionSettings,
    counters: FrameCounters,
    delivered: usize,
    bytes: Vec<u8>,
}

impl Chunk<'_> {
    /// Adds `first` and whatever else the read has ready, up to [`CHUNK_BYTES`].
    fn gather<S>(
        &mut self,
        first: Option<Result<SharedMessage, StoreError>>,
        read: &mut S,
        emitter: &Emitter,
    ) -> Gathered
    where
        S: futures::Stream<Item = Result<SharedMessage, StoreError>> + Unpin,
    {
        let mut item = first;
        loop {
            match item {
                None => return Gathered::Complete,
                Some(Err(error)) => return Gathered::Failed(error),
                Some(Ok(message)) if admits(self.plan, &message) => {
                    if self.delivered == self.plan.limit {
                        return Gathered::LimitReached;
                    }
                    self.delivered += 1;
                    let frame = notification(
                        self.plan,
                        self.settings,
                        &self.counters,
                        Phase::Replay,
                        &message,
                    );
                    if !self.bytes.is_empty() && self.bytes.capacity() < CHUNK_BYTES {
                        // A second frame: room for a full chunk at once, not by doubling.
                        self.bytes.reserve(CHUNK_BYTES + 1024);
                    }
                    frame.encode_into(emitter.context(), &mut self.bytes);
                }
                Some(Ok(_)) => {}
            }
            if self.bytes.len() >= CHUNK_BYTES {
                return Gathered::ReadOn;
            }
            // Polled without a waker of its own: when nothing is ready, the chunk goes and
            // the next `select!` polls the read again with the task's waker.
            match read.next().now_or_never() {
                Some(next) => item = next,
                None => return Gathered::ReadOn,
            }
        }
    }
}
