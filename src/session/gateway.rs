//! Gateway sessions: the TCP connections that share one `RDG-Connection-Id` (the two
//! channels of the HTTP transport, or the one WebSocket connection) share one tunnel
//! decoder, and get one verdict together once the last of them ends.

use crate::decode::gateway::GwTunnel;
use crate::session::{Entry, Timeline};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

/// The most gateway sessions tracked at once; beyond it the oldest are forgotten (their
/// connections still get their own verdicts).
const MAX_SESSIONS: usize = 4096;

/// A finished member connection's record, kept for the session verdict.
#[derive(Debug, Clone)]
pub struct Deposit {
    /// The connection number.
    pub conn: u64,
    /// When the client connected.
    pub started: Instant,
    /// Its timeline.
    pub timeline: Timeline,
}

/// The mutable part of a gateway session.
#[derive(Debug)]
pub struct TunnelState {
    /// The sans-IO tunnel decoder (packet order, inner RDP).
    pub tunnel: GwTunnel,
    /// Connection numbers linked to the session.
    pub members: Vec<u64>,
    /// Members that ended.
    pub done: Vec<Deposit>,
    /// The session verdict was written.
    pub reported: bool,
    /// The tunnel's RDP in the packet capture, once its first DATA packet came.
    pub inner_flow: Option<crate::record::capture::InnerFlow>,
}

/// One gateway session.
#[derive(Debug)]
pub struct SharedTunnel {
    /// The `RDG-Connection-Id`, or `conn-N` for a connection without one.
    pub key: String,
    state: Mutex<TunnelState>,
}

impl SharedTunnel {
    fn new(key: String) -> Self {
        SharedTunnel {
            key,
            state: Mutex::new(TunnelState {
                tunnel: GwTunnel::new(),
                members: Vec::new(),
                done: Vec::new(),
                reported: false,
                inner_flow: None,
            }),
        }
    }

    /// Locks the session state; a panic elsewhere does not poison it for the relay.
    pub fn lock(&self) -> MutexGuard<'_, TunnelState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every open gateway session, by `RDG-Connection-Id`.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, (u64, Arc<SharedTunnel>)>>,
    next: Mutex<u64>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The session for `key` (created if new), with `conn` counted as a member.
    pub fn link(&self, key: Option<&str>, conn: u64) -> Arc<SharedTunnel> {
        let Some(key) = key else {
            let t = Arc::new(SharedTunnel::new(format!("conn-{conn}")));
            t.lock().members.push(conn);
            return t;
        };
        let order = {
            let mut n = self.next.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            *n
        };
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let reusable = map
            .get(key)
            .filter(|(_, t)| !t.lock().reported)
            .map(|(_, t)| t.clone());
        let t = match reusable {
            Some(t) => t,
            None => {
                if map.len() >= MAX_SESSIONS {
                    if let Some(oldest) =
                        map.iter().min_by_key(|(_, v)| v.0).map(|(k, _)| k.clone())
                    {
                        map.remove(&oldest);
                    }
                }
                let t = Arc::new(SharedTunnel::new(key.to_string()));
                map.insert(key.to_string(), (order, t.clone()));
                t
            }
        };
        t.lock().members.push(conn);
        t
    }

    /// Forgets a session once its verdict is written.
    pub fn remove(&self, t: &Arc<SharedTunnel>) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&t.key).is_some_and(|(_, x)| Arc::ptr_eq(x, t)) {
            map.remove(&t.key);
        }
    }
}

/// The members' timelines merged in time order, renumbered, timed from the first
/// member's start.
pub fn merge(done: &[Deposit]) -> (Timeline, Instant) {
    let base = done
        .iter()
        .map(|d| d.started)
        .min()
        .unwrap_or_else(Instant::now);
    let mut all: Vec<(std::time::Duration, u64, usize, Entry)> = Vec::new();
    for d in done {
        let offset = d.started.saturating_duration_since(base);
        for e in &d.timeline.entries {
            all.push((offset + e.at, d.conn, e.seq, e.clone()));
        }
    }
    all.sort_by_key(|(at, conn, seq, _)| (*at, *conn, *seq));
    let mut t = Timeline::default();
    for (at, _, _, e) in all {
        t.push(at, e.dir, e.what);
    }
    (t, base)
}
