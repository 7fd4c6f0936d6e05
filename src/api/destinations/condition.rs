//! `DELETE /api/v1/destinations` with a condition (DELIVERY.md §3, §8): the subscriptions
//! to one event type, to any event type of one stream, or all, removed from every
//! destination the caller may change; a destination left without any is deleted (its open
//! deliveries end `cancelled`). `?dry_run=true` answers the same and changes nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{Audited, audited, json_body, may_see};
use crate::api::admin::{AdminRequest, DryRun};
use crate::api::error::{ApiError, DeliveryError, DestinationError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::destination::Subscription;
use crate::domain::StreamKey;

/// The longest condition value.
const MAX_VALUE: usize = 1000;

/// Which subscriptions go.
enum Condition {
    Event(String),
    Group(StreamKey),
    All,
}

impl Condition {
    fn matches(&self, state: &AppState, subscription: &Subscription) -> bool {
        match self {
            Self::Event(name) => &subscription.event_type == name,
            Self::Group(stream) => state
                .catalog
                .event_type(&subscription.event_type)
                .is_some_and(|schema| &schema.stream == stream),
            Self::All => true,
        }
    }
}

fn invalid(message: String) -> ApiError {
    DestinationError::Invalid(message).into()
}

fn condition(state: &AppState, body: &Value) -> Result<Condition, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid("the body is an object {\"condition\": {...}}".to_owned()))?;
    if let Some(other) = object.keys().find(|key| *key != "condition") {
        return Err(invalid(format!(
            "unknown field '{other}'; accepted fields: condition"
        )));
    }
    let condition = object
        .get("condition")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            invalid("condition: an object with exactly one of event, group, all".to_owned())
        })?;
    if condition.len() != 1 {
        return Err(invalid(
            "condition: exactly one of event, group, all".to_owned(),
        ));
    }
    let text = |key: &str, value: &Value| -> Result<String, ApiError> {
        match value.as_str() {
            Some(text) if !text.is_empty() && text.len() <= MAX_VALUE => Ok(text.to_owned()),
            _ => Err(invalid(format!(
                "condition.{key}: a non-empty string of at most {MAX_VALUE} characters"
            ))),
        }
    };
    match condition.iter().next() {
        Some((key, value)) if key == "event" => {
            let name = text(key, value)?;
            state.schema(&name)?;
            Ok(Condition::Event(name))
        }
        Some((key, value)) if key == "group" => {
            let name = text(key, value)?;
            let stream = state
                .catalog
                .resolve_stream(&name)
                .cloned()
                .ok_or_else(|| {
                    invalid(format!(
                        "condition.group: '{name}' names no event type, stream key or stream"
                    ))
                })?;
            Ok(Condition::Group(stream))
        }
        Some((key, Value::Bool(true))) if key == "all" => Ok(Condition::All),
        Some((key, _)) if key == "all" => Err(invalid("condition.all: must be true".to_owned())),
        Some((key, _)) => Err(invalid(format!(
            "condition: unknown '{key}'; one of event, group, all"
        ))),
        None => Err(invalid(
            "condition: exactly one of event, group, all".to_owned(),
        )),
    }
}

/// What a deletion by condition did (or would do).
struct Removal {
    updated: Vec<String>,
    deleted: Vec<String>,
    dry_run: bool,
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    dry: &DryRun,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Removal, ApiError> {
    let dry_run = dry.check()?;
    let body = json_body(headers, body)?;
    let condition = condition(state, &body)?;
    let destinations = state
        .destinations
        .list()
        .await
        .map_err(DestinationError::from)?;
    let mut removal = Removal {
        updated: Vec::new(),
        deleted: Vec::new(),
        dry_run,
    };
    for destination in destinations
        .iter()
        .filter(|destination| may_see(state, caller, destination))
    {
        let kept = destination
            .settings
            .subscriptions
            .iter()
            .filter(|subscription| !condition.matches(state, subscription))
            .count();
        if kept == destination.settings.subscriptions.len() {
            continue;
        }
        let id = destination.id.to_string();
        if kept > 0 {
            if !dry_run {
                let written = state
                    .destinations
                    .change(&destination.id, chrono::Utc::now(), |stored| {
                        stored
                            .settings
                            .subscriptions
                            .retain(|subscription| !condition.matches(state, subscription));
                        Ok::<(), DestinationError>(())
                    })
                    .await?;
                super::in_force(state, &destination.id, Some(&written)).await;
            }
            removal.updated.push(id);
        } else {
            if !dry_run {
                state
                    .destinations
                    .remove(&destination.id)
                    .await
                    .map_err(DestinationError::from)?;
                super::in_force(state, &destination.id, None).await;
                state
                    .delivery
                    .cancel_destination(&destination.id)
                    .await
                    .map_err(DeliveryError::from)?;
            }
            removal.deleted.push(id);
        }
    }
    Ok(removal)
}

/// `DELETE /api/v1/destinations` with `{"condition": …}`.
pub(crate) async fn delete_by_condition(
    State(state): State<AppState>,
    request: AdminRequest,
    axum::Extension(caller): axum::Extension<Caller>,
    dry: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = remove(&state, &caller, &dry, &headers, &body).await;
    let call = Audited::destructive("destinations_delete_by_condition", "destinations", &dry);
    let message = |removal: &Removal| {
        let (updated, deleted) = if removal.dry_run {
            ("would be updated", "would be deleted")
        } else {
            ("updated", "deleted")
        };
        format!(
            "{} destinations {updated}, {} {deleted}",
            removal.updated.len(),
            removal.deleted.len()
        )
    };
    let removal = audited(&state, &request, call, result, |removal| message(removal)).await?;
    let mut answer = json!({
        "success": true,
        "message": message(&removal),
        "request_id": request.request_id,
        "updated": removal.updated,
        "deleted": removal.deleted,
    });
    if removal.dry_run {
        answer["dry_run"] = json!(true);
    }
    Ok(Json(answer))
}
