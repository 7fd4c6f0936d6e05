//! `GET /api/v1/admin/streams`: every managed stream with its counts and effective policy.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::answer::store_failure;
use super::context::AdminRequest;
use crate::api::error::ApiError;
use crate::api::state::AppState;

#[derive(Serialize)]
struct Policy {
    max_messages_per_subject: i64,
    max_age_seconds: Option<u64>,
    max_messages: Option<i64>,
    max_bytes: Option<i64>,
    replicas: usize,
    compression: bool,
    duplicate_window_seconds: u64,
}

#[derive(Serialize)]
struct StreamOverview {
    name: String,
    event_types: Vec<String>,
    messages: u64,
    bytes: u64,
    first_sequence: u64,
    last_sequence: u64,
    first_time: Option<String>,
    last_time: Option<String>,
    policy: Policy,
}

#[derive(Serialize)]
pub(crate) struct Overview {
    success: bool,
    message: String,
    request_id: String,
    streams: Vec<StreamOverview>,
}

pub(crate) async fn overview(
    State(state): State<AppState>,
    request: AdminRequest,
) -> Result<Json<Overview>, ApiError> {
    let mut streams = Vec::new();
    for key in state.store.managed_streams() {
        let info = state
            .store
            .stream_info(&key)
            .await
            .map_err(|error| store_failure("read stream info", error))?;
        let event_types = state
            .catalog
            .schema_for_stream(&key)
            .map(|schema| vec![schema.event_type.to_string()])
            .unwrap_or_default();
        let policy = &info.policy;
        streams.push(StreamOverview {
            name: key.stream_name(),
            event_types,
            messages: info.messages,
            bytes: info.bytes,
            first_sequence: info.first_sequence,
            last_sequence: info.last_sequence,
            first_time: info.first_time.map(|time| time.to_rfc3339()),
            last_time: info.last_time.map(|time| time.to_rfc3339()),
            policy: Policy {
                max_messages_per_subject: policy.max_messages_per_subject,
                max_age_seconds: policy.max_age.map(|age| age.as_secs()),
                max_messages: policy.max_messages,
                max_bytes: policy.max_bytes,
                replicas: policy.replicas,
                compression: policy.compression,
                duplicate_window_seconds: policy.duplicate_window.as_secs(),
            },
        });
    }
    Ok(Json(Overview {
        success: true,
        message: format!("{} streams", streams.len()),
        request_id: request.request_id,
        streams,
    }))
}
