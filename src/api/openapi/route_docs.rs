//! What each route takes and answers beyond what every route of its audience shares: the
//! documentation facts the route table points at, one function per route (or per pair of
//! forms of the same route).

use serde_json::{Map, Value, json};

use super::parts::{
    admin_errors, dry_run, errors, identifier_query, path_parameter, query_parameter, reference,
    request_errors, response, stream_response,
};

/// A route's own parameters, request body and responses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Details {
    pub parameters: Vec<Value>,
    pub body: Option<Value>,
    pub responses: Map<String, Value>,
}

fn answers(responses: Map<String, Value>) -> Details {
    Details {
        responses,
        ..Details::default()
    }
}

/// A page of `text/plain`, HTML or other non-JSON content.
fn content(description: &str, media_type: &str) -> Map<String, Value> {
    Map::from_iter([(
        "200".to_owned(),
        json!({"description": description, "content": {media_type: {"schema": {"type": "string"}}}}),
    )])
}

fn with(mut responses: Map<String, Value>, more: Map<String, Value>) -> Map<String, Value> {
    responses.extend(more);
    responses
}

fn last_event_id() -> Value {
    json!({"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string"}})
}

pub(crate) fn landing() -> Details {
    answers(content("HTML page", "text/html"))
}

pub(crate) fn console_redirect() -> Details {
    answers(Map::from_iter([(
        "308".to_owned(),
        json!({"description": "Moved to /console/", "headers": {"Location": {"schema": {"type": "string"}}}}),
    )]))
}

pub(crate) fn console_asset() -> Details {
    let text = json!({"schema": {"type": "string"}});
    let mut responses = Map::from_iter([(
        "200".to_owned(),
        json!({"description": "The file", "content": {
            "text/javascript": text, "text/css": text, "text/html": text,
        }}),
    )]);
    responses.extend(errors(&[("404", "The console has no such file", "Error")]));
    Details {
        parameters: vec![path_parameter("asset", "File name, e.g. app.js")],
        ..answers(responses)
    }
}

pub(crate) fn health() -> Details {
    answers(errors(&[("200", "Alive", "Health")]))
}

pub(crate) fn ready() -> Details {
    answers(errors(&[
        ("200", "Ready", "Ready"),
        ("503", "Not ready", "Ready"),
    ]))
}

pub(crate) fn metrics() -> Details {
    answers(content("Prometheus text format", "text/plain"))
}

pub(crate) fn notify() -> Details {
    let mut responses = with(
        errors(&[(
            "200",
            "Stored (acknowledged by the store)",
            "NotifyAccepted",
        )]),
        request_errors(),
    );
    responses.insert(
        "500".to_owned(),
        response("Store refused the notification", "Error"),
    );
    responses.insert(
        "422".to_owned(),
        response(
            "Idempotency-Key already used for a different request",
            "Error",
        ),
    );
    Details {
        parameters: vec![
            json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255}}),
        ],
        body: Some(reference("NotifyRequest")),
        responses,
    }
}

fn stream_answers() -> Map<String, Value> {
    with(
        Map::from_iter([("200".to_owned(), stream_response())]),
        request_errors(),
    )
}

pub(crate) fn stream_post() -> Details {
    Details {
        parameters: vec![last_event_id()],
        body: Some(reference("StreamRequest")),
        responses: stream_answers(),
    }
}

pub(crate) fn stream_get() -> Details {
    let mut parameters = vec![
        path_parameter("event_type", "Event type"),
        identifier_query(),
    ];
    for cursor in ["from_id", "from_date", "to_id", "to_date"] {
        parameters.push(query_parameter(
            cursor,
            "As in the POST body",
            json!({"type": "string"}),
        ));
    }
    parameters.push(last_event_id());
    Details {
        parameters,
        body: None,
        responses: stream_answers(),
    }
}

pub(crate) fn schema_list() -> Details {
    answers(errors(&[("200", "The schema", "SchemaList")]))
}

pub(crate) fn schema_one() -> Details {
    Details {
        parameters: vec![path_parameter("event_type", "Event type")],
        body: None,
        responses: errors(&[
            ("200", "The event type", "SchemaOne"),
            ("404", "Unknown event type", "SchemaNotFound"),
        ]),
    }
}

/// `limit`, `dir`, `next` and `prev`, as browse and the audit trail take them.
fn page_parameters(limit: Value, dir: Value, next: &str, prev: &str) -> Vec<Value> {
    vec![
        query_parameter("limit", "Page size", limit),
        query_parameter("dir", "Order", dir),
        query_parameter("next", next, json!({"type": "string"})),
        query_parameter("prev", prev, json!({"type": "string"})),
    ]
}

pub(crate) fn browse_page() -> Details {
    let mut parameters = vec![
        path_parameter("event_type", "Event type"),
        identifier_query(),
    ];
    parameters.extend(page_parameters(
        json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        json!({"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
        "Cursor from pagination.next",
        "Cursor from pagination.prev",
    ));
    parameters.push(query_parameter(
        "time[gte]",
        "Stored at or after",
        json!({"type": "string"}),
    ));
    parameters.push(query_parameter(
        "time[lte]",
        "Stored at or before",
        json!({"type": "string"}),
    ));
    Details {
        parameters,
        body: None,
        responses: with(errors(&[("200", "A page", "Page")]), request_errors()),
    }
}

fn notification_id() -> Value {
    path_parameter("id", "<event_type or stream>@<sequence>")
}

pub(crate) fn browse_one() -> Details {
    Details {
        parameters: vec![notification_id()],
        body: None,
        responses: with(
            errors(&[
                ("200", "The notification", "CloudEvent"),
                ("404", "No such notification", "Error"),
            ]),
            request_errors(),
        ),
    }
}

/// An admin route: its own parameters and body, its answer, and the admin errors.
fn admin(parameters: Vec<Value>, body: Option<&str>, answer: &str, schema: &str) -> Details {
    Details {
        parameters,
        body: body.map(reference),
        responses: with(errors(&[("200", answer, schema)]), admin_errors()),
    }
}

pub(crate) fn delete_one() -> Details {
    admin(
        vec![notification_id(), dry_run()],
        None,
        "Deleted (or would be)",
        "AdminAnswer",
    )
}

pub(crate) fn delete_many() -> Details {
    admin(
        vec![dry_run()],
        Some("BulkDelete"),
        "Per-id outcomes",
        "AdminAnswer",
    )
}

pub(crate) fn purge() -> Details {
    admin(
        vec![path_parameter("event_type", "Event type"), dry_run()],
        Some("PurgeByIdentifier"),
        "Purged (or would be)",
        "AdminAnswer",
    )
}

pub(crate) fn wipe_stream() -> Details {
    admin(
        vec![dry_run()],
        Some("WipeStream"),
        "Wiped (or would be)",
        "AdminAnswer",
    )
}

pub(crate) fn wipe_all() -> Details {
    admin(vec![dry_run()], None, "Wiped (or would be)", "AdminAnswer")
}

pub(crate) fn overview() -> Details {
    admin(vec![], None, "Managed streams", "StreamOverview")
}

pub(crate) fn audit() -> Details {
    let mut parameters = page_parameters(
        json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        json!({"type": "string", "enum": ["asc", "desc"]}),
        "Cursor",
        "Cursor",
    );
    parameters.extend([
        query_parameter(
            "operation",
            "Only records of this operation",
            json!({"type": "string", "enum": crate::api::routes::audited_operations()}),
        ),
        query_parameter(
            "outcome",
            "Only records with this outcome",
            json!({"type": "string", "enum": ["success", "refused", "failed"]}),
        ),
        query_parameter(
            "dry_run",
            "Only dry runs (`true`) or only real calls (`false`)",
            json!({"type": "boolean"}),
        ),
    ]);
    admin(parameters, None, "A page of audit records", "AuditPage")
}
