//! Finite reads through one ordered consumer per read (flow-controlled, no per-batch
//! consumers, no sleeps): start by sequence or time, stop at the boundary, the end time,
//! the limit, or when the server says nothing more is pending.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};

use super::convert;
use crate::store::error::{Operation, Outage, StoreError};
use crate::store::types::{ReadRequest, SharedMessage, Start};

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

struct Cursor {
    messages: consumer::pull::Ordered,
    request: ReadRequest,
    delivered: usize,
    done: bool,
    idle: Duration,
}

/// Reads `request` from stream `name`.
pub(crate) async fn read(
    context: &jetstream::Context,
    name: &str,
    request: ReadRequest,
    idle: Duration,
) -> Result<BoxStream<'static, Result<SharedMessage, StoreError>>, StoreError> {
    let empty = || Ok(stream::empty().boxed());
    if request.last_sequence == 0 || request.limit == Some(0) {
        return empty();
    }
    if let Start::Sequence(sequence) = request.start
        && sequence.get() > request.last_sequence
    {
        return empty();
    }
    let config = consumer::pull::OrderedConfig {
        filter_subject: request.filter.clone(),
        deliver_policy: deliver_policy(request.start)?,
        ..Default::default()
    };
    let consumer = context
        .create_consumer_on_stream(config, name)
        .await
        .map_err(|error| convert::request_error(Operation::OpenReplayConsumer, error))?;
    if consumer.cached_info().num_pending == 0 {
        return empty();
    }
    let messages = consumer
        .messages()
        .await
        .map_err(|error| convert::request_error(Operation::Read, error))?;
    let cursor = Cursor {
        messages,
        request,
        delivered: 0,
        done: false,
        idle,
    };
    Ok(stream::unfold(cursor, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let next = tokio::time::timeout(cursor.idle, cursor.messages.next()).await;
        let message = match next {
            Err(_) => {
                cursor.done = true;
                return Some((
                    Err(StoreError::Unavailable(Outage::TimedOut(Operation::Read))),
                    cursor,
                ));
            }
            Ok(None) => return None,
            Ok(Some(Err(error))) => {
                cursor.done = true;
                return Some((Err(convert::request_error(Operation::Read, error)), cursor));
            }
            Ok(Some(Ok(message))) => message,
        };
        let (stored, pending) = match convert::from_consumer(&message) {
            Ok(converted) => converted,
            Err(error) => {
                cursor.done = true;
                return Some((Err(error), cursor));
            }
        };
        let sequence = stored.sequence.get();
        if sequence > cursor.request.last_sequence
            || cursor
                .request
                .until
                .is_some_and(|until| stored.time > until)
        {
            return None;
        }
        cursor.delivered += 1;
        cursor.done = pending == 0
            || sequence >= cursor.request.last_sequence
            || cursor
                .request
                .limit
                .is_some_and(|limit| cursor.delivered >= limit);
        Some((Ok(SharedMessage::new(stored)), cursor))
    })
    .boxed())
}
