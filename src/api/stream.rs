//! Watch and replay, POST (aviso) and GET (`EventSource`) forms: validate everything,
//! capture the history boundary, then answer 200 `text/event-stream` fed by a session
//! task. Errors before that point are ordinary JSON responses, never a stream.
//!
//! `Last-Event-ID` (what a browser sends when it reconnects) wins over `from_id`/`from_date`:
//! the stream continues strictly after that id.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::body::RequestBody;
use super::cursor;
use super::error::{ApiError, Endpoint};
use super::guard::{self, Caller};
use super::query;
use super::request_id::RequestId;
use super::state::AppState;
use crate::auth::Access;
use crate::domain::{End, NotificationRef, Sequence};
use crate::schema::{EventSchema, Operation};
use crate::serve::ConnectionControl;
use crate::sse::frame::{FrameContext, Resume};
use crate::sse::session::{self, Kind, Plan};

pub(crate) const LAST_EVENT_ID_HEADER: &str = "last-event-id";

fn last_event_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(LAST_EVENT_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Resolves `Last-Event-ID` to a sequence of this event type's stream.
fn resume_after(
    schema: &EventSchema,
    state: &AppState,
    raw: &str,
    endpoint: Endpoint,
) -> Result<Sequence, ApiError> {
    let reference: NotificationRef = raw.parse().map_err(|error| {
        ApiError::BadRequest(
            endpoint,
            format!("Last-Event-ID '{raw}' is invalid: {error}"),
        )
    })?;
    state
        .catalog
        .resolve_id(&reference)
        .filter(|id| id.stream == schema.stream)
        .map(|id| id.sequence)
        .ok_or_else(|| {
            ApiError::BadRequest(
                endpoint,
                format!(
                    "Last-Event-ID '{raw}' does not belong to event type '{}'",
                    schema.event_type
                ),
            )
        })
}

/// Which form of the route was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// aviso's POST with a JSON body.
    Post,
    /// GET with query parameters, for `EventSource`.
    Get,
}

/// Browsers reconnect this long after the server ends a GET stream.
const BROWSER_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What every stream route reads besides its request: the request id, the caller and
/// `Last-Event-ID`.
pub(crate) struct StreamCall {
    request_id: RequestId,
    caller: Caller,
    last_event_id: Option<String>,
    /// The connection the stream is served on (absent for in-process requests).
    connection: Option<ConnectionControl>,
}

impl<S: Send + Sync> FromRequestParts<S> for StreamCall {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            request_id: parts
                .extensions
                .get::<RequestId>()
                .cloned()
                .unwrap_or(RequestId(String::new())),
            caller: parts
                .extensions
                .get::<Caller>()
                .cloned()
                .unwrap_or_default(),
            last_event_id: last_event_id(&parts.headers),
            connection: parts.extensions.get::<ConnectionControl>().cloned(),
        })
    }
}

async fn open(
    state: AppState,
    call: StreamCall,
    mut request: RequestBody,
    endpoint: Endpoint,
    form: Form,
) -> Result<Response, ApiError> {
    let StreamCall {
        request_id,
        caller,
        last_event_id,
        connection,
    } = call;
    let schema = state.schema(&request.event_type)?;
    guard::authorize(&state, &caller, &schema, Access::Read)?;
    request
        .check_limits()
        .map_err(|message| ApiError::BadRequest(endpoint, message))?;
    let resumed = match &last_event_id {
        Some(raw) => {
            let after = resume_after(&schema, &state, raw, endpoint)?;
            request.from_id = Some(after.next().to_string());
            request.from_date = None;
            Some((raw.clone(), after))
        }
        None => None,
    };
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
    let permit = state
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyStreams(state.settings.sse.max_connections))?;
    let boundary = state
        .store
        .last_sequence(&schema.stream)
        .await
        .map_err(ApiError::StreamSetup)?;
    let last_deliverable = match cursors.to {
        None => boundary,
        Some(End::Sequence(sequence)) => sequence.min(boundary),
        Some(End::Time(time)) => state
            .store
            .last_sequence_at(&schema.stream, time)
            .await
            .map_err(ApiError::StreamSetup)?
            .min(boundary),
    };
    let resume = match resumed {
        Some((last_event_id, after)) => {
            let info = state
                .store
                .stream_info(&schema.stream)
                .await
                .map_err(ApiError::StreamSetup)?;
            let first_available =
                (info.first_sequence > after.get() + 1).then_some(info.first_sequence);
            Some(Resume {
                last_event_id,
                first_available,
            })
        }
        None => None,
    };
    let limit = schema
        .max_historical_notifications
        .unwrap_or(state.settings.replay.max_historical_notifications);
    let route = match (endpoint, form) {
        (Endpoint::Replay, Form::Post) => "/api/v1/replay",
        (Endpoint::Replay, Form::Get) => "/api/v1/replay/{event_type}",
        (_, Form::Post) => "/api/v1/watch",
        (_, Form::Get) => "/api/v1/watch/{event_type}",
    };
    let plan = Plan {
        route,
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
        start: cursors.from,
        end: cursors.to,
        limit,
        boundary,
        last_deliverable,
        resume,
        retry: (form == Form::Get).then_some(BROWSER_RETRY),
    };
    let body = session::spawn(
        plan,
        state.store.clone(),
        state.session.clone(),
        state.shutdown.clone(),
        permit,
        connection,
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    // A stream is the connection's last response: when it ends (max duration, cut-off)
    // the connection goes too, instead of idling for a request that never comes.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if state
        .settings
        .http
        .cors_allowed_origins
        .iter()
        .any(|origin| origin == "*")
    {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    Ok(response)
}

fn parse_body(body: &[u8], endpoint: Endpoint) -> Result<RequestBody, ApiError> {
    RequestBody::parse(body).map_err(|error| ApiError::Body(endpoint, error))
}

fn from_query(
    event_type: String,
    pairs: Vec<(String, String)>,
    endpoint: Endpoint,
) -> Result<RequestBody, ApiError> {
    query::request(event_type, pairs).map_err(|message| ApiError::BadRequest(endpoint, message))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn watch(
    State(state): State<AppState>,
    call: StreamCall,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = parse_body(&body, Endpoint::Watch)?;
    open(state, call, request, Endpoint::Watch, Form::Post).await
}

#[tracing::instrument(skip_all)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    call: StreamCall,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = parse_body(&body, Endpoint::Replay)?;
    open(state, call, request, Endpoint::Replay, Form::Post).await
}

#[tracing::instrument(skip_all, fields(event_type = %event_type))]
pub(crate) async fn watch_get(
    State(state): State<AppState>,
    call: StreamCall,
    Path(event_type): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let request = from_query(event_type, pairs, Endpoint::Watch)?;
    open(state, call, request, Endpoint::Watch, Form::Get).await
}

#[tracing::instrument(skip_all, fields(event_type = %event_type))]
pub(crate) async fn replay_get(
    State(state): State<AppState>,
    call: StreamCall,
    Path(event_type): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let request = from_query(event_type, pairs, Endpoint::Replay)?;
    open(state, call, request, Endpoint::Replay, Form::Get).await
}
