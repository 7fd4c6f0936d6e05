//! The whole document, one operation per route of the route table.

use serde_json::{Map, Value, json};

use super::components::components;
use super::operation::operation;
use crate::api::routes::route_table;

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
            {"name": "admin"}, {"name": "delivery"}, {"name": "health"}, {"name": "general"}
        ],
        "paths": paths,
        "components": components()
    })
}
