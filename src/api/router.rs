//! The route table (aviso v1 paths) and the layers every request passes through.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{delete, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use super::error::ApiError;
use super::state::AppState;
use super::{admin, browse, guard, health, notify, observe, openapi, request_id, schema, stream};
use axum::routing::MethodRouter;
use utoipa_swagger_ui::SwaggerUi;

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

/// CORS for browsers: preflight answered, `X-Request-ID` readable by scripts.
fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(stream::LAST_EVENT_ID_HEADER),
            HeaderName::from_static(notify::IDEMPOTENCY_KEY_HEADER),
            HeaderName::from_static(request_id::REQUEST_ID_HEADER),
        ])
        .expose_headers([HeaderName::from_static(request_id::REQUEST_ID_HEADER)])
        .max_age(std::time::Duration::from_secs(600))
}

/// The separate metrics listener's routes: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(observe::metrics))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

/// One served route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub method: Method,
    pub path: &'static str,
    /// Streams may last an hour; everything else gets the request timeout.
    pub streaming: bool,
}

fn entry(
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
) -> (Route, MethodRouter<AppState>) {
    (
        Route {
            method,
            path,
            streaming: false,
        },
        handler,
    )
}

fn streaming(
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
) -> (Route, MethodRouter<AppState>) {
    (
        Route {
            method,
            path,
            streaming: true,
        },
        handler,
    )
}

/// Every route the API serves; the router and the OpenAPI document are built from it.
pub(crate) fn route_table() -> Vec<(Route, MethodRouter<AppState>)> {
    use Method as M;
    vec![
        entry(M::GET, "/", get(health::landing)),
        entry(M::GET, "/health", get(health::health)),
        entry(M::GET, "/ready", get(health::ready)),
        entry(M::GET, "/metrics", get(observe::metrics)),
        entry(M::POST, "/api/v1/notification", post(notify::notify)),
        streaming(M::POST, "/api/v1/watch", post(stream::watch)),
        streaming(M::POST, "/api/v1/replay", post(stream::replay)),
        streaming(M::GET, "/api/v1/watch/{event_type}", get(stream::watch_get)),
        streaming(
            M::GET,
            "/api/v1/replay/{event_type}",
            get(stream::replay_get),
        ),
        entry(M::GET, "/api/v1/schema", get(schema::list)),
        entry(M::GET, "/api/v1/schema/{event_type}", get(schema::one)),
        entry(
            M::GET,
            "/api/v1/notifications/{event_type}",
            get(browse::page),
        ),
        entry(M::GET, "/api/v1/notification/{id}", get(browse::one)),
        entry(
            M::DELETE,
            "/api/v1/admin/notification/{id}",
            delete(admin::delete_one),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/notifications",
            delete(admin::delete_many),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/notifications/{event_type}",
            delete(admin::purge_by_identifier),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/wipe/stream",
            delete(admin::wipe_stream),
        ),
        entry(M::DELETE, "/api/v1/admin/wipe/all", delete(admin::wipe_all)),
        entry(M::GET, "/api/v1/admin/streams", get(admin::overview)),
        entry(M::GET, "/api/v1/admin/audit", get(admin::audit_trail)),
    ]
}

/// The method and path of every served route (for tests and tools).
pub fn served_routes() -> Vec<(String, String)> {
    route_table()
        .into_iter()
        .map(|(route, _)| (route.method.to_string(), route.path.to_owned()))
        .collect()
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.http.body_limit;
    let cors_origins = state.settings.http.cors_allowed_origins.clone();
    let timeout = state.settings.http.request_timeout;
    let mut streams = Router::new();
    let mut requests = Router::new();
    for (route, handler) in route_table() {
        if route.streaming {
            streams = streams.route(route.path, handler);
        } else {
            requests = requests.route(route.path, handler);
        }
    }
    let requests = requests.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        timeout,
    ));
    let docs: Router<AppState> = SwaggerUi::new("/swagger-ui")
        .external_url_unchecked("/api-docs/openapi.json", openapi::document())
        .into();
    streams
        .merge(requests)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::middleware,
        ))
        .merge(docs)
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::middleware,
        ))
        .layer(cors(&cors_origins))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}
