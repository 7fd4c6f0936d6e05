//! The audit trail: one CloudEvent per destructive request (dry runs and refusals too) in a
//! protected, append-only stream that wipes never touch; `GET /api/v1/admin/audit` pages it.
//! Records are bounded in size, the trail in age and bytes (`store.audit`).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use super::answer::{AdminAnswer, invalid, store_failure};
use super::audit_filter::AuditFilter;
use super::context::AdminRequest;
use crate::api::error::ApiError;
use crate::api::page_query::{page_json, take_page_request};
use crate::api::routes::audited_operations;
use crate::api::state::AppState;
use crate::cloudevent;
use crate::ops::browse;
use crate::store::Publication;
use crate::subject::Subject;

/// Longest text field of a record, in bytes: the request controls the target (a 250 KB
/// `stream_name`), the message that echoes it, and the actor and roles of its token.
const MAX_FIELD_BYTES: usize = 1024;
/// Most roles a record lists.
const MAX_ROLES: usize = 32;

/// `text` cut to `MAX_FIELD_BYTES` (at a character boundary) with a suffix saying how long
/// it was; `truncated` is set when anything was cut.
fn bounded(text: &str, truncated: &mut bool) -> String {
    if text.len() <= MAX_FIELD_BYTES {
        return text.to_owned();
    }
    *truncated = true;
    let mut end = MAX_FIELD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…(truncated, {} bytes)", &text[..end], text.len())
}

/// What happened to a destructive request. Every text field is bounded, so one record
/// stays a few KiB whatever the request carried.
#[derive(Debug, Serialize)]
struct AuditRecord<'a> {
    operation: &'a str,
    target: String,
    dry_run: bool,
    /// `success`, `refused` (4xx) or `failed` (5xx).
    outcome: &'static str,
    status: u16,
    message: String,
    count: Option<u64>,
    request_id: &'a str,
    client_address: Option<String>,
    method: String,
    route: String,
    /// Set when authentication is on.
    actor: Option<String>,
    roles: Vec<String>,
    /// The client stopped waiting (request timeout, hang-up) before the operation ended;
    /// it ran to its end all the same, and this record holds its real outcome.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    client_left: bool,
    /// Some field was cut to its bound (its text ends with `…(truncated, N bytes)`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// Appends the outcome of `operation` on `target` to the audit trail. A failure to record
/// is logged, never turned into a failure of the operation that already happened.
pub(crate) async fn record(
    state: &AppState,
    request: &AdminRequest,
    operation: &str,
    target: &str,
    dry_run: bool,
    result: &Result<AdminAnswer, ApiError>,
) {
    let (outcome, status, message, count) = match result {
        Ok(answer) => ("success", 200, answer.message.clone(), answer.count),
        Err(error) => {
            let status = error.status();
            let outcome = if status.is_client_error() {
                "refused"
            } else {
                "failed"
            };
            (outcome, status.as_u16(), error.to_string(), None)
        }
    };
    let mut truncated = false;
    let mut roles: Vec<String> = request
        .roles
        .iter()
        .take(MAX_ROLES)
        .map(|role| bounded(role, &mut truncated))
        .collect();
    if request.roles.len() > MAX_ROLES {
        truncated = true;
        roles.push(format!("…(truncated, {} roles)", request.roles.len()));
    }
    let record = AuditRecord {
        operation,
        target: bounded(target, &mut truncated),
        dry_run,
        outcome,
        status,
        message: bounded(&message, &mut truncated),
        count,
        request_id: &request.request_id,
        client_address: request.client.map(|address| address.to_string()),
        method: bounded(&request.method, &mut truncated),
        route: bounded(&request.route, &mut truncated),
        actor: request
            .actor
            .as_deref()
            .map(|actor| bounded(actor, &mut truncated)),
        roles,
        client_left: request
            .attendance
            .as_ref()
            .is_some_and(super::completion::Attendance::client_left),
        truncated,
    };
    let stream = state.store.audit_stream();
    let payload = match serde_json::to_vec(&record) {
        Ok(payload) => payload,
        Err(error) => return tracing::error!(%error, "cannot encode an audit record"),
    };
    let subject = match Subject::build(stream.base(), [operation]) {
        Ok(subject) => subject,
        Err(error) => return tracing::error!(%error, "cannot address an audit record"),
    };
    let publication = Publication {
        stream,
        subject,
        headers: Vec::new(),
        payload: payload.into(),
        idempotency_key: None,
    };
    if let Err(error) = state.store.publish(publication).await {
        tracing::error!(%error, operation, target, "audit record lost");
    }
}

/// `GET /api/v1/admin/audit`: the trail, newest first, in pages, optionally narrowed to one
/// operation, outcome or dry-run flag.
pub(crate) async fn list(
    State(state): State<AppState>,
    request: AdminRequest,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let page_request = take_page_request(&mut pairs).map_err(|error| invalid(error.to_string()))?;
    let records = AuditFilter::take(&mut pairs, audited_operations()).map_err(invalid)?;
    if let Some((key, _)) = pairs.first() {
        return Err(invalid(format!("unknown query parameter '{key}'")));
    }
    let stream = state.store.audit_stream();
    let filter = records.subject_filter(stream.base());
    let admits = |message: &crate::store::StoredMessage| records.admits(message);
    let page = browse::page(&state.store, &stream, &filter, admits, &page_request)
        .await
        .map_err(|error| store_failure("read the audit trail", error))?;
    let models: Vec<Bytes> = page
        .items
        .iter()
        .filter_map(|message| cloudevent::render_audit(message, &state.session.cloudevents))
        .collect();
    let envelope = serde_json::to_string(&AdminAnswer::ok(
        format!("{} audit records", models.len()),
        &request.request_id,
    ))
    .unwrap_or_default();
    let page_body = page_json(&models, page.next.as_deref(), page.prev.as_deref());
    // The envelope first, then the page fields, as one object.
    let body = format!("{},{}", envelope.trim_end_matches('}'), &page_body[1..]);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_fields_are_kept_whole() {
        let mut truncated = false;
        assert_eq!(bounded("mars", &mut truncated), "mars");
        assert!(!truncated);
    }

    #[test]
    fn long_fields_are_cut_at_a_character_boundary_and_say_so() {
        let mut truncated = false;
        let long = format!("a{}", "é".repeat(1000));
        let cut = bounded(&long, &mut truncated);
        assert!(truncated);
        assert!(cut.ends_with("…(truncated, 2001 bytes)"), "{cut}");
        assert_eq!(cut.len(), 1023 + "…(truncated, 2001 bytes)".len());
    }
}
