//! The router built from the route table (`routes`), and the layers every request passes
//! through: request id, admin origins, CORS, limits, body limit, timeouts.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use super::error::ApiError;
use super::routes::{ADMIN_PREFIX, is_owner_path, route_table};
use super::state::AppState;
use super::{body_deadline, guard, notify, observe, openapi, request_id, stream};
use crate::settings::HttpSettings;
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

fn origin_list(origins: &[String]) -> Vec<HeaderValue> {
    origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect()
}

/// CORS for browsers: preflight answered, `X-Request-ID` readable by scripts. The origins
/// of `http.cors_admin_origins` are allowed too; [`admin_origins`] keeps every other
/// origin off the admin routes.
fn cors(http: &HttpSettings) -> CorsLayer {
    let allow_origin = if http.cors_allowed_origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        let mut origins = origin_list(&http.cors_allowed_origins);
        origins.extend(origin_list(&http.cors_admin_origins));
        AllowOrigin::list(origins)
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
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

/// Admin routes take cross-origin calls only from `http.cors_admin_origins` (none by
/// default): for any other origin the CORS headers are taken off their answers, so no
/// preflight succeeds and no answer is readable, whatever `cors_allowed_origins` says.
async fn admin_origins(
    State(allowed): State<Arc<Vec<HeaderValue>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path();
    let foreign = (path.starts_with(ADMIN_PREFIX) || is_owner_path(path))
        && request
            .headers()
            .get(header::ORIGIN)
            .is_some_and(|origin| !allowed.contains(origin));
    let mut response = next.run(request).await;
    if foreign {
        let cors: Vec<HeaderName> = response
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            response.headers_mut().remove(name);
        }
    }
    response
}

/// The separate metrics listener's routes: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(observe::metrics))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.http.body_limit;
    let cors = cors(&state.settings.http);
    let admin_allowed = Arc::new(origin_list(&state.settings.http.cors_admin_origins));
    let timeout = state.settings.http.request_timeout;
    let mut routes = Router::new();
    for (route, handler) in route_table() {
        let guarded = handler.route_layer(axum::middleware::from_fn_with_state(
            guard::RouteGuard::new(state.clone(), route.audience),
            guard::middleware,
        ));
        // Streams may last an hour, but their body must arrive in time; every other route
        // gets the request timeout. Both sit inside the metrics layer, which counts them.
        let bounded = if route.streaming {
            guarded.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                body_deadline::middleware,
            ))
        } else {
            guarded.layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                timeout,
            ))
        };
        let observed = bounded.route_layer(axum::middleware::from_fn_with_state(
            observe::RouteMetrics::new(state.clone(), route.path),
            observe::middleware,
        ));
        routes = routes.route(route.path, observed);
    }
    let docs: Router<AppState> = SwaggerUi::new("/swagger-ui")
        .external_url_unchecked("/api-docs/openapi.json", openapi::document())
        .into();
    routes
        .merge(docs)
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::limits,
        ))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(
            admin_allowed,
            admin_origins,
        ))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}
