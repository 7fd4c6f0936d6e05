//! `/api/v1/deliveries` (DELIVERY.md §5): the delivery records and their attempts. A caller
//! sees the deliveries of the destinations it may see; with auth on, those of a deleted
//! destination only with an admin role.

mod events;
mod history;
mod list;
mod page;
mod retry;

pub(crate) use events::events;
pub(crate) use history::{delete_history, remove_failed};
pub(crate) use list::{failed, list};
pub(crate) use retry::{retry, retry_bulk};

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::destinations::may_see as may_see_destination;
use super::error::{ApiError, DeliveryError};
use super::guard::Caller;
use super::state::AppState;
use crate::delivery::delivery_id::DeliveryId;
use crate::delivery::record::DeliveryRecord;

/// The `?dry_run=` switch of a delivery route, refused in the request error shape
/// (`INVALID_QUERY`) like every other error of these routes.
pub(crate) fn dry_run(dry: &crate::api::admin::DryRun) -> Result<bool, ApiError> {
    dry.check()
        .map_err(|error| DeliveryError::Invalid(error.to_string()).into())
}

/// A bodiless delivery route's body: none, empty or `{}`; anything else is `INVALID_REQUEST`.
pub(crate) fn no_body(body: &[u8]) -> Result<(), ApiError> {
    crate::api::admin::refuse_body(body)
        .map_err(|error| DeliveryError::InvalidBody(error.to_string()).into())
}

/// What a per-item bulk route did: the ids it handled and the refused ones with their code.
pub(crate) struct BulkOutcome {
    pub(crate) successful: Vec<String>,
    pub(crate) failed: Vec<Value>,
    pub(crate) dry_run: bool,
}

impl BulkOutcome {
    /// `N <done>, M failed` (or `N <would>, …` for a dry run).
    pub(crate) fn message(&self, done: &str, would: &str) -> String {
        let verb = if self.dry_run { would } else { done };
        format!(
            "{} {verb}, {} failed",
            self.successful.len(),
            self.failed.len()
        )
    }

    /// Audits the call and answers `result`: `N <done>, M failed` (`<would>` for a dry run)
    /// on the trail and in the envelope alike.
    pub(crate) async fn audited_answer(
        state: &AppState,
        request: &crate::api::admin::AdminRequest,
        call: crate::api::destinations::Audited<'_>,
        result: Result<Self, ApiError>,
        (done, would): (&str, &str),
    ) -> Result<Json<Value>, ApiError> {
        let outcome = crate::api::destinations::audited(state, request, call, result, |outcome| {
            outcome.message(done, would)
        })
        .await?;
        let message = outcome.message(done, would);
        Ok(outcome.answer(message, &request.request_id))
    }

    /// The answer: the admin envelope (`success` only when nothing failed) and the items.
    pub(crate) fn answer(self, message: String, request_id: &str) -> Json<Value> {
        let mut answer = json!({
            "success": self.failed.is_empty(),
            "message": message,
            "request_id": request_id,
            "successful": self.successful,
            "failed": self.failed,
        });
        if self.dry_run {
            answer["dry_run"] = json!(true);
        }
        Json(answer)
    }
}

/// Whether `caller` may see the deliveries of `record`'s destination.
fn may_see(state: &AppState, caller: &Caller, record: &DeliveryRecord) -> bool {
    may_see_deliveries_of(state, caller, &record.id.destination)
}

/// Whether `caller` may see the deliveries of destination `id` (a deleted destination's:
/// with auth on, admins only).
fn may_see_deliveries_of(
    state: &AppState,
    caller: &Caller,
    id: &crate::delivery::destination::DestinationId,
) -> bool {
    match state.delivery.directory().get(id) {
        Some(destination) => may_see_destination(state, caller, &destination),
        None => match (&state.auth, &caller.0) {
            (None, _) => true,
            (Some(auth), Some(user)) => auth.is_admin(user),
            (Some(_), None) => false,
        },
    }
}

/// The delivery `raw` names, if this caller may see it.
async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<DeliveryRecord, ApiError> {
    let id: DeliveryId = raw
        .parse()
        .map_err(|_| DeliveryError::InvalidId(raw.to_owned()))?;
    match state
        .delivery
        .records()
        .get(&id)
        .await
        .map_err(DeliveryError::from)?
    {
        Some(record) if may_see(state, caller, &record) => Ok(record),
        _ => Err(DeliveryError::NotFound(raw.to_owned()).into()),
    }
}

/// `GET /api/v1/deliveries/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(visible(&state, &caller, &raw_id).await?.view()))
}

/// `GET /api/v1/deliveries/{id}/attempts`: oldest first, in pages (`limit`, `next`, `prev`).
pub(crate) async fn attempts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let query = page::PageQuery::parse(pairs, &[])?;
    let record = visible(&state, &caller, &raw_id).await?;
    let attempts = state
        .delivery
        .records()
        .attempts(&record)
        .await
        .map_err(DeliveryError::from)?;
    let (items, next, prev) = page::page(
        attempts,
        &query.page,
        false,
        |attempt| page::Position::number(u64::from(attempt.attempt)),
        |attempt| json!(attempt),
    );
    Ok(Json(
        json!({"models": items, "pagination": {"next": next, "prev": prev}}),
    ))
}
