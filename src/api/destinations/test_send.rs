//! `POST /api/v1/destinations/{id}/test` (DELIVERY.md §3, §8): one signed test CloudEvent to
//! the destination now, answered with the attempt record, also when the receiver fails.
//! No delivery is created.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::{Audited, OneDestination, audited, visible};
use crate::api::admin::refuse_body;
use crate::api::error::{ApiError, DestinationError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::cloudevent;
use crate::delivery::attempt::{Attempt, Trigger};
use crate::delivery::destination::{State as Lifecycle, random_bytes};

/// A test event's id: `test_` and 32 hex digits, new for every send.
fn test_id() -> Option<String> {
    let bytes = random_bytes::<16>()?;
    Some(format!(
        "test_{}",
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    ))
}

async fn send(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    refuse_body(body)?;
    let destination = visible(state, caller, raw_id).await?;
    if destination.state == Lifecycle::Disabled {
        return Err(DestinationError::Disabled(destination.id.to_string()).into());
    }
    let id = test_id().ok_or(DestinationError::NoRandomness)?;
    let event = cloudevent::render_test(
        &id,
        destination.id.as_str(),
        chrono::Utc::now(),
        &state.session.cloudevents,
    )
    .ok_or(DestinationError::NoRandomness)?;
    let attempt = Attempt {
        destination: &destination,
        event,
        webhook_id: &id,
        number: 1,
        trigger: Trigger::Test,
    };
    let outcome = state
        .attempter
        .attempt(&attempt)
        .await
        .map_err(|error| DestinationError::Unsendable(error.to_string()))?;
    outcome.record.observe(&state.metrics);
    Ok(json!(outcome.record))
}

/// `POST /api/v1/destinations/{id}/test`.
pub(crate) async fn test(
    State(state): State<AppState>,
    OneDestination {
        caller,
        request,
        raw_id,
    }: OneDestination,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = send(&state, &caller, &raw_id, &body).await;
    let call = Audited::call("destination_test", &raw_id);
    audited(&state, &request, call, result, |record| {
        let status = record["status"].as_str().unwrap_or("?");
        format!("Test sent to {raw_id}: {status}")
    })
    .await
    .map(Json)
}
