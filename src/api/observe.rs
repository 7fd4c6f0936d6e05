//! HTTP metrics per route template and the `/metrics` endpoint.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::AppState;

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// What the metrics layer of one route knows: the route's path template from the route
/// table, its label (bounded: one per route).
#[derive(Clone)]
pub(crate) struct RouteMetrics {
    state: AppState,
    route: &'static str,
}

impl RouteMetrics {
    pub(crate) fn new(state: AppState, route: &'static str) -> Self {
        Self { state, route }
    }
}

/// The route template a request was routed by, for handlers that report it themselves
/// (streams count their open sessions per route).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServedRoute(pub &'static str);

/// Counts and times every routed request by its route template.
pub(crate) async fn middleware(
    State(RouteMetrics { state, route }): State<RouteMetrics>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(ServedRoute(route));
    let method = method_label(request.method());
    let metrics = &state.metrics;
    metrics.http_in_flight.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http_in_flight.dec();
    let status = response.status().as_u16().to_string();
    metrics
        .http_requests
        .with_label_values(&[route, method, &status])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[route, method])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .nats_connected
        .set(i64::from(state.store.is_connected()));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
