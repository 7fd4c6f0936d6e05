//! The documentation of one route of the route table: its own facts (tag, summary,
//! parameters, body, responses: `route_docs`) and who may call it.

use serde_json::{Value, json};

use super::parts::{json_content, response};
use super::route_docs::Details;
use crate::api::routes::{Audience, Route};

/// Documentation of one route: its own facts from the route table, then what every
/// route of its audience shares (405, 408, 413, 414, security).
pub(super) fn operation(route: &Route) -> Value {
    let Details {
        parameters,
        body,
        mut responses,
    } = (route.doc.details)();
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
        "tags": [route.doc.tag.label()],
        "summary": route.doc.summary,
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
