//! `/health` (the process answers) and `/ready` (the store is reachable), and `/`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use serde_json::{Value, json};

use super::state::AppState;

pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Field order as aviso sends it.
#[derive(serde::Serialize)]
pub(crate) struct Readiness {
    status: &'static str,
    backend_connected: bool,
}

pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let connected = state.store.is_connected();
    let status = if connected {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let readiness = Readiness {
        status: if connected { "ready" } else { "not_ready" },
        backend_connected: connected,
    };
    (status, Json(readiness))
}

pub(crate) async fn landing(State(state): State<AppState>) -> Html<String> {
    let event_types = state.catalog.event_type_names().join(", ");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tidings</title></head><body>\
         <h1>Tidings {}</h1><p>Notification gateway (aviso v1 API). Event types: {event_types}.</p>\
         <p><a href=\"/console/\">Console</a> · <a href=\"/swagger-ui/\">API documentation</a> · \
         <a href=\"/api/v1/schema\">/api/v1/schema</a> · <a href=\"/health\">/health</a> · \
         <a href=\"/ready\">/ready</a></p></body></html>",
        env!("CARGO_PKG_VERSION")
    ))
}
