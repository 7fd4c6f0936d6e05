//! Stream routes are exempt from the request timeout (a stream may last an hour), so their
//! body gets its own deadline: a `POST /api/v1/watch` whose body never arrives is answered
//! 408 after `http.body_read_timeout` instead of holding its connection forever.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::ApiError;
use super::state::AppState;

/// Reads the whole body (at most `http.body_limit` bytes) within `http.body_read_timeout`,
/// then hands the request on with the body in memory.
pub(crate) async fn middleware(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let http = &state.settings.http;
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, http.body_limit).collect();
    let bytes = match tokio::time::timeout(http.body_read_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return ApiError::PayloadTooLarge {
                limit: http.body_limit,
            }
            .into_response();
        }
        Ok(Err(_)) => {
            let message = "the request body could not be read".to_owned();
            return ApiError::Rejected(StatusCode::BAD_REQUEST, message).into_response();
        }
        Err(_) => {
            let message = format!(
                "the request body did not arrive within {}",
                humantime::format_duration(http.body_read_timeout)
            );
            return ApiError::Rejected(StatusCode::REQUEST_TIMEOUT, message).into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
