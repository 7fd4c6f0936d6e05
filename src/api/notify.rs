//! `POST /api/v1/notification`: parse, authorize, store through [`ops::notify`], and answer
//! 200 only once the store has acknowledged (JetStream: the stream's quorum has it).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::RequestBody;
use super::error::{ApiError, Endpoint, RequestError};
use super::guard::{self, Caller};
use super::request_id::RequestId;
use super::state::AppState;
use crate::auth::Access;
use crate::ops::{self, notify::Notification};
use crate::schema::Rejection;

/// Header naming a client-chosen key that makes retries of the same notify harmless.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

#[derive(Serialize)]
struct Accepted {
    status: &'static str,
    request_id: String,
    processed_at: String,
    id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    let invalid = || ApiError::bad(Endpoint::Notify, RequestError::IdempotencyKey);
    let key = value.to_str().map_err(|_| invalid())?.trim();
    if key.is_empty() || key.len() > 255 {
        return Err(invalid());
    }
    Ok(Some(key.to_owned()))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn notify(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut event_type = None;
    let result = accept(
        &state,
        &request_id,
        &caller,
        &headers,
        &body,
        &mut event_type,
    )
    .await;
    let label = state
        .metrics
        .event_type_label(event_type.as_deref().unwrap_or_default());
    let outcome = match &result {
        Ok(accepted) if accepted.duplicate => "duplicate",
        Ok(_) => "stored",
        Err(error) if error.status().is_client_error() => "rejected",
        Err(_) => "failed",
    };
    state
        .metrics
        .notifications
        .with_label_values(&[label, outcome])
        .inc();
    result.map(|accepted| axum::Json(accepted).into_response())
}

async fn accept(
    state: &AppState,
    request_id: &RequestId,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
    event_type: &mut Option<String>,
) -> Result<Accepted, ApiError> {
    let mut request =
        RequestBody::parse(body).map_err(|error| ApiError::Body(Endpoint::Notify, error))?;
    *event_type = Some(request.event_type.clone());
    let schema = state.schema(&request.event_type)?;
    request
        .check_limits()
        .map_err(|error| ApiError::bad(Endpoint::Notify, error))?;
    if request.identifier.contains_key(crate::schema::POINT_KEY)
        && !schema.keys.contains_key(crate::schema::POINT_KEY)
    {
        return Err(ApiError::Invalid(
            Endpoint::Notify,
            Rejection::PointOnNotify,
        ));
    }
    guard::authorize(state, caller, &schema, Access::Write)?;
    if request.to_id.is_some() || request.to_date.is_some() {
        return Err(ApiError::bad(Endpoint::Notify, RequestError::EndOnNotify));
    }
    let notification = Notification {
        identifier: &request.identifier,
        payload: request.payload.take(),
        idempotency_key: idempotency_key(headers)?,
    };
    let stored = ops::notify::notify(&state.store, &schema, notification).await?;
    Ok(Accepted {
        status: "success",
        request_id: request_id.0.clone(),
        processed_at: crate::sse::frame::seconds(chrono::Utc::now()),
        id: stored.id(&schema),
        duplicate: stored.duplicate,
    })
}
