//! `ApiError`: the one place where a failure becomes a status code. Handlers return it;
//! [`error_body`](super::error_body) words its body and the `request_id` middleware writes
//! that body with the request id and logs server failures, once, so turning an error into
//! a response here has no side effects.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::LimitError;
use super::cursor::CursorError;
use super::page_query::PageQueryError;
use super::query::QueryError;
use crate::delivery::registry::RegistryError;
use crate::domain::IdError;
use crate::ops::notify::NotifyError;
use crate::schema::Rejection;
use crate::store::StoreError;
use crate::subject::SubjectError;

/// Which aviso endpoint a request-path error belongs to: it picks `code` and `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Notify,
    Watch,
    Replay,
    /// History pages and single notifications (a Tidings addition).
    Browse,
}

impl Endpoint {
    /// The path as aviso's messages name it.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Notify => "/notification",
            Endpoint::Watch => "/watch",
            Endpoint::Replay => "/replay",
            Endpoint::Browse => "/notifications",
        }
    }
}

/// Why a request body could not be read as a notify/watch/replay request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all (`INVALID_JSON`).
    Json(String),
    /// A top-level key outside the whitelist (`UNKNOWN_FIELD`).
    UnknownField(String),
    /// JSON, but not the request's shape (`INVALID_REQUEST_SHAPE`).
    Shape(String),
}

/// A request-level rule outside the identifier: limits, cursors, query parameters, ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Limits(#[from] LimitError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Cursor(#[from] CursorError),
    #[error(transparent)]
    Page(#[from] PageQueryError),
    #[error(transparent)]
    Subject(#[from] SubjectError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("Last-Event-ID '{raw}' is invalid: {source}")]
    LastEventIdInvalid { raw: String, source: IdError },
    #[error("Last-Event-ID '{raw}' does not belong to event type '{event_type}'")]
    LastEventIdForeign { raw: String, event_type: String },
    #[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
    IdempotencyKey,
    #[error("to_id and to_date are only supported for the replay endpoint, not /notification")]
    EndOnNotify,
    #[error(
        "browse pages with next/prev cursors and time[gte]/time[lte]; from_id, from_date, to_id and to_date are for replay"
    )]
    CursorsOnBrowse,
}

/// What an admin route could not do; rendered in the admin envelope.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request is not one the route takes (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// The stream, event type or notification named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The store failed: unreachable (503) or refusing (500).
    #[error("Failed to {action}: store unavailable")]
    Store {
        action: &'static str,
        #[source]
        error: StoreError,
    },
    /// The operation's task ended abnormally (a bug: it is logged).
    #[error("The operation ended abnormally; see the audit trail and the logs")]
    Aborted,
}

/// What a destination route could not do (DELIVERY.md §3, §8).
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// 400 `INVALID_DESTINATION`: the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// 400 `DESTINATION_ADDRESS_BLOCKED`.
    #[error("{0}")]
    AddressBlocked(String),
    /// 404 `DESTINATION_NOT_FOUND` (also for another owner's destination).
    #[error("Destination {0} not found")]
    NotFound(String),
    /// 409: other changes kept landing in between; nothing was changed.
    #[error("destination {0} changed concurrently; nothing was changed, try again")]
    Busy(String),
    /// 409 `DESTINATION_DISABLED`: nothing is sent to a disabled destination.
    #[error("Destination {0} is disabled; enable it first")]
    Disabled(String),
    /// 500: the stored destination cannot make a request (validation should have refused it).
    #[error("the destination cannot be sent to: {0}")]
    Unsendable(String),
    /// 500: the system gave no randomness for an id or a key.
    #[error("no randomness available for a new id or key")]
    NoRandomness,
    #[error(transparent)]
    Registry(RegistryError),
}

/// What a delivery-records route could not do (DELIVERY.md §5).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// 400 `INVALID_QUERY`: a filter, cursor or limit that does not parse.
    #[error("{0}")]
    Invalid(String),
    /// 400 `INVALID_ID`: not `<destination_id>:<event_type>@<sequence>`.
    #[error("'{0}' is not a delivery id (<destination_id>:<event_type>@<sequence>)")]
    InvalidId(String),
    /// 404 `DELIVERY_NOT_FOUND` (also for a delivery of another owner's destination).
    #[error("Delivery {0} not found")]
    NotFound(String),
    /// 404 `FAILED_DELIVERY_NOT_FOUND`: no failed-view entry by that id (for this caller).
    #[error("Delivery {0} is not in the failed view")]
    FailedNotFound(String),
    /// 400 `INVALID_REQUEST`: a body that does not say what the route needs.
    #[error("{0}")]
    InvalidBody(String),
    #[error(transparent)]
    Records(#[from] crate::delivery::records::RecordsError),
}

impl From<RegistryError> for DestinationError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::NotFound(id) => DestinationError::NotFound(id.to_string()),
            RegistryError::Busy(id) => DestinationError::Busy(id.to_string()),
            other => DestinationError::Registry(other),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1:?}")]
    Body(Endpoint, BodyError),
    #[error("unknown event type '{0}'")]
    UnknownEventType(String, Vec<String>),
    #[error("{1}")]
    Invalid(Endpoint, Rejection),
    #[error("{1}")]
    BadRequest(Endpoint, RequestError),
    #[error("store unavailable: {0}")]
    Unavailable(StoreError),
    #[error("notification storage failed: {0}")]
    Storage(StoreError),
    #[error("stream setup failed: {0}")]
    StreamSetup(StoreError),
    #[error("reading notifications failed: {0}")]
    Read(StoreError),
    #[error("too many open streams (limit {0})")]
    TooManyStreams(usize),
    /// 401, with the `WWW-Authenticate` challenges of the configured mode.
    #[error("{0}")]
    Unauthorized(String, &'static [&'static str]),
    #[error("{0}")]
    Forbidden(String),
    #[error("Authentication service temporarily unavailable")]
    AuthUnavailable,
    #[error("query string longer than {limit} bytes")]
    QueryTooLong { limit: usize },
    /// An admin route's failure; `notification_id` is echoed on the single-delete route.
    #[error("{error}")]
    Admin {
        error: AdminError,
        notification_id: Option<String>,
    },
    #[error("Event type '{0}' not found")]
    SchemaNotFound(String, Vec<String>),
    #[error("Notification {0} not found")]
    NotificationNotFound(String),
    #[error("no route")]
    NoRoute { method: String, path: String },
    #[error("method not allowed")]
    MethodNotAllowed { method: String, path: String },
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// 422: an `Idempotency-Key` seen within the window for a different notification.
    #[error("idempotency key '{0}' reused for a different request")]
    IdempotencyKeyReused(String),
    #[error(transparent)]
    Destination(#[from] DestinationError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Any other framework rejection, already with a client-error status.
    #[error("{1}")]
    Rejected(StatusCode, String),
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        ApiError::Admin {
            error,
            notification_id: None,
        }
    }
}

/// A server failure's description, left on the response for the request middleware to
/// log once with the request id.
#[derive(Debug, Clone)]
pub(crate) struct ServerFailure(pub String);

impl ApiError {
    /// A request-level rule broken on `endpoint`.
    pub(crate) fn bad(endpoint: Endpoint, error: impl Into<RequestError>) -> Self {
        ApiError::BadRequest(endpoint, error.into())
    }

    /// Maps a store failure on a write path: outages are 503, the rest 500.
    pub fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => ApiError::Unavailable(error),
            StoreError::IdempotencyKeyReused(key) => ApiError::IdempotencyKeyReused(key),
            other => ApiError::Storage(other),
        }
    }

    /// Tags this admin failure with the id the request named.
    pub(crate) fn with_notification_id(self, raw_id: &str) -> Self {
        match self {
            ApiError::Admin { error, .. } => ApiError::Admin {
                error,
                notification_id: Some(raw_id.to_owned()),
            },
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Body(..)
            | ApiError::UnknownEventType(..)
            | ApiError::Invalid(..)
            | ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable(_) | ApiError::TooManyStreams(_) | ApiError::AuthUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::StreamSetup(error) | ApiError::Read(error) => store_status(error),
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::QueryTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Admin { error, .. } => admin_status(error),
            ApiError::SchemaNotFound(..)
            | ApiError::NoRoute { .. }
            | ApiError::NotificationNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Destination(error) => destination_status(error),
            ApiError::Delivery(error) => delivery_status(error),
            ApiError::Rejected(status, _) => *status,
        }
    }

    /// What the log says about a server failure: the answer and its cause.
    fn log_line(&self) -> String {
        match self {
            ApiError::Admin {
                error: AdminError::Store { action, error },
                ..
            } => format!("{action} failed: {error}"),
            other => other.to_string(),
        }
    }
}

/// Outages are worth a retry (503); any other store failure is ours (500).
fn store_status(error: &StoreError) -> StatusCode {
    match error {
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn delivery_status(error: &DeliveryError) -> StatusCode {
    use crate::delivery::records::RecordsError;
    match error {
        DeliveryError::Invalid(_) | DeliveryError::InvalidId(_) | DeliveryError::InvalidBody(_) => {
            StatusCode::BAD_REQUEST
        }
        DeliveryError::NotFound(_) | DeliveryError::FailedNotFound(_) => StatusCode::NOT_FOUND,
        DeliveryError::Records(RecordsError::Store(error)) => store_status(error),
        DeliveryError::Records(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn destination_status(error: &DestinationError) -> StatusCode {
    match error {
        DestinationError::Invalid(_) | DestinationError::AddressBlocked(_) => {
            StatusCode::BAD_REQUEST
        }
        DestinationError::NotFound(_) => StatusCode::NOT_FOUND,
        DestinationError::Busy(_) | DestinationError::Disabled(_) => StatusCode::CONFLICT,
        DestinationError::Unsendable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        DestinationError::NoRandomness => StatusCode::INTERNAL_SERVER_ERROR,
        DestinationError::Registry(RegistryError::Store(error)) => store_status(error),
        DestinationError::Registry(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn admin_status(error: &AdminError) -> StatusCode {
    match error {
        AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::Store { error, .. } => store_status(error),
        AdminError::Aborted => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<NotifyError> for ApiError {
    fn from(error: NotifyError) -> Self {
        match error {
            NotifyError::Invalid(rejection) => ApiError::Invalid(Endpoint::Notify, rejection),
            NotifyError::Store(error) => ApiError::from_store(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = status.into_response();
        if let ApiError::Unauthorized(_, challenges) = &self {
            for challenge in *challenges {
                if let Ok(value) = HeaderValue::from_str(challenge) {
                    response
                        .headers_mut()
                        .append(header::WWW_AUTHENTICATE, value);
                }
            }
        }
        if status.is_server_error() {
            response
                .extensions_mut()
                .insert(ServerFailure(self.log_line()));
        }
        response.extensions_mut().insert(self.body());
        response
    }
}
