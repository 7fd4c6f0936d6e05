//! Browsing history without opening a stream: pages of CloudEvents
//! (`GET /api/v1/notifications/{event_type}`) and one notification by id
//! (`GET /api/v1/notification/{id}`).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::error::{ApiError, Endpoint};
use super::guard::{self, Caller};
use super::pagination::{self, PageRequest};
use super::query;
use super::state::AppState;
use crate::auth::Access;
use crate::cloudevent;
use crate::domain::NotificationRef;
use crate::schema::Operation;

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tracing::instrument(skip_all, fields(event_type = %event_type))]
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(event_type): Path<String>,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let bad = |message: String| ApiError::BadRequest(Endpoint::Browse, message);
    let schema = state.schema(&event_type)?;
    guard::authorize(&state, &caller, &schema, Access::Read)?;
    let request = PageRequest::take_from(&mut pairs).map_err(bad)?;
    let body = query::request(event_type, pairs).map_err(bad)?;
    body.check_limits().map_err(bad)?;
    if body.from_id.is_some()
        || body.from_date.is_some()
        || body.to_id.is_some()
        || body.to_date.is_some()
    {
        return Err(bad("browse pages with next/prev cursors and time[gte]/time[lte]; from_id, from_date, to_id and to_date are for replay".to_owned()));
    }
    let filter = schema
        .filter(&body.identifier, Operation::Watch)
        .map_err(|rejection| ApiError::Invalid(Endpoint::Browse, rejection))?;
    let nats_filter = filter
        .subject
        .to_nats_filter()
        .map_err(|error| bad(error.to_string()))?;
    let admits = |message: &crate::store::StoredMessage| {
        filter.admits(&message.subject, || message.polygon())
    };
    let page = pagination::page(&state.store, &schema.stream, &nats_filter, admits, &request)
        .await
        .map_err(ApiError::StreamSetup)?;
    let models: Vec<Bytes> = page
        .items
        .iter()
        .filter_map(|message| {
            cloudevent::render_shared(&schema, message, &state.session.cloudevents).ok()
        })
        .collect();
    Ok(json(pagination::page_json(
        &models,
        page.next.as_deref(),
        page.prev.as_deref(),
    )))
}

#[tracing::instrument(skip_all, fields(id = %raw_id))]
pub(crate) async fn one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let reference: NotificationRef = raw_id.parse().map_err(|error: crate::domain::IdError| {
        ApiError::BadRequest(Endpoint::Browse, error.to_string())
    })?;
    let not_found = || ApiError::NotificationNotFound(raw_id.clone());
    let id = state.catalog.resolve_id(&reference).ok_or_else(not_found)?;
    let schema = state
        .catalog
        .schema_for_stream(&id.stream)
        .ok_or_else(not_found)?;
    guard::authorize(&state, &caller, schema, Access::Read)?;
    let message = state
        .store
        .get(&id.stream, id.sequence)
        .await
        .map_err(ApiError::StreamSetup)?
        .ok_or_else(not_found)?;
    let rendered = cloudevent::render_shared(schema, &message, &state.session.cloudevents)
        .map_err(|_| not_found())?;
    Ok(json(String::from_utf8_lossy(&rendered).into_owned()))
}
