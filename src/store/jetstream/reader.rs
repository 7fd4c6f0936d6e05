//! Finite reads through one ordered consumer per read (flow-controlled, no per-batch
//! consumers, no sleeps): start by sequence or time, stop at the boundary, the end time,
//! the limit, or when the server says nothing more is pending. Short reads with a broad
//! filter go by sequence instead (see [`by_sequence`]).
//!
//! On a replicated stream the consumer's word that nothing more is pending is not taken:
//! nats-server places a read's R1 consumer on a random peer of the stream, and a follower
//! may not yet hold what the leader acknowledged a moment ago (or, catching up after a
//! restart, much more). Such a read asks the stream leader for what is left before the
//! boundary (see [`Source::Leader`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{RawMessageError, RawMessageErrorKind};
use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, Stream, StreamExt};

use super::{by_sequence, consumers, convert};
use crate::domain::Sequence;
use crate::store::error::{Cause, Failure, Operation, Outage, StoreError};
use crate::store::types::{ReadRequest, SharedMessage, Start, StoredMessage};
use crate::subject::nats_filter_matches;

/// Reads spanning at most this many sequences with a broad filter (and more than
/// [`by_sequence::SPAN`]) go through an unfiltered consumer and are filtered here. Creating a consumer with a filter ending in a wildcard
/// makes nats-server count what it matches among all the stream's subjects: 25–40 ms per
/// consumer on a stream of a million subjects with a per-subject limit (aviso's policy),
/// whatever the read's span, against half a millisecond unfiltered (or for a filter ending
/// in a literal), while reading and matching this many messages here costs about a
/// millisecond. Browse windows start at this size. (With deleted messages inside the stream
/// the server walks its subjects for an unfiltered consumer too: see bench/RESULTS.md.)
const LOCAL_FILTER_SPAN: u64 = 1024;

/// How many times a read whose consumer went silent before the read's end gets a new
/// consumer, from the message after the last one received, before it fails. A pull
/// consumer can stall with messages still pending (a history run at 1M saw one deliver
/// nothing for the read's whole idle wait, 383,500 messages in); async-nats notices only
/// after two missed heartbeats of 15 s.
const REOPENS: usize = 2;

/// Creates the ordered consumer of a read (see [`consumers::create_retrying`]).
async fn create_ordered(
    context: &jetstream::Context,
    name: &str,
    config: consumer::pull::OrderedConfig,
) -> Result<jetstream::consumer::Consumer<consumer::pull::OrderedConfig>, StoreError> {
    consumers::create_retrying(name, || {
        context.create_consumer_on_stream(config.clone(), name)
    })
    .await
    .map_err(|error| convert::request_error(Operation::OpenReplayConsumer, error))
}

fn deliver_policy(start: Start) -> Result<consumer::DeliverPolicy, StoreError> {
    Ok(match start {
        Start::Beginning => consumer::DeliverPolicy::All,
        Start::Sequence(sequence) => consumer::DeliverPolicy::ByStartSequence {
            start_sequence: sequence.get(),
        },
        // Store times are publish times, so nothing precedes the epoch: start at the first
        // message rather than asking NATS about years it may not represent.
        Start::Time(time) if time <= chrono::DateTime::UNIX_EPOCH => consumer::DeliverPolicy::All,
        Start::Time(time) => consumer::DeliverPolicy::ByStartTime {
            start_time: convert::to_offset(time)?,
        },
    })
}

/// The sequence before the first message stored after `time` (the last sequence when none
/// is). On a replicated stream the stream leader is asked, as a consumer's server may miss
/// the newest messages (see the module's doc).
pub(crate) async fn last_sequence_at(
    context: &jetstream::Context,
    name: &str,
    time: DateTime<Utc>,
    replicated: bool,
) -> Result<u64, StoreError> {
    let after = time
        .checked_add_signed(chrono::TimeDelta::nanoseconds(1))
        .unwrap_or(time);
    if replicated {
        match first_at_leader(context, name, after).await? {
            // A server older than 2.11 ignores `start_time` and answers with the first
            // message: then only a consumer can say.
            Some((sequence, stored)) if stored >= after => return Ok(sequence - 1),
            Some(_) => {}
            None => {
                let stream = context
                    .get_stream(name)
                    .await
                    .map_err(|error| convert::request_error(Operation::StreamInfo, error))?;
                return Ok(stream.cached_info().state.last_sequence);
            }
        }
    }
    // A consumer starting by time reports the sequence it starts after, so no message is
    // read.
    let config = consumer::pull::OrderedConfig {
        deliver_policy: deliver_policy(Start::Time(after))?,
        ..Default::default()
    };
    let consumer = create_ordered(context, name, config).await?;
    Ok(consumer.cached_info().delivered.stream_sequence)
}

/// `STREAM.MSG.GET` with a start time (async-nats has no builder for it): the sequence and
/// time of the first message stored at or after `time`, `None` when there is none.
async fn first_at_leader(
    context: &jetstream::Context,
    name: &str,
    time: DateTime<Utc>,
) -> Result<Option<(u64, DateTime<Utc>)>, StoreError> {
    #[derive(serde::Serialize)]
    struct Request {
        start_time: String,
        next_by_subj: &'static str,
        no_hdr: bool,
    }
    #[derive(serde::Deserialize)]
    struct Found {
        message: FoundMessage,
    }
    #[derive(serde::Deserialize)]
    struct FoundMessage {
        seq: u64,
        time: DateTime<Utc>,
    }
    let request = Request {
        start_time: time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        next_by_subj: ">",
        no_hdr: true,
    };
    let response: jetstream::response::Response<Found> = context
        .request(format!("STREAM.MSG.GET.{name}"), &request)
        .await
        .map_err(|error| convert::request_error(Operation::GetMessage, error))?;
    match response {
        jetstream::response::Response::Ok(found) => {
            Ok(Some((found.message.seq.max(1), found.message.time)))
        }
        jetstream::response::Response::Err { error }
            if error.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND =>
        {
            Ok(None)
        }
        jetstream::response::Response::Err { error } => {
            Err(StoreError::Backend(Failure::Refused {
                operation: Operation::GetMessage,
                source: Cause::new(error),
            }))
        }
    }
}

/// Reads `request` from stream `name`; `idle` bounds the wait for each message.
/// `replicated` says the stream has more than one replica, so that the consumer may sit on
/// a follower behind the leader.
pub(crate) async fn read(
    context: &jetstream::Context,
    name: &str,
    request: ReadRequest,
    idle: Duration,
    replicated: bool,
) -> Result<BoxStream<'static, Result<SharedMessage, StoreError>>, StoreError> {
    if is_empty(&request) {
        return Ok(stream::empty().boxed());
    }
    if by_sequence::applies(&request) {
        let stream = context
            .get_stream_no_info(name)
            .await
            .map_err(|error| convert::request_error(Operation::OpenStream, error))?;
        return Ok(by_sequence::read(stream, request, replicated));
    }
    let leader = if replicated {
        Some(
            context
                .get_stream_no_info(name)
                .await
                .map_err(|error| convert::request_error(Operation::OpenStream, error))?,
        )
    } else {
        None
    };
    let local_filter = filters_locally(&request);
    let source = match open(context, name, &request, local_filter).await? {
        Opened::Messages(messages) => Source::Consumer(messages),
        Opened::NothingPending { after } => match leader.clone() {
            // The consumer's server may be behind: ask the leader from where it started.
            Some(stream) => Source::Leader(Box::new(LeaderTail::new(stream, &request, after + 1))),
            None => return Ok(stream::empty().boxed()),
        },
    };
    Ok(Reader {
        source,
        leader,
        context: context.clone(),
        name: name.to_owned(),
        request,
        local_filter,
        delivered: 0,
        last_received: None,
        reopens_left: REOPENS,
        reopening: None,
        done: false,
        idle,
        idle_timer: Box::pin(tokio::time::sleep(idle)),
        last_message_at: Instant::now(),
    }
    .boxed())
}

/// Whether the request selects nothing, so that no consumer need be created.
fn is_empty(request: &ReadRequest) -> bool {
    let starts_past_the_end = match request.start {
        Start::Sequence(sequence) => sequence.get() > request.last_sequence,
        Start::Beginning | Start::Time(_) => false,
    };
    request.last_sequence == 0 || request.limit == Some(0) || starts_past_the_end
}

/// Whether the read is short enough, and its filter broad enough, to be filtered here (see
/// [`LOCAL_FILTER_SPAN`]).
fn filters_locally(request: &ReadRequest) -> bool {
    by_sequence::broad_and_within(request, LOCAL_FILTER_SPAN)
}

/// What opening a read's consumer gave.
enum Opened {
    Messages(Box<consumer::pull::Ordered>),
    /// The consumer's server holds nothing the read selects after stream sequence `after`.
    NothingPending {
        after: u64,
    },
}

/// The ordered consumer's messages, unless its server says none is pending.
async fn open(
    context: &jetstream::Context,
    name: &str,
    request: &ReadRequest,
    local_filter: bool,
) -> Result<Opened, StoreError> {
    let config = consumer::pull::OrderedConfig {
        filter_subject: if local_filter {
            String::new()
        } else {
            request.filter.clone()
        },
        deliver_policy: deliver_policy(request.start)?,
        ..Default::default()
    };
    let consumer = create_ordered(context, name, config).await?;
    let info = consumer.cached_info();
    if info.num_pending == 0 {
        return Ok(Opened::NothingPending {
            after: info.delivered.stream_sequence,
        });
    }
    let messages = consumer
        .messages()
        .await
        .map_err(|error| convert::request_error(Operation::Read, error))?;
    Ok(Opened::Messages(Box::new(messages)))
}

/// Where a read's next messages come from.
enum Source {
    Consumer(Box<consumer::pull::Ordered>),
    /// The stream leader, one `STREAM.MSG.GET` (which only the leader answers) at a time.
    /// A read on a replicated stream comes here when its consumer says nothing more is
    /// pending before the boundary: usually one request answers that nothing is left, and
    /// when the consumer's server was behind, the rest arrives this way.
    Leader(Box<LeaderTail>),
}

/// The part of a read asked of the stream leader.
struct LeaderTail {
    stream: jetstream::stream::Stream<()>,
    /// The read's filter, or every subject.
    subject: String,
    /// The first stream sequence not yet asked for.
    next: u64,
    in_flight: Option<BoxFuture<'static, Result<StreamMessage, RawMessageError>>>,
}

impl LeaderTail {
    fn new(stream: jetstream::stream::Stream<()>, request: &ReadRequest, next: u64) -> Self {
        let subject = if request.filter.is_empty() {
            ">".to_owned()
        } else {
            request.filter.clone()
        };
        Self {
            stream,
            subject,
            next,
            in_flight: None,
        }
    }

    /// The next stored message at or after `next` that matches, `None` when there is none.
    fn poll_next_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<StoredMessage>, StoreError>> {
        let in_flight = self.in_flight.get_or_insert_with(|| {
            let (stream, subject, next) = (self.stream.clone(), self.subject.clone(), self.next);
            Box::pin(async move { stream.get_first_raw_message_by_subject(subject, next).await })
        });
        let answer = match in_flight.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(answer) => answer,
        };
        self.in_flight = None;
        Poll::Ready(match answer {
            Ok(message) => convert::from_stream_message(message).map(|stored| {
                self.next = stored.sequence.get() + 1;
                Some(stored)
            }),
            Err(error) if error.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
            Err(error) => Err(convert::request_error(Operation::Read, error)),
        })
    }
}

/// A read in progress: what it asked for and how far it got. A hand-written stream, not an
/// `unfold`: that moved the whole consumer into a new future for every message, and a
/// `timeout` per message put a timer in and out of the wheel each time (both showed in the
/// replay profile); here one timer is re-armed only when it fires.
struct Reader {
    source: Source,
    /// The stream, for asking its leader: set when the stream is replicated.
    leader: Option<jetstream::stream::Stream<()>>,
    /// For a new consumer when this one stalls (see [`REOPENS`]).
    context: jetstream::Context,
    name: String,
    request: ReadRequest,
    /// The consumer is unfiltered: messages not matching `request.filter` are skipped here.
    local_filter: bool,
    delivered: usize,
    /// The stream sequence of the last message received, wanted or not.
    last_received: Option<u64>,
    reopens_left: usize,
    /// A new consumer being created for a stalled read.
    reopening: Option<BoxFuture<'static, Result<Opened, StoreError>>>,
    /// Set once the read ended (last message given, or an error reported): the next poll
    /// ends the stream without asking the consumer again.
    done: bool,
    /// How long the read waits for its next message at most.
    idle: Duration,
    idle_timer: Pin<Box<tokio::time::Sleep>>,
    last_message_at: Instant,
}

impl Stream for Reader {
    type Item = Result<SharedMessage, StoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(reopening) = this.reopening.as_mut() {
                let opened = match reopening.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(opened) => opened,
                };
                this.reopening = None;
                match this.reopened(opened) {
                    Ok(()) => continue,
                    Err(ended) => return Poll::Ready(ended),
                }
            }
            let (stored, pending) = match &mut this.source {
                Source::Leader(tail) => match tail.poll_next_message(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(Some(stored))) => (stored, None),
                    Poll::Ready(Ok(None)) => {
                        this.done = true;
                        return Poll::Ready(None);
                    }
                    Poll::Ready(Err(error)) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                Source::Consumer(messages) => match messages.poll_next_unpin(cx) {
                    Poll::Ready(None) => {
                        this.done = true;
                        return Poll::Ready(None);
                    }
                    Poll::Ready(Some(Err(error))) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(convert::request_error(
                            Operation::Read,
                            error,
                        ))));
                    }
                    Poll::Ready(Some(Ok(message))) => {
                        this.last_message_at = Instant::now();
                        match convert::from_consumer(&message) {
                            Ok((stored, pending)) => {
                                this.last_received = Some(stored.sequence.get());
                                (stored, Some(pending))
                            }
                            Err(error) => {
                                this.done = true;
                                return Poll::Ready(Some(Err(error)));
                            }
                        }
                    }
                    Poll::Pending => {
                        if this.idle_timer.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        let quiet_until = this.last_message_at + this.idle;
                        if Instant::now() >= quiet_until {
                            if this.reopens_left > 0 {
                                this.reopen();
                                continue;
                            }
                            this.done = true;
                            return Poll::Ready(Some(Err(StoreError::Unavailable(
                                Outage::TimedOut(Operation::Read),
                            ))));
                        }
                        // Messages came since the timer was armed: wait out the rest from
                        // the last one.
                        this.idle_timer.as_mut().reset(quiet_until.into());
                        continue;
                    }
                },
            };
            match this.take(stored, pending) {
                Step::Skip => continue,
                Step::Give(item) => return Poll::Ready(item),
            }
        }
    }
}

/// What a received message makes of the read.
enum Step {
    /// Not the read's (before its start, or not matching a filter applied here): read on.
    Skip,
    /// The next item of the read, or `None`: the read has ended.
    Give(Option<Result<SharedMessage, StoreError>>),
}

impl Reader {
    /// Starts a new consumer for a read whose consumer went silent, from the message after
    /// the last one received.
    fn reopen(&mut self) {
        self.reopens_left -= 1;
        let mut request = self.request.clone();
        if let Some(sequence) = self.last_received.and_then(|last| Sequence::new(last + 1)) {
            request.start = Start::Sequence(sequence);
        }
        tracing::warn!(
            stream = %self.name,
            from = ?request.start,
            idle = ?self.idle,
            "a read's consumer went silent before the read's end; reading on with a new one"
        );
        let (context, name, local_filter) =
            (self.context.clone(), self.name.clone(), self.local_filter);
        self.reopening = Some(Box::pin(async move {
            open(&context, &name, &request, local_filter).await
        }));
    }

    /// Reads on from what [`Reader::reopen`] opened; `Err` carries how the read ends.
    fn reopened(
        &mut self,
        opened: Result<Opened, StoreError>,
    ) -> Result<(), Option<Result<SharedMessage, StoreError>>> {
        self.last_message_at = Instant::now();
        self.idle_timer
            .as_mut()
            .reset((self.last_message_at + self.idle).into());
        match opened {
            Ok(Opened::Messages(messages)) => {
                self.source = Source::Consumer(messages);
                Ok(())
            }
            Ok(Opened::NothingPending { after }) => match &self.leader {
                Some(stream) => {
                    self.source = Source::Leader(Box::new(LeaderTail::new(
                        stream.clone(),
                        &self.request,
                        after + 1,
                    )));
                    Ok(())
                }
                None => {
                    self.done = true;
                    Err(None)
                }
            },
            Err(error) => {
                self.done = true;
                Err(Some(Err(error)))
            }
        }
    }

    /// Takes a received message; `pending` is what the consumer's server still holds after
    /// it for this read (`None` for a message from the leader).
    fn take(&mut self, stored: StoredMessage, pending: Option<u64>) -> Step {
        if self.is_beyond(&stored) {
            self.done = true;
            return Step::Give(None);
        }
        let wanted = !self.precedes_start(&stored) && self.matches(&stored);
        if wanted {
            self.delivered += 1;
        }
        let at_boundary = stored.sequence.get() >= self.request.last_sequence;
        let limit_reached = self
            .request
            .limit
            .is_some_and(|limit| self.delivered >= limit);
        if at_boundary || limit_reached {
            self.done = true;
        } else if pending == Some(0) {
            // The consumer's server holds nothing more before the boundary.
            match &self.leader {
                Some(stream) => {
                    let next = stored.sequence.get() + 1;
                    self.source = Source::Leader(Box::new(LeaderTail::new(
                        stream.clone(),
                        &self.request,
                        next,
                    )));
                }
                None => self.done = true,
            }
        }
        match (wanted, self.done) {
            (true, _) => Step::Give(Some(Ok(SharedMessage::new(stored)))),
            (false, true) => Step::Give(None),
            (false, false) => Step::Skip,
        }
    }

    /// Whether the message matches the read's filter: always when the server applied it.
    fn matches(&self, stored: &StoredMessage) -> bool {
        !self.local_filter
            || self.request.filter.is_empty()
            || nats_filter_matches(&self.request.filter, stored.subject.as_str())
    }

    /// Whether the message lies before where the read starts. The server never sends one,
    /// but async-nats (0.51) recreates an ordered consumer that lost its server-side state
    /// (a NATS restart or leader change) from the stream's first message when it had not
    /// delivered one yet, whatever the read asked for: a replay from sequence 4 then began
    /// with 1, 2, 3 (seen in the cluster outage test).
    fn precedes_start(&self, stored: &StoredMessage) -> bool {
        match self.request.start {
            Start::Beginning => false,
            Start::Sequence(sequence) => stored.sequence < sequence,
            Start::Time(time) => stored.time < time,
        }
    }

    /// Whether the message lies past the read's last sequence or its end time.
    fn is_beyond(&self, stored: &StoredMessage) -> bool {
        stored.sequence.get() > self.request.last_sequence
            || self.request.until.is_some_and(|until| stored.time > until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sequence;

    fn request(filter: &str, start: u64, last_sequence: u64) -> ReadRequest {
        ReadRequest {
            filter: filter.to_owned(),
            start: Start::Sequence(Sequence::new(start).unwrap()),
            last_sequence,
            until: None,
            limit: None,
        }
    }

    #[test]
    fn short_reads_with_broad_filters_go_by_sequence_or_are_filtered_here() {
        assert!(by_sequence::applies(&request("mars.od.*.*", 1, 512)));
        assert!(by_sequence::applies(&request("", 1, 10)));
        assert!(!by_sequence::applies(&request("mars.od.*.*", 1, 513)));
        assert!(filters_locally(&request("mars.od.*.*", 1, 1024)));
        assert!(filters_locally(&request("mars.>", 5000, 5100)));
        assert!(!filters_locally(&request("mars.od.*.*", 1, 1025)));
        // A filter ending in a literal is cheap for the server to count.
        assert!(!filters_locally(&request("mars.*.*.7", 1, 10)));
        assert!(!by_sequence::applies(&request("mars.*.*.7", 1, 10)));
        let mut by_time = request("mars.>", 1, 10);
        by_time.start = Start::Beginning;
        assert!(!filters_locally(&by_time));
        assert!(!by_sequence::applies(&by_time));
    }
}
