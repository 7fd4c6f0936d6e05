//! Test harness shared by the test binaries that start their own `nats-server` (api, store,
//! harness, slow_clients): real servers on ephemeral loopback ports with their own temporary
//! store directories. `port.rs` beside it is included on its own by the crates that need it.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

pub mod nats;
pub mod receiver;
