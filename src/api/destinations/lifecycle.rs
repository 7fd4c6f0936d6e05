//! Disabling, enabling and rotating the signing secret of a destination.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use super::write::with_secret;
use super::{Audited, OneDestination, audited, json_body, visible};
use crate::api::admin::refuse_body;
use crate::api::error::{ApiError, DestinationError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::destination::{DisabledReason, SigningKey, State as Lifecycle};

/// Longest rotation grace: a week.
const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

async fn set_state(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    body: &[u8],
    wanted: Lifecycle,
) -> Result<Value, ApiError> {
    refuse_body(body)?;
    let current = visible(state, caller, raw_id).await?;
    let destination = state
        .destinations
        .change(&current.id, chrono::Utc::now(), |destination| {
            destination.state = wanted;
            destination.disabled_reason =
                (wanted == Lifecycle::Disabled).then_some(DisabledReason::Operator);
            Ok::<(), DestinationError>(())
        })
        .await?;
    super::in_force(state, &destination.id, Some(&destination)).await;
    Ok(super::shown(state, &destination).await)
}

async fn lifecycle(
    state: AppState,
    one: OneDestination,
    body: Bytes,
    wanted: Lifecycle,
) -> Result<Json<Value>, ApiError> {
    let OneDestination {
        caller,
        request,
        raw_id,
    } = one;
    let (operation, done) = match wanted {
        Lifecycle::Disabled => ("destination_disable", "disabled"),
        Lifecycle::Enabled => ("destination_enable", "enabled"),
    };
    let result = set_state(&state, &caller, &raw_id, &body, wanted).await;
    let call = Audited::call(operation, &raw_id);
    audited(&state, &request, call, result, |_| {
        format!("Destination {raw_id} {done}")
    })
    .await
    .map(Json)
}

/// `POST /api/v1/destinations/{id}/disable`: nothing is sent; new deliveries still queue.
pub(crate) async fn disable(
    State(state): State<AppState>,
    one: OneDestination,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    lifecycle(state, one, body, Lifecycle::Disabled).await
}

/// `POST /api/v1/destinations/{id}/enable`.
pub(crate) async fn enable(
    State(state): State<AppState>,
    one: OneDestination,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    lifecycle(state, one, body, Lifecycle::Enabled).await
}

/// `{"grace": "24h"}` (the body may be empty): how long the old keys keep signing.
fn grace(headers: &HeaderMap, body: &[u8]) -> Result<Duration, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_GRACE);
    }
    let invalid = |message: String| ApiError::from(DestinationError::Invalid(message));
    let Value::Object(fields) = json_body(headers, body)? else {
        return Err(invalid("body: must be a JSON object".to_owned()));
    };
    if let Some(unknown) = fields.keys().find(|key| key.as_str() != "grace") {
        return Err(invalid(format!(
            "{unknown}: unknown field; accepted fields: grace"
        )));
    }
    let Some(raw) = fields.get("grace") else {
        return Ok(DEFAULT_GRACE);
    };
    let grace = raw
        .as_str()
        .and_then(|text| humantime::parse_duration(text).ok())
        .ok_or_else(|| invalid("grace: must be a duration such as 24h".to_owned()))?;
    if grace > MAX_GRACE {
        return Err(invalid("grace: must be from 0s to 168h".to_owned()));
    }
    Ok(grace)
}

async fn rotate(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, ApiError> {
    let grace = grace(headers, body)?;
    let current = visible(state, caller, raw_id).await?;
    let key = SigningKey::generate().ok_or(DestinationError::NoRandomness)?;
    let now = chrono::Utc::now();
    let ends = now + chrono::Duration::from_std(grace).unwrap_or_default();
    let destination = state
        .destinations
        .change(&current.id, now, |destination| {
            destination.keys.retain(|old| old.in_force(now));
            for old in &mut destination.keys {
                old.expires_at = Some(old.expires_at.map_or(ends, |end| end.min(ends)));
            }
            destination.keys.retain(|old| old.in_force(now));
            destination.keys.push(key.clone());
            Ok::<(), DestinationError>(())
        })
        .await?;
    super::in_force(state, &destination.id, Some(&destination)).await;
    Ok(with_secret(&destination, &key))
}

/// `POST /api/v1/destinations/{id}/rotate-secret` `{"grace": "24h"}`.
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    OneDestination {
        caller,
        request,
        raw_id,
    }: OneDestination,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = rotate(&state, &caller, &raw_id, &headers, &body).await;
    let call = Audited::call("destination_rotate_secret", &raw_id);
    audited(&state, &request, call, result, |_| {
        format!("Destination {raw_id}: secret rotated")
    })
    .await
    .map(Json)
}
