//! Server-Sent Events: typed frames and the stream session that
//! joins history and live delivery at a captured boundary.

mod emitter;
pub mod frame;
mod plan;
pub mod session;
