//! Test harness shared by every integration test binary: real `nats-server` processes on
//! ephemeral loopback ports with their own temporary store directories.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

pub mod nats;
