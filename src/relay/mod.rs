//! The byte pump: relays both directions unchanged, shows every chunk to an observer by
//! reference count (never copied per observer), and records how each direction ended.

pub mod connect;
pub mod intercept;
mod pump;
pub mod sockopt;
pub mod timers;

pub use connect::{dial, Endpoint, Resolver, SystemResolver};

use crate::vocab::{Dir, Leg, StreamEnd};
use bytes::Bytes;
use pump::{pump, PumpCtx, Sibling};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// Sees every relayed chunk and every stream end, in order per direction.
///
/// Called inline on the relay's path before the chunk is written onward, so the order
/// of calls across directions follows causality (a reply is never seen before the
/// request that caused it). Implementations must be quick and must not block.
pub trait Observer: Send + Sync + 'static {
    /// A chunk read from `dir`'s sender, about to be written to its receiver.
    fn on_data(&self, dir: Dir, chunk: &Bytes);
    /// `dir`'s stream ended.
    fn on_end(&self, dir: Dir, end: &StreamEnd);
    /// Decrypted bytes travelling in `dir`, when rdptap terminates TLS on both legs.
    fn on_plain(&self, _dir: Dir, _chunk: &Bytes) {}
    /// Something the relay did or learned while intercepting.
    fn on_note(&self, _note: &crate::decode::note::Note) {}
    /// Bytes to decode, like [`Observer::on_data`], whose raw capture happens elsewhere
    /// (under interception, the socket wrapper sees them on their leg).
    fn on_decode_only(&self, dir: Dir, chunk: &Bytes) {
        self.on_data(dir, chunk);
    }
    /// Raw bytes one leg carried that are not decoded (TLS records under interception).
    fn on_wire(&self, _leg: Leg, _dir: Dir, _bytes: &[u8]) {}
    /// The upstream leg was replaced by a fresh connection (`local` is rdptap's end):
    /// the passthrough fallback under interception.
    fn on_redial(&self, _local: std::net::SocketAddr, _peer: std::net::SocketAddr) {}
    /// Where the relay waits before each chunk, if anywhere.
    fn backpressure(&self) -> Option<Arc<dyn Backpressure>> {
        None
    }
}

/// Where the relay may have to wait before going on: the packet capture's queue under
/// its lossless policy. The relay defines it, so the pump needs to know nothing of the
/// capture; whoever wires the two together implements it.
pub trait Backpressure: Send + Sync {
    /// A wait to finish before the next chunk is relayed, or `None` to go on at once
    /// (the common case, checked without allocating).
    fn room(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send + '_>>>;
}

/// Timers that bound a relayed connection.
#[derive(Debug, Clone, Copy)]
pub struct RelayOptions {
    /// After one side closed, how long the other may stay silent before both are closed.
    pub linger: Duration,
    /// Close both sides after this long with no bytes either way (None: never).
    pub idle_timeout: Option<Duration>,
    /// Close both sides when the client has sent nothing this long after connecting
    /// (None: never).
    pub first_byte: Option<Duration>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            linger: Duration::from_secs(5),
            idle_timeout: None,
            first_byte: None,
        }
    }
}

/// Relay between `client` and `server` until both directions have ended.
///
/// Returns the ends as `[c2s, s2c]`. Both sockets are closed when this returns.
pub async fn relay(
    client: TcpStream,
    server: TcpStream,
    observer: Arc<dyn Observer>,
    opts: RelayOptions,
    shutdown: watch::Receiver<bool>,
    started: Instant,
) -> [StreamEnd; 2] {
    relay_after(client, server, observer, opts, shutdown, started, [0, 0]).await
}

/// Like [`relay`], for a connection whose first bytes (`already`, per direction) were
/// relayed before, so the byte counts in the ends cover the whole connection.
pub async fn relay_after(
    client: TcpStream,
    server: TcpStream,
    observer: Arc<dyn Observer>,
    opts: RelayOptions,
    shutdown: watch::Receiver<bool>,
    started: Instant,
    already: [u64; 2],
) -> [StreamEnd; 2] {
    // Without TCP_NODELAY, Nagle plus delayed ACKs add ~80 ms to RDP's many small
    // request/response exchanges.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let (c2s_tx, c2s_rx) = watch::channel(Sibling::Open);
    let (s2c_tx, s2c_rx) = watch::channel(Sibling::Open);
    let timers = timers::Timers::new(started, opts.linger, opts.idle_timeout)
        .with_first_byte(opts.first_byte);
    if already[0] > 0 {
        timers.client_spoke();
    }
    let gate = observer.backpressure();
    let ctx = |dir: Dir, me, sibling| PumpCtx {
        dir,
        gate: gate.clone(),
        observer: observer.clone(),
        timers: timers.clone(),
        me,
        sibling,
        shutdown: shutdown.clone(),
        bytes_before: already[dir.idx()],
    };
    let c2s = pump(ctx(Dir::C2S, c2s_tx, s2c_rx), client_r, server_w);
    let s2c = pump(ctx(Dir::S2C, s2c_tx, c2s_rx), server_r, client_w);
    let (a, b) = tokio::join!(c2s, s2c);
    [a, b]
}

/// Closes the client in an orderly way, so it sees the "connection closed" it would see
/// from a host that went away. Closing a socket with unread bytes (the client's X.224
/// request, typically) would send a reset instead, so send our FIN first and read what
/// the client still sends, for a bounded time, before closing.
pub async fn close_gently(mut client: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = client.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut total = 0usize;
        while let Ok(n) = client.read(&mut sink).await {
            total += n;
            if n == 0 || total > 1 << 20 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}
