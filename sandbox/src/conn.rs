//! Connections a handler can kill, for the `reset` and `timeout` faults.
//!
//! HTTP handlers cannot reach the socket they are answering on, and returning an error from a
//! handler still produces an HTTP response. So the listener wraps every accepted stream with a
//! shared [`ConnKill`] switch and hands a clone to handlers as connect info. A handler that
//! wants to drop the connection flips the switch and returns any response; when hyper tries to
//! write that response, the stream sets `SO_LINGER` to zero and fails the write. Hyper then
//! drops the connection and the kernel sends an RST instead of a FIN, so the client sees
//! "connection reset" without a single byte of HTTP.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Switch shared between a connection and the handlers serving requests on it.
#[derive(Debug, Clone, Default)]
pub struct ConnKill(Arc<AtomicBool>);

impl ConnKill {
    /// The connection is dropped with an RST the next time hyper touches it, which is when it
    /// writes the handler's response.
    pub fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().kill.clone()
    }
}

pub struct KillableListener {
    inner: TcpListener,
}

impl KillableListener {
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (inner, addr) = Listener::accept(&mut self.inner).await;
        (KillableStream::new(inner), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

pub struct KillableStream {
    inner: TcpStream,
    kill: ConnKill,
}

impl KillableStream {
    /// A stream with its own switch. The TLS listener wraps the TCP stream *under* TLS, so a
    /// kill drops the TCP connection itself rather than ending the TLS session cleanly.
    pub fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            kill: ConnKill::default(),
        }
    }

    /// The switch handlers get as connect info.
    pub fn kill_switch(&self) -> ConnKill {
        self.kill.clone()
    }

    /// Once killed, every operation fails; the zero linger makes the close that follows an RST.
    fn check(&self) -> io::Result<()> {
        if !self.kill.is_killed() {
            return Ok(());
        }
        if let Err(e) = self.inner.set_zero_linger() {
            tracing::debug!("sandbox: cannot set SO_LINGER=0 for a reset: {e}");
        }
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "sandbox fault: connection reset",
        ))
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
