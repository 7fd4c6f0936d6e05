//! Cleaning up: removing an entry from the failed view (DELIVERY.md §6) and deleting the
//! histories of terminal deliveries (§5), each with `?dry_run=true`, each audited. Neither
//! ever touches a notification.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{BulkOutcome, visible};
use crate::api::admin::DryRun;
use crate::api::body::declares_json;
use crate::api::destinations::{Audited, OneDestination, audited};
use crate::api::error::{ApiError, DeliveryError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::delivery_id::DeliveryId;

/// Ids one history deletion takes at most.
const MAX_IDS: usize = 1000;

async fn remove_entry(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    dry: &DryRun,
    body: &[u8],
) -> Result<(String, bool), ApiError> {
    let dry_run = super::dry_run(dry)?;
    super::no_body(body)?;
    let missing = || ApiError::from(DeliveryError::FailedNotFound(raw_id.to_owned()));
    let record = match visible(state, caller, raw_id).await {
        Ok(record) => record,
        Err(ApiError::Delivery(DeliveryError::NotFound(_) | DeliveryError::InvalidId(_))) => {
            return Err(missing());
        }
        Err(other) => return Err(other),
    };
    if record.failed_view.is_none() {
        return Err(missing());
    }
    if dry_run {
        return Ok((format!("Would remove {raw_id} from the failed view"), true));
    }
    state
        .delivery
        .records()
        .change(&record, |stored| stored.failed_view = None)
        .await
        .map_err(DeliveryError::from)?;
    Ok((format!("Removed {raw_id} from the failed view"), false))
}

/// `DELETE /api/v1/failed-deliveries/{id}`: the entry only; the delivery and its attempts
/// stay as they are.
pub(crate) async fn remove_failed(
    State(state): State<AppState>,
    OneDestination {
        caller,
        request,
        raw_id,
    }: OneDestination,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = remove_entry(&state, &caller, &raw_id, &dry, &body).await;
    let call = Audited::destructive("failed_delivery_remove", &raw_id, &dry);
    let (message, dry_run) = audited(&state, &request, call, result, |(message, _)| {
        message.clone()
    })
    .await?;
    let mut answer = json!({"success": true, "message": message, "request_id": request.request_id});
    if dry_run {
        answer["dry_run"] = json!(true);
    }
    Ok(Json(answer))
}

/// One id's outcome in a history deletion.
enum Outcome {
    Deleted(String),
    Failed {
        id: String,
        code: &'static str,
        message: String,
    },
}

async fn delete_one(state: &AppState, caller: &Caller, raw: &Value, dry_run: bool) -> Outcome {
    let Some(raw) = raw.as_str() else {
        return Outcome::Failed {
            id: raw.to_string(),
            code: "INVALID_ID",
            message: "an id is a string".to_owned(),
        };
    };
    let failed = |code, message: String| Outcome::Failed {
        id: raw.to_owned(),
        code,
        message,
    };
    if raw.parse::<DeliveryId>().is_err() {
        return failed(
            "INVALID_ID",
            DeliveryError::InvalidId(raw.to_owned()).to_string(),
        );
    }
    let record = match visible(state, caller, raw).await {
        Ok(record) => record,
        Err(ApiError::Delivery(DeliveryError::NotFound(_))) => {
            return failed("NOT_FOUND", format!("Delivery {raw} not found"));
        }
        Err(error) => return failed("UNAVAILABLE", error.to_string()),
    };
    if !record.status.is_terminal() {
        return failed(
            "NOT_TERMINAL",
            format!(
                "Delivery {raw} is {}; only succeeded, failed and cancelled deliveries can go",
                record.status.as_str()
            ),
        );
    }
    if dry_run {
        return Outcome::Deleted(raw.to_owned());
    }
    match state.delivery.records().remove(&record.id).await {
        Ok(()) => Outcome::Deleted(raw.to_owned()),
        Err(error) => failed("UNAVAILABLE", error.to_string()),
    }
}

async fn delete_histories(
    state: &AppState,
    caller: &Caller,
    dry: &DryRun,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BulkOutcome, ApiError> {
    let dry_run = super::dry_run(dry)?;
    let invalid = |message: &str| ApiError::from(DeliveryError::InvalidBody(message.to_owned()));
    if !declares_json(headers) {
        return Err(invalid("Content-Type must be application/json"));
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(&format!("body: not JSON: {error}")))?;
    let object = body
        .as_object()
        .ok_or_else(|| invalid("the body is an object {\"ids\": [...]}"))?;
    if let Some(other) = object.keys().find(|key| *key != "ids") {
        return Err(invalid(&format!(
            "unknown field '{other}'; accepted fields: ids"
        )));
    }
    let ids = object
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("ids: a list of 1 to 1000 delivery ids is required"))?;
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(invalid(&format!(
            "ids: 1 to {MAX_IDS} delivery ids, got {}",
            ids.len()
        )));
    }
    let (mut deleted, mut failed) = (Vec::new(), Vec::new());
    for raw in ids {
        match delete_one(state, caller, raw, dry_run).await {
            Outcome::Deleted(id) => deleted.push(id),
            Outcome::Failed { id, code, message } => {
                failed.push(json!({"id": id, "code": code, "message": message}));
            }
        }
    }
    Ok(BulkOutcome {
        successful: deleted,
        failed,
        dry_run,
    })
}

/// `DELETE /api/v1/deliveries/history`: each id on its own; the record, its attempts and its
/// failed-view entry go, never the notification.
pub(crate) async fn delete_history(
    State(state): State<AppState>,
    request: crate::api::admin::AdminRequest,
    axum::Extension(caller): axum::Extension<Caller>,
    dry: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = delete_histories(&state, &caller, &dry, &headers, &body).await;
    let call = Audited::destructive("delivery_history_delete", "deliveries", &dry);
    BulkOutcome::audited_answer(
        &state,
        &request,
        call,
        result,
        ("deleted", "would be deleted"),
    )
    .await
}
