//! Holds the client's leg back while rdptap's own handshake with the host runs.
//!
//! Interception answers the client's ClientHello only once the host's handshake has
//! succeeded, so that a host rdptap cannot speak to still gets the client's own TLS
//! untouched. The answer can nevertheless be *computed* meanwhile (key exchange and
//! signature), which takes that work off the connection's setup time. This stream lets
//! the TLS acceptor run early: what it writes is kept back, and it reads nothing from
//! the socket, until the gate opens; if the gate is shut instead, the acceptor fails
//! and the untouched socket is taken back for the passthrough fallback.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a held-back handshake flight may take (a ServerHello flight with a
/// certificate chain is a few KiB).
const MAX_HELD: usize = 256 * 1024;

/// Where the gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open,
    Shut,
}

#[derive(Debug)]
struct Shared {
    state: State,
    waker: Option<Waker>,
}

/// Opens or shuts the gate of a [`Held`] stream.
#[derive(Debug, Clone)]
pub struct Gate(Arc<Mutex<Shared>>);

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Gate(Arc::new(Mutex::new(Shared {
            state: State::Closed,
            waker: None,
        })))
    }

    /// Lets the held bytes go out and the socket be read.
    pub fn open(&self) {
        self.set(State::Open);
    }

    /// Drops the held bytes: the stream then fails every operation.
    pub fn shut(&self) {
        self.set(State::Shut);
    }

    fn set(&self, s: State) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.state == State::Closed {
            g.state = s;
        }
        if let Some(w) = g.waker.take() {
            w.wake();
        }
    }

    fn state(&self, cx: &Context<'_>) -> State {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.state == State::Closed {
            g.waker = Some(cx.waker().clone());
        }
        g.state
    }
}

/// `inner`, with writes kept back and reads pending until its [`Gate`] opens.
#[derive(Debug)]
pub struct Held<T> {
    inner: T,
    gate: Gate,
    out: Vec<u8>,
    sent: usize,
    /// Open and drained: from now on a plain pass-through, without the gate's lock.
    through: bool,
}

impl<T> Held<T> {
    /// Wraps `inner` behind `gate`.
    pub fn new(inner: T, gate: Gate) -> Self {
        Held {
            inner,
            gate,
            out: Vec::new(),
            sent: 0,
            through: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream (bytes still held are dropped).
    pub fn into_inner(self) -> T {
        self.inner
    }
}

fn shut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the client's handshake was held back and dropped",
    )
}

impl<T: AsyncWrite + Unpin> Held<T> {
    /// Writes out what was held; Ready(Ok) once nothing is left.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.sent += n;
        }
        self.out = Vec::new();
        self.sent = 0;
        self.through = true;
        Poll::Ready(Ok(()))
    }

    /// Ready(Ok) when the stream may be used directly.
    fn ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.through {
            return Poll::Ready(Ok(()));
        }
        match self.gate.state(cx) {
            State::Closed => Poll::Pending,
            State::Shut => Poll::Ready(Err(shut_error())),
            State::Open => self.drain(cx),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Held<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.ready(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_read(cx, buf),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Held<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.through {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        match self.gate.state(cx) {
            State::Closed if self.out.len() + buf.len() <= MAX_HELD => {
                self.out.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            State::Closed => Poll::Pending,
            State::Shut => Poll::Ready(Err(shut_error())),
            State::Open => match self.drain(cx) {
                Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_write(cx, buf),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.through {
            return Pin::new(&mut self.inner).poll_flush(cx);
        }
        match self.gate.state(cx) {
            // Nothing can go out yet; what is held counts as written.
            State::Closed => Poll::Ready(Ok(())),
            State::Shut => Poll::Ready(Err(shut_error())),
            State::Open => match self.drain(cx) {
                Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
                other => other,
            },
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.ready(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_wait_for_the_gate_and_go_out_in_order() {
        let (a, mut b) = tokio::io::duplex(1024);
        let gate = Gate::new();
        let mut held = Held::new(a, gate.clone());
        held.write_all(b"server").await.unwrap();
        held.write_all(b"hello").await.unwrap();
        held.flush().await.unwrap();
        b.write_all(b"finished").await.unwrap();
        // Nothing crossed, and the reply is not read while the gate is closed.
        let mut one = [0u8; 1];
        let peek = tokio::time::timeout(std::time::Duration::from_millis(30), b.read(&mut one));
        assert!(peek.await.is_err());
        let mut got = [0u8; 8];
        let read = async { held.read_exact(&mut got).await.map(|_| ()) };
        let open = async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            gate.open();
        };
        let (r, ()) = tokio::join!(read, open);
        r.unwrap();
        assert_eq!(&got, b"finished");
        let mut out = [0u8; 11];
        b.read_exact(&mut out).await.unwrap();
        assert_eq!(&out, b"serverhello");
        held.write_all(b"!").await.unwrap();
        b.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"!");
    }

    #[tokio::test]
    async fn a_shut_gate_drops_what_was_held_and_fails_the_reader() {
        let (a, mut b) = tokio::io::duplex(1024);
        let gate = Gate::new();
        let mut held = Held::new(a, gate.clone());
        held.write_all(b"flight").await.unwrap();
        let mut buf = [0u8; 4];
        let read = async { held.read(&mut buf).await };
        let shut = async {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            gate.shut();
        };
        let (r, ()) = tokio::join!(read, shut);
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionAborted);
        // The socket is handed back untouched.
        let mut a = held.into_inner();
        a.write_all(b"raw").await.unwrap();
        let mut got = [0u8; 3];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"raw");
        // Opening after shutting changes nothing.
        gate.open();
    }
}
