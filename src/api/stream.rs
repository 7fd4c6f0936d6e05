//! `POST /api/v1/watch` and `POST /api/v1/replay`: validate everything, capture the
//! history boundary, then answer 200 `text/event-stream` fed by a session task. Errors
//! before that point are ordinary JSON responses, never a stream.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::body::RequestBody;
use super::cursor::{self, From, To};
use super::error::{ApiError, Endpoint};
use super::request_id::RequestId;
use super::state::AppState;
use crate::schema::Operation;
use crate::sse::frame::FrameContext;
use crate::sse::session::{self, HistoryEnd, HistoryStart, Kind, Plan};

async fn open(
    state: AppState,
    request_id: RequestId,
    body: &[u8],
    endpoint: Endpoint,
) -> Result<Response, ApiError> {
    let request = RequestBody::parse(body).map_err(|error| ApiError::Body(endpoint, error))?;
    let schema = state
        .catalog
        .event_type(&request.event_type)
        .ok_or_else(|| {
            ApiError::UnknownEventType(request.event_type.clone(), state.catalog.event_type_names())
        })?
        .clone();
    let cursors = cursor::validate(&request, endpoint)
        .map_err(|message| ApiError::BadRequest(endpoint, message))?;
    let operation = match endpoint {
        Endpoint::Replay => Operation::Replay,
        _ => Operation::Watch,
    };
    let filter = schema
        .filter(&request.identifier, operation)
        .map_err(|rejection| ApiError::Invalid(endpoint, rejection))?;
    let nats_filter = filter
        .subject
        .to_nats_filter()
        .map_err(|error| ApiError::BadRequest(endpoint, error.to_string()))?;
    let boundary = state
        .store
        .last_sequence(&schema.stream)
        .await
        .map_err(ApiError::StreamSetup)?;
    let limit = schema
        .max_historical_notifications
        .unwrap_or(state.settings.replay.max_historical_notifications);
    let plan = Plan {
        kind: if endpoint == Endpoint::Replay {
            Kind::Replay
        } else {
            Kind::Watch
        },
        context: FrameContext {
            request_id: request_id.0.clone(),
            topic: filter.subject.logical_topic(),
        },
        schema,
        nats_filter,
        filter,
        start: cursors.from.map(|from| match from {
            From::Sequence(sequence) => HistoryStart::Sequence(sequence),
            From::Time(time) => HistoryStart::Time(time),
        }),
        end: cursors.to.map(|to| match to {
            To::Sequence(sequence) => HistoryEnd::Sequence(sequence),
            To::Time(time) => HistoryEnd::Time(time),
        }),
        limit,
        boundary,
    };
    let body = session::spawn(
        plan,
        state.store.clone(),
        state.session.clone(),
        state.shutdown.clone(),
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

#[tracing::instrument(skip_all)]
pub(crate) async fn watch(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    body: Bytes,
) -> Result<Response, ApiError> {
    open(state, request_id, &body, Endpoint::Watch).await
}

#[tracing::instrument(skip_all)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    body: Bytes,
) -> Result<Response, ApiError> {
    open(state, request_id, &body, Endpoint::Replay).await
}
