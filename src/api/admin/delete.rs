//! Deleting notifications by id: one (aviso's route) or up to 1000 at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::answer::{
    AdminAnswer, DryRun, ItemFailure, invalid, not_found, refuse_unknown_fields, store_failure,
};
use super::audit;
use super::completion::to_completion;
use super::context::AdminRequest;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::domain::{NotificationId, NotificationRef};
use crate::store::{DeleteOutcome, PurgeReport, Retraction, StoreError};

/// Most ids one bulk request may name.
pub(crate) const MAX_BULK_IDS: usize = 1000;

/// Why one id could not be deleted.
enum ItemError {
    InvalidId(String),
    UnknownStream,
    NotFound,
    Unavailable(StoreError),
}

impl ItemError {
    fn code(&self) -> &'static str {
        match self {
            ItemError::InvalidId(_) => "INVALID_ID",
            ItemError::UnknownStream => "UNKNOWN_STREAM",
            ItemError::NotFound => "NOT_FOUND",
            ItemError::Unavailable(_) => "UNAVAILABLE",
        }
    }

    fn message(&self) -> String {
        match self {
            ItemError::InvalidId(message) => message.clone(),
            ItemError::UnknownStream => "no event type or stream of that name".to_owned(),
            ItemError::NotFound => "Notification not found".to_owned(),
            ItemError::Unavailable(error) => format!("store unavailable: {error}"),
        }
    }
}

/// Resolves and deletes (or, on a dry run, checks) one id.
async fn delete_id(
    state: &AppState,
    raw: &str,
    dry_run: bool,
    request_id: &str,
) -> Result<NotificationId, ItemError> {
    let reference: NotificationRef = raw
        .parse()
        .map_err(|error: crate::domain::IdError| ItemError::InvalidId(error.to_string()))?;
    let id = state
        .catalog
        .resolve_id(&reference)
        .ok_or(ItemError::UnknownStream)?;
    if dry_run {
        return match state.store.get(&id.stream, id.sequence).await {
            Ok(Some(_)) => Ok(id),
            Ok(None) => Err(ItemError::NotFound),
            Err(error) => Err(ItemError::Unavailable(error)),
        };
    }
    match state.store.delete(&id.stream, id.sequence).await {
        Ok(DeleteOutcome::Deleted) => {
            tracing::info!(stream = %id.stream, seq = id.sequence.get(), "notification deleted");
            state
                .store
                .announce(Retraction::deleted(&id.stream, id.sequence, request_id))
                .await;
            Ok(id)
        }
        Ok(DeleteOutcome::NotFound) => Err(ItemError::NotFound),
        Err(error) => Err(ItemError::Unavailable(error)),
    }
}

/// `DELETE /api/v1/admin/notification/{id}` (aviso's route, `?dry_run=true` added). Aviso
/// clients send no body; no body or `{}` is accepted, anything else refused.
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    request: AdminRequest,
    Path(raw_id): Path<String>,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    to_completion(request, move |request| {
        delete_one_to_end(state, request, raw_id, dry, body)
    })
    .await
}

async fn delete_one_to_end(
    state: AppState,
    request: AdminRequest,
    raw_id: String,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    let result = match dry.check_bodyless(&body) {
        Ok(dry_run) => delete_one_checked(&state, &request, &raw_id, dry_run).await,
        Err(error) => Err(error.with_notification_id(&raw_id)),
    };
    finish(&state, &request, &raw_id, dry.requested(), result).await
}

async fn delete_one_checked(
    state: &AppState,
    request: &AdminRequest,
    raw_id: &str,
    dry_run: bool,
) -> Result<AdminAnswer, ApiError> {
    match delete_id(state, raw_id, dry_run, &request.request_id).await {
        Ok(id) => {
            let message = if dry_run {
                "Notification would be deleted"
            } else {
                "Notification deleted"
            };
            let mut answer = AdminAnswer::ok(message, &request.request_id).with_report(
                id.stream.stream_name(),
                PurgeReport {
                    count: 1,
                    first_sequence: Some(id.sequence),
                    last_sequence: Some(id.sequence),
                },
            );
            answer.notification_id = Some(raw_id.to_owned());
            answer.dry_run = dry_run;
            Ok(answer)
        }
        Err(error) => {
            let error = match error {
                ItemError::Unavailable(error) => store_failure("delete notification", error),
                ItemError::InvalidId(message) => invalid(message),
                ItemError::UnknownStream => not_found("Notification not found"),
                other => not_found(other.message()),
            };
            Err(error.with_notification_id(raw_id))
        }
    }
}

async fn finish(
    state: &AppState,
    request: &AdminRequest,
    raw_id: &str,
    dry_run: bool,
    result: Result<AdminAnswer, ApiError>,
) -> Result<Json<AdminAnswer>, ApiError> {
    audit::record(
        state,
        request,
        "delete_notification",
        raw_id,
        dry_run,
        &result,
    )
    .await;
    result.map(Json)
}

#[derive(Deserialize)]
struct BulkRequest {
    ids: Vec<String>,
}

fn parse_bulk(body: &[u8]) -> Result<Vec<String>, ApiError> {
    refuse_unknown_fields(body, &["ids"])?;
    let request: BulkRequest = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("Json deserialize error: {error}")))?;
    if request.ids.is_empty() || request.ids.len() > MAX_BULK_IDS {
        return Err(invalid(format!(
            "ids must list 1 to {MAX_BULK_IDS} notification ids, got {}",
            request.ids.len()
        )));
    }
    Ok(request.ids)
}

/// `DELETE /api/v1/admin/notifications` `{"ids":[...]}`: each id on its own.
pub(crate) async fn delete_many(
    State(state): State<AppState>,
    request: AdminRequest,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    to_completion(request, move |request| {
        delete_many_to_end(state, request, dry, body)
    })
    .await
}

async fn delete_many_to_end(
    state: AppState,
    request: AdminRequest,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    let result = match dry
        .check()
        .and_then(|dry_run| Ok((dry_run, parse_bulk(&body)?)))
    {
        Ok((dry_run, ids)) => {
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for raw in ids {
                match delete_id(&state, &raw, dry_run, &request.request_id).await {
                    Ok(_) => successful.push(raw),
                    Err(error) => failed.push(ItemFailure {
                        id: raw,
                        code: error.code(),
                        message: error.message(),
                    }),
                }
            }
            let verb = if dry_run {
                "would be deleted"
            } else {
                "deleted"
            };
            let mut answer = AdminAnswer::ok(
                format!("{} {verb}, {} failed", successful.len(), failed.len()),
                &request.request_id,
            );
            answer.dry_run = dry_run;
            answer.count = Some(successful.len() as u64);
            answer.successful = Some(successful);
            answer.failed = Some(failed);
            Ok(answer)
        }
        Err(error) => Err(error),
    };
    audit::record(
        &state,
        &request,
        "bulk_delete",
        "ids",
        dry.requested(),
        &result,
    )
    .await;
    result.map(Json)
}
