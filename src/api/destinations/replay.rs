//! `POST /api/v1/destinations/{id}/replay` (DELIVERY.md §3, §8): the destination's matching
//! history from `from_id`/`from_date` (to `to_id`/`to_date`) delivered again as new attempts
//! (`trigger: replay`) of the deliveries with those ids, notifications stored before the
//! destination existed included, deleted ones skipped. The attempts are tasks in the
//! destination's queue, so concurrency and order are those of live delivery.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::{Audited, OneDestination, audited, json_body, visible};
use crate::api::admin::DryRun;
use crate::api::body::RequestBody;
use crate::api::cursor::{Cursors, validate};
use crate::api::error::{ApiError, DeliveryError, DestinationError, Endpoint};
use crate::api::state::AppState;
use crate::delivery::attempt::Trigger;
use crate::delivery::delivery_id::DeliveryId;
use crate::delivery::destination::{Destination, State as Lifecycle};
use crate::delivery::record::DeliveryRecord;
use crate::delivery::task::DeliveryTask;
use crate::domain::{End, Start};
use crate::ops::stream::select;
use crate::schema::Operation;
use crate::store::ReadRequest;

/// Tasks queued per store round trip.
const BATCH: usize = 256;

fn invalid(message: String) -> ApiError {
    DestinationError::Invalid(message).into()
}

/// The range asked for, validated as a replay's.
fn range(body: &Value) -> Result<Cursors, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid("the body is an object with from_id or from_date".to_owned()))?;
    let mut fields = Map::new();
    for (key, value) in object {
        if !["from_id", "from_date", "to_id", "to_date"].contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown field '{key}'; accepted fields: from_id, from_date, to_id, to_date"
            )));
        }
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            other => return Err(invalid(format!("{key}: a string, got {other}"))),
        };
        fields.insert(key.clone(), Value::String(text));
    }
    fields.insert("event_type".to_owned(), Value::String(String::new()));
    fields.insert("identifier".to_owned(), Value::Object(Map::new()));
    let body: RequestBody = serde_json::from_value(Value::Object(fields))
        .map_err(|error| invalid(format!("body: {error}")))?;
    validate(&body, Endpoint::Replay, None).map_err(|error| invalid(error.to_string()))
}

/// The notifications the destination's subscriptions match in the range, once each, as
/// the tasks that deliver them again.
async fn matching(
    state: &AppState,
    destination: &Destination,
    cursors: &Cursors,
) -> Result<Vec<DeliveryTask>, ApiError> {
    let mut seen = BTreeSet::new();
    let mut tasks = Vec::new();
    for subscription in &destination.settings.subscriptions {
        let schema = state.schema(&subscription.event_type)?;
        let selection = select(&schema, &subscription.identifier, Operation::Watch)
            .map_err(|error| invalid(format!("subscription {}: {error}", schema.event_type)))?;
        let stream = schema.stream.clone();
        let last = state
            .store
            .last_sequence(&stream)
            .await
            .map_err(ApiError::Unavailable)?;
        let (last_sequence, until) = match cursors.to {
            Some(End::Sequence(to)) => (to.min(last), None),
            Some(End::Time(to)) => (last, Some(to)),
            None => (last, None),
        };
        let request = ReadRequest {
            filter: selection.nats_filter.clone(),
            start: cursors.from.unwrap_or(Start::Beginning),
            last_sequence,
            until,
            limit: None,
        };
        let mut messages = state
            .store
            .read(&stream, request)
            .await
            .map_err(ApiError::Read)?;
        while let Some(message) = messages.next().await {
            let message = message.map_err(ApiError::Read)?;
            if !selection
                .filter
                .admits(&message.subject, || message.polygon())
            {
                continue;
            }
            if !seen.insert((stream.clone(), message.sequence)) {
                continue;
            }
            tasks.push(DeliveryTask::new(
                DeliveryId {
                    destination: destination.id.clone(),
                    event_type: schema.event_type.to_string(),
                    sequence: message.sequence,
                },
                stream.clone(),
                message.time,
                Trigger::Replay,
            ));
        }
    }
    Ok(tasks)
}

/// Makes the records routing never made, then queues one replay attempt per delivery.
async fn queue(state: &AppState, tasks: &[DeliveryTask]) -> Result<(), ApiError> {
    let records = state.delivery.records();
    let queue = state
        .delivery
        .queue()
        .await
        .map_err(|error| DeliveryError::Records(error.into()))?;
    let request = uuid::Uuid::new_v4().simple().to_string();
    for chunk in tasks.chunks(BATCH) {
        let now = chrono::Utc::now();
        let mut fresh: Vec<DeliveryRecord> = Vec::new();
        for task in chunk {
            if records
                .get(&task.delivery)
                .await
                .map_err(DeliveryError::from)?
                .is_none()
            {
                let mut record = task.pending_record(now);
                record.replay_only = true;
                fresh.push(record);
            }
        }
        records
            .create_pending(&fresh)
            .await
            .map_err(DeliveryError::from)?;
        let queued = chunk
            .iter()
            .map(|task| {
                task.to_task(
                    state.delivery.lane_of(&task.delivery.destination),
                    Some(&request),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| DeliveryError::InvalidBody(error.to_string()))?;
        queue
            .enqueue(queued)
            .await
            .map_err(|error| DeliveryError::Records(error.into()))?;
    }
    Ok(())
}

async fn replay_history(
    state: &AppState,
    one: &OneDestination,
    dry: &DryRun,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(usize, bool), ApiError> {
    let dry_run = dry.check()?;
    let body = json_body(headers, body)?;
    let cursors = range(&body)?;
    let destination = visible(state, &one.caller, &one.raw_id).await?;
    if destination.state == Lifecycle::Disabled {
        return Err(DestinationError::Disabled(destination.id.to_string()).into());
    }
    let tasks = matching(state, &destination, &cursors).await?;
    if !dry_run {
        queue(state, &tasks).await?;
    }
    Ok((tasks.len(), dry_run))
}

/// `POST /api/v1/destinations/{id}/replay` → 202 `{"queued": N}` (200 for a dry run).
pub(crate) async fn replay(
    State(state): State<AppState>,
    one: OneDestination,
    dry: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let result = replay_history(&state, &one, &dry, &headers, &body).await;
    let call = Audited::destructive("destination_replay", &one.raw_id, &dry);
    let raw_id = one.raw_id.clone();
    let words = move |queued: usize, dry_run: bool| {
        let verb = if dry_run { "would be queued" } else { "queued" };
        format!("{queued} notifications {verb} again for {raw_id}")
    };
    let (queued, dry_run) = audited(&state, &one.request, call, result, |(queued, dry)| {
        words(*queued, *dry)
    })
    .await?;
    let mut answer = json!({
        "success": true,
        "message": words(queued, dry_run),
        "request_id": one.request.request_id,
        "queued": queued,
    });
    let status = if dry_run {
        answer["dry_run"] = json!(true);
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(answer)))
}
