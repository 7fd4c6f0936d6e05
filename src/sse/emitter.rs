//! The writing end of one SSE response, and the memory bound of a stream.
//!
//! Frames go through a channel of [`FRAME_QUEUE`] frames to the response body.
//! - History frames wait for room ([`Emitter::send`], also while more than the byte budget
//!   sits in the channel): a slow replay client slows the read, it is not cut off; the wait
//!   still ends on the deadline, shutdown or a gone client.
//! - Live frames never wait ([`Emitter::queue`]): what the channel has no room for waits in
//!   a backlog, and a client whose backlog passes the watcher's byte budget
//!   (`sse.watcher_buffer_bytes`), because it reads too slowly or not at all, is cut off
//!   ([`Stop::Behind`]). Per watcher that is at most the budget plus [`FRAME_QUEUE`] frames;
//!   a cut-off drops the backlog at once and tells the client the last id it was handed.
//!
//! A client that has not taken its closing frame within [`CLOSE_GRACE`] (a client cut off
//! for falling behind: [`BEHIND_CLOSE_GRACE`]) has its connection cut, so a silent client
//! never holds memory or its connection long past the session; its slot is freed at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::frame::{Frame, FrameContext};
use crate::domain::Sequence;
use crate::serve::ConnectionControl;

/// Frames that may sit in the channel to the response body, whatever their size.
pub(crate) const FRAME_QUEUE: usize = 32;

/// How long a closing client gets to take its last frames before its connection is cut.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The same for a client cut off for falling behind: it may still be reading the frames
/// already on their way (at most [`FRAME_QUEUE`]), and its last frame says where to resume.
pub(crate) const BEHIND_CLOSE_GRACE: Duration = Duration::from_secs(15);

/// How often a closing session looks whether a full socket has drained.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// Why frames can no longer be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The client went away.
    Gone,
    /// `sse.max_duration` passed while waiting for the client.
    Deadline,
    /// The server is shutting down.
    Shutdown,
    /// More than the byte budget waits for the client.
    Behind,
}

/// Bytes handed to the response body and not yet taken by it; shared with the body.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queued: AtomicUsize,
    taken: Notify,
}

impl Outbox {
    /// The body took `bytes` (they are on their way to the socket).
    pub(crate) fn took(&self, bytes: usize) {
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                Some(queued.saturating_sub(bytes))
            });
        self.taken.notify_one();
    }

    fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// When waiting for the client must end, whatever it does.
pub(crate) struct Limits {
    pub budget: usize,
    pub deadline: Instant,
    pub shutdown: CancellationToken,
    /// The connection, to cut when the client stops taking frames (absent in-process).
    pub connection: Option<ConnectionControl>,
}

/// Resolves once the client is gone: its response body was dropped (the connection ended),
/// or it hung up while the stream had nothing to send (hyper does not read mid-response:
/// see `serve`). Made once per live phase, not per frame.
pub(crate) async fn client_gone(
    sender: mpsc::Sender<Bytes>,
    connection: Option<ConnectionControl>,
) {
    let hung_up = async {
        match &connection {
            Some(connection) => connection.hung_up().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = sender.closed() => {}
        () = hung_up => {}
    }
}

/// A live frame waiting for room, not yet encoded: a notification frame shares its
/// CloudEvent with every other watcher until it is written, so a backlog of many watchers
/// does not copy the same notification per watcher.
struct Pending {
    frame: Frame,
    /// About the encoded length: what counts against the budget.
    size: usize,
    sequence: Option<Sequence>,
}

impl Pending {
    fn new(frame: Frame, sequence: Option<Sequence>) -> Self {
        let size = match &frame {
            Frame::Notification { id, cloudevent, .. } => cloudevent.len() + id.len() + 48,
            Frame::Encoded(bytes) => bytes.len(),
            _ => 256,
        };
        Self {
            frame,
            size,
            sequence,
        }
    }
}

/// An encoded frame, with the sequence of the notification it carries (if it carries one).
struct Encoded {
    bytes: Bytes,
    sequence: Option<Sequence>,
}

pub(crate) struct Emitter {
    pub(crate) sender: mpsc::Sender<Bytes>,
    outbox: Arc<Outbox>,
    /// Live frames the channel had no room for yet, oldest first.
    backlog: VecDeque<Pending>,
    backlog_bytes: usize,
    /// The last notification handed to the connection: what a cut-off client was sent.
    last_handed: Option<Sequence>,
    context: FrameContext,
    limits: Limits,
    pub(crate) last_sent: Instant,
}

impl Emitter {
    pub(crate) fn new(
        sender: mpsc::Sender<Bytes>,
        outbox: Arc<Outbox>,
        context: FrameContext,
        limits: Limits,
    ) -> Self {
        Self {
            sender,
            outbox,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            last_handed: None,
            context,
            limits,
            last_sent: Instant::now(),
        }
    }

    /// What the stream's control frames carry.
    pub(crate) fn context(&self) -> &FrameContext {
        &self.context
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes waiting for the client in this session.
    pub(crate) fn waiting(&self) -> usize {
        self.outbox.queued() + self.backlog_bytes
    }

    pub(crate) fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// The last notification handed to the connection, if any.
    pub(crate) fn last_handed(&self) -> Option<Sequence> {
        self.last_handed
    }

    fn handed(&mut self, frame: &Encoded) {
        self.outbox
            .queued
            .fetch_add(frame.bytes.len(), Ordering::AcqRel);
        self.last_handed = frame.sequence.or(self.last_handed);
        self.last_sent = Instant::now();
    }

    fn hand_over(&mut self, permit: mpsc::Permit<'_, Bytes>, frame: Encoded) {
        self.handed(&frame);
        permit.send(frame.bytes);
    }

    /// Hands a frame to the channel if it has room now; gives it back if it has not.
    fn try_hand_over(&mut self, frame: Encoded) -> Result<Option<Encoded>, Stop> {
        match self.sender.try_reserve() {
            Ok(permit) => {
                // Field by field: `permit` borrows the sender.
                let length = frame.bytes.len();
                self.outbox.queued.fetch_add(length, Ordering::AcqRel);
                self.last_handed = frame.sequence.or(self.last_handed);
                self.last_sent = Instant::now();
                permit.send(frame.bytes);
                Ok(None)
            }
            Err(mpsc::error::TrySendError::Closed(())) => Err(Stop::Gone),
            Err(mpsc::error::TrySendError::Full(())) => Ok(Some(frame)),
        }
    }

    /// Sends a frame, waiting while the budget is used up (history: back-pressure).
    pub(crate) async fn send(&mut self, frame: Frame) -> Result<(), Stop> {
        let bytes = frame.encode(&self.context);
        self.send_encoded(bytes).await
    }

    /// Sends frames already encoded (one frame, or a chunk of them), as [`Emitter::send`].
    pub(crate) async fn send_encoded(&mut self, bytes: Bytes) -> Result<(), Stop> {
        while self.outbox.queued() > 0 && self.outbox.queued() + bytes.len() > self.limits.budget {
            let outbox = self.outbox.clone();
            self.wait_for(outbox.taken.notified()).await?;
        }
        let sender = self.sender.clone();
        let permit = self
            .wait_for(sender.reserve())
            .await?
            .map_err(|_| Stop::Gone)?;
        let sequence = None;
        self.hand_over(permit, Encoded { bytes, sequence });
        Ok(())
    }

    async fn wait_for<T>(&self, ready: impl Future<Output = T>) -> Result<T, Stop> {
        tokio::select! {
            biased;
            () = self.limits.shutdown.cancelled() => Err(Stop::Shutdown),
            () = sleep_until(self.limits.deadline) => Err(Stop::Deadline),
            () = self.sender.closed() => Err(Stop::Gone),
            value = ready => Ok(value),
        }
    }

    /// Queues a frame without waiting (live), with the sequence of the notification it
    /// carries; fails when the client is over its budget.
    pub(crate) fn queue(&mut self, frame: Frame, sequence: Option<Sequence>) -> Result<(), Stop> {
        if self.backlog.is_empty() && self.sender.capacity() > 0 {
            let encoded = Encoded {
                bytes: frame.encode(&self.context),
                sequence,
            };
            if self.try_hand_over(encoded)?.is_none() {
                return Ok(());
            }
        }
        self.push_backlog(Pending::new(frame, sequence));
        self.check_budget()
    }

    fn push_backlog(&mut self, pending: Pending) {
        self.backlog_bytes += pending.size;
        self.backlog.push_back(pending);
    }

    /// Forgets the frames the connection has not taken (a cut-off client resumes after
    /// [`Emitter::last_handed`] instead), so they are not held while it closes.
    pub(crate) fn drop_backlog(&mut self) {
        self.backlog.clear();
        self.backlog_bytes = 0;
    }

    fn check_budget(&self) -> Result<(), Stop> {
        if self.backlog_bytes > self.limits.budget {
            Err(Stop::Behind)
        } else {
            Ok(())
        }
    }

    /// Moves the oldest backlog frame into the channel once it has room (a `select!` arm
    /// of the live loop).
    pub(crate) async fn drain_one(&mut self) -> Result<(), Stop> {
        let sender = self.sender.clone();
        let permit = sender.reserve().await.map_err(|_| Stop::Gone)?;
        if let Some(pending) = self.backlog.pop_front() {
            self.backlog_bytes -= pending.size;
            let encoded = Encoded {
                bytes: pending.frame.encode(&self.context),
                sequence: pending.sequence,
            };
            self.hand_over(permit, encoded);
        }
        Ok(())
    }

    /// Sends the last frames and gives the client `grace` to take them, down to a socket
    /// that is not full; a client that does not is cut off, so that its connection and
    /// buffers go now.
    pub(crate) async fn close(mut self, last: Vec<Frame>, grace: Duration) {
        for frame in last {
            self.push_backlog(Pending::new(frame, None));
        }
        let grace = Instant::now() + grace;
        let (sender, outbox) = (self.sender.clone(), self.outbox.clone());
        loop {
            let delivered = self.backlog.is_empty()
                && outbox.queued() == 0
                && !self
                    .limits
                    .connection
                    .as_ref()
                    .is_some_and(ConnectionControl::is_write_stalled);
            if delivered {
                return;
            }
            let backlog = !self.backlog.is_empty();
            tokio::select! {
                biased;
                () = sender.closed() => return,
                () = sleep_until(grace) => break,
                drained = self.drain_one(), if backlog => {
                    if drained.is_err() {
                        return;
                    }
                }
                // Taken frames wake this at once; a full socket is looked at again soon.
                () = outbox.taken.notified(), if !backlog => {}
                () = tokio::time::sleep(STALL_CHECK), if !backlog => {}
            }
        }
        if let Some(connection) = &self.limits.connection {
            tracing::debug!(
                waiting = self.waiting(),
                "client took no frames; connection cut"
            );
            connection.cut();
        }
    }
}
