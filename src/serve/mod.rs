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
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
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
        let io = TokioIo::new(GuardedIo::new(tcp, limits.idle_timeout, &control));
        let service = TowerToHyperService::new(per_connection(router.clone(), remote, control));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .half_close(true)
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
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
