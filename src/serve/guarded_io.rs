//! The socket of one connection, with two ways out that hyper has not: an idle limit (no
//! byte read or written for `idle_timeout`, e.g. a client that stopped reading and filled
//! its socket) and a cut requested by the application ([`ConnectionControl::cut`]). Either
//! makes the next read or write fail, which ends the connection and frees its buffers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Lets a request handler end the connection it arrived on (a request extension).
#[derive(Debug, Clone, Default)]
pub struct ConnectionControl {
    cut: CancellationToken,
    /// The last write found the socket full and nothing was written since.
    write_stalled: Arc<AtomicBool>,
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
}

pub(crate) struct GuardedIo {
    inner: TcpStream,
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
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.progressed(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        this.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, buffers);
        this.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
