//! Admin routes (aviso paths): delete one notification, purge one stream, purge every
//! managed stream. Answers use the admin envelope `success`, `message`, `request_id`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::error::{AdminFailure, ApiError};
use super::request_id::RequestId;
use super::state::AppState;
use crate::domain::NotificationRef;
use crate::store::{DeleteOutcome, StoreError};

#[derive(Serialize)]
pub(crate) struct AdminAnswer {
    success: bool,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_id: Option<String>,
    request_id: String,
}

fn failure(
    status: StatusCode,
    message: impl Into<String>,
    notification_id: Option<&str>,
) -> ApiError {
    ApiError::Admin(AdminFailure {
        status,
        message: message.into(),
        notification_id: notification_id.map(str::to_owned),
    })
}

fn store_failure(action: &str, error: &StoreError, notification_id: Option<&str>) -> ApiError {
    let status = match error {
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::warn!(%error, "{action} failed");
    failure(
        status,
        format!("Failed to {action}: store unavailable"),
        notification_id,
    )
}

#[tracing::instrument(skip_all, fields(id = %raw_id))]
pub(crate) async fn delete_notification(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    Path(raw_id): Path<String>,
) -> Result<Json<AdminAnswer>, ApiError> {
    let echo = Some(raw_id.as_str());
    let reference: NotificationRef = raw_id.parse().map_err(|error: crate::domain::IdError| {
        failure(StatusCode::BAD_REQUEST, error.to_string(), echo)
    })?;
    let not_found = || failure(StatusCode::NOT_FOUND, "Notification not found", echo);
    let id = state.catalog.resolve_id(&reference).ok_or_else(not_found)?;
    match state.store.delete(&id.stream, id.sequence).await {
        Ok(DeleteOutcome::Deleted) => {
            tracing::info!(stream = %id.stream, seq = id.sequence.get(), "notification deleted");
            Ok(Json(AdminAnswer {
                success: true,
                message: "Notification deleted".to_owned(),
                notification_id: Some(raw_id),
                request_id: request_id.0,
            }))
        }
        Ok(DeleteOutcome::NotFound) => Err(not_found()),
        Err(error) => Err(store_failure("delete notification", &error, echo)),
    }
}

#[derive(Deserialize)]
struct WipeStream {
    stream_name: String,
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

#[tracing::instrument(skip_all)]
pub(crate) async fn wipe_stream(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    if !is_json_content_type(&headers) {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            "Content type error: expected Content-Type: application/json",
            None,
        ));
    }
    let request: WipeStream = serde_json::from_slice(&body).map_err(|error| {
        failure(
            StatusCode::BAD_REQUEST,
            format!("Json deserialize error: {error}"),
            None,
        )
    })?;
    let name = request.stream_name;
    let stream = state
        .catalog
        .resolve_stream(&name)
        .cloned()
        .ok_or_else(|| {
            failure(
                StatusCode::NOT_FOUND,
                format!(
                    "Stream not found: {name}. Known event types: {}",
                    state.catalog.event_type_names().join(", ")
                ),
                None,
            )
        })?;
    let report = state
        .store
        .purge(&stream, None, false)
        .await
        .map_err(|error| store_failure("wipe stream", &error, None))?;
    tracing::info!(stream = %stream, count = report.count, "stream wiped");
    Ok(Json(AdminAnswer {
        success: true,
        message: format!("Successfully wiped stream: {name}"),
        notification_id: None,
        request_id: request_id.0,
    }))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn wipe_all(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
) -> Result<Json<AdminAnswer>, ApiError> {
    let reports = state
        .store
        .purge_managed(false)
        .await
        .map_err(|error| store_failure("wipe all streams", &error, None))?;
    let total: u64 = reports.iter().map(|(_, report)| report.count).sum();
    tracing::info!(
        streams = reports.len(),
        count = total,
        "all managed streams wiped"
    );
    Ok(Json(AdminAnswer {
        success: true,
        message: "Successfully wiped all data".to_owned(),
        notification_id: None,
        request_id: request_id.0,
    }))
}
