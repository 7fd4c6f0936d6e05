//! `GET /api/v1/deliveries/events` (DELIVERY.md §6a): the live delivery outcomes as SSE,
//! for operators. `destination_id` narrows it to one destination; `from_id` (a sequence of
//! the outcome stream, as the `id:` lines carry) or `from_date` send history first;
//! `Last-Event-ID` (what `EventSource` sends when it reconnects) wins over both and
//! continues strictly after that id. A caller sees the outcomes of the destinations whose
//! deliveries it may see.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::may_see_deliveries_of;
use crate::api::cursor::parse_instant;
use crate::api::error::{ApiError, DeliveryError};
use crate::api::state::AppState;
use crate::api::stream::{BROWSER_RETRY, StreamCall, event_stream};
use crate::delivery::destination::DestinationId;
use crate::delivery::outcome::{self, outcomes_stream};
use crate::delivery::records::RecordsError;
use crate::domain::{Sequence, Start};
use crate::sse::frame::{FrameContext, Resume};
use crate::sse::outcomes::{OutcomePlan, spawn};
use crate::store::StoreError;

fn invalid(message: String) -> ApiError {
    DeliveryError::Invalid(message).into()
}

fn store_failure(error: StoreError) -> ApiError {
    DeliveryError::Records(RecordsError::Store(error)).into()
}

/// What the query asks for.
#[derive(Debug, Default, PartialEq)]
struct EventsQuery {
    destination: Option<DestinationId>,
    start: Option<Start>,
}

/// A sequence of the outcome stream: a positive integer.
fn sequence(field: &str, raw: &str) -> Result<Sequence, ApiError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .and_then(Sequence::new)
        .ok_or_else(|| invalid(format!("{field} must be a positive integer, got '{raw}'")))
}

fn parse(pairs: &[(String, String)]) -> Result<EventsQuery, ApiError> {
    let mut query = EventsQuery::default();
    for (key, value) in pairs {
        let start = match key.as_str() {
            "destination_id" => {
                let id = DestinationId::parse(value).ok_or_else(|| {
                    invalid(format!("destination_id '{value}' is not a destination id"))
                })?;
                query.destination = Some(id);
                continue;
            }
            "from_id" => Start::Sequence(sequence("from_id", value)?),
            "from_date" => Start::Time(
                parse_instant(value).map_err(|error| invalid(format!("from_date: {error}")))?,
            ),
            _ => return Err(invalid(format!("unknown query parameter '{key}'"))),
        };
        if query.start.replace(start).is_some() {
            return Err(invalid(
                "give one of from_id and from_date, once".to_owned(),
            ));
        }
    }
    Ok(query)
}

/// `Last-Event-ID`: the id of the last outcome the client saw.
fn resumed(raw: &str) -> Result<Sequence, ApiError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .and_then(Sequence::new)
        .ok_or_else(|| {
            invalid(format!(
                "Last-Event-ID '{raw}' is not an outcome id (a positive integer)"
            ))
        })
}

pub(crate) async fn events(
    State(state): State<AppState>,
    call: StreamCall,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let mut query = parse(&pairs)?;
    let stream = outcomes_stream();
    let mut resume = None;
    if let Some(raw) = &call.last_event_id {
        let last = resumed(raw)?;
        query.start = Some(Start::Sequence(last.next()));
        let info = state
            .store
            .stream_info(&stream)
            .await
            .map_err(store_failure)?;
        resume = Some(Resume {
            last_event_id: raw.trim().to_owned(),
            first_available: (info.messages > 0 && info.first_sequence > last.get() + 1)
                .then_some(info.first_sequence),
        });
    }
    let boundary = state
        .store
        .last_sequence(&stream)
        .await
        .map_err(store_failure)?;
    let permit = state
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyStreams(state.settings.sse.max_connections))?;
    let filter = outcome::filter(query.destination.as_ref());
    let (seer, caller) = (state.clone(), call.caller.clone());
    let plan = OutcomePlan {
        route: call.route,
        context: FrameContext {
            request_id: call.request_id.0.clone(),
            topic: filter.clone(),
        },
        filter,
        start: query.start,
        boundary,
        limit: state.settings.replay.max_historical_notifications,
        resume,
        retry: Some(BROWSER_RETRY),
        admits: Box::new(move |message| {
            outcome::destination_of(message.subject.as_str())
                .is_some_and(|id| may_see_deliveries_of(&seer, &caller, &id))
        }),
    };
    let body = spawn(
        plan,
        state.store.clone(),
        state.session.clone(),
        state.shutdown.clone(),
        permit,
        call.connection,
    );
    Ok(event_stream(body.into_response(), &state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::query::pairs;

    #[test]
    fn one_start_at_most() {
        assert_eq!(
            parse(&pairs(&[("from_id", "3")])).unwrap().start,
            Some(Start::Sequence(Sequence::new(3).unwrap()))
        );
        assert!(
            parse(&pairs(&[
                ("from_id", "3"),
                ("from_date", "2026-01-01T00:00:00Z")
            ]))
            .is_err()
        );
        assert!(parse(&pairs(&[("from_id", "0")])).is_err());
        assert!(parse(&pairs(&[("from_id", "x")])).is_err());
        assert!(parse(&pairs(&[("since", "1")])).is_err());
        assert!(parse(&pairs(&[("destination_id", "nope")])).is_err());
    }

    #[test]
    fn last_event_ids_are_sequences() {
        assert_eq!(resumed(" 12 ").unwrap().get(), 12);
        assert!(resumed("mars@12").is_err());
    }
}
