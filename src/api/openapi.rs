//! The OpenAPI 3.1 document, generated from the route table the router is built from, so
//! every served route is documented (a test holds the two together). Served at
//! `/api-docs/openapi.json`, with Swagger UI (assets shipped inside the binary) at
//! `/swagger-ui/`.

use serde_json::{Map, Value, json};

use super::router::{Audience, Route, route_table};

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn response(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": json_content(reference(schema))})
}

/// One SSE event, chosen by its `event:` name; `data` is JSON of the frame schema.
fn sse_event() -> Value {
    let branch = |event: &str, schema: Value| json!({"properties": {"event": {"const": event}, "data": {"contentMediaType": "application/json", "contentSchema": schema}}});
    json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer"}, "data": {"type": "string"}},
        "oneOf": [
            branch("live-notification", json!({"oneOf": [reference("ConnectionEstablished"), reference("CloudEvent")]})),
            branch("replay-control", json!({"oneOf": [reference("ReplayStarted"), reference("ReplayCompleted"), reference("LimitReached")]})),
            branch("replay", reference("CloudEvent")),
            branch("heartbeat", reference("Heartbeat")),
            branch("error", reference("ErrorFrame")),
            branch("connection-closing", reference("ConnectionClosing")),
            branch("notification-deleted", reference("NotificationDeleted")),
            branch("stream-wiped", reference("StreamWiped")),
        ]
    })
}

fn stream_response() -> Value {
    json!({
        "description": "Server-Sent Events, each `event: <name>`, an `id:` line on notification frames, and one `data:` line of JSON; the schema describes one event.",
        "content": {"text/event-stream": {"schema": sse_event()}}
    })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn query_parameter(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn dry_run() -> Value {
    query_parameter(
        "dry_run",
        "Report what would be removed; remove nothing. Only `true` or `false`; any other query parameter or value is a 400",
        json!({"type": "boolean"}),
    )
}

fn identifier_query() -> Value {
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

fn errors(codes: &[(&str, &str, &str)]) -> Map<String, Value> {
    codes
        .iter()
        .map(|(status, description, schema)| ((*status).to_owned(), response(description, schema)))
        .collect()
}

fn request_errors() -> Map<String, Value> {
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

fn admin_errors() -> Map<String, Value> {
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

/// Documentation of one route: summary, tag, parameters, body, responses.
fn operation(route: &Route) -> Value {
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

fn components() -> Value {
    let string = json!({"type": "string"});
    let nullable_string = json!({"type": ["string", "null"]});
    let nullable_integer = json!({"type": ["integer", "null"]});
    let control = |kind: &str, extra: Value| {
        let mut properties = json!({"type": {"const": kind}, "timestamp": string, "topic": string});
        if let (Value::Object(base), Value::Object(more)) = (&mut properties, extra) {
            base.extend(more);
        }
        json!({"type": "object", "properties": properties, "required": ["type"]})
    };
    json!({
        "securitySchemes": {
            "bearer_jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "basic": {"type": "http", "scheme": "basic", "description": "direct mode only"}
        },
        "schemas": {
            "Identifier": {"type": "object", "description": "Identifier keys of the event type; values are strings, numbers or booleans (watch/replay also take constraint objects)", "additionalProperties": true},
            "NotifyRequest": {"type": "object", "required": ["event_type", "identifier"], "properties": {"event_type": string, "identifier": reference("Identifier"), "payload": {}}},
            "StreamRequest": {"type": "object", "required": ["event_type", "identifier"], "properties": {"event_type": string, "identifier": reference("Identifier"), "from_id": string, "from_date": string, "to_id": string, "to_date": string}},
            "NotifyAccepted": {"type": "object", "required": ["status", "request_id", "processed_at", "id"], "properties": {"status": {"const": "success"}, "request_id": string, "processed_at": string, "id": string, "duplicate": {"type": "boolean"}}},
            "Error": {"type": "object", "required": ["code", "message", "request_id"], "properties": {"code": string, "details": string, "error": string, "message": string, "request_id": string, "configured_event_types": {"type": "array", "items": string}}},
            "AuthError": {"type": "object", "required": ["code", "error", "message", "request_id"], "properties": {"code": string, "error": string, "message": string, "request_id": string}},
            "AdminAnswer": {"type": "object", "required": ["success", "message", "request_id"], "properties": {
                "success": {"type": "boolean"}, "message": string, "notification_id": string, "request_id": string,
                "dry_run": {"type": "boolean"}, "stream": string, "count": {"type": "integer"},
                "first_sequence": nullable_integer, "last_sequence": nullable_integer,
                "streams": {"type": "array", "items": {"type": "object"}},
                "successful": {"type": "array", "items": string},
                "failed": {"type": "array", "items": {"type": "object", "properties": {"id": string, "code": {"enum": ["INVALID_ID", "UNKNOWN_STREAM", "NOT_FOUND", "UNAVAILABLE"]}, "message": string}}}
            }},
            "BulkDelete": {"type": "object", "required": ["ids"], "additionalProperties": false, "properties": {"ids": {"type": "array", "items": string, "minItems": 1, "maxItems": 1000}}},
            "PurgeByIdentifier": {"type": "object", "required": ["identifier"], "additionalProperties": false, "properties": {"identifier": reference("Identifier")}},
            "WipeStream": {"type": "object", "required": ["stream_name"], "additionalProperties": false, "properties": {"stream_name": string}},
            "SchemaList": {"type": "object", "required": ["event_types", "schema", "status", "total_schemas"], "properties": {"event_types": {"type": "array", "items": string}, "schema": {"type": "object"}, "status": string, "total_schemas": {"type": "integer"}}},
            "SchemaOne": {"type": "object", "required": ["event_type", "schema", "status"], "properties": {"event_type": string, "schema": {"type": "object"}, "status": string}},
            "SchemaNotFound": {"type": "object", "required": ["message", "request_id", "status"], "properties": {"available_types": {"type": "array", "items": string}, "message": string, "request_id": string, "status": string}},
            "Health": {"type": "object", "required": ["status"], "properties": {"status": string}},
            "Ready": {"type": "object", "required": ["status", "backend_connected"], "properties": {"status": string, "backend_connected": {"type": "boolean"}}},
            "CloudEvent": {"type": "object", "required": ["id", "specversion", "source", "type"], "properties": {
                "data": {"type": "object", "properties": {"identifier": {"type": "object"}, "payload": {}}},
                "datacontenttype": string, "dataschema": string, "id": string, "source": string,
                "specversion": {"const": "1.0"}, "time": string, "type": string
            }},
            "Pagination": {"type": "object", "required": ["next", "prev"], "properties": {"next": nullable_string, "prev": nullable_string}},
            "Page": {"type": "object", "required": ["models", "pagination"], "properties": {"models": {"type": "array", "items": reference("CloudEvent")}, "pagination": reference("Pagination")}},
            "AuditPage": {"type": "object", "required": ["success", "message", "request_id", "models", "pagination"], "properties": {"success": {"type": "boolean"}, "message": string, "request_id": string, "models": {"type": "array", "items": {"type": "object"}}, "pagination": reference("Pagination")}},
            "StreamOverview": {"type": "object", "required": ["success", "streams"], "properties": {"success": {"type": "boolean"}, "message": string, "request_id": string, "streams": {"type": "array", "items": {"type": "object", "properties": {
                "name": string, "event_types": {"type": "array", "items": string}, "messages": {"type": "integer"}, "bytes": {"type": "integer"},
                "first_sequence": {"type": "integer"}, "last_sequence": {"type": "integer"}, "first_time": nullable_string, "last_time": nullable_string, "policy": {"type": "object"}
            }}}}},
            "ConnectionEstablished": control("connection_established", json!({"connection_will_close_in_seconds": {"type": "integer"}, "request_id": string})),
            "ReplayStarted": control("replay_started", json!({"batch_size": {"type": "integer"}, "from_sequence": nullable_integer, "from_date": nullable_string, "end_sequence": nullable_integer, "to_date": nullable_string, "request_id": string, "last_event_id": string, "first_available_sequence": {"type": "integer"}, "notifications_may_be_missing": {"type": "boolean"}})),
            "ReplayCompleted": control("replay_completed", json!({})),
            "LimitReached": control("notification_replay_limit_reached", json!({"max_allowed": {"type": "integer"}, "message": string})),
            "Heartbeat": {"type": "object", "required": ["timestamp", "topic"], "properties": {"timestamp": string, "topic": string}, "description": "event: heartbeat"},
            "ErrorFrame": {"type": "object", "required": ["error", "message"], "properties": {"error": string, "message": string, "request_id": string, "topic": string}, "description": "event: error"},
            "ConnectionClosing": {"type": "object", "required": ["reason", "message"], "properties": {"message": string, "reason": {"enum": ["end_of_stream", "max_duration_reached", "server_shutdown"]}, "request_id": string, "timestamp": string, "topic": string}, "description": "event: connection-closing"},
            "NotificationDeleted": control("notification_deleted", json!({"id": string, "request_id": string})),
            "StreamWiped": control("stream_wiped", json!({"stream": string, "count": {"type": "integer"}, "request_id": string})),
            "SseFrame": {"description": "`data:` of each frame: live-notification (ConnectionEstablished or CloudEvent), replay-control, replay (CloudEvent), heartbeat, error, connection-closing, notification-deleted, stream-wiped", "anyOf": [
                reference("ConnectionEstablished"), reference("ReplayStarted"), reference("ReplayCompleted"), reference("LimitReached"),
                reference("CloudEvent"), reference("Heartbeat"), reference("ErrorFrame"), reference("ConnectionClosing"),
                reference("NotificationDeleted"), reference("StreamWiped")
            ]}
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in route_table().iter().map(|(route, _)| route) {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tidings notification gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Schema-checked notifications over HTTP and Server-Sent Events on NATS JetStream; wire-compatible with aviso-server v1."
        },
        "tags": [
            {"name": "notification"}, {"name": "streaming"}, {"name": "schema"}, {"name": "browse"},
            {"name": "admin"}, {"name": "health"}, {"name": "general"}
        ],
        "paths": paths,
        "components": components()
    })
}
