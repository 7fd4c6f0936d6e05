//! Browsing history without opening a stream: pages of CloudEvents
//! (`GET /api/v1/notifications/{event_type}`) and one notification by id
//! (`GET /api/v1/notification/{id}`).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::error::{ApiError, Endpoint, RequestError};
use super::guard::{self, Caller};
use super::page_query::{page_json, take_page_request};
use super::query;
use super::state::AppState;
use crate::auth::Access;
use crate::cloudevent;
use crate::domain::{IdError, NotificationRef};
use crate::ops::{self, browse, stream::SelectError};
use crate::schema::Operation;
use crate::store::StoredMessage;

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
    let bad = |error: RequestError| ApiError::bad(Endpoint::Browse, error);
    let schema = state.schema(&event_type)?;
    guard::authorize(&state, &caller, &schema, Access::Read)?;
    let request = take_page_request(&mut pairs).map_err(|error| bad(error.into()))?;
    let body = query::request(event_type, pairs).map_err(|error| bad(error.into()))?;
    body.check_limits().map_err(|error| bad(error.into()))?;
    if body.from_id.is_some()
        || body.from_date.is_some()
        || body.to_id.is_some()
        || body.to_date.is_some()
    {
        return Err(bad(RequestError::CursorsOnBrowse));
    }
    let selection =
        ops::stream::select(&schema, &body.identifier, Operation::Watch).map_err(|error| {
            match error {
                SelectError::Invalid(rejection) => ApiError::Invalid(Endpoint::Browse, rejection),
                SelectError::Subject(error) => bad(error.into()),
            }
        })?;
    let filter = &selection.filter;
    let admits = |message: &StoredMessage| filter.admits(&message.subject, || message.polygon());
    let page = browse::page(
        &state.store,
        &schema.stream,
        &selection.nats_filter,
        admits,
        &request,
    )
    .await
    .map_err(ApiError::Read)?;
    let models: Vec<Bytes> = page
        .items
        .iter()
        .filter_map(|message| {
            cloudevent::render_shared(&schema, message, &state.session.cloudevents).ok()
        })
        .collect();
    Ok(json(page_json(
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
    let reference: NotificationRef = raw_id
        .parse()
        .map_err(|error: IdError| ApiError::bad(Endpoint::Browse, error))?;
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
        .map_err(ApiError::Read)?
        .ok_or_else(not_found)?;
    let rendered = cloudevent::render_shared(schema, &message, &state.session.cloudevents)
        .map_err(|_| not_found())?;
    Ok(json(String::from_utf8_lossy(&rendered).into_owned()))
}
