//! The OpenAPI 3.1 document, generated from the route table the router is built from, so
//! every served route is documented (a test holds the two together). Served at
//! `/api-docs/openapi.json`, with Swagger UI (assets shipped inside the binary) at
//! `/swagger-ui/`.

mod components;
pub(crate) mod delivery_docs;
mod document;
mod operation;
mod parts;
pub(crate) mod route_docs;

pub use document::document;
