//! Finite reads through one ordered consumer per read (flow-controlled, no per-batch
//! consumers, no sleeps): start by sequence or time, stop at the boundary, the end time,
//! the limit, or when the server says nothing more is pending.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, Stream, StreamExt};

use super::convert;
use crate::store::error::{Operation, Outage, StoreError};
use crate::store::types::{ReadRequest, SharedMessage, Start, StoredMessage};
use crate::subject::nats_filter_matches;

/// Reads spanning at most this many sequences with a broad filter go through an unfiltered
/// consumer and are filtered here. Creating a consumer with a filter ending in a wildcard
/// makes nats-server count what it matches among all the stream's subjects: 25–40 ms per
/// consumer on a stream of a million subjects with a per-subject limit (aviso's policy),
/// whatever the read's span, against half a millisecond unfiltered (or for a filter ending
/// in a literal), while reading and matching this many messages here costs about a
/// millisecond. Browse windows start at this size. (With deleted messages inside the stream
/// the server walks its subjects for an unfiltered consumer too: see bench/RESULTS.md.)
const LOCAL_FILTER_SPAN: u64 = 1024;

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

/// The sequence before the first message stored after `time`: a consumer starting by time
/// reports the sequence it starts after, so no message is read.
pub(crate) async fn last_sequence_at(
    context: &jetstream::Context,
    name: &str,
    time: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let after = time
        .checked_add_signed(chrono::TimeDelta::nanoseconds(1))
        .unwrap_or(time);
    let config = consumer::pull::OrderedConfig {
        deliver_policy: deliver_policy(Start::Time(after))?,
        ..Default::default()
    };
    let consumer = context
        .create_consumer_on_stream(config, name)
        .await
        .map_err(|error| convert::request_error(Operation::OpenReplayConsumer, error))?;
    Ok(consumer.cached_info().delivered.stream_sequence)
}

/// Reads `request` from stream `name`; `idle` bounds the wait for each message.
pub(crate) async fn read(
    context: &jetstream::Context,
    name: &str,
    request: ReadRequest,
    idle: Duration,
) -> Result<BoxStream<'static, Result<SharedMessage, StoreError>>, StoreError> {
    if is_empty(&request) {
        return Ok(stream::empty().boxed());
    }
    let local_filter = filters_locally(&request);
    let Some(messages) = open(context, name, &request, local_filter).await? else {
        return Ok(stream::empty().boxed());
    };
    Ok(Reader {
        messages,
        request,
        local_filter,
        delivered: 0,
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
    let broad = matches!(request.filter.rsplit('.').next(), Some("" | "*" | ">"));
    broad
        && match request.start {
            Start::Sequence(start) => {
                request.last_sequence.saturating_sub(start.get()) < LOCAL_FILTER_SPAN
            }
            Start::Beginning | Start::Time(_) => false,
        }
}

/// The ordered consumer's messages, or `None` when the server says none is pending.
async fn open(
    context: &jetstream::Context,
    name: &str,
    request: &ReadRequest,
    local_filter: bool,
) -> Result<Option<consumer::pull::Ordered>, StoreError> {
    let config = consumer::pull::OrderedConfig {
        filter_subject: if local_filter {
            String::new()
        } else {
            request.filter.clone()
        },
        deliver_policy: deliver_policy(request.start)?,
        ..Default::default()
    };
    let consumer = context
        .create_consumer_on_stream(config, name)
        .await
        .map_err(|error| convert::request_error(Operation::OpenReplayConsumer, error))?;
    if consumer.cached_info().num_pending == 0 {
        return Ok(None);
    }
    let messages = consumer
        .messages()
        .await
        .map_err(|error| convert::request_error(Operation::Read, error))?;
    Ok(Some(messages))
}

/// A read in progress: what it asked for and how far it got. A hand-written stream, not an
/// `unfold`: that moved the whole consumer into a new future for every message, and a
/// `timeout` per message put a timer in and out of the wheel each time (both showed in the
/// replay profile); here one timer is re-armed only when it fires.
struct Reader {
    messages: consumer::pull::Ordered,
    request: ReadRequest,
    /// The consumer is unfiltered: messages not matching `request.filter` are skipped here.
    local_filter: bool,
    delivered: usize,
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
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.messages.poll_next_unpin(cx) {
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(error))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(convert::request_error(Operation::Read, error))));
                }
                Poll::Ready(Some(Ok(message))) => {
                    this.last_message_at = Instant::now();
                    match this.take(convert::from_consumer(&message)) {
                        Step::Skip => continue,
                        Step::Give(item) => return Poll::Ready(item),
                    }
                }
                Poll::Pending => {}
            }
            if this.idle_timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let quiet_until = this.last_message_at + this.idle;
            if Instant::now() >= quiet_until {
                this.done = true;
                return Poll::Ready(Some(Err(StoreError::Unavailable(Outage::TimedOut(
                    Operation::Read,
                )))));
            }
            // Messages came since the timer was armed: wait out the rest from the last one.
            this.idle_timer.as_mut().reset(quiet_until.into());
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
    fn take(&mut self, received: Result<(StoredMessage, u64), StoreError>) -> Step {
        let (stored, pending) = match received {
            Ok(received) => received,
            Err(error) => {
                self.done = true;
                return Step::Give(Some(Err(error)));
            }
        };
        if self.is_beyond(&stored) {
            self.done = true;
            return Step::Give(None);
        }
        let at_the_end = pending == 0 || stored.sequence.get() >= self.request.last_sequence;
        if self.precedes_start(&stored) || !self.matches(&stored) {
            if at_the_end {
                self.done = true;
                return Step::Give(None);
            }
            return Step::Skip;
        }
        self.delivered += 1;
        self.done = at_the_end || self.is_last(&stored);
        Step::Give(Some(Ok(SharedMessage::new(stored))))
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

    /// Whether the (just counted) message is the read's last: its last sequence or its limit.
    fn is_last(&self, stored: &StoredMessage) -> bool {
        stored.sequence.get() >= self.request.last_sequence
            || self
                .request
                .limit
                .is_some_and(|limit| self.delivered >= limit)
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
    fn short_reads_with_broad_filters_are_filtered_here() {
        assert!(filters_locally(&request("mars.od.*.*", 1, 1024)));
        assert!(filters_locally(&request("mars.>", 5000, 5100)));
        assert!(!filters_locally(&request("mars.od.*.*", 1, 1025)));
        // A filter ending in a literal is cheap for the server to count.
        assert!(!filters_locally(&request("mars.*.*.7", 1, 10)));
        let mut by_time = request("mars.>", 1, 10);
        by_time.start = Start::Beginning;
        assert!(!filters_locally(&by_time));
    }
}
