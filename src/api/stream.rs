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
use super::error::{ApiError, Endpoint, RequestError};
use super::guard::{self, Caller};
use super::observe::ServedRoute;
use super::query;
use super::request_id::RequestId;
use super::state::AppState;
use crate::auth::Access;
use crate::domain::{NotificationRef, Start};
use crate::ops::{
    self,
    stream::{Resumed, SelectError, StreamRequest},
};
use crate::schema::{EventSchema, Operation};
use crate::serve::ConnectionControl;
use crate::sse::frame::FrameContext;
use crate::sse::session::{self, Kind};

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
) -> Result<Resumed, ApiError> {
    let reference: NotificationRef = raw.parse().map_err(|source| {
        ApiError::bad(
            endpoint,
            RequestError::LastEventIdInvalid {
                raw: raw.to_owned(),
                source,
            },
        )
    })?;
    let after = state
        .catalog
        .resolve_id(&reference)
        .filter(|id| id.stream == schema.stream)
        .map(|id| id.sequence)
        .ok_or_else(|| {
            ApiError::bad(
                endpoint,
                RequestError::LastEventIdForeign {
                    raw: raw.to_owned(),
                    event_type: schema.event_type.to_string(),
                },
            )
        })?;
    Ok(Resumed {
        last_event_id: raw.to_owned(),
        after,
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
pub(crate) const BROWSER_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What every stream route reads besides its request: the request id, the caller and
/// `Last-Event-ID`.
pub(crate) struct StreamCall {
    pub(crate) request_id: RequestId,
    pub(crate) caller: Caller,
    pub(crate) last_event_id: Option<String>,
    /// The connection the stream is served on (absent for in-process requests).
    pub(crate) connection: Option<ConnectionControl>,
    /// The route template, from the route table.
    pub(crate) route: &'static str,
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
            route: parts
                .extensions
                .get::<ServedRoute>()
                .map_or("unrouted", |served| served.0),
        })
    }
}

async fn open(
    state: AppState,
    call: StreamCall,
    request: RequestBody,
    endpoint: Endpoint,
    form: Form,
) -> Result<Response, ApiError> {
    let StreamCall {
        request_id,
        caller,
        last_event_id,
        connection,
        route,
    } = call;
    let schema = state.schema(&request.event_type)?;
    guard::authorize(&state, &caller, &schema, Access::Read)?;
    request
        .check_limits()
        .map_err(|error| ApiError::bad(endpoint, error))?;
    let resumed = match &last_event_id {
        Some(raw) => Some(resume_after(&schema, &state, raw, endpoint)?),
        None => None,
    };
    let resume_start = resumed
        .as_ref()
        .map(|resumed| Start::Sequence(resumed.after.next()));
    let cursors = cursor::validate(&request, endpoint, resume_start)
        .map_err(|error| ApiError::bad(endpoint, error))?;
    let (kind, operation) = match endpoint {
        Endpoint::Replay => (Kind::Replay, Operation::Replay),
        _ => (Kind::Watch, Operation::Watch),
    };
    let selection = ops::stream::select(&schema, &request.identifier, operation).map_err(
        |error| match error {
            SelectError::Invalid(rejection) => ApiError::Invalid(endpoint, rejection),
            SelectError::Subject(error) => ApiError::bad(endpoint, error),
        },
    )?;
    let permit = state
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyStreams(state.settings.sse.max_connections))?;
    let context = FrameContext {
        request_id: request_id.0.clone(),
        topic: selection.filter.subject.logical_topic(),
    };
    let stream_request = StreamRequest {
        kind,
        route,
        schema,
        selection,
        start: cursors.from,
        end: cursors.to,
        resumed,
        context,
        retry: (form == Form::Get).then_some(BROWSER_RETRY),
        default_limit: state.settings.replay.max_historical_notifications,
    };
    let plan = ops::stream::plan(&state.store, stream_request)
        .await
        .map_err(ApiError::StreamSetup)?;
    let body = session::spawn(
        plan,
        state.store.clone(),
        state.session.clone(),
        state.shutdown.clone(),
        permit,
        connection,
    );
    Ok(event_stream(body.into_response(), &state))
}

/// The headers of every stream answer.
pub(crate) fn event_stream(mut response: Response, state: &AppState) -> Response {
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
    response
}

fn parse_body(body: &[u8], endpoint: Endpoint) -> Result<RequestBody, ApiError> {
    RequestBody::parse(body).map_err(|error| ApiError::Body(endpoint, error))
}

fn from_query(
    event_type: String,
    pairs: Vec<(String, String)>,
    endpoint: Endpoint,
) -> Result<RequestBody, ApiError> {
    query::request(event_type, pairs).map_err(|error| ApiError::bad(endpoint, error))
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
