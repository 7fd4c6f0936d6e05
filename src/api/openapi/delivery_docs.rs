//! The documentation facts of the destination routes (DELIVERY.md §3) and their schemas.

use serde_json::{Map, Value, json};

use super::parts::{dry_run, errors, path_parameter, query_parameter, reference};
use super::route_docs::Details;

fn destination_errors() -> Map<String, Value> {
    errors(&[
        (
            "400",
            "Invalid destination, address blocked, or unknown event type",
            "Error",
        ),
        ("401", "Credentials required", "AuthError"),
        (
            "403",
            "Not allowed for a subscribed event type (or not loopback while auth is off)",
            "AuthError",
        ),
        ("404", "No such destination (or not yours)", "Error"),
        ("409", "Changed concurrently; nothing was changed", "Error"),
        ("500", "Destination store failure", "Error"),
        ("503", "Store unavailable", "Error"),
    ])
}

fn answer(status: &str, description: &str, schema: &str) -> Map<String, Value> {
    let mut responses = errors(&[(status, description, schema)]);
    responses.extend(destination_errors());
    responses
}

fn id() -> Value {
    path_parameter("id", "Destination id (dst_...)")
}

pub(crate) fn destination_create() -> Details {
    Details {
        parameters: vec![],
        body: Some(reference("DestinationRequest")),
        responses: answer(
            "201",
            "Registered; the secret is shown this once",
            "DestinationWithSecret",
        ),
    }
}

pub(crate) fn destination_list() -> Details {
    let mut parameters = vec![
        query_parameter(
            "event_type",
            "Subscribed to this event type",
            json!({"type": "string"}),
        ),
        query_parameter(
            "state",
            "enabled or disabled",
            json!({"type": "string", "enum": ["enabled", "disabled"]}),
        ),
    ];
    parameters.extend(page_parameters());
    Details {
        parameters,
        body: None,
        responses: answer("200", "Newest first", "DestinationPage"),
    }
}

pub(crate) fn destination_one() -> Details {
    Details {
        parameters: vec![id()],
        body: None,
        responses: answer("200", "The destination", "Destination"),
    }
}

pub(crate) fn destination_update() -> Details {
    Details {
        parameters: vec![id()],
        body: Some(reference("DestinationPatch")),
        responses: answer("200", "Changed", "Destination"),
    }
}

pub(crate) fn destination_delete() -> Details {
    Details {
        parameters: vec![id(), dry_run()],
        body: None,
        responses: answer("200", "Deleted (or would be)", "DestinationDeleted"),
    }
}

pub(crate) fn destination_state() -> Details {
    Details {
        parameters: vec![id()],
        body: None,
        responses: answer("200", "The destination in its new state", "Destination"),
    }
}

pub(crate) fn destination_rotate() -> Details {
    Details {
        parameters: vec![id()],
        body: Some(reference("RotateSecret")),
        responses: answer(
            "200",
            "The new secret, shown this once",
            "DestinationWithSecret",
        ),
    }
}

pub(crate) fn destination_test() -> Details {
    let mut responses = answer(
        "200",
        "The attempt record (also of a failed attempt)",
        "Attempt",
    );
    responses.extend(errors(&[("409", "The destination is disabled", "Error")]));
    Details {
        parameters: vec![id()],
        body: None,
        responses,
    }
}

fn delivery_errors(ok: &str, schema: &str) -> Map<String, Value> {
    errors(&[
        ("200", ok, schema),
        ("400", "Bad filter, cursor, limit or delivery id", "Error"),
        ("401", "Credentials required", "AuthError"),
        ("403", "Not loopback while auth is off", "AuthError"),
        ("404", "No such delivery (or not yours)", "Error"),
        ("500", "Delivery record failure", "Error"),
        ("503", "Store unavailable", "Error"),
    ])
}

fn page_parameters() -> Vec<Value> {
    vec![
        query_parameter(
            "limit",
            "Page size",
            json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
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
    ]
}

fn delivery_id() -> Value {
    path_parameter(
        "id",
        "Delivery id (<destination_id>:<event_type>@<sequence>)",
    )
}

/// The filters the delivery list and the failed view share.
fn delivery_filters(status: &str) -> Vec<Value> {
    vec![
        query_parameter(
            "destination_id",
            "Of this destination",
            json!({"type": "string"}),
        ),
        query_parameter(
            "event_type",
            "Of this event type",
            json!({"type": "string"}),
        ),
        query_parameter(
            "status",
            status,
            json!({"type": "string", "enum": ["pending", "retrying", "succeeded", "failed", "cancelled"]}),
        ),
    ]
}

pub(crate) fn delivery_events() -> Details {
    Details {
        parameters: vec![
            query_parameter(
                "destination_id",
                "Only this destination's outcomes",
                json!({"type": "string"}),
            ),
            query_parameter(
                "from_id",
                "History first, from this outcome id (the `id:` of a frame) on",
                json!({"type": "integer", "minimum": 1}),
            ),
            query_parameter(
                "from_date",
                "History first, from outcomes stored at or after (RFC 3339 or unix seconds)",
                json!({"type": "string"}),
            ),
            json!({"name": "Last-Event-ID", "in": "header", "required": false, "description": "Continue strictly after this outcome id", "schema": {"type": "string"}}),
        ],
        body: None,
        responses: {
            let mut responses = delivery_errors("", "DeliveryOutcome");
            responses.insert(
                "200".to_owned(),
                json!({
                    "description": "Server-Sent Events: `event: delivery-outcome` frames (`id:` the outcome id, `data:` a DeliveryOutcome), with the control, heartbeat and closing frames of a watch",
                    "content": {"text/event-stream": {"schema": super::parts::outcome_sse_event()}}
                }),
            );
            responses.insert(
                "503".to_owned(),
                json!({"description": "Store unavailable, or sse.max_connections streams open", "content": {"application/json": {"schema": reference("Error")}}}),
            );
            responses
        },
    }
}

pub(crate) fn delivery_list() -> Details {
    let mut parameters = delivery_filters("In this status");
    parameters.extend([
        query_parameter(
            "time[gte]",
            "Notification stored at or after (RFC 3339 or unix seconds)",
            json!({"type": "string"}),
        ),
        query_parameter(
            "time[lte]",
            "Notification stored at or before",
            json!({"type": "string"}),
        ),
        query_parameter(
            "dir",
            "Order by notification time, then sequence",
            json!({"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
        ),
    ]);
    parameters.extend(page_parameters());
    Details {
        parameters,
        body: None,
        responses: delivery_errors("A page of deliveries", "DeliveryPage"),
    }
}

pub(crate) fn delivery_one() -> Details {
    Details {
        parameters: vec![delivery_id()],
        body: None,
        responses: delivery_errors("The delivery", "Delivery"),
    }
}

pub(crate) fn delivery_attempts() -> Details {
    let mut parameters = vec![delivery_id()];
    parameters.extend(page_parameters());
    Details {
        parameters,
        body: None,
        responses: delivery_errors("A page of attempts, oldest first", "AttemptPage"),
    }
}

pub(crate) fn failed_list() -> Details {
    let mut parameters = delivery_filters("Deliveries now in this status");
    parameters.extend(page_parameters());
    Details {
        parameters,
        body: None,
        responses: delivery_errors("A page of failed-view entries", "FailedPage"),
    }
}

pub(crate) fn failed_remove() -> Details {
    Details {
        parameters: vec![delivery_id(), dry_run()],
        body: None,
        responses: delivery_errors("Removed from the view (or would be)", "AdminAnswer"),
    }
}

pub(crate) fn destination_replay() -> Details {
    let mut responses = answer("200", "Dry run: how many would be queued", "ReplayQueued");
    responses.extend(errors(&[
        ("202", "Queued", "ReplayQueued"),
        ("409", "The destination is disabled", "Error"),
    ]));
    Details {
        parameters: vec![id(), dry_run()],
        body: Some(
            json!({"type": "object", "additionalProperties": false, "properties": {
                "from_id": {"type": ["string", "integer"]}, "from_date": {"type": "string"},
                "to_id": {"type": ["string", "integer"]}, "to_date": {"type": "string"}
            }}),
        ),
        responses,
    }
}

pub(crate) fn delivery_retry() -> Details {
    let mut responses = errors(&[("202", "One more attempt queued", "Queued")]);
    responses.extend(delivery_errors("unused", "Error"));
    responses.remove("200");
    responses.extend(errors(&[("409", "The destination is disabled", "Error")]));
    Details {
        parameters: vec![delivery_id()],
        body: None,
        responses,
    }
}

pub(crate) fn delivery_retry_bulk() -> Details {
    Details {
        parameters: vec![dry_run()],
        body: Some(
            json!({"type": "object", "additionalProperties": false, "properties": {
                "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1000},
                "destination_id": {"type": "string"},
                "status": {"enum": ["pending", "retrying", "succeeded", "failed", "cancelled"]}
            }}),
        ),
        responses: delivery_errors("Per-id outcomes", "BulkOutcome"),
    }
}

pub(crate) fn delivery_history_delete() -> Details {
    Details {
        parameters: vec![dry_run()],
        body: Some(
            json!({"type": "object", "required": ["ids"], "additionalProperties": false, "properties": {"ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1000}}}),
        ),
        responses: delivery_errors("Per-id outcomes", "BulkOutcome"),
    }
}

pub(crate) fn destinations_delete_by_condition() -> Details {
    Details {
        parameters: vec![dry_run()],
        body: Some(reference("DeleteCondition")),
        responses: answer(
            "200",
            "Destinations updated and deleted (or that would be)",
            "ConditionOutcome",
        ),
    }
}

fn page_of(item: &str) -> Value {
    json!({"type": "object", "required": ["models", "pagination"], "properties": {
        "models": {"type": "array", "items": reference(item)},
        "pagination": {"type": "object", "properties": {"next": {"type": ["string", "null"]}, "prev": {"type": ["string", "null"]}}}
    }})
}

/// The schemas the destination routes name.
pub(super) fn schemas() -> Map<String, Value> {
    let string = json!({"type": "string"});
    let nullable_string = json!({"type": ["string", "null"]});
    let subscription = json!({"type": "object", "required": ["event_type"], "properties": {"event_type": string, "identifier": reference("Identifier")}});
    let settings = json!({
        "url": {"type": "string", "maxLength": 2048},
        "subscriptions": {"type": "array", "items": subscription, "minItems": 1, "maxItems": 100},
        "name": {"type": ["string", "null"], "maxLength": 200},
        "headers": {"type": "object", "additionalProperties": string},
        "timeout": string,
        "retry": {"type": "object", "properties": {"schedule": {"type": "array", "items": string, "maxItems": 20}}},
        "ordering": {"enum": ["unordered", "ordered"]},
        "format": {"enum": ["structured", "binary"]}
    });
    let mut destination = settings.as_object().cloned().unwrap_or_default();
    for (key, value) in [
        ("id", string.clone()),
        ("state", json!({"enum": ["enabled", "disabled"]})),
        (
            "disabled_reason",
            json!({"enum": [null, "operator", "gone"]}),
        ),
        ("owner", nullable_string),
        ("created_at", string.clone()),
        ("updated_at", string.clone()),
        ("secret_ids", json!({"type": "array", "items": string})),
        ("backlog", json!({"type": "integer"})),
    ] {
        destination.insert(key.to_owned(), value);
    }
    let mut with_secret = destination.clone();
    with_secret.insert("secret".to_owned(), string.clone());
    let required = json!(["id", "url", "subscriptions", "state", "secret_ids"]);
    Map::from_iter([
        (
            "DeliveryOutcome".to_owned(),
            json!({"type": "object", "required": ["type", "delivery_id", "destination_id", "notification_id", "attempt", "time"], "properties": {
                "type": {"enum": ["attempt_succeeded", "attempt_failed", "delivery_exhausted", "destination_disabled"]},
                "delivery_id": string, "destination_id": string, "notification_id": string,
                "attempt": {"type": "integer"}, "response_status_code": {"type": ["integer", "null"]},
                "error": {"enum": [null, "timeout", "connect", "dns", "tls", "redirect", "blocked_address", "gone"]},
                "time": string
            }}),
        ),
        (
            "DestinationRequest".to_owned(),
            json!({"type": "object", "required": ["url", "subscriptions"], "additionalProperties": false, "properties": settings}),
        ),
        (
            "DestinationPatch".to_owned(),
            json!({"type": "object", "additionalProperties": false, "properties": settings}),
        ),
        (
            "Destination".to_owned(),
            json!({"type": "object", "required": required, "properties": destination}),
        ),
        (
            "DestinationWithSecret".to_owned(),
            json!({"type": "object", "required": ["id", "secret"], "properties": with_secret}),
        ),
        (
            "DestinationPage".to_owned(),
            json!({"type": "object", "required": ["models", "pagination"], "properties": {"models": {"type": "array", "items": reference("Destination")}, "pagination": {"type": "object", "properties": {"next": {"type": ["string", "null"]}, "prev": {"type": ["string", "null"]}}}}}),
        ),
        (
            "DestinationDeleted".to_owned(),
            json!({"type": "object", "required": ["success", "message", "request_id", "id", "cancelled"], "properties": {"success": {"type": "boolean"}, "message": string, "request_id": string, "id": string, "cancelled": {"type": "integer"}, "dry_run": {"type": "boolean"}}}),
        ),
        (
            "Attempt".to_owned(),
            json!({"type": "object", "required": ["attempt", "trigger", "delivered_at", "duration_ms", "status"], "properties": {
                "attempt": {"type": "integer"}, "trigger": {"enum": ["scheduled", "manual", "replay", "test"]}, "delivered_at": string, "duration_ms": {"type": "integer"},
                "status": {"enum": ["success", "failed"]}, "response_status_code": {"type": ["integer", "null"]}, "response_body": {"type": ["string", "null"]},
                "response_body_truncated": {"type": "boolean"}, "error": {"enum": [null, "timeout", "connect", "dns", "tls", "redirect", "blocked_address", "gone"]}
            }}),
        ),
        (
            "Delivery".to_owned(),
            json!({"type": "object", "required": ["id", "destination_id", "notification_id", "event_type", "status", "attempts", "created_at"], "properties": {
                "id": string, "destination_id": string, "notification_id": string, "event_type": string,
                "status": {"enum": ["pending", "retrying", "succeeded", "failed", "cancelled"]},
                "attempts": {"type": "integer"}, "created_at": string, "notification_time": string,
                "last_attempt_at": {"type": ["string", "null"]}, "next_attempt_at": {"type": ["string", "null"]},
                "succeeded_at": {"type": ["string", "null"]}, "last_response_status_code": {"type": ["integer", "null"]}
            }}),
        ),
        ("DeliveryPage".to_owned(), page_of("Delivery")),
        ("FailedPage".to_owned(), page_of("FailedDelivery")),
        (
            "ReplayQueued".to_owned(),
            json!({"type": "object", "required": ["success", "message", "request_id", "queued"], "properties": {"success": {"type": "boolean"}, "message": string, "request_id": string, "queued": {"type": "integer"}, "dry_run": {"type": "boolean"}}}),
        ),
        (
            "Queued".to_owned(),
            json!({"type": "object", "required": ["success", "message", "id"], "properties": {"success": {"type": "boolean"}, "message": string, "id": string, "request_id": string}}),
        ),
        (
            "FailedDelivery".to_owned(),
            json!({"type": "object", "required": ["delivery_id", "destination_id", "notification_id", "failure_count", "status"], "properties": {
                "delivery_id": string, "destination_id": string, "notification_id": string, "event_type": string,
                "failure_count": {"type": "integer"}, "status": {"enum": ["pending", "retrying", "succeeded", "failed", "cancelled"]},
                "last_error": {"enum": [null, "timeout", "connect", "dns", "tls", "redirect", "blocked_address", "gone"]},
                "last_response_status_code": {"type": ["integer", "null"]}, "first_failed_at": string, "last_failed_at": string
            }}),
        ),
        (
            "BulkOutcome".to_owned(),
            json!({"type": "object", "required": ["success", "message", "request_id", "successful", "failed"], "properties": {
                "success": {"type": "boolean"}, "message": string, "request_id": string, "dry_run": {"type": "boolean"},
                "successful": {"type": "array", "items": string},
                "failed": {"type": "array", "items": {"type": "object", "properties": {"id": string, "code": string, "message": string}}}
            }}),
        ),
        (
            "DeleteCondition".to_owned(),
            json!({"type": "object", "required": ["condition"], "additionalProperties": false, "properties": {"condition": {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
                "event": {"type": "string", "minLength": 1, "maxLength": 1000}, "group": {"type": "string", "minLength": 1, "maxLength": 1000}, "all": {"const": true}
            }}}}),
        ),
        (
            "ConditionOutcome".to_owned(),
            json!({"type": "object", "required": ["success", "message", "request_id", "updated", "deleted"], "properties": {
                "success": {"type": "boolean"}, "message": string, "request_id": string, "dry_run": {"type": "boolean"},
                "updated": {"type": "array", "items": string}, "deleted": {"type": "array", "items": string}
            }}),
        ),
        ("AttemptPage".to_owned(), page_of("Attempt")),
        (
            "RotateSecret".to_owned(),
            json!({"type": "object", "additionalProperties": false, "properties": {"grace": string}}),
        ),
    ])
}
