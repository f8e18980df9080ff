//! One connection: which side is the client, the handshake's sequence numbers, and its two
//! directions. Decides what a segment means for each direction.

use super::ctx::Ctx;
use super::event::{ConnId, EndReason, FlowEventKind, GapCause};
use super::half::Half;
use super::TcpSegment;
use crate::vocab::Dir;
use std::net::SocketAddr;
use std::time::Duration;

/// What a segment left the connection as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Still open.
    Open,
    /// Both directions reached their FIN.
    BothClosed,
    /// A side sent RST.
    Reset(Dir),
}

/// A connection's state.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) id: ConnId,
    pub(super) client: SocketAddr,
    /// Whether the SYN or SYN-ACK was captured.
    pub(super) start_seen: bool,
    /// Initial sequence numbers from SYN and SYN-ACK, per direction.
    pub(super) isn: [Option<u32>; 2],
    /// Time of the last segment, to find idle connections.
    pub(super) last_ts: Duration,
    /// When the client's SYN was captured.
    syn_at: Option<Duration>,
    halves: [Half; 2],
}

impl Conn {
    /// A connection whose client is `client`, with no segment taken in yet.
    pub(super) fn new(id: ConnId, client: SocketAddr, start_seen: bool) -> Conn {
        Conn {
            id,
            client,
            start_seen,
            isn: [None, None],
            last_ts: Duration::ZERO,
            syn_at: None,
            halves: [Half::default(), Half::default()],
        }
    }

    /// The direction a segment from `src` travels.
    pub(super) fn dir_of(&self, src: SocketAddr) -> Dir {
        if src == self.client {
            Dir::C2S
        } else {
            Dir::S2C
        }
    }

    /// Whether a SYN segment belongs to this connection's handshake (the first copy or a
    /// retransmission) rather than starting a new connection on the same addresses.
    pub(super) fn syn_fits(&self, dir: Dir, seg: &TcpSegment<'_>) -> bool {
        let isn = self.isn[dir.idx()];
        match (dir, seg.flags.ack()) {
            (Dir::C2S, false) => isn == Some(seg.seq),
            (Dir::S2C, true) => match isn {
                Some(isn) => isn == seg.seq,
                None => {
                    let half = &self.halves[Dir::S2C.idx()];
                    self.start_seen && (!half.is_known() || half.starts_at(seg.seq.wrapping_add(1)))
                }
            },
            _ => false,
        }
    }

    /// Stream bytes per direction so far.
    pub(super) fn bytes(&self) -> [u64; 2] {
        [self.halves[0].next(), self.halves[1].next()]
    }

    /// Takes in a segment that belongs to this connection, travelling `dir`.
    pub(super) fn segment(&mut self, dir: Dir, seg: &TcpSegment<'_>, ctx: &mut Ctx<'_>) -> Outcome {
        self.last_ts = seg.ts;
        let (d, o) = (dir.idx(), dir.other().idx());
        let flags = seg.flags;
        // The SYN takes one sequence number: data starts after it.
        let data_seq = if flags.syn() {
            if dir == Dir::S2C && flags.ack() && self.isn[d].is_none() {
                // The first SYN-ACK: how long the server took to answer says where a
                // connect's time went.
                let handshake = self.syn_at.map(|t| seg.ts.saturating_sub(t));
                ctx.emit(FlowEventKind::Established { handshake });
            }
            if dir == Dir::C2S && !flags.ack() && self.syn_at.is_none() {
                self.syn_at = Some(seg.ts);
            }
            self.isn[d].get_or_insert(seg.seq);
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if !self.halves[d].is_known() {
            self.halves[d].start_at(data_seq);
        }
        if flags.ack() {
            let other = &mut self.halves[o];
            if other.is_known() {
                let acked = other.offset_of(seg.ack);
                other.acked_to(dir.other(), acked, ctx);
            } else if self.start_seen {
                // The handshake was seen but not the other side's first segment: the
                // acknowledgment says where its stream starts.
                other.start_at(seg.ack);
            }
        }
        if flags.rst() {
            return Outcome::Reset(dir);
        }
        let half = &mut self.halves[d];
        let start = half.offset_of(data_seq);
        let wire_len = u64::from(seg.wire_len).max(seg.payload.len() as u64);
        if wire_len > 0 {
            half.data(dir, start, seg.payload, wire_len, ctx);
        }
        if flags.fin() {
            half.set_fin(dir, start.saturating_add(wire_len as i64), ctx);
        }
        if self.halves.iter().all(Half::fin_done) {
            Outcome::BothClosed
        } else {
            Outcome::Open
        }
    }

    /// Emits the connection's last events: what is still held or missing (gaps with
    /// `cause`), the RST if there was one, and `Ended`; then hands back its memory.
    pub(super) fn end(
        &mut self,
        why: EndReason,
        reset_by: Option<Dir>,
        cause: GapCause,
        ctx: &mut Ctx<'_>,
    ) {
        for dir in [Dir::C2S, Dir::S2C] {
            self.halves[dir.idx()].drain(dir, cause, ctx);
        }
        if let Some(dir) = reset_by {
            ctx.emit(FlowEventKind::Reset {
                dir,
                bytes: self.halves[dir.idx()].next(),
            });
        }
        ctx.emit(FlowEventKind::Ended {
            why,
            bytes: self.bytes(),
        });
        for half in &mut self.halves {
            half.release(ctx);
        }
    }
}
