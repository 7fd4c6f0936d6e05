//! Server-Sent Events: typed frames, CloudEvent rendering, and the stream session that
//! joins history and live delivery at a captured boundary.

pub mod cloudevent;
mod emitter;
pub mod frame;
mod plan;
pub mod session;
