//! `GET /api/v1/deliveries`: filters, order by notification time then sequence, pages.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::may_see;
use super::page::{PageQuery, Position, page};
use crate::api::cursor::parse_instant;
use crate::api::error::{ApiError, DeliveryError};
use crate::api::guard::Caller;
use crate::api::state::AppState;
use crate::delivery::destination::DestinationId;
use crate::delivery::record::{DeliveryRecord, DeliveryStatus};

const FILTERS: [&str; 6] = [
    "destination_id",
    "event_type",
    "status",
    "time[gte]",
    "time[lte]",
    "dir",
];

/// What a list keeps.
#[derive(Debug, Default)]
struct Filters {
    destination: Option<DestinationId>,
    unknown_destination: bool,
    event_type: Option<String>,
    status: Option<DeliveryStatus>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    descending: bool,
}

fn invalid(message: String) -> ApiError {
    DeliveryError::Invalid(message).into()
}

fn filters(pairs: &[(String, String)]) -> Result<Filters, ApiError> {
    let mut filters = Filters {
        descending: true,
        ..Filters::default()
    };
    for (key, value) in pairs {
        match key.as_str() {
            "destination_id" => match DestinationId::parse(value) {
                Some(id) => filters.destination = Some(id),
                // No destination has that id: an empty list, not an error.
                None => filters.unknown_destination = true,
            },
            "event_type" => filters.event_type = Some(value.clone()),
            "status" => {
                filters.status = Some(DeliveryStatus::parse(value).ok_or_else(|| {
                    invalid(format!(
                        "status must be pending, retrying, succeeded, failed or cancelled, got '{value}'"
                    ))
                })?);
            }
            "time[gte]" | "time[lte]" => {
                let time =
                    parse_instant(value).map_err(|error| invalid(format!("{key}: {error}")))?;
                if key == "time[gte]" {
                    filters.from = Some(time);
                } else {
                    filters.to = Some(time);
                }
            }
            "dir" => {
                filters.descending = match value.as_str() {
                    "desc" => true,
                    "asc" => false,
                    _ => return Err(invalid(format!("dir must be asc or desc, got '{value}'"))),
                }
            }
            _ => {}
        }
    }
    Ok(filters)
}

impl Filters {
    fn keeps(&self, record: &DeliveryRecord) -> bool {
        self.event_type
            .as_ref()
            .is_none_or(|wanted| &record.id.event_type == wanted)
            && self.status.is_none_or(|wanted| record.status == wanted)
            && self
                .from
                .is_none_or(|from| record.notification_time >= from)
            && self.to.is_none_or(|to| record.notification_time <= to)
    }
}

fn position(record: &DeliveryRecord) -> Position {
    Position::new(
        record.notification_time.timestamp_millis(),
        record.id.sequence.get(),
        record.id.to_string(),
    )
}

/// `GET /api/v1/deliveries`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    listed(&state, &caller, pairs, |record| Some(record.view())).await
}

/// `GET /api/v1/failed-deliveries`: the deliveries with a failed-view entry.
pub(crate) async fn failed(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    listed(&state, &caller, pairs, DeliveryRecord::failed_view).await
}

/// The page of records this caller may see that pass the query's filters, each shown by
/// `shown` (`None`: not listed).
async fn listed(
    state: &AppState,
    caller: &Caller,
    pairs: Vec<(String, String)>,
    shown: impl Fn(&DeliveryRecord) -> Option<Value>,
) -> Result<Json<Value>, ApiError> {
    let query = PageQuery::parse(pairs, &FILTERS)?;
    let filters = filters(&query.filters)?;
    let mut records = if filters.unknown_destination {
        Vec::new()
    } else {
        state
            .delivery
            .records()
            .list(filters.destination.as_ref())
            .await
            .map_err(DeliveryError::from)?
    };
    records.retain(|record| {
        filters.keeps(record) && shown(record).is_some() && may_see(state, caller, record)
    });
    records.sort_by_key(position);
    if filters.descending {
        records.reverse();
    }
    let (items, next, prev) = page(
        records,
        &query.page,
        filters.descending,
        position,
        |record| shown(&record).unwrap_or_default(),
    );
    Ok(Json(
        json!({"models": items, "pagination": {"next": next, "prev": prev}}),
    ))
}
