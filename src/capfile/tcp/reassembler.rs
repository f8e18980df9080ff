//! The connection table: finds each segment's connection by its addresses and ports,
//! starts new connections (deciding or guessing which side is the client), ends them, and
//! keeps memory bounded by evicting idle connections and forgetting old closed ones.

#[cfg(test)]
#[path = "reassembler_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reassembler_conn_tests.rs"]
mod conn_tests;

use super::config::{ReassemblyConfig, TcpStats};
use super::conn::{Conn, Outcome};
use super::ctx::{Budget, Ctx};
use super::event::{ConnId, EndReason, FlowEvent, FlowEventKind, GapCause};
use super::TcpSegment;
use crate::vocab::Dir;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Ports that mark the server side when no SYN says which side is the client.
const SERVER_PORTS: [u16; 6] = [3389, 443, 80, 8443, 8080, 22];

/// Closed connections remembered before the first sweep of old ones.
const MIN_SWEEP: usize = 4096;

/// A connection's addresses and ports, the same whichever way a segment travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey(SocketAddr, SocketAddr);

impl FlowKey {
    fn of(a: SocketAddr, b: SocketAddr) -> FlowKey {
        if a <= b {
            FlowKey(a, b)
        } else {
            FlowKey(b, a)
        }
    }
}

/// What the table remembers of a closed connection: enough to recognise its stragglers.
#[derive(Debug, Clone, Copy)]
struct Closed {
    client: SocketAddr,
    isn: [Option<u32>; 2],
    at: Duration,
}

/// A table entry.
#[derive(Debug)]
enum Slot {
    Open(Box<Conn>),
    Closed(Closed),
}

/// What to do with a segment, decided before touching the table.
enum Plan {
    Ignore,
    Existing,
    New,
    Replace,
}

/// Reassembles the TCP connections of a capture. Feed it every segment in capture order
/// with [`Reassembler::segment`], then call [`Reassembler::finish`].
#[derive(Debug)]
pub struct Reassembler {
    cfg: ReassemblyConfig,
    flows: HashMap<FlowKey, Slot>,
    next_id: u64,
    open: usize,
    closed: usize,
    closed_after_sweep: usize,
    budget: Budget,
    stats: TcpStats,
    last_ts: Duration,
    last_frame: u64,
}

impl Default for Reassembler {
    fn default() -> Reassembler {
        Reassembler::new(ReassemblyConfig::default())
    }
}

impl Reassembler {
    /// A reassembler keeping to `cfg`'s bounds.
    pub fn new(cfg: ReassemblyConfig) -> Reassembler {
        Reassembler {
            cfg,
            flows: HashMap::new(),
            next_id: 0,
            open: 0,
            closed: 0,
            closed_after_sweep: 0,
            budget: Budget::default(),
            stats: TcpStats::default(),
            last_ts: Duration::ZERO,
            last_frame: 0,
        }
    }

    /// What was done so far, beyond the events.
    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open
    }

    /// Out-of-order memory held now, all directions together.
    pub fn buffered_bytes(&self) -> usize {
        self.budget.buffered
    }

    /// All stream memory held now: out-of-order data and the bytes kept for comparing
    /// retransmissions.
    pub fn held_bytes(&self) -> usize {
        self.budget.buffered + self.budget.history
    }

    /// Takes in the next segment of the capture and hands the events it causes to `out`.
    /// `Data` events borrow `seg.payload` where it is in order, so nothing is copied then.
    pub fn segment(&mut self, seg: &TcpSegment<'_>, mut out: impl FnMut(FlowEvent<'_>)) {
        let out: &mut dyn FnMut(FlowEvent<'_>) = &mut out;
        self.stats.segments += 1;
        self.last_ts = seg.ts;
        self.last_frame = seg.frame;
        let key = FlowKey::of(seg.src, seg.dst);
        let plan = self.plan(key, seg);
        match plan {
            Plan::Ignore => return,
            Plan::Existing => {}
            Plan::Replace => {
                self.end(key, EndReason::Replaced, None, GapCause::Closed, out);
                self.create(key, seg, out);
            }
            Plan::New => self.create(key, seg, out),
        }
        let Some(Slot::Open(conn)) = self.flows.get_mut(&key) else {
            return;
        };
        let dir = conn.dir_of(seg.src);
        let mut ctx = Ctx {
            conn: conn.id,
            ts: seg.ts,
            frame: seg.frame,
            cfg: &self.cfg,
            budget: &mut self.budget,
            stats: &mut self.stats,
            out,
        };
        match conn.segment(dir, seg, &mut ctx) {
            Outcome::Open => {}
            Outcome::BothClosed => {
                self.end(key, EndReason::BothClosed, None, GapCause::Closed, out)
            }
            Outcome::Reset(by) => self.end(key, EndReason::Reset, Some(by), GapCause::Closed, out),
        }
    }

    /// Ends every connection still open, saying the capture ended (not that a side closed),
    /// and empties the table. Further segments start new connections.
    pub fn finish(&mut self, mut out: impl FnMut(FlowEvent<'_>)) {
        let out: &mut dyn FnMut(FlowEvent<'_>) = &mut out;
        let mut open: Vec<(ConnId, FlowKey)> = self
            .flows
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Open(conn) => Some((conn.id, *key)),
                Slot::Closed(_) => None,
            })
            .collect();
        open.sort_unstable();
        for (_, key) in open {
            self.end(
                key,
                EndReason::CaptureEnded,
                None,
                GapCause::CaptureEnded,
                out,
            );
        }
        self.flows = HashMap::new();
        self.open = 0;
        self.closed = 0;
        self.closed_after_sweep = 0;
    }

    /// Decides what the segment means for its table entry.
    fn plan(&mut self, key: FlowKey, seg: &TcpSegment<'_>) -> Plan {
        let flags = seg.flags;
        let syn = flags.syn() && !flags.rst();
        match self.flows.get(&key) {
            None if flags.rst() => {
                self.stats.stray_resets += 1;
                Plan::Ignore
            }
            None => Plan::New,
            Some(Slot::Closed(closed)) => {
                let dir = if seg.src == closed.client {
                    Dir::C2S
                } else {
                    Dir::S2C
                };
                let lingering = seg.ts.saturating_sub(closed.at) <= self.cfg.closed_linger;
                // A SYN that is not the closed connection's own (retransmitted) starts a new
                // one; so does anything else once the closed one is long gone.
                let new_syn = syn && closed.isn[dir.idx()] != Some(seg.seq);
                let long_gone = !syn && !flags.rst() && !lingering;
                if new_syn || long_gone {
                    Plan::New
                } else {
                    self.stats.after_close_segments += 1;
                    Plan::Ignore
                }
            }
            Some(Slot::Open(conn)) => {
                if syn && !conn.syn_fits(conn.dir_of(seg.src), seg) {
                    Plan::Replace
                } else {
                    Plan::Existing
                }
            }
        }
    }

    /// Starts a connection with this segment, replacing whatever the entry held.
    fn create(&mut self, key: FlowKey, seg: &TcpSegment<'_>, out: &mut dyn FnMut(FlowEvent<'_>)) {
        if self.open >= self.cfg.max_open_connections.max(1) {
            self.evict(out);
        }
        let flags = seg.flags;
        let (client, server, start_seen, roles_guessed) = if flags.syn() && !flags.ack() {
            (seg.src, seg.dst, true, false)
        } else if flags.syn() {
            (seg.dst, seg.src, true, false)
        } else {
            let (client, server) = guess_roles(seg.src, seg.dst);
            (client, server, false, true)
        };
        let id = ConnId(self.next_id);
        self.next_id += 1;
        self.stats.connections += 1;
        let mut conn = Conn::new(id, client, start_seen);
        conn.last_ts = seg.ts;
        if let Some(Slot::Closed(_)) = self.flows.insert(key, Slot::Open(Box::new(conn))) {
            self.closed -= 1;
        }
        self.open += 1;
        out(FlowEvent {
            conn: id,
            ts: seg.ts,
            frame: seg.frame,
            kind: FlowEventKind::Opened {
                client,
                server,
                start_seen,
                roles_guessed,
                trace_conn: seg.trace_conn,
            },
        });
    }

    /// Ends the open connection at `key` and remembers it as closed.
    fn end(
        &mut self,
        key: FlowKey,
        why: EndReason,
        reset_by: Option<Dir>,
        cause: GapCause,
        out: &mut dyn FnMut(FlowEvent<'_>),
    ) {
        let Some(Slot::Open(conn)) = self.flows.get_mut(&key) else {
            return;
        };
        let mut ctx = Ctx {
            conn: conn.id,
            ts: self.last_ts,
            frame: self.last_frame,
            cfg: &self.cfg,
            budget: &mut self.budget,
            stats: &mut self.stats,
            out,
        };
        conn.end(why, reset_by, cause, &mut ctx);
        let closed = Closed {
            client: conn.client,
            isn: conn.isn,
            at: self.last_ts,
        };
        self.flows.insert(key, Slot::Closed(closed));
        self.open -= 1;
        self.closed += 1;
        if why == EndReason::Evicted {
            self.stats.evicted += 1;
        }
        self.sweep_closed();
    }

    /// Ends the idlest eighth of the open connections.
    fn evict(&mut self, out: &mut dyn FnMut(FlowEvent<'_>)) {
        let mut open: Vec<(Duration, ConnId, FlowKey)> = self
            .flows
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Open(conn) => Some((conn.last_ts, conn.id, *key)),
                Slot::Closed(_) => None,
            })
            .collect();
        if open.is_empty() {
            return;
        }
        let count = (open.len() / 8).max(1);
        open.select_nth_unstable(count - 1);
        open.truncate(count);
        open.sort_unstable_by_key(|(_, id, _)| *id);
        for (_, _, key) in open {
            self.end(key, EndReason::Evicted, None, GapCause::Evicted, out);
        }
    }

    /// Forgets closed connections older than the linger time once they have doubled since
    /// the last sweep, so the table's size stays proportional to recent activity.
    fn sweep_closed(&mut self) {
        if self.closed <= MIN_SWEEP.max(2 * self.closed_after_sweep) {
            return;
        }
        let now = self.last_ts;
        let linger = self.cfg.closed_linger;
        self.flows.retain(|_, slot| match slot {
            Slot::Closed(closed) => now.saturating_sub(closed.at) <= linger,
            Slot::Open(_) => true,
        });
        self.closed = self.flows.len() - self.open;
        if self.closed > self.cfg.max_open_connections {
            // Even recent closed connections are too many to remember: forget them all.
            self.flows.retain(|_, slot| matches!(slot, Slot::Open(_)));
            self.closed = 0;
        }
        self.closed_after_sweep = self.closed;
    }
}

/// Client and server of a connection whose SYN was not seen: a well-known service port
/// marks the server, otherwise the lower port does.
fn guess_roles(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let known = |a: SocketAddr| SERVER_PORTS.contains(&a.port());
    match (known(src), known(dst)) {
        (true, false) => (dst, src),
        (false, true) => (src, dst),
        _ if src.port() < dst.port() => (dst, src),
        _ => (src, dst),
    }
}
