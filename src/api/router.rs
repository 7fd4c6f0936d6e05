//! The route table (aviso v1 paths) and the layers every request passes through.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{delete, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use super::error::ApiError;
use super::state::AppState;
use super::{
    admin, body_deadline, browse, guard, health, notify, observe, openapi, request_id, schema,
    stream,
};
use crate::settings::HttpSettings;
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

/// Every admin route, and only those, lives under this prefix (a unit test holds the
/// route table to it): CORS decides by it before routing.
pub(crate) const ADMIN_PREFIX: &str = "/api/v1/admin/";

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

/// Admin routes take cross-origin calls only from `http.cors_admin_origins` (none by
/// default): for any other origin the CORS headers are taken off their answers, so no
/// preflight succeeds and no answer is readable, whatever `cors_allowed_origins` says.
async fn admin_origins(
    State(allowed): State<Arc<Vec<HeaderValue>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let foreign = request.uri().path().starts_with(ADMIN_PREFIX)
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

/// Who may call a route. The guard enforces it before the handler runs (per-stream rules
/// need the event type, so the handler finishes those through `guard::authorize`), and the
/// OpenAPI document and the auth tests read it from the same table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Anyone: health, schema, landing page, metrics.
    Public,
    /// Callers with read rights on the event type the request names.
    Readers,
    /// Callers with write rights on the event type the request names.
    Writers,
    /// Admin roles (with auth off: loopback clients on a loopback `Host`). `audit` names the
    /// operation when the route is destructive, so that refusals are recorded too.
    Admins { audit: Option<&'static str> },
}

impl Audience {
    /// The name the route table and the tests use.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Audience::Public => "public",
            Audience::Readers => "read",
            Audience::Writers => "write",
            Audience::Admins { .. } => "admin",
        }
    }
}

/// One served route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub method: Method,
    pub path: &'static str,
    /// Streams may last an hour; everything else gets the request timeout.
    pub streaming: bool,
    pub audience: Audience,
}

type Entry = (Route, MethodRouter<AppState>);

fn entry(
    method: Method,
    path: &'static str,
    audience: Audience,
    handler: MethodRouter<AppState>,
) -> Entry {
    let route = Route {
        method,
        path,
        streaming: false,
        audience,
    };
    (route, handler)
}

fn streaming(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Entry {
    let route = Route {
        method,
        path,
        streaming: true,
        audience: Audience::Readers,
    };
    (route, handler)
}

const fn destructive(operation: &'static str) -> Audience {
    Audience::Admins {
        audit: Some(operation),
    }
}

/// Every route the API serves; the router, the guard and the OpenAPI document are built
/// from it.
pub(crate) fn route_table() -> Vec<Entry> {
    use Audience::{Public, Readers, Writers};
    use Method as M;
    let admin = Audience::Admins { audit: None };
    vec![
        entry(M::GET, "/", Public, get(health::landing)),
        entry(M::GET, "/health", Public, get(health::health)),
        entry(M::GET, "/ready", Public, get(health::ready)),
        entry(M::GET, "/metrics", Public, get(observe::metrics)),
        entry(
            M::POST,
            "/api/v1/notification",
            Writers,
            post(notify::notify),
        ),
        streaming(M::POST, "/api/v1/watch", post(stream::watch)),
        streaming(M::POST, "/api/v1/replay", post(stream::replay)),
        streaming(M::GET, "/api/v1/watch/{event_type}", get(stream::watch_get)),
        streaming(
            M::GET,
            "/api/v1/replay/{event_type}",
            get(stream::replay_get),
        ),
        entry(M::GET, "/api/v1/schema", Public, get(schema::list)),
        entry(
            M::GET,
            "/api/v1/schema/{event_type}",
            Public,
            get(schema::one),
        ),
        entry(
            M::GET,
            "/api/v1/notifications/{event_type}",
            Readers,
            get(browse::page),
        ),
        entry(
            M::GET,
            "/api/v1/notification/{id}",
            Readers,
            get(browse::one),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/notification/{id}",
            destructive("delete"),
            delete(admin::delete_one),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/notifications",
            destructive("bulk_delete"),
            delete(admin::delete_many),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/notifications/{event_type}",
            destructive("purge"),
            delete(admin::purge_by_identifier),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/wipe/stream",
            destructive("wipe_stream"),
            delete(admin::wipe_stream),
        ),
        entry(
            M::DELETE,
            "/api/v1/admin/wipe/all",
            destructive("wipe_all"),
            delete(admin::wipe_all),
        ),
        entry(M::GET, "/api/v1/admin/streams", admin, get(admin::overview)),
        entry(
            M::GET,
            "/api/v1/admin/audit",
            admin,
            get(admin::audit_trail),
        ),
    ]
}

/// The method and path of every served route (for tests and tools).
pub fn served_routes() -> Vec<(String, String)> {
    route_table()
        .into_iter()
        .map(|(route, _)| (route.method.to_string(), route.path.to_owned()))
        .collect()
}

/// Method, path and audience (`public`, `read`, `write`, `admin`) of every served route:
/// what the auth tests walk.
pub fn route_audiences() -> Vec<(String, String, &'static str)> {
    route_table()
        .into_iter()
        .map(|(route, _)| {
            let method = route.method.to_string();
            (method, route.path.to_owned(), route.audience.label())
        })
        .collect()
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.http.body_limit;
    let cors = cors(&state.settings.http);
    let admin_allowed = Arc::new(origin_list(&state.settings.http.cors_admin_origins));
    let timeout = state.settings.http.request_timeout;
    let mut streams = Router::new();
    let mut requests = Router::new();
    for (route, handler) in route_table() {
        let handler = handler.route_layer(axum::middleware::from_fn_with_state(
            guard::RouteGuard::new(state.clone(), route.audience),
            guard::middleware,
        ));
        if route.streaming {
            streams = streams.route(route.path, handler);
        } else {
            requests = requests.route(route.path, handler);
        }
    }
    let streams = streams.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        body_deadline::middleware,
    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes_and_only_admin_routes_live_under_the_admin_prefix() {
        for (route, _) in route_table() {
            let admin = matches!(route.audience, Audience::Admins { .. });
            assert_eq!(
                route.path.starts_with(ADMIN_PREFIX),
                admin,
                "{} {}",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn destructive_routes_are_audited_admin_routes() {
        for (route, _) in route_table() {
            if route.method == Method::DELETE {
                assert!(
                    matches!(route.audience, Audience::Admins { audit: Some(_) }),
                    "{}",
                    route.path
                );
            }
        }
    }
}
