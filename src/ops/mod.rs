//! The use cases, callable without HTTP: store a notification, plan a watch or replay,
//! read a page of history, purge what an identifier matches. Handlers in `api/` parse the
//! request, authorize the caller, call one operation here and render its answer; the
//! operations check against the schema and talk to the store.

pub mod browse;
pub mod notify;
pub mod purge;
pub mod stream;
