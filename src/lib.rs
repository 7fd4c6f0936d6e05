#![recursion_limit = "512"]
//! Tidings: a schema-checked HTTP and Server-Sent-Events gateway for notifications stored
//! in NATS JetStream, wire-compatible with aviso-server v1.
//!
//! How a request travels:
//! ```text
//! HTTP ─▶ api (router, request id, errors)
//!       ─▶ ops               use cases: notify, open a stream, browse, purge
//!       ─▶ schema::Catalog   event type ⇄ stream, identifier validation
//!       ─▶ subject           canonical identifier ⇄ NATS subject / filter
//!       ─▶ store             memory | jetstream: publish, read, delete, purge, subscribe
//!       ─▶ sse               CloudEvents, frames, history boundary
//! ```
//! `domain` holds the plain types every layer shares; `settings` the typed configuration.

pub mod api;
pub mod app;
pub mod auth;
pub mod cloudevent;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod metrics;
pub mod ops;
pub mod schema;
pub mod serve;
pub mod settings;
pub mod sse;
pub mod store;
pub mod subject;
pub mod telemetry;
