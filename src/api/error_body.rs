//! How each [`ApiError`] is worded: aviso's `code`/`error`/`message`/`details` bodies, the
//! auth bodies without `details`, the schema 404 and the admin envelope. The status is not
//! chosen here ([`ApiError::status`] does), only the words.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::error::{ApiError, BodyError, DeliveryError, DestinationError, Endpoint};
use crate::delivery::registry::RegistryError;
use crate::store::StoreError;

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
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

fn standard(code: &str, error: &str, message: &str, details: &str) -> Map<String, Value> {
    object([
        ("code", json!(code)),
        ("details", json!(details)),
        ("error", json!(error)),
        ("message", json!(message)),
    ])
}

/// A body whose message doubles as its details.
fn plain(code: &str, error: &str, message: &str) -> Map<String, Value> {
    standard(code, error, message, message)
}

/// Aviso's auth error shape: no `details`.
fn auth_error(code: &str, error: &str, message: &str) -> Map<String, Value> {
    object([
        ("code", json!(code)),
        ("error", json!(error)),
        ("message", json!(message)),
    ])
}

fn body_error(endpoint: Endpoint, error: &BodyError) -> Map<String, Value> {
    let (code, message) = match error {
        BodyError::Json(text) => ("INVALID_JSON", format!("JSON parsing failed: {text}")),
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
    plain(code, endpoint.label(), &message)
}

/// A store failure while opening a stream or reading history: an outage reads as one.
fn read_failure(error: &StoreError, code: &str, label: &str, message: &str) -> Map<String, Value> {
    let (code, label) = match error {
        StoreError::Unavailable(_) => ("SERVICE_UNAVAILABLE", "service_unavailable"),
        _ => (code, label),
    };
    standard(
        code,
        label,
        message,
        "the notification store could not be read",
    )
}

/// Words of the failures every route may meet: auth, limits, routing, the store.
fn general(error: &ApiError) -> Option<Map<String, Value>> {
    Some(match error {
        ApiError::Unavailable(_) => standard(
            "SERVICE_UNAVAILABLE",
            "service_unavailable",
            "store unavailable, retry later",
            "the notification store is not reachable",
        ),
        ApiError::Unauthorized(message, _) => auth_error("UNAUTHORIZED", "unauthorized", message),
        ApiError::Forbidden(message) => auth_error("FORBIDDEN", "forbidden", message),
        ApiError::AuthUnavailable => auth_error(
            "SERVICE_UNAVAILABLE",
            "service_unavailable",
            "Authentication service temporarily unavailable",
        ),
        ApiError::QueryTooLong { limit } => plain(
            "URI_TOO_LONG",
            "uri_too_long",
            &format!("The query string exceeds the limit of {limit} bytes"),
        ),
        ApiError::TooManyStreams(limit) => standard(
            "SERVICE_UNAVAILABLE",
            "service_unavailable",
            &format!("too many open streams on this instance (limit {limit}); retry later"),
            "sse.max_connections reached",
        ),
        ApiError::NoRoute { method, path } => plain(
            "NOT_FOUND",
            "not_found",
            &format!("No route for {method} {path}"),
        ),
        ApiError::MethodNotAllowed { method, path } => plain(
            "METHOD_NOT_ALLOWED",
            "method_not_allowed",
            &format!("Method {method} is not allowed on {path}"),
        ),
        ApiError::PayloadTooLarge { limit } => plain(
            "PAYLOAD_TOO_LARGE",
            "payload_too_large",
            &format!("Request body exceeds the limit of {limit} bytes"),
        ),
        ApiError::Rejected(status, message) => rejected(*status, message),
        _ => return None,
    })
}

fn rejected(status: StatusCode, message: &str) -> Map<String, Value> {
    let code = status
        .canonical_reason()
        .unwrap_or("Bad Request")
        .to_uppercase()
        .replace(' ', "_");
    plain(&code, &code.to_lowercase(), message)
}

/// Words of the notification routes' own failures.
fn notification(error: &ApiError) -> Map<String, Value> {
    match error {
        ApiError::Body(endpoint, error) => body_error(*endpoint, error),
        ApiError::UnknownEventType(name, configured) => object([
            ("code", json!("UNKNOWN_EVENT_TYPE")),
            ("configured_event_types", json!(configured)),
            ("error", json!("unknown_event_type")),
            ("message", json!(format!("unknown event type '{name}'"))),
        ]),
        ApiError::Invalid(endpoint, rejection) => standard(
            endpoint.invalid_code(),
            endpoint.label(),
            &rejection.to_string(),
            &rejection.details(),
        ),
        ApiError::BadRequest(endpoint, error) => plain(
            endpoint.invalid_code(),
            endpoint.label(),
            &error.to_string(),
        ),
        ApiError::Storage(_) => standard(
            "NOTIFICATION_STORAGE_FAILED",
            "Notification Storage Failed",
            "Failed to store notification",
            "the notification store refused the operation",
        ),
        ApiError::StreamSetup(error) => read_failure(
            error,
            "SSE_STREAM_INITIALIZATION_FAILED",
            "SSE stream creation failed",
            "Failed to open the stream",
        ),
        ApiError::Read(error) => read_failure(
            error,
            "NOTIFICATION_READ_FAILED",
            "Notification Read Failed",
            "Failed to read notifications",
        ),
        ApiError::SchemaNotFound(name, available) => object([
            ("available_types", json!(available)),
            ("message", json!(format!("Event type '{name}' not found"))),
            ("status", json!("error")),
        ]),
        ApiError::NotificationNotFound(id) => plain(
            "NOT_FOUND",
            "not_found",
            &format!("Notification {id} not found"),
        ),
        ApiError::IdempotencyKeyReused(key) => standard(
            "IDEMPOTENCY_KEY_REUSED",
            "idempotency_key_reused",
            &format!(
                "Idempotency-Key '{key}' was already used for a different notification; send a new key"
            ),
            "the event type, identifier or payload differs from the request first sent with this key within the duplicate window; nothing was stored",
        ),
        ApiError::Destination(error) => destination(error),
        ApiError::Delivery(error) => delivery(error),
        other => general(other).unwrap_or_else(|| rejected(other.status(), &other.to_string())),
    }
}

fn delivery(error: &DeliveryError) -> Map<String, Value> {
    use crate::delivery::records::RecordsError;
    let message = error.to_string();
    let (code, label) = match error {
        DeliveryError::Invalid(_) => ("INVALID_QUERY", "invalid_query"),
        DeliveryError::InvalidId(_) => ("INVALID_ID", "invalid_id"),
        DeliveryError::NotFound(_) => ("DELIVERY_NOT_FOUND", "delivery_not_found"),
        DeliveryError::FailedNotFound(_) => {
            ("FAILED_DELIVERY_NOT_FOUND", "failed_delivery_not_found")
        }
        DeliveryError::InvalidBody(_) => ("INVALID_REQUEST", "invalid_request"),
        DeliveryError::Records(RecordsError::Store(StoreError::Unavailable(_))) => {
            return standard(
                "SERVICE_UNAVAILABLE",
                "service_unavailable",
                "store unavailable, retry later",
                "the delivery records are not reachable",
            );
        }
        DeliveryError::Records(_) => {
            return standard(
                "DELIVERY_STORAGE_FAILED",
                "delivery_storage_failed",
                "Failed to read or store delivery records",
                "see the gateway's log",
            );
        }
    };
    plain(code, label, &message)
}

fn destination(error: &DestinationError) -> Map<String, Value> {
    let message = error.to_string();
    let (code, label) = match error {
        DestinationError::Invalid(_) => ("INVALID_DESTINATION", "invalid_destination"),
        DestinationError::AddressBlocked(_) => {
            ("DESTINATION_ADDRESS_BLOCKED", "destination_address_blocked")
        }
        DestinationError::NotFound(_) => ("DESTINATION_NOT_FOUND", "destination_not_found"),
        DestinationError::Busy(_) => ("CONFLICT", "conflict"),
        DestinationError::Disabled(_) => ("DESTINATION_DISABLED", "destination_disabled"),
        DestinationError::Unsendable(_) => ("DESTINATION_UNSENDABLE", "destination_unsendable"),
        DestinationError::Registry(RegistryError::Store(StoreError::Unavailable(_))) => {
            return standard(
                "SERVICE_UNAVAILABLE",
                "service_unavailable",
                "store unavailable, retry later",
                "the destination store is not reachable",
            );
        }
        DestinationError::NoRandomness | DestinationError::Registry(_) => {
            return standard(
                "DESTINATION_STORAGE_FAILED",
                "destination_storage_failed",
                "Failed to read or store the destination",
                "see the gateway's log",
            );
        }
    };
    plain(code, label, &message)
}

impl ApiError {
    /// The body without its request id.
    pub fn body(&self) -> ErrorBody {
        match self {
            ApiError::Admin {
                error,
                notification_id,
            } => ErrorBody::Admin {
                message: error.to_string(),
                notification_id: notification_id.clone(),
            },
            other => ErrorBody::Sorted(general(other).unwrap_or_else(|| notification(other))),
        }
    }
}
