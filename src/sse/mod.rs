//! Server-Sent Events: typed frames and the stream session that
//! joins history and live delivery at a captured boundary, and the live delivery outcomes
//! (`outcomes`).

mod emitter;
pub mod frame;
mod history;
pub mod outcomes;
mod plan;
pub mod session;
