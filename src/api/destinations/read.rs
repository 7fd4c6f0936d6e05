//! Listing destinations (newest first, in pages) and reading one.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::{may_see, visible};
use crate::api::error::{ApiError, DestinationError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::destination::{Destination, State as Lifecycle};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// What a list asks for.
#[derive(Debug, Default)]
struct ListQuery {
    event_type: Option<String>,
    state: Option<Lifecycle>,
    limit: Option<usize>,
    /// `n<id>`: older than that id; `p<id>`: newer.
    cursor: Option<(bool, String)>,
}

fn invalid(message: String) -> ApiError {
    DestinationError::Invalid(message).into()
}

fn list_query(pairs: Vec<(String, String)>) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery::default();
    for (key, value) in pairs {
        let repeated = || invalid(format!("query parameter '{key}' is given more than once"));
        match key.as_str() {
            "event_type" if query.event_type.is_none() => query.event_type = Some(value),
            "state" if query.state.is_none() => {
                query.state = Some(match value.as_str() {
                    "enabled" => Lifecycle::Enabled,
                    "disabled" => Lifecycle::Disabled,
                    _ => {
                        return Err(invalid(format!(
                            "state must be enabled or disabled, got '{value}'"
                        )));
                    }
                });
            }
            "limit" if query.limit.is_none() => {
                let limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT).contains(limit));
                query.limit = Some(limit.ok_or_else(|| {
                    invalid(format!(
                        "limit must be an integer from 1 to {MAX_LIMIT}, got '{value}'"
                    ))
                })?);
            }
            "next" | "prev" if query.cursor.is_none() => {
                let older = key == "next";
                let id = value
                    .strip_prefix(if older { 'n' } else { 'p' })
                    .ok_or_else(|| invalid(format!("{key} is not a cursor this server issued")))?;
                query.cursor = Some((older, id.to_owned()));
            }
            "event_type" | "state" | "limit" | "next" | "prev" => return Err(repeated()),
            _ => {
                return Err(invalid(format!(
                    "unknown query parameter '{key}'; accepted: event_type, state, limit, next, prev"
                )));
            }
        }
    }
    Ok(query)
}

/// The page of `matching` (newest first) the cursor points at, and the cursors around it.
fn page(
    matching: Vec<Destination>,
    query: &ListQuery,
) -> (Vec<Destination>, Option<String>, Option<String>) {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let (start, end) = match &query.cursor {
        None => (0, limit.min(matching.len())),
        Some((true, id)) => {
            let start = matching
                .iter()
                .position(|d| d.id.as_str() < id.as_str())
                .unwrap_or(matching.len());
            (start, (start + limit).min(matching.len()))
        }
        Some((false, id)) => {
            let end = matching
                .iter()
                .position(|d| d.id.as_str() <= id.as_str())
                .unwrap_or(matching.len());
            (end.saturating_sub(limit), end)
        }
    };
    let next = (end < matching.len())
        .then(|| {
            matching
                .get(end.saturating_sub(1))
                .map(|d| format!("n{}", d.id))
        })
        .flatten();
    let prev = (start > 0)
        .then(|| matching.get(start).map(|d| format!("p{}", d.id)))
        .flatten();
    let items = matching.into_iter().skip(start).take(end - start).collect();
    (items, next, prev)
}

/// `GET /api/v1/destinations`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let query = list_query(pairs)?;
    let matching: Vec<Destination> = state
        .destinations
        .list()
        .await
        .map_err(DestinationError::from)?
        .into_iter()
        .filter(|destination| may_see(&state, &caller, destination))
        .filter(|destination| query.state.is_none_or(|wanted| destination.state == wanted))
        .filter(|destination| {
            query.event_type.as_ref().is_none_or(|wanted| {
                destination
                    .settings
                    .subscriptions
                    .iter()
                    .any(|s| &s.event_type == wanted)
            })
        })
        .collect();
    let (items, next, prev) = page(matching, &query);
    let backlogs = super::backlogs(&state).await;
    let models: Vec<Value> = items
        .iter()
        .map(|destination| super::with_backlog(destination, &backlogs))
        .collect();
    Ok(Json(
        json!({"models": models, "pagination": {"next": next, "prev": prev}}),
    ))
}

/// `GET /api/v1/destinations/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let destination = visible(&state, &caller, &raw_id).await?;
    Ok(Json(super::shown(&state, &destination).await))
}
