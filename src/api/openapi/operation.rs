//! The documentation of one route of the route table: tag, summary, parameters, body,
//! responses and who may call it.

use serde_json::{Map, Value, json};

use super::parts::{
    admin_errors, dry_run, errors, identifier_query, json_content, path_parameter, query_parameter,
    reference, request_errors, response, stream_response,
};
use crate::api::router::{Audience, Route};

/// Documentation of one route: summary, tag, parameters, body, responses.
pub(super) fn operation(route: &Route) -> Value {
    let (tag, summary, parameters, body, mut responses): (
        &str,
        &str,
        Vec<Value>,
        Option<Value>,
        Map<String, Value>,
    ) = match (route.method.as_str(), route.path) {
        ("GET", "/") => (
            "general",
            "Landing page",
            vec![],
            None,
            Map::from_iter([(
                "200".to_owned(),
                json!({"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}),
            )]),
        ),
        ("GET", "/health") => (
            "health",
            "Liveness",
            vec![],
            None,
            errors(&[("200", "Alive", "Health")]),
        ),
        ("GET", "/ready") => (
            "health",
            "Readiness: the store is reachable",
            vec![],
            None,
            errors(&[("200", "Ready", "Ready"), ("503", "Not ready", "Ready")]),
        ),
        ("GET", "/metrics") => (
            "health",
            "Prometheus metrics",
            vec![],
            None,
            Map::from_iter([(
                "200".to_owned(),
                json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}),
            )]),
        ),
        ("POST", "/api/v1/notification") => {
            let mut responses = errors(&[(
                "200",
                "Stored (acknowledged by the store)",
                "NotifyAccepted",
            )]);
            responses.extend(request_errors());
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
            (
                "notification",
                "Publish a notification",
                vec![
                    json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255}}),
                ],
                Some(reference("NotifyRequest")),
                responses,
            )
        }
        ("POST", "/api/v1/watch") | ("POST", "/api/v1/replay") => {
            let mut responses = Map::from_iter([("200".to_owned(), stream_response())]);
            responses.extend(request_errors());
            let summary = if route.path.ends_with("watch") {
                "Watch live notifications (history first with from_id/from_date)"
            } else {
                "Replay history"
            };
            (
                "streaming",
                summary,
                vec![
                    json!({"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string"}}),
                ],
                Some(reference("StreamRequest")),
                responses,
            )
        }
        ("GET", "/api/v1/watch/{event_type}") | ("GET", "/api/v1/replay/{event_type}") => {
            let mut responses = Map::from_iter([("200".to_owned(), stream_response())]);
            responses.extend(request_errors());
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
            parameters.push(json!({"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string"}}));
            (
                "streaming",
                "The same stream for EventSource",
                parameters,
                None,
                responses,
            )
        }
        ("GET", "/api/v1/schema") => (
            "schema",
            "All event types",
            vec![],
            None,
            errors(&[("200", "The schema", "SchemaList")]),
        ),
        ("GET", "/api/v1/schema/{event_type}") => (
            "schema",
            "One event type",
            vec![path_parameter("event_type", "Event type")],
            None,
            errors(&[
                ("200", "The event type", "SchemaOne"),
                ("404", "Unknown event type", "SchemaNotFound"),
            ]),
        ),
        ("GET", "/api/v1/notifications/{event_type}") => {
            let mut responses = errors(&[("200", "A page", "Page")]);
            responses.extend(request_errors());
            let parameters = vec![
                path_parameter("event_type", "Event type"),
                identifier_query(),
                query_parameter(
                    "limit",
                    "Page size",
                    json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                ),
                query_parameter(
                    "dir",
                    "Order",
                    json!({"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
                ),
                query_parameter(
                    "next",
                    "Cursor from pagination.next",
                    json!({"type": "string"}),
                ),
                query_parameter(
                    "prev",
                    "Cursor from pagination.prev",
                    json!({"type": "string"}),
                ),
                query_parameter("time[gte]", "Stored at or after", json!({"type": "string"})),
                query_parameter(
                    "time[lte]",
                    "Stored at or before",
                    json!({"type": "string"}),
                ),
            ];
            (
                "browse",
                "Browse history in pages",
                parameters,
                None,
                responses,
            )
        }
        ("GET", "/api/v1/notification/{id}") => {
            let mut responses = errors(&[
                ("200", "The notification", "CloudEvent"),
                ("404", "No such notification", "Error"),
            ]);
            responses.extend(request_errors());
            (
                "browse",
                "One notification by id",
                vec![path_parameter("id", "<event_type or stream>@<sequence>")],
                None,
                responses,
            )
        }
        ("DELETE", "/api/v1/admin/notification/{id}") => {
            let mut responses = errors(&[("200", "Deleted (or would be)", "AdminAnswer")]);
            responses.extend(admin_errors());
            (
                "admin",
                "Delete one notification",
                vec![
                    path_parameter("id", "<event_type or stream>@<sequence>"),
                    dry_run(),
                ],
                None,
                responses,
            )
        }
        ("DELETE", "/api/v1/admin/notifications") => {
            let mut responses = errors(&[("200", "Per-id outcomes", "AdminAnswer")]);
            responses.extend(admin_errors());
            (
                "admin",
                "Delete many notifications",
                vec![dry_run()],
                Some(reference("BulkDelete")),
                responses,
            )
        }
        ("DELETE", "/api/v1/admin/notifications/{event_type}") => {
            let mut responses = errors(&[("200", "Purged (or would be)", "AdminAnswer")]);
            responses.extend(admin_errors());
            (
                "admin",
                "Purge the notifications matching an identifier",
                vec![path_parameter("event_type", "Event type"), dry_run()],
                Some(reference("PurgeByIdentifier")),
                responses,
            )
        }
        ("DELETE", "/api/v1/admin/wipe/stream") => {
            let mut responses = errors(&[("200", "Wiped (or would be)", "AdminAnswer")]);
            responses.extend(admin_errors());
            (
                "admin",
                "Purge one stream",
                vec![dry_run()],
                Some(reference("WipeStream")),
                responses,
            )
        }
        ("DELETE", "/api/v1/admin/wipe/all") => {
            let mut responses = errors(&[("200", "Wiped (or would be)", "AdminAnswer")]);
            responses.extend(admin_errors());
            (
                "admin",
                "Purge every managed stream",
                vec![dry_run()],
                None,
                responses,
            )
        }
        ("GET", "/api/v1/admin/streams") => {
            let mut responses = errors(&[("200", "Managed streams", "StreamOverview")]);
            responses.extend(admin_errors());
            ("admin", "Stream overview", vec![], None, responses)
        }
        ("GET", "/api/v1/admin/audit") => {
            let mut responses = errors(&[("200", "A page of audit records", "AuditPage")]);
            responses.extend(admin_errors());
            let parameters = vec![
                query_parameter(
                    "limit",
                    "Page size",
                    json!({"type": "integer", "minimum": 1, "maximum": 1000}),
                ),
                query_parameter(
                    "dir",
                    "Order",
                    json!({"type": "string", "enum": ["asc", "desc"]}),
                ),
                query_parameter("next", "Cursor", json!({"type": "string"})),
                query_parameter("prev", "Cursor", json!({"type": "string"})),
            ];
            ("admin", "The audit trail", parameters, None, responses)
        }
        _ => ("general", "Undocumented", vec![], None, Map::new()),
    };
    responses.insert("405".to_owned(), response("Method not allowed", "Error"));
    if route.audience != Audience::Public {
        let timeout = if route.streaming {
            "The body did not arrive within http.body_read_timeout"
        } else {
            "Not answered within http.request_timeout (a destructive operation still runs to its end)"
        };
        responses
            .entry("408".to_owned())
            .or_insert_with(|| response(timeout, "Error"));
    }
    responses
        .entry("414".to_owned())
        .or_insert_with(|| response("Query string over the limit", "Error"));
    if route.method == axum::http::Method::DELETE {
        responses
            .entry("413".to_owned())
            .or_insert_with(|| response("Body over the limit", "Error"));
    }
    let mut operation = json!({
        "tags": [tag],
        "summary": summary,
        "operationId": format!("{}_{}", route.method.as_str().to_lowercase(), route.path.trim_matches('/').replace(['/', '{', '}'], "_")),
        "responses": responses,
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(schema) = body {
        operation["requestBody"] = json!({"required": true, "content": json_content(schema)});
    }
    // Anonymous calls stay possible: streams without `auth.required`, and auth turned off.
    if route.audience != Audience::Public {
        operation["security"] = json!([{}, {"bearer_jwt": []}, {"basic": []}]);
    }
    operation["x-audience"] = json!(route.audience.label());
    operation
}
