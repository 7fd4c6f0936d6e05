//! Short reads with a broad filter, one get per sequence with many in flight,
//! instead of a consumer. Creating a consumer makes nats-server count what it has pending,
//! and on a stream with deleted messages inside (any stream keeping one message per
//! subject, as aviso's do) that count walks the stream's whole subject tree: about 80 ms at
//! a million subjects, however short the read (bench/RESULTS.md, "Browse at 1M"). A get by
//! sequence loads one message and counts nothing.
//!
//! On a replicated stream each get is a `STREAM.MSG.GET`, which only the stream leader
//! answers, so the read sees everything acknowledged before it. On a single replica it is a
//! direct get (cheaper for the server: no API queue, no JSON), which there is just as
//! consistent; a stream made without direct gets (by another tool) is asked the other way.

use async_nats::jetstream::{
    self,
    stream::{DirectGetErrorKind, LastRawMessageErrorKind},
};
use futures::stream::{self, BoxStream, StreamExt};

use super::convert;
use crate::store::error::{Operation, StoreError};
use crate::store::types::{ReadRequest, SharedMessage, Start, StoredMessage};
use crate::subject::nats_filter_matches;

/// Reads spanning at most this many sequences go by sequence: a browse page's first
/// window (four times a page of up to 128) and most catch-ups of a resumed watcher.
pub(crate) const SPAN: u64 = 512;

/// Gets in flight at once for one read.
const IN_FLIGHT: usize = 64;

/// Whether `request` is read by sequence: it starts at a sequence, spans at most [`SPAN`]
/// sequences and its filter ends in a wildcard (a consumer with a filter ending in a literal
/// is cheap to create: the server looks that one subject up).
pub(crate) fn applies(request: &ReadRequest) -> bool {
    broad_and_within(request, SPAN)
}

/// Whether `request` starts at a sequence, spans fewer than `span` sequences after it and
/// has a filter ending in a wildcard (or none).
pub(crate) fn broad_and_within(request: &ReadRequest, span: u64) -> bool {
    let broad = matches!(request.filter.rsplit('.').next(), Some("" | "*" | ">"));
    broad
        && match request.start {
            Start::Sequence(start) => request.last_sequence.saturating_sub(start.get()) < span,
            Start::Beginning | Start::Time(_) => false,
        }
}

/// The messages of `request` (which [`applies`]), ascending; the read ends at its first
/// error, its limit, or the first message past its end time.
pub(crate) fn read(
    stream: jetstream::stream::Stream<()>,
    request: ReadRequest,
    replicated: bool,
) -> BoxStream<'static, Result<SharedMessage, StoreError>> {
    let first = match request.start {
        Start::Sequence(start) => start.get(),
        Start::Beginning | Start::Time(_) => 1,
    };
    let limit = request.limit.unwrap_or(usize::MAX);
    let fetched = stream::iter(first..=request.last_sequence)
        .map(move |sequence| get(stream.clone(), sequence, replicated))
        .buffered(IN_FLIGHT);
    let mut ended = false;
    fetched
        .filter_map(move |fetched| {
            let item = match fetched {
                Ok(Some(stored)) if wanted(&request, &stored) => Some(Ok(stored)),
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            };
            std::future::ready(item)
        })
        .take_while(move |item| {
            let go_on = !ended;
            ended = ended || item.is_err();
            std::future::ready(go_on)
        })
        .take(limit)
        .map(|item| item.map(SharedMessage::new))
        .boxed()
}

/// Whether a stored message belongs to the read: it matches the filter and is not past the
/// end time. (A message past the end time does not end the read here: the sequences after
/// it were asked for already, and those before the boundary are what the read selects.)
fn wanted(request: &ReadRequest, stored: &StoredMessage) -> bool {
    (request.filter.is_empty() || nats_filter_matches(&request.filter, stored.subject.as_str()))
        && request.until.is_none_or(|until| stored.time <= until)
}

/// The message at `sequence`, `None` when there is none (deleted, purged, or never
/// stored: sequences are not dense).
async fn get(
    stream: jetstream::stream::Stream<()>,
    sequence: u64,
    replicated: bool,
) -> Result<Option<StoredMessage>, StoreError> {
    if !replicated {
        match stream.direct_get(sequence).await {
            Ok(message) => return convert::from_stream_message(message).map(Some),
            Err(error) if error.kind() == DirectGetErrorKind::NotFound => return Ok(None),
            // No direct gets on this stream: ask the leader.
            Err(error)
                if matches!(error.kind(), DirectGetErrorKind::ErrorResponse(status, _)
                    if status == async_nats::StatusCode::NO_RESPONDERS) => {}
            Err(error) => return Err(convert::request_error(Operation::Read, error)),
        }
    }
    match stream.get_raw_message(sequence).await {
        Ok(message) => convert::from_stream_message(message).map(Some),
        Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error)
            if matches!(error.kind(), LastRawMessageErrorKind::JetStream(ref inner)
                if super::is_missing_message(inner)) =>
        {
            Ok(None)
        }
        Err(error) => Err(convert::request_error(Operation::Read, error)),
    }
}
