//! The shared schemas: request bodies, answers, CloudEvents and every SSE frame.

use serde_json::{Value, json};

use super::parts::reference;

pub(super) fn components() -> Value {
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
    let mut document = json!({
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
    });
    if let Some(Value::Object(schemas)) = document.get_mut("schemas") {
        schemas.extend(super::delivery_docs::schemas());
    }
    document
}
