//! `/api/v1/destinations` (DELIVERY.md §2–3): register, list, read, change, disable,
//! enable, rotate the secret of and delete push-delivery destinations. Handlers check who
//! may see what (owners their own, admins all), validate through `delivery::validate`,
//! check the address, and audit every change, refusals included.

mod condition;
mod lifecycle;
mod read;
mod replay;
mod test_send;
mod write;

pub(crate) use condition::delete_by_condition;
pub(crate) use lifecycle::{disable, enable, rotate_secret};
pub(crate) use read::{get, list};
pub(crate) use replay::replay;
pub(crate) use test_send::test;
pub(crate) use write::{create, delete, patch};

use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde_json::Value;

use super::admin::{AdminAnswer, AdminRequest, record_audit};
use super::body::declares_json;
use super::error::{ApiError, DestinationError};
use super::guard::{self, Caller};
use super::state::AppState;
use crate::auth::Access;
use crate::delivery::address::{AddressError, AddressPolicy};
use crate::delivery::destination::{Destination, DestinationId, Settings};
use crate::delivery::validate::{self, Defaults, Invalid};

/// What every route on one destination reads besides its body: who calls (for the
/// ownership rule), the facts the audit trail records, and the id in the path.
pub(crate) struct OneDestination {
    pub(crate) caller: Caller,
    pub(crate) request: AdminRequest,
    pub(crate) raw_id: String,
}

impl FromRequestParts<AppState> for OneDestination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(raw_id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::Rejected(rejection.status(), rejection.body_text()))?;
        let Ok(request) = AdminRequest::from_request_parts(parts, state).await;
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            caller,
            request,
            raw_id,
        })
    }
}

/// `<realm>/<username>` of an authenticated caller: what a destination records as owner.
fn owner_of(caller: &Caller) -> Option<String> {
    caller.0.as_ref().map(|user| {
        format!(
            "{}/{}",
            user.realm.as_deref().unwrap_or_default(),
            user.username
        )
    })
}

/// Whether `caller` may see and change `destination`: with auth off everyone the guard let
/// through (loopback), with auth on its owner and admin roles.
pub(crate) fn may_see(state: &AppState, caller: &Caller, destination: &Destination) -> bool {
    let Some(auth) = &state.auth else {
        return true;
    };
    match &caller.0 {
        Some(user) if auth.is_admin(user) => true,
        Some(_) => destination.owner == owner_of(caller),
        None => false,
    }
}

/// The queued deliveries of every destination (empty while the queue is out of reach: the
/// representation then says 0 rather than failing the read).
async fn backlogs(state: &AppState) -> std::collections::HashMap<String, u64> {
    state.delivery.backlog().await.unwrap_or_default()
}

/// The API representation with its real `backlog`.
async fn shown(state: &AppState, destination: &Destination) -> Value {
    let backlog = backlogs(state).await;
    with_backlog(destination, &backlog)
}

fn with_backlog(
    destination: &Destination,
    backlogs: &std::collections::HashMap<String, u64>,
) -> Value {
    let mut view = destination.view(chrono::Utc::now());
    view["backlog"] = backlogs
        .get(destination.id.as_str())
        .copied()
        .unwrap_or(0)
        .into();
    view
}

/// How long a write waits for this instance's copy of the destinations to show it.
const IN_FORCE_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits until routing and sending on this instance use `written` (or, `None`, know the
/// destination is gone), so that what a call answers is in force when it answers: a
/// notification stored after a disable is not sent, one stored after a create is routed.
pub(crate) async fn in_force(state: &AppState, id: &DestinationId, written: Option<&Destination>) {
    let updated = written.map(|destination| destination.updated_at);
    state
        .delivery
        .directory()
        .wait_for(id, IN_FORCE_WITHIN, |seen| match (seen, updated) {
            (Some(seen), Some(updated)) => seen.updated_at >= updated,
            (None, None) => true,
            _ => false,
        })
        .await;
}

/// The id in the path, or 404 for anything that cannot be one.
fn parse_id(raw: &str) -> Result<DestinationId, ApiError> {
    DestinationId::parse(raw).ok_or_else(|| DestinationError::NotFound(raw.to_owned()).into())
}

/// The destination `raw` names, if this caller may see it (else 404, as if absent).
async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<Destination, ApiError> {
    let id = parse_id(raw)?;
    match state
        .destinations
        .get(&id)
        .await
        .map_err(DestinationError::from)?
    {
        Some(destination) if may_see(state, caller, &destination) => Ok(destination),
        _ => Err(DestinationError::NotFound(raw.to_owned()).into()),
    }
}

/// A write's body: JSON, declared as such (a form post from a web page is no request of
/// ours), or the `INVALID_DESTINATION` saying what is wrong.
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if !declares_json(headers) {
        return Err(
            DestinationError::Invalid("Content-Type must be application/json".to_owned()).into(),
        );
    }
    serde_json::from_slice(body)
        .map_err(|error| DestinationError::Invalid(format!("body: not JSON: {error}")).into())
}

/// Validated settings (a create: `base` `None`), the caller allowed to read every
/// subscribed event type, and the address allowed.
async fn checked_settings(
    state: &AppState,
    caller: &Caller,
    body: &Value,
    base: Option<&Settings>,
) -> Result<Settings, ApiError> {
    let defaults = Defaults::from(&state.settings.delivery);
    let settings =
        validate::settings(body, base, &state.catalog, &defaults).map_err(|error| match error {
            Invalid::UnknownEventType { name, configured } => {
                ApiError::UnknownEventType(name, configured)
            }
            field => DestinationError::Invalid(field.to_string()).into(),
        })?;
    for subscription in &settings.subscriptions {
        let schema = state.schema(&subscription.event_type)?;
        guard::authorize(state, caller, &schema, Access::Read)?;
    }
    if base.is_none_or(|base| base.url != settings.url) {
        check_address(state, &settings.url).await?;
    }
    Ok(settings)
}

/// The address rule of DELIVERY.md §3, at registration (it runs again before every
/// attempt: DNS can change). A name that does not resolve is refused too: nothing could
/// be delivered to it.
async fn check_address(state: &AppState, url: &str) -> Result<(), ApiError> {
    let policy = AddressPolicy {
        allow_private_networks: state.settings.delivery.allow_private_networks,
    };
    let url = reqwest::Url::parse(url)
        .map_err(|error| DestinationError::Invalid(format!("url: {error}")))?;
    match policy.check_url_resolved(&url).await {
        Ok(_) => Ok(()),
        Err(error @ AddressError::Blocked { .. }) => {
            state
                .metrics
                .delivery_blocked
                .with_label_values(&["registration"])
                .inc();
            Err(DestinationError::AddressBlocked(format!("url: {error}")).into())
        }
        Err(error) => Err(DestinationError::Invalid(format!("url: {error}")).into()),
    }
}

/// What the audit trail records of one destination call besides its outcome.
pub(crate) struct Audited<'a> {
    pub(crate) operation: &'static str,
    pub(crate) target: &'a str,
    pub(crate) dry_run: bool,
}

impl<'a> Audited<'a> {
    /// A call of a destructive route: dry runs are recorded as such.
    pub(crate) fn destructive(
        operation: &'static str,
        target: &'a str,
        dry: &crate::api::admin::DryRun,
    ) -> Self {
        Self {
            operation,
            target,
            dry_run: dry.requested(),
        }
    }

    pub(crate) fn call(operation: &'static str, target: &'a str) -> Self {
        Self {
            operation,
            target,
            dry_run: false,
        }
    }
}

/// Records `result` (worded by `message` when it succeeded) on the audit trail, refusals
/// included, and hands it back.
pub(crate) async fn audited<T>(
    state: &AppState,
    request: &AdminRequest,
    call: Audited<'_>,
    result: Result<T, ApiError>,
    message: impl FnOnce(&T) -> String,
) -> Result<T, ApiError> {
    let answer = match &result {
        Ok(value) => Ok(AdminAnswer::ok(message(value), &request.request_id)),
        // The trail needs the status and the text only.
        Err(error) => Err(ApiError::Rejected(error.status(), error.to_string())),
    };
    record_audit(
        state,
        request,
        call.operation,
        call.target,
        call.dry_run,
        &answer,
    )
    .await;
    result
}
