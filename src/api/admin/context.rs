//! Who asked, from where, on which route: what the audit trail records of a request, and
//! whether the client still waits for the answer.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;

use super::completion::Attendance;
use crate::api::guard::Caller;
use crate::api::request_id::RequestId;

#[derive(Debug, Clone)]
pub(crate) struct AdminRequest {
    pub request_id: String,
    pub client: Option<SocketAddr>,
    pub method: String,
    pub route: String,
    /// `username@realm` and roles of the authenticated caller (auth on).
    pub actor: Option<String>,
    pub roles: Vec<String>,
    /// Set while the operation runs as its own task (`completion::to_completion`).
    pub attendance: Option<Attendance>,
}

impl<S: Send + Sync> FromRequestParts<S> for AdminRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .and_then(|caller| caller.0.clone());
        Ok(Self {
            actor: caller.as_ref().map(crate::auth::User::actor),
            roles: caller.map(|user| user.roles).unwrap_or_default(),
            attendance: None,
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|id| id.0.clone())
                .unwrap_or_default(),
            client: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
            method: parts.method.to_string(),
            route: parts.extensions.get::<MatchedPath>().map_or_else(
                || parts.uri.path().to_owned(),
                |path| path.as_str().to_owned(),
            ),
        })
    }
}
