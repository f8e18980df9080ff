//! Shows the raw bytes of one TLS leg to the observer as they cross the socket, for the
//! packet capture: under interception the relay only handles plaintext, so the TLS
//! records each leg carried are seen here.

use crate::relay::Observer;
use crate::vocab::Dir;
use crate::vocab::Leg;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, with every byte read or written reported as travelling on `leg`.
pub struct Wire<T> {
    inner: T,
    obs: Arc<dyn Observer>,
    leg: Leg,
}

impl<T> Wire<T> {
    /// Wraps `inner`, one of rdptap's two legs.
    pub fn new(inner: T, obs: Arc<dyn Observer>, leg: Leg) -> Self {
        Wire { inner, obs, leg }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, unwrapped.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The direction of bytes read from this leg (the other way for bytes written).
    fn read_dir(&self) -> Dir {
        match self.leg {
            Leg::Client => Dir::C2S,
            Leg::Upstream => Dir::S2C,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Wire<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                self.obs.on_wire(self.leg, self.read_dir(), new);
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Wire<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                self.obs
                    .on_wire(self.leg, self.read_dir().other(), &buf[..n]);
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
