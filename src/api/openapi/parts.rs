//! Building blocks of the document: references, responses, parameters, error sets.

use serde_json::{Map, Value, json};

pub(super) fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub(super) fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

pub(super) fn response(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": json_content(reference(schema))})
}

fn sse_branch(event: &str, schema: Value) -> Value {
    json!({"properties": {"event": {"const": event}, "data": {"contentMediaType": "application/json", "contentSchema": schema}}})
}

/// One SSE event of a stream whose frames are `branches` (see [`sse_branch`]).
fn sse_event_of(branches: Vec<Value>) -> Value {
    json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer"}, "data": {"type": "string"}},
        "oneOf": branches
    })
}

/// The frames every stream shares besides its payload frames.
fn control_branches(live: Value) -> Vec<Value> {
    vec![
        sse_branch("live-notification", live),
        sse_branch(
            "replay-control",
            json!({"oneOf": [reference("ReplayStarted"), reference("ReplayCompleted"), reference("LimitReached")]}),
        ),
        sse_branch("heartbeat", reference("Heartbeat")),
        sse_branch("error", reference("ErrorFrame")),
        sse_branch("connection-closing", reference("ConnectionClosing")),
    ]
}

/// One SSE event of watch and replay, chosen by its `event:` name; `data` is JSON of the
/// frame schema.
pub(super) fn sse_event() -> Value {
    let mut branches = control_branches(
        json!({"oneOf": [reference("ConnectionEstablished"), reference("CloudEvent")]}),
    );
    branches.extend([
        sse_branch("replay", reference("CloudEvent")),
        sse_branch("notification-deleted", reference("NotificationDeleted")),
        sse_branch("stream-wiped", reference("StreamWiped")),
    ]);
    sse_event_of(branches)
}

/// One SSE event of the delivery outcome stream.
pub(super) fn outcome_sse_event() -> Value {
    let mut branches = control_branches(reference("ConnectionEstablished"));
    branches.push(sse_branch("delivery-outcome", reference("DeliveryOutcome")));
    sse_event_of(branches)
}

pub(super) fn stream_response() -> Value {
    json!({
        "description": "Server-Sent Events, each `event: <name>`, an `id:` line on notification frames, and one `data:` line of JSON; the schema describes one event.",
        "content": {"text/event-stream": {"schema": sse_event()}}
    })
}

pub(super) fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

pub(super) fn query_parameter(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

pub(super) fn dry_run() -> Value {
    query_parameter(
        "dry_run",
        "Report what would be removed; remove nothing. Only `true` or `false`; any other query parameter or value is a 400",
        json!({"type": "boolean"}),
    )
}

pub(super) fn identifier_query() -> Value {
    json!({
        "name": "identifier",
        "in": "query",
        "required": false,
        "description": "Identifier keys of the event type as parameters (`class=od`), constraints as `key[op]=value` (`step[gte]=4`)",
        "style": "form",
        "explode": true,
        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
    })
}

pub(super) fn errors(codes: &[(&str, &str, &str)]) -> Map<String, Value> {
    codes
        .iter()
        .map(|(status, description, schema)| ((*status).to_owned(), response(description, schema)))
        .collect()
}

pub(super) fn request_errors() -> Map<String, Value> {
    errors(&[
        (
            "400",
            "Invalid request (JSON, shape, identifier, cursors) or unknown event type",
            "Error",
        ),
        ("401", "Credentials required or invalid", "AuthError"),
        ("403", "Not allowed for this stream", "AuthError"),
        ("413", "Body over the limit", "Error"),
        ("414", "Query string over the limit", "Error"),
        (
            "503",
            "Store or authentication service unavailable",
            "Error",
        ),
    ])
}

pub(super) fn admin_errors() -> Map<String, Value> {
    let mut map = errors(&[
        ("400", "Invalid id or body", "AdminAnswer"),
        ("404", "Unknown stream or notification", "AdminAnswer"),
        ("500", "Store failure", "AdminAnswer"),
        ("503", "Store unavailable", "AdminAnswer"),
    ]);
    map.extend(errors(&[
        ("401", "Credentials required", "AuthError"),
        (
            "403",
            "Not an admin (or not loopback while auth is off)",
            "AuthError",
        ),
    ]));
    map
}
