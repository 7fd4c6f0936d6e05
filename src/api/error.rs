//! `ApiError`: the one place where a failure becomes a status code and a body. Handlers
//! return it; the `request_id` middleware writes the body with the request id, so the
//! conversion here has no side effects.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::domain::IdError;
use crate::schema::Rejection;
use crate::store::StoreError;

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
    fn label(self) -> &'static str {
        match self {
            Endpoint::Notify => "Invalid Notification Request",
            Endpoint::Watch => "Invalid Watch Request",
            Endpoint::Replay => "Invalid Replay Request",
            Endpoint::Browse => "Invalid Browse Request",
        }
    }

    fn invalid_code(self) -> &'static str {
        match self {
            Endpoint::Notify => "INVALID_NOTIFICATION_REQUEST",
            Endpoint::Watch => "INVALID_WATCH_REQUEST",
            Endpoint::Replay => "INVALID_REPLAY_REQUEST",
            Endpoint::Browse => "INVALID_BROWSE_REQUEST",
        }
    }

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

/// Admin endpoints answer in their own envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminFailure {
    pub status: StatusCode,
    pub message: String,
    /// Echoed on the single-delete route, as sent.
    pub notification_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1:?}")]
    Body(Endpoint, BodyError),
    #[error("unknown event type '{0}'")]
    UnknownEventType(String, Vec<String>),
    #[error("{1}")]
    Invalid(Endpoint, Rejection),
    /// A request-level rule outside the identifier (cursors, endpoint restrictions).
    #[error("{1}")]
    BadRequest(Endpoint, String),
    #[error("store unavailable: {0}")]
    Unavailable(StoreError),
    #[error("notification storage failed: {0}")]
    Storage(StoreError),
    #[error("stream setup failed: {0}")]
    StreamSetup(StoreError),
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
    #[error("{}", .0.message)]
    Admin(AdminFailure),
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
    /// Any other framework rejection, already with a client-error status.
    #[error("{1}")]
    Rejected(StatusCode, String),
}

/// What the middleware turns into the final body, once it knows the request id.
#[derive(Debug, Clone)]
pub enum ErrorBody {
    /// A JSON object whose keys are rendered sorted, as aviso renders them.
    Sorted(Map<String, Value>),
    /// The admin envelope: `success`, `message`, `notification_id`?, then `request_id`.
    Admin {
        message: String,
        notification_id: Option<String>,
    },
}

fn standard(code: &str, error: &str, message: &str, details: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("code".to_owned(), json!(code));
    body.insert("details".to_owned(), json!(details));
    body.insert("error".to_owned(), json!(error));
    body.insert("message".to_owned(), json!(message));
    body
}

/// Aviso's auth error shape: no `details`.
fn auth_error(code: &str, error: &str, message: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("code".to_owned(), json!(code));
    body.insert("error".to_owned(), json!(error));
    body.insert("message".to_owned(), json!(message));
    body
}

impl From<IdError> for AdminFailure {
    fn from(error: IdError) -> Self {
        AdminFailure {
            status: StatusCode::BAD_REQUEST,
            message: error.to_string(),
            notification_id: None,
        }
    }
}

impl ApiError {
    /// Maps a store failure on a write path: outages are 503, the rest 500.
    pub fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => ApiError::Unavailable(error),
            StoreError::IdempotencyKeyReused(key) => ApiError::IdempotencyKeyReused(key),
            other => ApiError::Storage(other),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Body(..)
            | ApiError::UnknownEventType(..)
            | ApiError::Invalid(..)
            | ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable(_)
            | ApiError::StreamSetup(StoreError::Unavailable(_))
            | ApiError::TooManyStreams(_)
            | ApiError::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::QueryTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::Storage(_) | ApiError::StreamSetup(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Admin(failure) => failure.status,
            ApiError::SchemaNotFound(..)
            | ApiError::NoRoute { .. }
            | ApiError::NotificationNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Rejected(status, _) => *status,
        }
    }

    /// The body without its request id.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::Sorted(match self {
            ApiError::Body(endpoint, error) => {
                let (code, message) = match error {
                    BodyError::Json(text) => {
                        ("INVALID_JSON", format!("JSON parsing failed: {text}"))
                    }
                    BodyError::UnknownField(key) => (
                        "UNKNOWN_FIELD",
                        format!(
                            "Request contains unknown fields: Unknown field '{key}' in request. Allowed fields: {:?}",
                            super::body::ALLOWED_FIELDS
                        ),
                    ),
                    BodyError::Shape(text) => (
                        "INVALID_REQUEST_SHAPE",
                        format!("Request deserialization failed: {text}"),
                    ),
                };
                standard(code, endpoint.label(), &message, &message)
            }
            ApiError::UnknownEventType(name, configured) => {
                let mut body = Map::new();
                body.insert("code".to_owned(), json!("UNKNOWN_EVENT_TYPE"));
                body.insert("configured_event_types".to_owned(), json!(configured));
                body.insert("error".to_owned(), json!("unknown_event_type"));
                body.insert(
                    "message".to_owned(),
                    json!(format!("unknown event type '{name}'")),
                );
                body
            }
            ApiError::Invalid(endpoint, rejection) => standard(
                endpoint.invalid_code(),
                endpoint.label(),
                &rejection.to_string(),
                &rejection.details(),
            ),
            ApiError::BadRequest(endpoint, message) => {
                standard(endpoint.invalid_code(), endpoint.label(), message, message)
            }
            ApiError::Unavailable(_) => standard(
                "SERVICE_UNAVAILABLE",
                "service_unavailable",
                "store unavailable, retry later",
                "the notification store is not reachable",
            ),
            ApiError::Unauthorized(message, _) => {
                auth_error("UNAUTHORIZED", "unauthorized", message)
            }
            ApiError::Forbidden(message) => auth_error("FORBIDDEN", "forbidden", message),
            ApiError::AuthUnavailable => auth_error(
                "SERVICE_UNAVAILABLE",
                "service_unavailable",
                "Authentication service temporarily unavailable",
            ),
            ApiError::QueryTooLong { limit } => {
                let message = format!("The query string exceeds the limit of {limit} bytes");
                standard("URI_TOO_LONG", "uri_too_long", &message, &message)
            }
            ApiError::TooManyStreams(limit) => standard(
                "SERVICE_UNAVAILABLE",
                "service_unavailable",
                &format!("too many open streams on this instance (limit {limit}); retry later"),
                "sse.max_connections reached",
            ),
            ApiError::Storage(_) => standard(
                "NOTIFICATION_STORAGE_FAILED",
                "Notification Storage Failed",
                "Failed to store notification",
                "the notification store refused the operation",
            ),
            ApiError::StreamSetup(error) => {
                let (code, label) = match error {
                    StoreError::Unavailable(_) => ("SERVICE_UNAVAILABLE", "service_unavailable"),
                    _ => (
                        "SSE_STREAM_INITIALIZATION_FAILED",
                        "SSE stream creation failed",
                    ),
                };
                standard(
                    code,
                    label,
                    "Failed to open the stream",
                    "the notification store could not be read",
                )
            }
            ApiError::Admin(failure) => {
                return ErrorBody::Admin {
                    message: failure.message.clone(),
                    notification_id: failure.notification_id.clone(),
                };
            }
            ApiError::SchemaNotFound(name, available) => {
                let mut body = Map::new();
                body.insert("available_types".to_owned(), json!(available));
                body.insert(
                    "message".to_owned(),
                    json!(format!("Event type '{name}' not found")),
                );
                body.insert("status".to_owned(), json!("error"));
                body
            }
            ApiError::NotificationNotFound(id) => {
                let message = format!("Notification {id} not found");
                standard("NOT_FOUND", "not_found", &message, &message)
            }
            ApiError::NoRoute { method, path } => {
                let message = format!("No route for {method} {path}");
                standard("NOT_FOUND", "not_found", &message, &message)
            }
            ApiError::MethodNotAllowed { method, path } => {
                let message = format!("Method {method} is not allowed on {path}");
                standard(
                    "METHOD_NOT_ALLOWED",
                    "method_not_allowed",
                    &message,
                    &message,
                )
            }
            ApiError::PayloadTooLarge { limit } => {
                let message = format!("Request body exceeds the limit of {limit} bytes");
                standard("PAYLOAD_TOO_LARGE", "payload_too_large", &message, &message)
            }
            ApiError::IdempotencyKeyReused(key) => standard(
                "IDEMPOTENCY_KEY_REUSED",
                "idempotency_key_reused",
                &format!(
                    "Idempotency-Key '{key}' was already used for a different notification; send a new key"
                ),
                "the event type, identifier or payload differs from the request first sent with this key within the duplicate window; nothing was stored",
            ),
            ApiError::Rejected(status, message) => {
                let code = status
                    .canonical_reason()
                    .unwrap_or("Bad Request")
                    .to_uppercase()
                    .replace(' ', "_");
                standard(&code, &code.to_lowercase(), message, message)
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut response = self.status().into_response();
        if let ApiError::Unauthorized(_, challenges) = &self {
            for challenge in *challenges {
                if let Ok(value) = axum::http::HeaderValue::from_str(challenge) {
                    response
                        .headers_mut()
                        .append(axum::http::header::WWW_AUTHENTICATE, value);
                }
            }
        }
        response.extensions_mut().insert(self.body());
        response
    }
}
