//! Who may call what, before any handler runs: authentication of `/api/v1` requests (the
//! schema routes stay public), admin roles for `/api/v1/admin`, and with auth off the safe
//! default of serving admin routes to loopback clients only. Per-stream rules are checked
//! by the handlers through [`authorize`], once they know the event type.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{Access, AuthFailure, User};
use crate::schema::EventSchema;

/// The authenticated caller of this request, if any (handlers take `Extension<Caller>`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller(pub Option<User>);

fn is_admin_path(path: &str) -> bool {
    path == "/api/v1/admin" || path.starts_with("/api/v1/admin/")
}

fn is_guarded(path: &str) -> bool {
    path.starts_with("/api/v1/") && !path.starts_with("/api/v1/schema")
}

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

/// What the guard reads of a request, taken out before any await (a body is not `Sync`).
struct Facts {
    path: String,
    query_length: usize,
    client: Option<SocketAddr>,
    authorization: Option<Result<String, ()>>,
}

impl Facts {
    fn of(request: &Request) -> Self {
        Self {
            path: request.uri().path().to_owned(),
            query_length: request.uri().query().map_or(0, str::len),
            client: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
            authorization: request
                .headers()
                .get(header::AUTHORIZATION)
                .map(|value| value.to_str().map(str::to_owned).map_err(|_| ())),
        }
    }
}

async fn check(state: &AppState, facts: Facts) -> Result<Option<User>, ApiError> {
    let path = facts.path.as_str();
    if facts.query_length > state.settings.http.max_query_length {
        return Err(ApiError::QueryTooLong {
            limit: state.settings.http.max_query_length,
        });
    }
    if !is_guarded(path) {
        return Ok(None);
    }
    let admin = is_admin_path(path);
    let Some(auth) = &state.auth else {
        let loopback = facts
            .client
            .is_some_and(|address| address.ip().is_loopback());
        if admin && !state.settings.admin.allow_unauthenticated_remote && !loopback {
            return Err(ApiError::Forbidden(
                "admin routes answer only loopback clients while auth is disabled (set admin.allow_unauthenticated_remote: true, or enable auth)".to_owned(),
            ));
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
                Err(AuthFailure::Malformed(_)) if !admin => None,
                Err(failure) => return Err(failure_to_error(failure, state)),
            }
        }
    };
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
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match check(&state, Facts::of(&request)).await {
        Ok(user) => {
            if let Some(user) = &user {
                tracing::debug!(actor = %user.actor(), "authenticated");
            }
            request.extensions_mut().insert(Caller(user));
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
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
