//! `GET /api/v1/schema` and `GET /api/v1/schema/{event_type}`: public, sorted, without
//! topics, auth or storage policies.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::state::AppState;

pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    let schema: Map<String, Value> = state
        .catalog
        .event_types()
        .map(|schema| (schema.event_type.to_string(), schema.describe()))
        .collect();
    Json(json!({
        "event_types": state.catalog.event_type_names(),
        "schema": schema,
        "status": "success",
        "total_schemas": schema.len(),
    }))
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Path(event_type): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let schema = state.catalog.event_type(&event_type).ok_or_else(|| {
        ApiError::SchemaNotFound(event_type.clone(), state.catalog.event_type_names())
    })?;
    Ok(Json(json!({
        "event_type": schema.event_type.as_str(),
        "schema": schema.describe(),
        "status": "success",
    })))
}
