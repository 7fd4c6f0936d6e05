//! Conversions between async-nats types and the store's, and error classification:
//! transport trouble is `Unavailable` (retry later), refusals are `Backend`.

use std::sync::OnceLock;

use async_nats::jetstream;
use chrono::{DateTime, Utc};

use crate::domain::Sequence;
use crate::store::error::{Answer, Cause, Failure, Operation, Outage, StoreError};
use crate::store::types::StoredMessage;
use crate::subject::Subject;

pub(crate) fn to_chrono(time: time::OffsetDateTime) -> DateTime<Utc> {
    let nanos = i64::try_from(time.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    DateTime::from_timestamp_nanos(nanos)
}

/// Through seconds and the sub-second part: an `i64` of nanoseconds covers only 1677 to 2262,
/// and requests may name any year.
pub(crate) fn to_offset(time: DateTime<Utc>) -> Result<time::OffsetDateTime, StoreError> {
    let out_of_range =
        |error: time::error::ComponentRange| StoreError::Backend(Failure::TimeOutOfRange(error));
    time::OffsetDateTime::from_unix_timestamp(time.timestamp())
        .map_err(out_of_range)?
        .replace_nanosecond(time.timestamp_subsec_nanos())
        .map_err(out_of_range)
}

/// An async-nats error the store can classify: whether it says NATS could not be reached
/// or did not answer in time (the operation may succeed later: `Unavailable`, 503) rather
/// than that it refused the operation (`Backend`, 500). Decided from async-nats' error
/// kinds, never from the text.
pub(crate) trait NatsError: std::error::Error + Send + Sync + 'static {
    fn is_outage(&self) -> bool;
}

/// A JetStream API error is an outage when JetStream itself says it is unavailable (503,
/// e.g. while a stream leader is elected).
fn api_outage(error: &jetstream::Error) -> bool {
    error.code() == 503
}

impl NatsError for jetstream::context::GetStreamError {
    fn is_outage(&self) -> bool {
        use jetstream::context::GetStreamErrorKind as Kind;
        match self.kind() {
            Kind::Request => true,
            Kind::JetStream(error) => api_outage(&error),
            Kind::EmptyName | Kind::InvalidStreamName => false,
        }
    }
}

impl NatsError for jetstream::stream::ConsumerError {
    fn is_outage(&self) -> bool {
        use jetstream::stream::ConsumerErrorKind as Kind;
        match self.kind() {
            Kind::TimedOut | Kind::Request => true,
            Kind::JetStream(error) => api_outage(&error),
            _ => false,
        }
    }
}

impl NatsError for jetstream::consumer::StreamError {
    fn is_outage(&self) -> bool {
        matches!(self.kind(), jetstream::consumer::StreamErrorKind::TimedOut)
    }
}

impl NatsError for jetstream::consumer::pull::OrderedError {
    fn is_outage(&self) -> bool {
        use jetstream::consumer::pull::OrderedErrorKind as Kind;
        matches!(
            self.kind(),
            Kind::MissingHeartbeat
                | Kind::ConsumerDeleted
                | Kind::Pull
                | Kind::NoResponders
                | Kind::Recreate
        )
    }
}

impl NatsError for jetstream::stream::RawMessageError {
    fn is_outage(&self) -> bool {
        match self.kind() {
            jetstream::stream::LastRawMessageErrorKind::JetStream(error) => api_outage(&error),
            // `Other` wraps both a failed request and a malformed answer: the source says.
            jetstream::stream::LastRawMessageErrorKind::Other => std::error::Error::source(self)
                .and_then(|source| source.downcast_ref::<jetstream::context::RequestError>())
                .is_some_and(NatsError::is_outage),
            _ => false,
        }
    }
}

impl NatsError for jetstream::stream::DirectGetError {
    fn is_outage(&self) -> bool {
        use jetstream::stream::DirectGetErrorKind as Kind;
        match self.kind() {
            Kind::TimedOut | Kind::Request => true,
            Kind::ErrorResponse(status, _) => {
                status == async_nats::StatusCode::NO_RESPONDERS || status.as_u16() == 503
            }
            Kind::NotFound | Kind::InvalidSubject | Kind::Other => false,
        }
    }
}

impl NatsError for jetstream::stream::DeleteMessageError {
    fn is_outage(&self) -> bool {
        use jetstream::stream::DeleteMessageErrorKind as Kind;
        match self.kind() {
            Kind::Request | Kind::TimedOut => true,
            Kind::JetStream(error) => api_outage(&error),
        }
    }
}

impl NatsError for jetstream::stream::PurgeError {
    fn is_outage(&self) -> bool {
        use jetstream::stream::PurgeErrorKind as Kind;
        match self.kind() {
            Kind::Request | Kind::TimedOut => true,
            Kind::JetStream(error) => api_outage(&error),
        }
    }
}

impl NatsError for jetstream::context::RequestError {
    fn is_outage(&self) -> bool {
        use jetstream::context::RequestErrorKind as Kind;
        matches!(
            self.kind(),
            Kind::NoResponders | Kind::TimedOut | Kind::Other
        )
    }
}

/// Only the failures a retry may cure: a publish to a stream that does not exist is
/// handled before this (the stream is recreated), and the rest are refusals.
impl NatsError for jetstream::context::PublishError {
    fn is_outage(&self) -> bool {
        use jetstream::context::PublishErrorKind as Kind;
        matches!(
            self.kind(),
            Kind::TimedOut | Kind::BrokenPipe | Kind::MaxAckPending
        )
    }
}

/// A failed request to NATS as a store error, classified by [`NatsError::is_outage`].
pub(crate) fn request_error(operation: Operation, error: impl NatsError) -> StoreError {
    let outage = error.is_outage();
    let source = Cause::new(error);
    if outage {
        StoreError::Unavailable(Outage::Request { operation, source })
    } else {
        StoreError::Backend(Failure::Refused { operation, source })
    }
}

fn headers_of(headers: Option<&async_nats::HeaderMap>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = headers
        .map(|map| {
            map.iter()
                .flat_map(|(name, values)| {
                    values
                        .iter()
                        .map(move |value| (name.to_string(), value.as_str().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs
}

fn sequence(value: u64) -> Result<Sequence, StoreError> {
    Sequence::new(value).ok_or(StoreError::Backend(Failure::ZeroSequence(Answer::Message)))
}

/// A consumer-delivered message and the count still pending after it.
pub(crate) fn from_consumer(
    message: &jetstream::Message,
) -> Result<(StoredMessage, u64), StoreError> {
    let info = message
        .info()
        .map_err(|error| StoreError::Backend(Failure::Metadata(Cause::from_boxed(error))))?;
    Ok((
        StoredMessage {
            sequence: sequence(info.stream_sequence)?,
            time: to_chrono(info.published),
            subject: Subject::from_stored(message.subject.as_str()),
            headers: headers_of(message.headers.as_ref()),
            payload: message.payload.clone(),
            rendition: OnceLock::new(),
            live_frame: OnceLock::new(),
        },
        info.pending,
    ))
}

pub(crate) fn from_stream_message(
    message: jetstream::message::StreamMessage,
) -> Result<StoredMessage, StoreError> {
    Ok(StoredMessage {
        sequence: sequence(message.sequence)?,
        time: to_chrono(message.time),
        subject: Subject::from_stored(message.subject.as_str()),
        headers: headers_of(Some(&message.headers)),
        payload: message.payload,
        rendition: OnceLock::new(),
        live_frame: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::context::{PublishError, PublishErrorKind, RequestError, RequestErrorKind};

    #[test]
    fn classifies_by_kind_and_keeps_the_nats_error_as_the_source() {
        let timed_out = request_error(
            Operation::Read,
            RequestError::new(RequestErrorKind::TimedOut),
        );
        let StoreError::Unavailable(Outage::Request { operation, source }) = timed_out else {
            panic!("not an outage: {timed_out:?}");
        };
        assert_eq!(operation, Operation::Read);
        let kind = source
            .error()
            .downcast_ref::<RequestError>()
            .map(RequestError::kind);
        assert_eq!(kind, Some(RequestErrorKind::TimedOut));

        let refused = request_error(
            Operation::Publish,
            PublishError::new(PublishErrorKind::WrongLastSequence),
        );
        assert!(
            matches!(
                refused,
                StoreError::Backend(Failure::Refused {
                    operation: Operation::Publish,
                    ..
                })
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn converts_times_outside_the_nanosecond_range() {
        for raw in [
            "1600-01-01T00:00:00Z",
            "1677-09-21T00:12:43.145224191Z",
            "2025-06-09T13:15:00.123456789Z",
            "2300-01-01T00:00:00.5Z",
        ] {
            let time = DateTime::parse_from_rfc3339(raw).unwrap().to_utc();
            let offset = to_offset(time).unwrap();
            assert_eq!(offset.unix_timestamp(), time.timestamp(), "{raw}");
            assert_eq!(offset.nanosecond(), time.timestamp_subsec_nanos(), "{raw}");
        }
    }
}
