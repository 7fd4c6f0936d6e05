//! Why a store operation failed, as types: callers decide by variant (503 for an
//! [`Outage`], 500 for a [`Failure`]), never by text, and the backend's own error stays
//! reachable as the `source`.
//!
//! Each Display names what was being done and includes the backend's message, because logs
//! print errors with `%error` (Display only) and SSE `error` frames and bulk-delete items
//! carry it to clients; the texts are the ones the store always produced.

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::StreamKey;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// NATS is unreachable or did not answer in time; retrying later may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Outage),
    /// The stream is not one this store manages.
    #[error("stream {0} is not managed by this store")]
    UnknownStream(StreamKey),
    /// The stream is append-only (the audit trail).
    #[error("stream {0} is protected: no delete, no purge")]
    Protected(StreamKey),
    /// A live subscriber fell behind its bounded queue and was cut off.
    #[error("subscriber fell behind; last delivered sequence {last_sequence}")]
    SubscriberOverflow { last_sequence: u64 },
    /// The backend refused the operation for a reason retrying will not fix.
    #[error("store operation failed: {0}")]
    Backend(#[source] Failure),
    /// The idempotency key was seen within the window for a different request; nothing was
    /// stored.
    #[error("idempotency key '{0}' was used for a different request")]
    IdempotencyKeyReused(String),
}

/// Why the backend could not be used just now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Outage {
    /// The client is between connections; it reconnects on its own.
    #[error("not connected to NATS")]
    NotConnected,
    /// NATS could not be reached for `operation` or did not answer in time (no responders,
    /// a timeout, JetStream itself unavailable): the source's kind says which.
    #[error("{operation}: {source}")]
    Request {
        operation: Operation,
        #[source]
        source: Cause,
    },
    /// A read expected more messages but none came within its idle timeout.
    #[error("{0} timed out")]
    TimedOut(Operation),
    /// The stream was missing, was recreated, and was still missing on the retry.
    #[error("{0}: stream not found")]
    StreamMissing(Operation),
    /// The consumer feeding a stream's live subscribers ended.
    #[error("live consumer closed")]
    LiveConsumerClosed,
    /// A live subscription's queue closed without its source saying why.
    #[error("live subscription closed")]
    SubscriptionClosed,
}

/// Why the backend refused an operation, or answered it with something unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// NATS answered `operation` with an error retrying will not fix.
    #[error("{operation}: {source}")]
    Refused {
        operation: Operation,
        #[source]
        source: Cause,
    },
    /// A delivered message's metadata could not be parsed.
    #[error("bad message metadata: {0}")]
    Metadata(#[source] Cause),
    /// NATS named sequence 0, which no stored message has.
    #[error("{0} with sequence 0")]
    ZeroSequence(Answer),
    /// A time JetStream cannot represent.
    #[error("time out of range: {0}")]
    TimeOutOfRange(#[source] time::error::ComponentRange),
    /// The NATS credentials file could not be used.
    #[error("credentials file {}: {source}", path.display())]
    Credentials {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// A panic while the lock was held may have left what it guards half-updated, so the
    /// store refuses to use it rather than serve inconsistent state.
    #[error("{0} lock poisoned")]
    Poisoned(Lock),
}

/// What the store was asking NATS to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Connect,
    OpenStream,
    GetMessage,
    DeleteMessage,
    Purge,
    StreamInfo,
    OpenReplayConsumer,
    Read,
    OpenLiveConsumer,
    LiveConsumer,
    Publish,
    /// Start-up reconciliation, or the re-creation of a stream deleted by hand.
    Reconcile(ReconcileStep, StreamKey),
    /// A document bucket (key-value) read or write.
    Documents,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Connect => "connect to NATS",
            Operation::OpenStream => "open stream",
            Operation::GetMessage => "get message",
            Operation::DeleteMessage => "delete message",
            Operation::Purge => "purge",
            Operation::StreamInfo => "stream info",
            Operation::OpenReplayConsumer => "open replay consumer",
            Operation::Read => "read",
            Operation::OpenLiveConsumer => "open live consumer",
            Operation::LiveConsumer => "live consumer",
            Operation::Publish => "publish",
            Operation::Reconcile(step, stream) => return write!(f, "{step} stream {stream}"),
            Operation::Documents => "document bucket",
        })
    }
}

/// The step of reconciling one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileStep {
    Inspect,
    Update,
    Create,
}

impl fmt::Display for ReconcileStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReconcileStep::Inspect => "inspect",
            ReconcileStep::Update => "update",
            ReconcileStep::Create => "create",
        })
    }
}

/// The answer from NATS that named a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A stored or delivered message.
    Message,
    /// The acknowledgement of a publish.
    PublishAck,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Answer::Message => "message",
            Answer::PublishAck => "ack",
        })
    }
}

/// A lock the store takes around shared state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// One stream of the memory engine.
    MemoryStream,
    /// The JetStream engine's live hubs, by stream.
    HubRegistry,
    /// One stream's live hub and its subscribers.
    Hub,
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lock::MemoryStream => "memory store",
            Lock::HubRegistry => "hub registry",
            Lock::Hub => "hub",
        })
    }
}

/// The backend's own error (an async-nats error, mostly), shared: a hub's failure ends every
/// subscription of the hub, so store errors must clone. Displays as the error itself.
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync>);

impl Cause {
    pub(crate) fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }

    /// For the errors async-nats hands over already boxed.
    pub(crate) fn from_boxed(error: Box<dyn Error + Send + Sync>) -> Self {
        Self(Arc::from(error))
    }

    /// The error itself, to downcast to its async-nats type and look at its kind.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

/// The same occurrence, not merely the same message: errors have no equality of their own.
impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cause {}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_name_the_operation_and_the_cause() {
        let refused = StoreError::Backend(Failure::Refused {
            operation: Operation::Reconcile(ReconcileStep::Update, StreamKey::new("mars")),
            source: Cause::new(std::io::Error::other("denied")),
        });
        assert_eq!(
            refused.to_string(),
            "store operation failed: update stream MARS: denied"
        );
        assert_eq!(
            StoreError::Unavailable(Outage::TimedOut(Operation::Read)).to_string(),
            "store unavailable: read timed out"
        );
        assert_eq!(
            StoreError::Backend(Failure::ZeroSequence(Answer::PublishAck)).to_string(),
            "store operation failed: ack with sequence 0"
        );
    }

    #[test]
    fn the_backend_error_is_the_source() {
        let error = StoreError::Unavailable(Outage::Request {
            operation: Operation::Publish,
            source: Cause::new(std::io::Error::other("no responders")),
        });
        let outage = error.source().and_then(|outage| outage.source());
        assert!(outage.is_some_and(|cause| cause.downcast_ref::<Cause>().is_some()));
    }

    #[test]
    fn causes_are_equal_only_to_their_clones() {
        let cause = Cause::new(std::io::Error::other("x"));
        assert_eq!(cause, cause.clone());
        assert_ne!(cause, Cause::new(std::io::Error::other("x")));
    }
}
