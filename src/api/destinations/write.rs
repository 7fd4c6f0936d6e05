//! Registering, changing and deleting a destination.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Audited, OneDestination, audited, checked_settings, json_body, owner_of, visible};
use crate::api::admin::{AdminRequest, DryRun};
use crate::api::error::{ApiError, DeliveryError, DestinationError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::destination::{Destination, DestinationId, SigningKey, State as Lifecycle};

/// The answer of a create or a rotation: the destination and, this once, the secret.
pub(super) fn with_secret(destination: &Destination, key: &SigningKey) -> Value {
    let mut view = destination.view(chrono::Utc::now());
    view["secret"] = json!(key.secret);
    view
}

async fn register(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Destination, SigningKey), ApiError> {
    let request = json_body(headers, body)?;
    let settings = checked_settings(state, caller, &request, None).await?;
    let now = chrono::Utc::now();
    let id = DestinationId::generate(now).ok_or(DestinationError::NoRandomness)?;
    let key = SigningKey::generate().ok_or(DestinationError::NoRandomness)?;
    let destination = Destination {
        id,
        settings,
        state: Lifecycle::Enabled,
        disabled_reason: None,
        owner: owner_of(caller),
        created_at: now,
        updated_at: now,
        keys: vec![key.clone()],
    };
    state
        .destinations
        .insert(&destination)
        .await
        .map_err(DestinationError::from)?;
    super::in_force(state, &destination.id, Some(&destination)).await;
    Ok((destination, key))
}

/// `POST /api/v1/destinations` → 201 with `Location` and the secret.
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: AdminRequest,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result = register(&state, &caller, &headers, &body).await;
    let target = result.as_ref().map_or_else(
        |_| String::new(),
        |(destination, _)| destination.id.to_string(),
    );
    let call = Audited::call("destination_create", &target);
    let (destination, key) = audited(&state, &request, call, result, |(destination, _)| {
        format!("Destination {} created", destination.id)
    })
    .await?;
    let location = format!("/api/v1/destinations/{}", destination.id);
    let mut response = (StatusCode::CREATED, Json(with_secret(&destination, &key))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn change(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Destination, ApiError> {
    let request = json_body(headers, body)?;
    let current = visible(state, caller, raw_id).await?;
    let settings = checked_settings(state, caller, &request, Some(&current.settings)).await?;
    let destination = state
        .destinations
        .change(&current.id, chrono::Utc::now(), |destination| {
            destination.settings = settings.clone();
            Ok::<(), DestinationError>(())
        })
        .await?;
    super::in_force(state, &destination.id, Some(&destination)).await;
    Ok(destination)
}

/// `PATCH /api/v1/destinations/{id}`: any creation field, validated the same.
pub(crate) async fn patch(
    State(state): State<AppState>,
    OneDestination {
        caller,
        request,
        raw_id,
    }: OneDestination,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = change(&state, &caller, &raw_id, &headers, &body).await;
    let call = Audited::call("destination_update", &raw_id);
    let destination = audited(&state, &request, call, result, |_| {
        format!("Destination {raw_id} updated")
    })
    .await?;
    Ok(Json(super::shown(&state, &destination).await))
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    dry: &DryRun,
    body: &[u8],
) -> Result<(String, bool, u64), ApiError> {
    let dry_run = dry.check_bodyless(body)?;
    let destination = visible(state, caller, raw_id).await?;
    if dry_run {
        let open = state
            .delivery
            .open_deliveries(&destination.id)
            .await
            .map_err(DeliveryError::from)?;
        return Ok((
            format!("Would delete destination {}", destination.id),
            true,
            open,
        ));
    }
    state
        .destinations
        .remove(&destination.id)
        .await
        .map_err(DestinationError::from)?;
    super::in_force(state, &destination.id, None).await;
    let cancelled = state
        .delivery
        .cancel_destination(&destination.id)
        .await
        .map_err(DeliveryError::from)?;
    Ok((
        format!("Destination {} deleted", destination.id),
        false,
        cancelled,
    ))
}

/// `DELETE /api/v1/destinations/{id}` (`?dry_run=true`): the admin envelope, the id and
/// how many deliveries not yet terminal end `cancelled`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    OneDestination {
        caller,
        request,
        raw_id,
    }: OneDestination,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = remove(&state, &caller, &raw_id, &dry, &body).await;
    let call = Audited::destructive("destination_delete", &raw_id, &dry);
    let (message, dry_run, cancelled) =
        audited(&state, &request, call, result, |(message, _, _)| {
            message.clone()
        })
        .await?;
    let mut answer = json!({
        "success": true,
        "message": message,
        "request_id": request.request_id,
        "id": raw_id,
        "cancelled": cancelled,
    });
    if dry_run {
        answer["dry_run"] = json!(true);
    }
    Ok(Json(answer))
}
