//! The HTTP server loop: accepts TCP connections and serves the router on each, with the
//! bounds `axum::serve` does not offer: a request head must arrive within
//! `http.header_read_timeout` (also the keep-alive idle limit: hyper counts the wait for
//! the next head), a connection on which no byte moves for `http.idle_timeout` is closed,
//! and a stream session can cut its own connection ([`ConnectionControl`]) when the client
//! stopped reading. Shutdown is graceful: open connections finish, new ones are refused.

mod guarded_io;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use guarded_io::ConnectionControl;
use guarded_io::GuardedIo;

/// Per-connection bounds.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// A transient accept failure (out of file descriptors) is retried after this pause.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What an HTTP/2 client with prior knowledge (h2c) sends first.
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long to wait before peeking again at a connection that has sent part of the
/// HTTP/2 preface and nothing else yet.
const PREFACE_POLL: Duration = Duration::from_millis(5);

/// Whether the client opens with the HTTP/2 preface. Decided by peeking, so nothing is
/// consumed: hyper's read buffer starts empty and is sized for a request head. (A reader
/// that consumes the first bytes and hands them back makes hyper grow its buffer to 16
/// KiB on the second read, and an open stream keeps that buffer.) Most requests differ
/// from the preface in their first byte.
async fn speaks_http2(socket: &TcpStream) -> std::io::Result<bool> {
    let mut seen = [0u8; HTTP2_PREFACE.len()];
    loop {
        let count = socket.peek(&mut seen).await?;
        if count == 0 || seen[..count] != HTTP2_PREFACE[..count] {
            return Ok(false);
        }
        if count == HTTP2_PREFACE.len() {
            return Ok(true);
        }
        // Part of the preface so far; the socket stays readable, so wait before looking again.
        tokio::time::sleep(PREFACE_POLL).await;
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then waits for the open
/// connections to finish (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let control = ConnectionControl::new();
        let service =
            TowerToHyperService::new(per_connection(router.clone(), remote, control.clone()));
        let watcher = graceful.watcher();
        let stopping = shutdown.clone();
        tokio::spawn(async move {
            // A client that sends nothing at all is held to the head timeout too, and is
            // not waited for at shutdown.
            let sniff = tokio::time::timeout(limits.header_read_timeout, speaks_http2(&tcp));
            let sniffed = tokio::select! {
                sniffed = sniff => sniffed,
                () = stopping.cancelled() => return,
            };
            let Ok(Ok(http2)) = sniffed else {
                return;
            };
            let io = TokioIo::new(GuardedIo::new(tcp, limits.idle_timeout, &control));
            let served = if http2 {
                let mut builder = http2::Builder::new(TokioExecutor::new());
                builder.timer(TokioTimer::new());
                watcher.watch(builder.serve_connection(io, service)).await
            } else {
                let mut builder = http1::Builder::new();
                builder
                    .half_close(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout);
                watcher.watch(builder.serve_connection(io, service)).await
            };
            if let Err(error) = served {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The router with the client address and the connection's control in every request.
fn per_connection(
    router: Router,
    remote: SocketAddr,
    control: ConnectionControl,
) -> impl tower::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    router.map_request(move |mut request: hyper::Request<Incoming>| {
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(remote));
        extensions.insert(control.clone());
        request.map(axum::body::Body::new)
    })
}
