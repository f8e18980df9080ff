//! One direction of a connection: where its stream stands, its FIN, the out-of-order data
//! waiting for a hole, and the recent bytes kept for comparing retransmissions. In-order
//! data goes to the consumer straight from the segment, without a copy.

use super::ctx::Ctx;
use super::event::{FlowEventKind, GapCause};
use super::history::History;
use super::ooo::{Ooo, PIECE_OVERHEAD};
use crate::vocab::Dir;

/// The largest jump an acknowledgment may prove lost at once: more than any TCP window
/// (2^30 bytes), so a larger jump is a bogus acknowledgment number, not a loss.
const MAX_ACK_JUMP: u64 = 1 << 30;

/// The state of one direction's stream.
#[derive(Debug, Default)]
pub(super) struct Half {
    /// Sequence number of stream offset 0, once `known`.
    base: u32,
    known: bool,
    /// Stream offset of the next byte to deliver: everything before it was delivered or
    /// reported missing.
    next: u64,
    /// Stream offset of the FIN, once seen.
    fin: Option<u64>,
    /// Whether the `Fin` event was emitted (the stream reached the FIN).
    fin_done: bool,
    ooo: Ooo,
    history: History,
}

impl Half {
    /// Whether the stream's sequence numbers are anchored yet.
    pub(super) fn is_known(&self) -> bool {
        self.known
    }

    /// Anchors the stream: sequence number `seq` is stream offset 0.
    pub(super) fn start_at(&mut self, seq: u32) {
        self.base = seq;
        self.known = true;
        self.next = 0;
        self.history.restart_at(0);
    }

    /// Whether sequence number `seq` is stream offset 0.
    pub(super) fn starts_at(&self, seq: u32) -> bool {
        self.known && self.base == seq
    }

    /// Stream bytes so far (delivered plus missing).
    pub(super) fn next(&self) -> u64 {
        self.next
    }

    /// Whether the stream reached its FIN.
    pub(super) fn fin_done(&self) -> bool {
        self.fin_done
    }

    /// The stream offset of `seq`, taken as the one nearest the next expected byte, so
    /// sequence number wraparound needs no special case. Negative before the stream's start.
    pub(super) fn offset_of(&self, seq: u32) -> i64 {
        let expected = self.base.wrapping_add(self.next as u32);
        self.next as i64 + i64::from(seq.wrapping_sub(expected) as i32)
    }

    /// Takes in `payload` at stream offset `start`; `wire_len` (at least the payload's
    /// length) is what was sent, more when the snap length cut the packet.
    pub(super) fn data(
        &mut self,
        dir: Dir,
        start: i64,
        payload: &[u8],
        wire_len: u64,
        ctx: &mut Ctx<'_>,
    ) {
        // A keep-alive probe repeats the byte before the next one (or none): not data.
        if payload.len() <= 1 && wire_len <= 1 && self.next > 0 && start == self.next as i64 - 1 {
            ctx.stats.keepalives += 1;
            return;
        }
        let wire_end = start.saturating_add(wire_len as i64);
        if wire_end <= 0 {
            ctx.stats.before_start_bytes += payload.len() as u64;
            return;
        }
        let (start, mut payload) = if start < 0 {
            let cut = (start.unsigned_abs() as usize).min(payload.len());
            ctx.stats.before_start_bytes += cut as u64;
            (0u64, &payload[cut..])
        } else {
            (start as u64, payload)
        };
        let mut wire_end = (wire_end as u64).max(start);
        if let Some(fin) = self.fin {
            let end = start + payload.len() as u64;
            if end > fin {
                ctx.stats.after_fin_bytes += end - start.max(fin);
                payload = &payload[..(fin.saturating_sub(start) as usize).min(payload.len())];
            }
            wire_end = wire_end.min(fin);
        }
        let end = start + payload.len() as u64;
        let mut pos = start;
        while pos < end {
            let rest = &payload[(pos - start) as usize..];
            if pos < self.next {
                let upto = end.min(self.next);
                self.compare_delivered(dir, pos, &rest[..(upto - pos) as usize], ctx);
                pos = upto;
            } else if pos == self.next {
                let stop = self.ooo.first_start().map_or(end, |held| held.min(end));
                if stop > pos {
                    self.deliver(dir, &rest[..(stop - pos) as usize], ctx);
                    pos = stop;
                }
                if pos < end {
                    // Held data starts here and came first; hold what this copy adds, and
                    // the flush below delivers all of it at once.
                    self.hold(dir, pos, &payload[(pos - start) as usize..], ctx);
                    pos = end;
                }
                self.flush(dir, ctx);
            } else {
                let need = rest.len() + PIECE_OVERHEAD;
                let fits_dir = self.ooo.charged() + need <= ctx.cfg.max_buffered_per_dir;
                let fits_all = ctx.budget.buffered + need <= ctx.cfg.max_buffered_total;
                if fits_dir && fits_all {
                    self.hold(dir, pos, rest, ctx);
                    pos = end;
                } else {
                    // Too much waits already: the first hole will not be filled.
                    let to = self.ooo.first_start().unwrap_or(pos);
                    self.skip_to(dir, to, GapCause::BufferLimit, ctx);
                }
            }
        }
        // The bytes the snap length cut are lost once the stream reaches them.
        if wire_end > end && self.next >= end && self.next < wire_end {
            self.skip_to(dir, wire_end, GapCause::Truncated, ctx);
        }
    }

    /// The peer acknowledged everything before stream offset `acked`: bytes before it the
    /// capture never had are lost to it.
    pub(super) fn acked_to(&mut self, dir: Dir, acked: i64, ctx: &mut Ctx<'_>) {
        let mut upto = acked.max(0) as u64;
        if let Some(fin) = self.fin {
            // The FIN takes a sequence number of its own.
            upto = upto.min(fin);
        }
        if upto > self.next && upto - self.next <= MAX_ACK_JUMP {
            self.skip_to(dir, upto, GapCause::AckedNotCaptured, ctx);
        }
    }

    /// Notes a FIN at stream offset `at`; the `Fin` event comes when the stream reaches it.
    pub(super) fn set_fin(&mut self, dir: Dir, at: i64, ctx: &mut Ctx<'_>) {
        // A FIN before bytes already delivered contradicts them; the first FIN counts.
        if self.fin.is_some() || at < self.next as i64 {
            return;
        }
        let at = at as u64;
        self.fin = Some(at);
        // Held data past the FIN can never be delivered.
        while let Some(last) = self.ooo.last_start() {
            if last < at {
                break;
            }
            if let Some((len, freed)) = self.ooo.pop_last() {
                ctx.stats.after_fin_bytes += len as u64;
                ctx.budget.buffered -= freed;
            }
        }
        self.check_fin(dir, ctx);
    }

    /// Resolves everything still open when the connection ends: held data is delivered and
    /// the holes before it and before the FIN are reported as gaps with `cause`.
    pub(super) fn drain(&mut self, dir: Dir, cause: GapCause, ctx: &mut Ctx<'_>) {
        while let Some(held) = self.ooo.first_start() {
            if held > self.next {
                self.skip_to(dir, held, cause, ctx);
            } else {
                self.flush(dir, ctx);
            }
        }
        if let Some(fin) = self.fin {
            if self.next < fin {
                self.skip_to(dir, fin, cause, ctx);
            }
        }
        self.check_fin(dir, ctx);
    }

    /// Hands the direction's memory back to the budget.
    pub(super) fn release(&mut self, ctx: &mut Ctx<'_>) {
        ctx.budget.buffered -= self.ooo.clear();
        ctx.budget.history -= self.history.allocated();
        self.history = History::default();
    }

    /// Delivers `bytes` at the next offset.
    fn deliver(&mut self, dir: Dir, bytes: &[u8], ctx: &mut Ctx<'_>) {
        if bytes.is_empty() {
            return;
        }
        ctx.emit(FlowEventKind::Data {
            dir,
            offset: self.next,
            bytes,
        });
        let cfg = ctx.cfg;
        self.history.push(
            self.next,
            bytes,
            cfg.history_per_dir,
            &mut ctx.budget.history,
            cfg.max_history_total,
        );
        self.next += bytes.len() as u64;
        ctx.stats.delivered_bytes += bytes.len() as u64;
    }

    /// Delivers held data that the stream has reached.
    fn flush(&mut self, dir: Dir, ctx: &mut Ctx<'_>) {
        let limit = self.fin.unwrap_or(u64::MAX);
        while let Some((start, piece, freed)) = self.ooo.pop_if_at_or_before(self.next) {
            ctx.budget.buffered -= freed;
            let from = (self.next - start) as usize;
            let to = (limit.saturating_sub(start) as usize).min(piece.len());
            if from < to {
                self.deliver(dir, &piece[from..to], ctx);
            }
        }
        self.check_fin(dir, ctx);
    }

    /// Declares the bytes up to `upto` that nothing holds missing, delivering held data in
    /// between.
    fn skip_to(&mut self, dir: Dir, upto: u64, cause: GapCause, ctx: &mut Ctx<'_>) {
        while self.next < upto {
            let to = self.ooo.first_start().map_or(upto, |held| held.min(upto));
            if to > self.next {
                let len = to - self.next;
                ctx.emit(FlowEventKind::Gap {
                    dir,
                    offset: self.next,
                    len,
                    cause,
                });
                ctx.stats.gaps += 1;
                ctx.stats.gap_bytes += len;
                self.next = to;
                self.history.restart_at(to);
            }
            self.flush(dir, ctx);
        }
        self.check_fin(dir, ctx);
    }

    /// Holds out-of-order `data` at stream offset `at`.
    fn hold(&mut self, dir: Dir, at: u64, data: &[u8], ctx: &mut Ctx<'_>) {
        let mut conflicts = 0;
        let (added, overlapped) = self.ooo.insert(at, data, &mut |offset, len| {
            ctx.emit(FlowEventKind::Conflict { dir, offset, len });
            conflicts += 1;
        });
        ctx.stats.conflicts += conflicts;
        ctx.stats.retransmitted_bytes += overlapped;
        ctx.budget.buffered += added;
        ctx.stats.buffered_peak = ctx.stats.buffered_peak.max(ctx.budget.buffered);
    }

    /// Compares retransmitted bytes at `at` with the delivered ones.
    fn compare_delivered(&mut self, dir: Dir, at: u64, data: &[u8], ctx: &mut Ctx<'_>) {
        ctx.stats.retransmitted_bytes += data.len() as u64;
        let comparison = self.history.compare(at, data);
        ctx.stats.unverified_bytes += comparison.unverified;
        if let Some((lo, hi)) = comparison.differs {
            ctx.stats.conflicts += 1;
            ctx.emit(FlowEventKind::Conflict {
                dir,
                offset: lo,
                len: hi - lo,
            });
        }
    }

    /// Emits `Fin` once the stream reaches its FIN.
    fn check_fin(&mut self, dir: Dir, ctx: &mut Ctx<'_>) {
        if let Some(fin) = self.fin {
            if !self.fin_done && self.next >= fin {
                self.fin_done = true;
                ctx.emit(FlowEventKind::Fin { dir, bytes: fin });
            }
        }
    }
}
