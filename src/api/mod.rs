//! The HTTP API (aviso v1 wire format): routes, request parsing, error rendering. Wire
//! shapes live here and are converted at this edge; the core knows nothing of HTTP.

mod admin;
mod body;
mod body_deadline;
mod browse;
mod console;
mod cursor;
mod deliveries;
mod destinations;
mod error;
mod error_body;
mod guard;
mod health;
mod notify;
mod observe;
mod openapi;
mod page_query;
mod query;
mod request_id;
mod router;
mod routes;
mod schema;
mod state;
mod stream;

pub use body::ALLOWED_FIELDS;
pub use cursor::parse_instant;
pub use error::{ApiError, Endpoint};
pub use error_body::ErrorBody;
pub use notify::IDEMPOTENCY_KEY_HEADER;
pub use openapi::document as openapi_document;
pub use request_id::{REQUEST_ID_HEADER, RequestId};
pub use router::{metrics_router, router};
pub use routes::{route_audiences, served_routes};
pub use state::{AppState, Shared as AppStateParts};
