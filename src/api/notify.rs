//! `POST /api/v1/notification`: validate, canonicalise, publish, and answer 200 only once
//! the store has acknowledged (JetStream: the stream's quorum has the message).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::RequestBody;
use super::error::{ApiError, Endpoint};
use super::guard::{self, Caller};
use super::request_id::RequestId;
use super::state::AppState;
use crate::auth::Access;
use crate::schema::Rejection;
use crate::store::Publication;

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
    let invalid = || {
        ApiError::BadRequest(
            Endpoint::Notify,
            "Idempotency-Key must be 1 to 255 visible ASCII characters".to_owned(),
        )
    };
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
    let request =
        RequestBody::parse(body).map_err(|error| ApiError::Body(Endpoint::Notify, error))?;
    *event_type = Some(request.event_type.clone());
    let schema = state.schema(&request.event_type)?;
    request
        .check_limits()
        .map_err(|message| ApiError::BadRequest(Endpoint::Notify, message))?;
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
        return Err(ApiError::BadRequest(
            Endpoint::Notify,
            "to_id and to_date are only supported for the replay endpoint, not /notification"
                .to_owned(),
        ));
    }
    let identifier = schema
        .canonicalize(&request.identifier)
        .map_err(|rejection| ApiError::Invalid(Endpoint::Notify, rejection))?;
    if schema.payload_required() && request.payload.is_none() {
        return Err(ApiError::Invalid(
            Endpoint::Notify,
            Rejection::PayloadRequired,
        ));
    }
    let idempotency_key = idempotency_key(headers)?;
    let subject = schema.subject(&identifier).map_err(|error| {
        ApiError::Invalid(Endpoint::Notify, Rejection::Filter(error.to_string()))
    })?;
    let payload = request
        .payload
        .unwrap_or(serde_json::Value::Null)
        .to_string();
    let mut publication = Publication {
        stream: schema.stream.clone(),
        subject,
        headers: Vec::new(),
        payload: payload.into(),
        idempotency_key,
    };
    if let Some((_, polygon)) = &identifier.polygon {
        publication = publication.with_polygon(polygon);
    }
    let ack = state
        .store
        .publish(publication)
        .await
        .map_err(ApiError::from_store)?;
    tracing::info!(event_type = %schema.event_type, seq = ack.sequence.get(), duplicate = ack.duplicate, "notification stored");
    Ok(Accepted {
        status: "success",
        request_id: request_id.0.clone(),
        processed_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        id: format!("{}@{}", schema.event_type, ack.sequence),
        duplicate: ack.duplicate,
    })
}
