//! Purges: one stream (aviso's wipe), every managed stream (aviso's wipe-all, never the
//! audit trail or foreign streams), and the notifications matching an identifier.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::answer::{
    AdminAnswer, DryRun, StreamReport, invalid, not_found, refuse_unknown_fields, store_failure,
};
use super::audit;
use super::completion::to_completion;
use super::context::AdminRequest;
use crate::api::body::declares_json;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::domain::StreamKey;
use crate::ops;
use crate::schema::Operation;
use crate::store::{PurgeReport, Retraction};

/// Longest identifier value a purge filter may carry.
const MAX_VALUE_LENGTH: usize = 1000;

fn unknown_stream(state: &AppState, name: &str) -> ApiError {
    not_found(format!(
        "Stream not found: {name}. Known event types: {}",
        state.catalog.event_type_names().join(", ")
    ))
}

/// Tells the stream's watchers about a real purge, whatever it removed: a count of 0 still
/// tells them the wipe happened and nothing they saw is gone.
async fn announce_wipe(
    state: &AppState,
    stream: &StreamKey,
    report: &PurgeReport,
    request_id: &str,
) {
    state
        .store
        .announce(Retraction::wiped(stream, report.count, request_id))
        .await;
}

#[derive(Deserialize)]
struct WipeStream {
    stream_name: String,
}

async fn wipe_one(
    state: &AppState,
    request: &AdminRequest,
    headers: &HeaderMap,
    body: &[u8],
    dry_run: bool,
) -> (String, Result<AdminAnswer, ApiError>) {
    if !declares_json(headers) {
        let error = invalid("Content type error: expected Content-Type: application/json");
        return (String::new(), Err(error));
    }
    if let Err(error) = refuse_unknown_fields(body, &["stream_name"]) {
        return (String::new(), Err(error));
    }
    let wipe: WipeStream = match serde_json::from_slice(body) {
        Ok(wipe) => wipe,
        Err(error) => {
            return (
                String::new(),
                Err(invalid(format!("Json deserialize error: {error}"))),
            );
        }
    };
    let name = wipe.stream_name;
    let Some(stream) = state.catalog.resolve_stream(&name).cloned() else {
        let error = unknown_stream(state, &name);
        return (name, Err(error));
    };
    let result = match state.store.purge(&stream, None, dry_run).await {
        Ok(report) => {
            if !dry_run {
                tracing::info!(stream = %stream, count = report.count, "stream wiped");
                announce_wipe(state, &stream, &report, &request.request_id).await;
            }
            let message = if dry_run {
                format!("Would wipe stream: {name}")
            } else {
                format!("Successfully wiped stream: {name}")
            };
            let mut answer = AdminAnswer::ok(message, &request.request_id)
                .with_report(stream.stream_name(), report);
            answer.dry_run = dry_run;
            Ok(answer)
        }
        Err(error) => Err(store_failure("wipe stream", error)),
    };
    (name, result)
}

/// `DELETE /api/v1/admin/wipe/stream` `{"stream_name": ...}`: event type or stream key.
pub(crate) async fn wipe_stream(
    State(state): State<AppState>,
    request: AdminRequest,
    dry: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    to_completion(request, move |request| {
        wipe_stream_to_end(state, request, dry, headers, body)
    })
    .await
}

async fn wipe_stream_to_end(
    state: AppState,
    request: AdminRequest,
    dry: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    let (target, result) = match dry.check() {
        Ok(dry_run) => wipe_one(&state, &request, &headers, &body, dry_run).await,
        Err(error) => (String::new(), Err(error)),
    };
    audit::record(
        &state,
        &request,
        "wipe_stream",
        &target,
        dry.requested(),
        &result,
    )
    .await;
    result.map(Json)
}

/// `DELETE /api/v1/admin/wipe/all`: every stream of the schema; nothing else. Aviso clients
/// send no body; no body or `{}` is accepted, anything else refused.
pub(crate) async fn wipe_all(
    State(state): State<AppState>,
    request: AdminRequest,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    to_completion(request, move |request| {
        wipe_all_to_end(state, request, dry, body)
    })
    .await
}

async fn wipe_all_to_end(
    state: AppState,
    request: AdminRequest,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    let result = match dry.check_bodyless(&body) {
        Ok(dry_run) => wipe_managed(&state, &request, dry_run).await,
        Err(error) => Err(error),
    };
    audit::record(&state, &request, "wipe_all", "*", dry.requested(), &result).await;
    result.map(Json)
}

async fn wipe_managed(
    state: &AppState,
    request: &AdminRequest,
    dry_run: bool,
) -> Result<AdminAnswer, ApiError> {
    let reports = state
        .store
        .purge_managed(dry_run)
        .await
        .map_err(|error| store_failure("wipe all streams", error))?;
    let total: u64 = reports.iter().map(|(_, report)| report.count).sum();
    if !dry_run {
        tracing::info!(
            streams = reports.len(),
            count = total,
            "all managed streams wiped"
        );
        for (stream, report) in &reports {
            announce_wipe(state, stream, report, &request.request_id).await;
        }
    }
    let message = if dry_run {
        "Would wipe all data"
    } else {
        "Successfully wiped all data"
    };
    let mut answer = AdminAnswer::ok(message, &request.request_id);
    answer.dry_run = dry_run;
    answer.count = Some(total);
    answer.streams = Some(
        reports
            .into_iter()
            .map(|(stream, report)| StreamReport::new(stream.stream_name(), report))
            .collect(),
    );
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    identifier: Map<String, Value>,
}

/// A purge identifier value that is refused before the schema is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PurgeValueError {
    #[error(
        "an empty identifier would purge the whole stream; use DELETE /api/v1/admin/wipe/stream for that"
    )]
    EmptyIdentifier,
    #[error("Field '{0}' cannot be empty")]
    Empty(String),
    #[error("Field '{0}' exceeds maximum length of {MAX_VALUE_LENGTH} characters")]
    TooLong(String),
}

fn check_values(identifier: &Map<String, Value>) -> Result<(), PurgeValueError> {
    if identifier.is_empty() {
        return Err(PurgeValueError::EmptyIdentifier);
    }
    for (key, value) in identifier {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Object(_) => continue,
            other => other.to_string(),
        };
        if text.trim().is_empty() {
            return Err(PurgeValueError::Empty(key.clone()));
        }
        if text.chars().count() > MAX_VALUE_LENGTH {
            return Err(PurgeValueError::TooLong(key.clone()));
        }
    }
    Ok(())
}

async fn purge_matching(
    state: &AppState,
    request: &AdminRequest,
    event_type: &str,
    body: &[u8],
    dry_run: bool,
) -> Result<AdminAnswer, ApiError> {
    let schema = state
        .catalog
        .event_type(event_type)
        .ok_or_else(|| unknown_stream(state, event_type))?;
    refuse_unknown_fields(body, &["identifier"])?;
    let purge: PurgeRequest = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("Json deserialize error: {error}")))?;
    check_values(&purge.identifier).map_err(|error| invalid(error.to_string()))?;
    let selection = ops::stream::select(schema, &purge.identifier, Operation::Watch)
        .map_err(|error| invalid(error.to_string()))?;
    let stream = schema.stream.clone();
    let report = ops::purge::purge_matching(
        &state.store,
        &stream,
        &selection.filter,
        selection.nats_filter,
        dry_run,
    )
    .await
    .map_err(|error| store_failure("purge notifications", error))?;
    if !dry_run {
        tracing::info!(stream = %stream, count = report.count, "notifications purged by identifier");
        announce_wipe(state, &stream, &report, &request.request_id).await;
    }
    let message = if dry_run {
        format!("{} notifications would be purged", report.count)
    } else {
        format!("{} notifications purged", report.count)
    };
    let mut answer =
        AdminAnswer::ok(message, &request.request_id).with_report(stream.stream_name(), report);
    answer.dry_run = dry_run;
    Ok(answer)
}

/// `DELETE /api/v1/admin/notifications/{event_type}` `{"identifier": {...}}`.
pub(crate) async fn purge_by_identifier(
    State(state): State<AppState>,
    request: AdminRequest,
    Path(event_type): Path<String>,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    to_completion(request, move |request| {
        purge_by_identifier_to_end(state, request, event_type, dry, body)
    })
    .await
}

async fn purge_by_identifier_to_end(
    state: AppState,
    request: AdminRequest,
    event_type: String,
    dry: DryRun,
    body: Bytes,
) -> Result<Json<AdminAnswer>, ApiError> {
    let result = match dry.check() {
        Ok(dry_run) => purge_matching(&state, &request, &event_type, &body, dry_run).await,
        Err(error) => Err(error),
    };
    audit::record(
        &state,
        &request,
        "purge_by_identifier",
        &event_type,
        dry.requested(),
        &result,
    )
    .await;
    result.map(Json)
}
