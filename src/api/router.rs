//! The route table (aviso v1 paths) and the layers every request passes through.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};

use super::error::ApiError;
use super::state::AppState;
use super::{admin, health, notify, request_id, schema, stream};

async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.http.body_limit;
    Router::new()
        .route("/", get(health::landing))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/api/v1/notification", post(notify::notify))
        .route("/api/v1/watch", post(stream::watch))
        .route("/api/v1/replay", post(stream::replay))
        .route("/api/v1/schema", get(schema::list))
        .route("/api/v1/schema/{event_type}", get(schema::one))
        .route(
            "/api/v1/admin/notification/{id}",
            delete(admin::delete_notification),
        )
        .route("/api/v1/admin/wipe/stream", delete(admin::wipe_stream))
        .route("/api/v1/admin/wipe/all", delete(admin::wipe_all))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}
