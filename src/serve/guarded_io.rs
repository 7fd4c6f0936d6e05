//! The socket of one connection, with two ways out that hyper has not: an idle limit (no
//! byte read or written for `idle_timeout`, e.g. a client that stopped reading and filled
//! its socket) and a cut requested by the application ([`ConnectionControl::cut`]). Either
//! makes the next read or write fail, which ends the connection and frees its buffers.
//!
//! hyper serves connections with `half_close` on, so it does not read while a response is
//! being written: its way of noticing a client that hung up mid-response is a read that
//! reserves a fresh 16 KiB buffer per connection, which is most of what an idle watcher
//! costs. Streams notice a hang-up through [`ConnectionControl::hung_up`] instead, which
//! waits on the socket itself with a one-byte peek.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Lets a request handler end the connection it arrived on, and learn when the client
/// hung up (a request extension).
#[derive(Debug, Clone, Default)]
pub struct ConnectionControl {
    cut: CancellationToken,
    /// The last write found the socket full and nothing was written since.
    write_stalled: Arc<AtomicBool>,
    /// The connection's socket while it is open (never kept open by this handle).
    socket: Arc<OnceLock<Weak<TcpStream>>>,
}

impl ConnectionControl {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Closes the connection at its next read or write, buffered responses unsent.
    pub fn cut(&self) {
        self.cut.cancel();
    }

    /// Whether the client is not taking what is written: the socket is full.
    pub fn is_write_stalled(&self) -> bool {
        self.write_stalled.load(Ordering::Acquire)
    }

    /// Resolves once the client closed its side of the connection or the connection is
    /// gone. Stays pending while the client is connected, and also once it sent more
    /// bytes (a pipelined request, left for hyper): a peek cannot tell past those.
    pub async fn hung_up(&self) {
        let Some(socket) = self.socket.get() else {
            // Not served by `serve` (a test harness): nothing to watch.
            return std::future::pending().await;
        };
        let Some(socket) = socket.upgrade() else {
            return;
        };
        let mut probe = [0u8; 1];
        match socket.peek(&mut probe).await {
            Ok(0) | Err(_) => {}
            Ok(_) => std::future::pending().await,
        }
    }
}

pub(crate) struct GuardedIo {
    /// Shared only with [`ConnectionControl::hung_up`], which holds it while it waits.
    inner: Arc<TcpStream>,
    idle_timeout: Duration,
    last_activity: Instant,
    idle: Pin<Box<Sleep>>,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    write_stalled: Arc<AtomicBool>,
}

impl GuardedIo {
    pub(crate) fn new(
        inner: TcpStream,
        idle_timeout: Duration,
        control: &ConnectionControl,
    ) -> Self {
        let now = Instant::now();
        let inner = Arc::new(inner);
        // A fresh control per connection: the socket is set once.
        let _ = control.socket.set(Arc::downgrade(&inner));
        Self {
            inner,
            idle_timeout,
            last_activity: now,
            idle: Box::pin(tokio::time::sleep_until(now + idle_timeout)),
            cut: Box::pin(control.cut.clone().cancelled_owned()),
            write_stalled: control.write_stalled.clone(),
        }
    }

    /// Fails once the connection was cut or sat idle too long; otherwise registers the
    /// task to be woken when either happens.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.cut.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection cut off by the server",
            ));
        }
        // The timer is moved forward lazily, only when it fires: no reset per read/write.
        while self.idle.as_mut().poll(cx).is_ready() {
            let deadline = self.last_activity + self.idle_timeout;
            if deadline <= Instant::now() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no data moved on the connection within the idle timeout",
                ));
            }
            self.idle.as_mut().reset(deadline);
        }
        Ok(())
    }

    fn progressed(&mut self, bytes: usize) {
        if bytes > 0 {
            self.last_activity = Instant::now();
        }
    }

    fn wrote(&mut self, polled: &Poll<io::Result<usize>>) {
        match polled {
            Poll::Ready(Ok(written)) => {
                self.progressed(*written);
                self.write_stalled.store(false, Ordering::Release);
            }
            Poll::Pending => self.write_stalled.store(true, Ordering::Release),
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            match this.inner.try_read(buf.initialize_unfilled()) {
                Ok(read) => {
                    buf.advance(read);
                    this.progressed(read);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl GuardedIo {
    /// Writes with `write` once the socket is writable, retrying when readiness was stale.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        let polled = loop {
            match self.inner.poll_write_ready(cx) {
                Poll::Pending => break Poll::Pending,
                Poll::Ready(Err(error)) => break Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) => match write(&self.inner) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    written => break Poll::Ready(written),
                },
            }
        };
        self.wrote(&polled);
        polled
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |socket| socket.try_write(data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |socket| socket.try_write_vectored(buffers))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A TCP socket has nothing to flush; the cut and the idle limit still apply.
        self.get_mut().check(cx)?;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The FIN goes now, even while a stream session still holds the socket to watch it.
        let socket = socket2::SockRef::from(self.inner.as_ref());
        match socket.shutdown(std::net::Shutdown::Write) {
            Err(error) if error.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(error)),
            _ => Poll::Ready(Ok(())),
        }
    }
}
