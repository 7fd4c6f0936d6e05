//! Request ids: a UUID v4 per request (a well-formed incoming `X-Request-ID` is kept),
//! sent back as `X-Request-ID` on every response, put on the request's tracing span, and
//! written into every error body. Also the one place error bodies are rendered, so that
//! framework rejections (404, 405, 413, ...) get the same JSON shape as handler errors.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use tracing::Instrument;

use super::error::{ApiError, ServerFailure};
use super::error_body::ErrorBody;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being handled; handlers take it as `Extension<RequestId>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn incoming_or_new(request: &Request) -> RequestId {
    let incoming = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| uuid::Uuid::parse_str(value).ok());
    RequestId(
        incoming
            .unwrap_or_else(uuid::Uuid::new_v4)
            .hyphenated()
            .to_string(),
    )
}

#[derive(Serialize)]
struct AdminBody<'a> {
    success: bool,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_id: Option<&'a str>,
    request_id: &'a str,
}

fn render(body: &ErrorBody, request_id: &RequestId) -> String {
    match body {
        ErrorBody::Sorted(map) => {
            let mut map = map.clone();
            map.insert("request_id".to_owned(), json!(request_id.as_str()));
            serde_json::Value::Object(map).to_string()
        }
        ErrorBody::Admin {
            message,
            notification_id,
        } => serde_json::to_string(&AdminBody {
            success: false,
            message,
            notification_id: notification_id.as_deref(),
            request_id: request_id.as_str(),
        })
        .unwrap_or_default(),
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// The outermost middleware: id, span, error rendering, one log line per request.
pub(crate) async fn middleware(mut request: Request, next: Next) -> Response {
    let request_id = incoming_or_new(&request);
    request.extensions_mut().insert(request_id.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id.as_str(), %method, %path);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    if let Some(ServerFailure(failure)) = response.extensions_mut().remove::<ServerFailure>() {
        span.in_scope(|| tracing::warn!(error = %failure, "request failed"));
    }
    let pending = response.extensions_mut().remove::<ErrorBody>();
    let body = match pending {
        Some(body) => Some(body),
        None if (status.is_client_error() || status.is_server_error()) && !is_json(&response) => {
            let fallback = match status.as_u16() {
                404 => ApiError::NoRoute {
                    method: method.to_string(),
                    path: path.clone(),
                },
                405 => ApiError::MethodNotAllowed {
                    method: method.to_string(),
                    path: path.clone(),
                },
                _ => ApiError::Rejected(
                    status,
                    status.canonical_reason().unwrap_or("error").to_owned(),
                ),
            };
            Some(fallback.body())
        }
        None => None,
    };
    if let Some(body) = body {
        let mut rendered = (status, render(&body, &request_id)).into_response();
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().append(name.clone(), value.clone());
            }
        }
        rendered.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response = rendered;
    }
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request"
        );
    });
    response
}
