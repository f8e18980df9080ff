//! The byte pump: relays both directions unchanged, shows every chunk to an observer by
//! reference count (never copied per observer), and records how each direction ended.

pub mod connect;
pub mod end;
mod pump;

pub use connect::{dial, ConnectError, Endpoint, Resolver, SystemResolver};
pub use end::{EndKind, StreamEnd};

use crate::decode::Dir;
use bytes::Bytes;
use pump::{pump, PumpCtx, Sibling};
use std::sync::atomic::AtomicU64;
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
}

/// Timers that bound a relayed connection.
#[derive(Debug, Clone, Copy)]
pub struct RelayOptions {
    /// After one side closed, how long the other may stay silent before both are closed.
    pub linger: Duration,
    /// Close both sides after this long with no bytes either way (None: never).
    pub idle_timeout: Option<Duration>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            linger: Duration::from_secs(5),
            idle_timeout: None,
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
    // Without TCP_NODELAY, Nagle plus delayed ACKs add ~80 ms to RDP's many small
    // request/response exchanges.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let (c2s_tx, c2s_rx) = watch::channel(Sibling::Open);
    let (s2c_tx, s2c_rx) = watch::channel(Sibling::Open);
    let last_activity = Arc::new(AtomicU64::new(0));
    let ctx = |dir, me, sibling| PumpCtx {
        dir,
        observer: observer.clone(),
        started,
        linger: opts.linger,
        idle: opts.idle_timeout,
        last_activity: last_activity.clone(),
        me,
        sibling,
        shutdown: shutdown.clone(),
    };
    let c2s = pump(ctx(Dir::C2S, c2s_tx, s2c_rx), client_r, server_w);
    let s2c = pump(ctx(Dir::S2C, s2c_tx, c2s_rx), server_r, client_w);
    let (a, b) = tokio::join!(c2s, s2c);
    [a, b]
}
