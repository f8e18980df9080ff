//! Gateway sessions: the TCP connections that share one `RDG-Connection-Id` (the two
//! channels of the HTTP transport, or the one WebSocket connection) share one tunnel
//! decoder, and get one verdict together once the last of them ends.
//!
//! This is the session's state only; the driver that runs the trackers decides how it
//! is shared between them (see [`crate::session::tracker::Tunnels`]).

use crate::decode::gateway::GwTunnel;
use crate::session::{Entry, Timeline};
use std::time::Duration;

/// A finished member connection's record, kept for the session verdict.
#[derive(Debug, Clone)]
pub struct Deposit {
    /// The connection number.
    pub conn: u64,
    /// When the client connected, from the run's shared start.
    pub started: Duration,
    /// Its timeline.
    pub timeline: Timeline,
}

/// One gateway session.
#[derive(Debug, Default)]
pub struct GwSession {
    /// The sans-IO tunnel decoder (packet order, inner RDP).
    pub tunnel: GwTunnel,
    /// Connection numbers linked to the session.
    pub members: Vec<u64>,
    /// Members that have ended.
    pub done: Vec<Deposit>,
    /// The session verdict was written.
    pub reported: bool,
}

impl GwSession {
    /// A session before its first packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `conn` as a member.
    pub fn join(&mut self, conn: u64) {
        self.members.push(conn);
    }

    /// A member ended. When it was the last, the session is reported now and every
    /// member's record comes back.
    pub fn depart(&mut self, d: Deposit) -> Option<Vec<Deposit>> {
        self.done.push(d);
        if self.done.len() >= self.members.len() && !self.reported {
            self.reported = true;
            Some(std::mem::take(&mut self.done))
        } else {
            None
        }
    }
}

/// The members' timelines merged in time order, renumbered, timed from the first
/// member's start (which comes back too).
pub fn merge(done: &[Deposit]) -> (Timeline, Duration) {
    let base = done.iter().map(|d| d.started).min().unwrap_or_default();
    let mut all: Vec<(Duration, u64, usize, Entry)> = Vec::new();
    for d in done {
        let offset = d.started.saturating_sub(base);
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
