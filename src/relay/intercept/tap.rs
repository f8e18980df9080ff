//! Keeps a copy of the first bytes a stream delivers, so that when rdptap's own TLS
//! handshake with the host fails, the host's actual reply (a ServerHello with an old
//! version, or an alert) can be decoded and named.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of the host's handshake reply is kept: enough for ServerHello, an alert
/// and usually the certificate.
const KEEP: usize = 16 * 1024;

/// `inner`, with the first [`KEEP`] bytes read from it copied aside.
#[derive(Debug)]
pub struct Tap<T> {
    inner: T,
    seen: Arc<Mutex<Vec<u8>>>,
    full: bool,
}

impl<T> Tap<T> {
    /// Wraps `inner`; the copy is readable through the returned handle.
    pub fn new(inner: T) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        (
            Tap {
                inner,
                seen: seen.clone(),
                full: false,
            },
            seen,
        )
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.full {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                let room = KEEP.saturating_sub(seen.len());
                seen.extend_from_slice(&new[..new.len().min(room)]);
                let full = seen.len() >= KEEP;
                drop(seen);
                self.full = full;
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
