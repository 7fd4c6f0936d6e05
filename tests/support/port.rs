//! A free loopback port, for listeners a test starts itself (the app, a stub service) or
//! for an address where nothing listens. Not part of `support/mod.rs`: only the `api` and
//! `cluster` crates need it, and they include this file directly.

use std::net::{Ipv4Addr, TcpListener};

/// A port nobody listens on right now (the OS picks it; we release it for the caller).
pub fn free_loopback_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}
