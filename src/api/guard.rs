//! Who may call what, before any handler runs: each route's audience comes from the route
//! table (`routes::route_table`): authentication for every non-public route, admin roles
//! for admin routes, and with auth off the safe default of serving admin routes to loopback
//! clients on a loopback `Host` only. Per-stream rules are checked by the handlers through
//! [`authorize`], once they know the event type. Refused destructive requests are audited.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::admin::{AdminAnswer, AdminRequest, DryRun, record_audit};
use super::error::ApiError;
use super::routes::Audience;
use super::state::AppState;
use crate::auth::{Access, AuthFailure, User};
use crate::schema::EventSchema;

/// The authenticated caller of this request, if any (handlers take `Extension<Caller>`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller(pub Option<User>);

pub(crate) fn failure_to_error(failure: AuthFailure, state: &AppState) -> ApiError {
    let challenges = state
        .auth
        .as_ref()
        .map_or(&["Bearer"][..], |auth| auth.challenges());
    match failure {
        AuthFailure::Malformed(message) | AuthFailure::Unauthorized(message) => {
            ApiError::Unauthorized(message, challenges)
        }
        AuthFailure::Forbidden(message) => ApiError::Forbidden(message),
        AuthFailure::Unavailable => ApiError::AuthUnavailable,
    }
}

/// Request-wide limits checked before routing (the query string is read by every route).
pub(crate) async fn limits(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.settings.http.max_query_length;
    if request.uri().query().map_or(0, str::len) > limit {
        return ApiError::QueryTooLong { limit }.into_response();
    }
    next.run(request).await
}

/// The guard of one route: the app and the route's audience from the route table.
#[derive(Clone)]
pub(crate) struct RouteGuard {
    state: AppState,
    audience: Audience,
}

impl RouteGuard {
    pub(crate) fn new(state: AppState, audience: Audience) -> Self {
        Self { state, audience }
    }
}

/// What the guard reads of a request, taken out before any await (a body is not `Sync`).
struct Facts {
    client: Option<SocketAddr>,
    host: Option<String>,
    authorization: Option<Result<String, ()>>,
}

impl Facts {
    fn of(request: &Request) -> Self {
        let host = request
            .headers()
            .get(header::HOST)
            .map(|value| value.to_str().unwrap_or("\u{fffd}").to_owned())
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
        Self {
            client: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
            host,
            authorization: request
                .headers()
                .get(header::AUTHORIZATION)
                .map(|value| value.to_str().map(str::to_owned).map_err(|_| ())),
        }
    }
}

/// Whether a `Host` header names this machine's loopback interface: `localhost` (or a
/// name under it), `127.0.0.0/8` or `[::1]`, with or without a port. A page served from
/// another name that was rebound to 127.0.0.1 still sends its own name here.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|byte| byte.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|address| address.to_canonical().is_loopback())
}

/// With auth off, admin routes answer loopback clients that address a loopback name only
/// (unless `admin.allow_unauthenticated_remote`); an IPv4 client of a `[::]` listener
/// arrives as `::ffff:127.0.0.1` and counts as loopback.
fn check_unauthenticated_admin(state: &AppState, facts: &Facts) -> Result<(), ApiError> {
    if state.settings.admin.allow_unauthenticated_remote {
        return Ok(());
    }
    let loopback_client = facts
        .client
        .is_some_and(|address| address.ip().to_canonical().is_loopback());
    if !loopback_client {
        return Err(ApiError::Forbidden(
            "admin routes answer only loopback clients while auth is disabled (set admin.allow_unauthenticated_remote: true, or enable auth)".to_owned(),
        ));
    }
    // No `Host` at all cannot come from a browser; a foreign one can (DNS rebinding).
    if let Some(host) = &facts.host
        && !is_loopback_host(host)
    {
        return Err(ApiError::Forbidden(format!(
            "admin routes answer only requests addressed to a loopback name while auth is disabled (Host '{}')",
            host.chars().take(100).collect::<String>()
        )));
    }
    Ok(())
}

async fn check(
    state: &AppState,
    audience: Audience,
    facts: Facts,
) -> Result<Option<User>, ApiError> {
    let admin = matches!(audience, Audience::Admins { .. });
    let owner = matches!(audience, Audience::Owners { .. });
    if audience == Audience::Public {
        return Ok(None);
    }
    let Some(auth) = &state.auth else {
        if admin || owner {
            check_unauthenticated_admin(state, &facts)?;
        }
        return Ok(None);
    };
    let user = match facts.authorization {
        None => None,
        Some(value) => {
            let outcome = match value {
                Ok(text) => auth.authenticate(&text).await,
                Err(()) => Err(AuthFailure::Malformed(
                    "Authorization header is not valid text".to_owned(),
                )),
            };
            match outcome {
                Ok(user) => Some(user),
                // Off admin routes a malformed header reads as anonymous, as in aviso.
                Err(AuthFailure::Malformed(_)) if !admin && !owner => None,
                Err(failure) => return Err(failure_to_error(failure, state)),
            }
        }
    };
    if owner && user.is_none() {
        return Err(failure_to_error(
            AuthFailure::Unauthorized("Authorization header is required".to_owned()),
            state,
        ));
    }
    if admin {
        match &user {
            None => {
                return Err(failure_to_error(
                    AuthFailure::Unauthorized("Authorization header is required".to_owned()),
                    state,
                ));
            }
            Some(user) if !auth.is_admin(user) => {
                return Err(ApiError::Forbidden(
                    "User does not have required administrative role".to_owned(),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(user)
}

pub(crate) async fn middleware(
    State(guard): State<RouteGuard>,
    mut request: Request,
    next: Next,
) -> Response {
    let RouteGuard { state, audience } = guard;
    match check(&state, audience, Facts::of(&request)).await {
        Ok(user) => {
            if let Some(user) = &user {
                tracing::debug!(actor = %user.actor(), "authenticated");
            }
            request.extensions_mut().insert(Caller(user));
            next.run(request).await
        }
        Err(error) => match audience {
            Audience::Admins {
                audit: Some(operation),
            }
            | Audience::Owners {
                audit: Some(operation),
            } => audit_refusal(&state, request, operation, error).await,
            _ => error.into_response(),
        },
    }
}

/// Records a destructive request the guard refused, as the handlers record theirs.
async fn audit_refusal(
    state: &AppState,
    request: Request,
    operation: &str,
    error: ApiError,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let target = parts.uri.path().to_owned();
    let dry_run = DryRun::parse(parts.uri.query()).requested();
    let Ok(who) = AdminRequest::from_request_parts(&mut parts, state).await;
    let refused: Result<AdminAnswer, ApiError> = Err(error);
    record_audit(state, &who, operation, &target, dry_run, &refused).await;
    refused.map_or_else(IntoResponse::into_response, |answer| {
        axum::Json(answer).into_response()
    })
}

/// The per-stream rules of `schema` for this caller (a no-op with auth off).
pub(crate) fn authorize(
    state: &AppState,
    caller: &Caller,
    schema: &EventSchema,
    access: Access,
) -> Result<(), ApiError> {
    let Some(auth) = &state.auth else {
        return Ok(());
    };
    auth.authorize(caller.0.as_ref(), schema.auth.as_ref(), access)
        .map_err(|failure| failure_to_error(failure, state))
}
