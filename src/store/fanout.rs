//! In-process fan-out of one stream's live messages to many subscribers, and the
//! hand-over that makes a subscription start exactly after a given sequence.
//!
//! Each subscriber has a bounded queue, measured in bytes of queued messages (and at most
//! [`MAX_QUEUED_MESSAGES`] of them). A subscriber over its budget is cut off rather than
//! allowed to grow memory or slow the others; its stream then ends with
//! [`StoreError::SubscriberOverflow`] naming the last sequence it was given.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::mpsc;

use super::error::{Outage, StoreError};
use super::types::{ReadRequest, SharedMessage, Start, sequence_after};
use crate::subject::nats_filter_matches;

/// Default per-subscriber queue budget: bytes of messages waiting to be taken.
pub const DEFAULT_SUBSCRIBER_BUDGET: usize = 4 * 1024 * 1024;
/// Upper bound on queued messages per subscriber, whatever their size.
pub const MAX_QUEUED_MESSAGES: usize = 16 * 1024;

/// How a subscriber's queue ended, read by its receiving side.
#[derive(Debug, Default)]
pub(crate) struct SubscriberState {
    overflowed: AtomicBool,
    failure: Mutex<Option<StoreError>>,
    /// Bytes dispatched but not yet taken by the receiving side.
    queued_bytes: AtomicUsize,
}

impl SubscriberState {
    fn fail(&self, error: StoreError) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(error);
        }
    }

    fn taken(&self, message: &SharedMessage) {
        let size = message.size();
        let _ = self
            .queued_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |queued| {
                Some(queued.saturating_sub(size))
            });
    }

    fn failure(&self) -> Option<StoreError> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }
}

struct Subscriber {
    filter: String,
    sender: mpsc::Sender<SharedMessage>,
    state: Arc<SubscriberState>,
    budget: usize,
}

/// The subscribers of one stream and the last sequence dispatched to them.
pub(crate) struct FanOut {
    subscribers: Vec<Subscriber>,
    last_dispatched: u64,
}

/// The receiving half of an attachment, plus the sequence the attachment starts after.
pub(crate) struct Attachment {
    pub(crate) last_dispatched: u64,
    pub(crate) receiver: mpsc::Receiver<SharedMessage>,
    pub(crate) state: Arc<SubscriberState>,
}

impl Attachment {
    /// The read of what was dispatched before this attachment and after `after`: sequences
    /// `(after, last_dispatched]` matching `filter`, or `None` when there are none.
    pub(crate) fn catch_up(&self, filter: String, after: u64) -> Option<ReadRequest> {
        (self.last_dispatched > after).then(|| ReadRequest {
            filter,
            start: Start::Sequence(sequence_after(after)),
            last_sequence: self.last_dispatched,
            until: None,
            limit: None,
        })
    }
}

impl FanOut {
    /// A fan-out whose source continues after `last_dispatched`.
    pub(crate) fn new(last_dispatched: u64) -> Self {
        Self {
            subscribers: Vec::new(),
            last_dispatched,
        }
    }

    /// Adds a subscriber; it will get every later dispatched message matching `filter`,
    /// as long as no more than `budget` bytes wait for it.
    pub(crate) fn attach(&mut self, filter: String, budget: usize) -> Attachment {
        let (sender, receiver) = mpsc::channel(MAX_QUEUED_MESSAGES);
        let state = Arc::new(SubscriberState::default());
        self.subscribers.push(Subscriber {
            filter,
            sender,
            state: state.clone(),
            budget: budget.max(1),
        });
        Attachment {
            last_dispatched: self.last_dispatched,
            receiver,
            state,
        }
    }

    /// Hands a message to every matching subscriber; drops those gone or full.
    pub(crate) fn dispatch(&mut self, message: &SharedMessage) {
        self.last_dispatched = self.last_dispatched.max(message.sequence.get());
        self.subscribers.retain(|subscriber| {
            if !nats_filter_matches(&subscriber.filter, message.subject.as_str()) {
                return !subscriber.sender.is_closed();
            }
            let size = message.size();
            let queued = subscriber.state.queued_bytes.load(Ordering::SeqCst);
            if queued > 0 && queued + size > subscriber.budget {
                subscriber.state.overflowed.store(true, Ordering::SeqCst);
                return false;
            }
            match subscriber.sender.try_send(message.clone()) {
                Ok(()) => {
                    subscriber
                        .state
                        .queued_bytes
                        .fetch_add(size, Ordering::SeqCst);
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.state.overflowed.store(true, Ordering::SeqCst);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Ends every subscription with `error` (the source failed).
    pub(crate) fn fail_all(&mut self, error: &StoreError) {
        for subscriber in self.subscribers.drain(..) {
            subscriber.state.fail(error.clone());
        }
    }

    /// Drops subscribers whose receiving side is gone.
    pub(crate) fn prune(&mut self) {
        self.subscribers
            .retain(|subscriber| !subscriber.sender.is_closed());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

/// Live messages after a sequence, in order; ends with an error when cut off.
pub type Subscription = BoxStream<'static, Result<SharedMessage, StoreError>>;

struct Handover {
    catch_up: Option<BoxStream<'static, Result<SharedMessage, StoreError>>>,
    attachment: Attachment,
    skip_through: u64,
    last: u64,
    finished: bool,
}

/// Joins a catch-up read of `(after, attachment.last_dispatched]` with the live queue,
/// skipping anything at or below what the caller or the catch-up already covered.
pub(crate) fn subscription(
    after: u64,
    attachment: Attachment,
    catch_up: Option<BoxStream<'static, Result<SharedMessage, StoreError>>>,
) -> Subscription {
    let skip_through = after.max(attachment.last_dispatched);
    let handover = Handover {
        catch_up,
        attachment,
        skip_through,
        last: after,
        finished: false,
    };
    futures::stream::unfold(handover, |mut handover| async move {
        if handover.finished {
            return None;
        }
        if let Some(catch_up) = handover.catch_up.as_mut() {
            match catch_up.next().await {
                Some(Ok(message)) => {
                    handover.last = message.sequence.get();
                    return Some((Ok(message), handover));
                }
                Some(Err(error)) => {
                    handover.finished = true;
                    return Some((Err(error), handover));
                }
                None => handover.catch_up = None,
            }
        }
        loop {
            match handover.attachment.receiver.recv().await {
                Some(message) if message.sequence.get() <= handover.skip_through => {
                    handover.attachment.state.taken(&message);
                }
                Some(message) => {
                    handover.attachment.state.taken(&message);
                    handover.last = message.sequence.get();
                    return Some((Ok(message), handover));
                }
                None => {
                    handover.finished = true;
                    let state = &handover.attachment.state;
                    let error = if state.overflowed.load(Ordering::SeqCst) {
                        StoreError::SubscriberOverflow {
                            last_sequence: handover.last,
                        }
                    } else {
                        state
                            .failure()
                            .unwrap_or(StoreError::Unavailable(Outage::SubscriptionClosed))
                    };
                    return Some((Err(error), handover));
                }
            }
        }
    })
    .boxed()
}
