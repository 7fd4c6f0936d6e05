//! Retries (DELIVERY.md §5, §8): one more attempt of a delivery now (`trigger: manual`),
//! whatever its status, for one delivery or many; refused for a disabled destination. The
//! attempt is a task in the destination's queue like any other, so it follows the
//! destination's concurrency and ordering rules and survives a restart.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{BulkOutcome, visible};
use crate::api::admin::{AdminRequest, DryRun};
use crate::api::body::declares_json;
use crate::api::destinations::{Audited, OneDestination, audited};
use crate::api::error::{ApiError, DeliveryError, DestinationError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::attempt::Trigger;
use crate::delivery::delivery_id::DeliveryId;
use crate::delivery::destination::{DestinationId, Ordering, State as Lifecycle};
use crate::delivery::record::{DeliveryRecord, DeliveryStatus};
use crate::delivery::task::DeliveryTask;

const MAX_IDS: usize = 1000;

/// Why one delivery cannot be retried: an item code and a message.
struct Refusal {
    code: &'static str,
    message: String,
}

/// Whether `record` may be retried now: its destination there and enabled.
fn retryable(state: &AppState, record: &DeliveryRecord) -> Result<(), Refusal> {
    match state.delivery.directory().get(&record.id.destination) {
        None => Err(Refusal {
            code: "NOT_FOUND",
            message: format!("Destination {} not found", record.id.destination),
        }),
        Some(destination) if destination.state == Lifecycle::Disabled => Err(Refusal {
            code: "DESTINATION_DISABLED",
            message: DestinationError::Disabled(record.id.destination.to_string()).to_string(),
        }),
        Some(_) => Ok(()),
    }
}

/// Queues one manual attempt of `record` (and marks it asked for, so the scheduled attempt
/// waits for it). On an ordered destination an open delivery's task holds the lane, so
/// there the retry brings its next scheduled attempt forward instead (the worker looks at
/// it every few seconds) and queues nothing.
pub(crate) async fn queue_attempt(
    state: &AppState,
    record: &DeliveryRecord,
    trigger: Trigger,
) -> Result<(), ApiError> {
    let ordered = state
        .delivery
        .directory()
        .get(&record.id.destination)
        .is_some_and(|destination| destination.settings.ordering == Ordering::Ordered);
    if trigger == Trigger::Manual && ordered && !record.status.is_terminal() {
        state
            .delivery
            .records()
            .change(record, |stored| {
                let now = chrono::Utc::now();
                stored.manual_requested_at = Some(now);
                if stored.status == DeliveryStatus::Retrying {
                    stored.next_attempt_at = Some(now);
                }
            })
            .await
            .map_err(DeliveryError::from)?;
        return Ok(());
    }
    if trigger == Trigger::Manual {
        state
            .delivery
            .records()
            .change(record, |stored| {
                stored.manual_requested_at = Some(chrono::Utc::now());
            })
            .await
            .map_err(DeliveryError::from)?;
    }
    let task = DeliveryTask::new(
        record.id.clone(),
        record.stream.clone(),
        record.notification_time,
        trigger,
    );
    let request = uuid::Uuid::new_v4().simple().to_string();
    let lane = state.delivery.lane_of(&record.id.destination);
    let task = task
        .to_task(lane, Some(&request))
        .map_err(|error| DeliveryError::InvalidBody(error.to_string()))?;
    let queue = state
        .delivery
        .queue()
        .await
        .map_err(|error| DeliveryError::Records(error.into()))?;
    queue
        .enqueue(vec![task])
        .await
        .map_err(|error| DeliveryError::Records(error.into()))?;
    Ok(())
}

async fn retry_one(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    super::no_body(body)?;
    let record = visible(state, caller, raw_id).await?;
    retryable(state, &record).map_err(|refusal| match refusal.code {
        "DESTINATION_DISABLED" => ApiError::from(DestinationError::Disabled(
            record.id.destination.to_string(),
        )),
        _ => DeliveryError::NotFound(raw_id.to_owned()).into(),
    })?;
    queue_attempt(state, &record, Trigger::Manual).await
}

/// `POST /api/v1/deliveries/{id}/retry` → 202.
pub(crate) async fn retry(
    State(state): State<AppState>,
    OneDestination {
        caller,
        request,
        raw_id,
    }: OneDestination,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let result = retry_one(&state, &caller, &raw_id, &body).await;
    let call = Audited::call("delivery_retry", &raw_id);
    audited(&state, &request, call, result, |()| {
        format!("Retry of {raw_id} queued")
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"success": true, "message": format!("Retry of {raw_id} queued"), "id": raw_id, "request_id": request.request_id}),
        ),
    ))
}

/// What a bulk retry names.
enum Selection {
    Ids(Vec<Value>),
    Matching {
        destination: String,
        status: Option<DeliveryStatus>,
    },
}

fn selection(headers: &HeaderMap, body: &[u8]) -> Result<Selection, ApiError> {
    let invalid = |message: String| ApiError::from(DeliveryError::InvalidBody(message));
    if !declares_json(headers) {
        return Err(invalid("Content-Type must be application/json".to_owned()));
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("body: not JSON: {error}")))?;
    let object = body.as_object().ok_or_else(|| {
        invalid(
            "the body is {\"ids\": [...]} or {\"destination_id\": ..., \"status\": ...}".to_owned(),
        )
    })?;
    if let Some(other) = object
        .keys()
        .find(|key| !["ids", "destination_id", "status"].contains(&key.as_str()))
    {
        return Err(invalid(format!(
            "unknown field '{other}'; accepted fields: ids, or destination_id and status"
        )));
    }
    match (object.get("ids"), object.get("destination_id")) {
        (Some(ids), None) if !object.contains_key("status") => {
            let ids = ids
                .as_array()
                .ok_or_else(|| invalid("ids: a list of delivery ids".to_owned()))?;
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(invalid(format!(
                    "ids: 1 to {MAX_IDS} delivery ids, got {}",
                    ids.len()
                )));
            }
            Ok(Selection::Ids(ids.clone()))
        }
        (None, Some(destination)) => {
            let destination = destination
                .as_str()
                .ok_or_else(|| invalid("destination_id: a destination id".to_owned()))?
                .to_owned();
            let status = match object.get("status") {
                None => None,
                Some(status) => Some(
                    status
                        .as_str()
                        .and_then(DeliveryStatus::parse)
                        .ok_or_else(|| {
                            invalid(format!(
                                "status must be pending, retrying, succeeded, failed or cancelled, got {status}"
                            ))
                        })?,
                ),
            };
            Ok(Selection::Matching {
                destination,
                status,
            })
        }
        _ => Err(invalid(
            "give either ids, or destination_id (and optionally status)".to_owned(),
        )),
    }
}

/// One delivery's outcome: retried (or would be), or why not.
async fn retry_item(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    dry_run: bool,
) -> Result<String, Value> {
    let failed = |code: &str, message: String| json!({"id": raw, "code": code, "message": message});
    if raw.parse::<DeliveryId>().is_err() {
        return Err(failed(
            "INVALID_ID",
            DeliveryError::InvalidId(raw.to_owned()).to_string(),
        ));
    }
    let record = match visible(state, caller, raw).await {
        Ok(record) => record,
        Err(ApiError::Delivery(DeliveryError::NotFound(_))) => {
            return Err(failed("NOT_FOUND", format!("Delivery {raw} not found")));
        }
        Err(error) => return Err(failed("UNAVAILABLE", error.to_string())),
    };
    retryable(state, &record).map_err(|refusal| failed(refusal.code, refusal.message))?;
    if !dry_run {
        queue_attempt(state, &record, Trigger::Manual)
            .await
            .map_err(|error| failed("UNAVAILABLE", error.to_string()))?;
    }
    Ok(raw.to_owned())
}

async fn retry_many(
    state: &AppState,
    caller: &Caller,
    dry: &DryRun,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BulkOutcome, ApiError> {
    let dry_run = super::dry_run(dry)?;
    let ids: Vec<String> = match selection(headers, body)? {
        Selection::Ids(ids) => ids
            .iter()
            .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
            .collect(),
        Selection::Matching {
            destination,
            status,
        } => match DestinationId::parse(&destination) {
            None => Vec::new(),
            Some(id) => state
                .delivery
                .records()
                .list(Some(&id))
                .await
                .map_err(DeliveryError::from)?
                .into_iter()
                .filter(|record| status.is_none_or(|wanted| record.status == wanted))
                .take(MAX_IDS)
                .map(|record| record.id.to_string())
                .collect(),
        },
    };
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        match retry_item(state, caller, &id, dry_run).await {
            Ok(id) => successful.push(id),
            Err(item) => failed.push(item),
        }
    }
    Ok(BulkOutcome {
        successful,
        failed,
        dry_run,
    })
}

/// `POST /api/v1/deliveries/retry` (`?dry_run=true`): per-item outcomes.
pub(crate) async fn retry_bulk(
    State(state): State<AppState>,
    request: AdminRequest,
    axum::Extension(caller): axum::Extension<Caller>,
    dry: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = retry_many(&state, &caller, &dry, &headers, &body).await;
    let call = Audited::destructive("delivery_retry", "deliveries", &dry);
    BulkOutcome::audited_answer(
        &state,
        &request,
        call,
        result,
        ("retried", "would be retried"),
    )
    .await
}
