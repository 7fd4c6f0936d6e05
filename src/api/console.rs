//! `GET /console/…`: the operator console's files (see [`crate::console`]).

use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::ApiError;
use crate::console::{self, Asset, SECURITY_HEADERS};

fn serve(asset: Asset) -> Response {
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// `GET /console`: the console's relative links need the trailing slash.
pub(crate) async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`: the page.
pub(crate) async fn index() -> Response {
    serve(console::index())
}

/// `GET /console/{asset}`: one of its files, 404 for anything else.
pub(crate) async fn asset(Path(name): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    console::asset(&name).map(serve).ok_or(ApiError::NoRoute {
        method: Method::GET.to_string(),
        path: uri.path().to_owned(),
    })
}
