//! The direct-RDP stream decoder: routes each direction's bytes through the layers in
//! the order RDP uses them: an optional preconnection PDU, X.224 negotiation, then TLS
//! (for SSL, HYBRID and friends) or the MCS stream in the clear (for standard RDP
//! security, read by [`PlainDecoder`]).
//!
//! Both directions share one decoder because the server's Connection Confirm decides
//! how the client's next bytes must be read. When rdptap terminates TLS itself, the
//! decrypted bytes are fed apart ([`RdpDecoder::feed_plain`]) to a second
//! [`PlainDecoder`].

use super::names::Protocols;
use super::pdu::Protection;
use super::plain::{PlainDecoder, PlainStats, Security};
use super::reassembly::{Hint, Pushed, Reassembler, Step};
use super::tls::{RecordStats, TlsDecoder};
use super::x224::{Tpdu, X224Event};
use super::{tpkt, x224, DecodeError, DecodeEvent, Decoded};
use crate::vocab::{Dir, Layer};

/// The most bytes held for a direction while its next layer is not yet known.
const MAX_PENDING: usize = 64 * 1024;

/// Where one direction's stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing seen yet.
    Start,
    /// Inside the preconnection PDU (client only).
    Preconnection,
    /// TPKT/X.224 frames: the Connection Request or Confirm.
    X224,
    /// The client sent its request; its next bytes depend on the server's answer.
    AwaitConfirm,
    /// TLS records.
    Tls,
    /// Slow-path TPKT/MCS and fast-path PDUs in the clear (standard RDP security),
    /// handed to the [`PlainDecoder`].
    Mcs,
    /// Decoding stopped for this direction; bytes are only counted by the relay.
    Done,
}

#[derive(Debug)]
struct Side {
    stage: Stage,
    reasm: Reassembler,
    /// Bytes that arrived before the layer they belong to was known.
    pending: Vec<u8>,
    /// Stream bytes the finished framed layers used, where the current layer starts.
    consumed: u64,
}

impl Side {
    fn new() -> Self {
        Side {
            stage: Stage::Start,
            reasm: Reassembler::new(tpkt::MAX_TPKT),
            pending: Vec::new(),
            consumed: 0,
        }
    }
}

/// Decodes both directions of a direct RDP connection.
#[derive(Debug)]
pub struct RdpDecoder {
    sides: [Side; 2],
    tls: TlsDecoder,
    /// The cleartext MCS stream under standard RDP security.
    plain: PlainDecoder,
    /// The decrypted stream, once rdptap terminated TLS on both legs.
    intercepted: Option<PlainDecoder>,
    requested: Option<Protocols>,
    selected: Option<Protocols>,
}

impl Default for RdpDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RdpDecoder {
    /// A decoder at the start of a connection.
    pub fn new() -> Self {
        RdpDecoder {
            sides: [Side::new(), Side::new()],
            tls: TlsDecoder::new(),
            plain: PlainDecoder::new(Security::Standard),
            intercepted: None,
            requested: None,
            selected: None,
        }
    }

    /// The protocols the client asked for, once its Connection Request was seen.
    pub fn requested(&self) -> Option<Protocols> {
        self.requested
    }

    /// The protocol the server selected, once its Connection Confirm was seen.
    pub fn selected(&self) -> Option<Protocols> {
        self.selected
    }

    /// The TLS decoder, for versions and record counters.
    pub fn tls(&self) -> &TlsDecoder {
        &self.tls
    }

    /// TLS record counters for one direction.
    pub fn tls_stats(&self, dir: Dir) -> RecordStats {
        self.tls.stats(dir)
    }

    /// Bytes held across chunks by every layer, for checking the memory bound.
    pub fn buffered(&self) -> usize {
        self.sides
            .iter()
            .map(|s| s.reasm.buffered() + s.pending.len())
            .sum::<usize>()
            + self.tls.buffered(Dir::C2S)
            + self.tls.buffered(Dir::S2C)
            + self.plain.buffered()
            + self.intercepted.as_ref().map_or(0, PlainDecoder::buffered)
    }

    /// True when neither direction will decode anything more.
    pub fn finished(&self) -> bool {
        let sides_done = [Dir::C2S, Dir::S2C]
            .iter()
            .all(|&d| match self.sides[d.idx()].stage {
                Stage::Done => true,
                Stage::Mcs => self.plain.finished(d),
                _ => false,
            });
        let plaintext_done = self
            .intercepted
            .as_ref()
            .is_none_or(|p| p.finished(Dir::C2S) && p.finished(Dir::S2C));
        sides_done && plaintext_done
    }

    /// rdptap terminated TLS on both legs after the X.224 exchange: from now on the
    /// plaintext is fed through [`feed_plain`](Self::feed_plain) and ciphertext is no
    /// longer fed.
    ///
    /// The plaintext is read as enhanced RDP security. A second call changes nothing.
    pub fn tls_intercepted(&mut self) {
        if self.intercepted.is_none() {
            self.intercepted = Some(PlainDecoder::new(Security::Enhanced));
        }
    }

    /// The capture of this connection began after its TLS handshake: both directions
    /// are read as TLS records from here (the caller feeds from a record boundary).
    pub fn resume_tls(&mut self) {
        for s in &mut self.sides {
            s.stage = Stage::Tls;
            s.pending = Vec::new();
        }
        self.tls.resume();
    }

    /// Feeds decrypted bytes of direction `dir` (only after
    /// [`tls_intercepted`](Self::tls_intercepted); ignored before).
    pub fn feed_plain(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) {
        if let Some(p) = self.intercepted.as_mut() {
            p.feed(dir, data, out);
        }
    }

    /// Counters from the plaintext/MCS stream (fast-path PDUs, slow-path data PDUs,
    /// virtual channel bytes) by direction: the decrypted stream when TLS was
    /// intercepted, else the cleartext one of standard RDP security.
    pub fn plain_stats(&self) -> PlainStats {
        self.mcs_stream().stats()
    }

    /// How the I/O channel payloads are protected, once a Connect Response was seen
    /// (in the clear, or in the plaintext when TLS was intercepted).
    pub fn io_protection(&self) -> Option<Protection> {
        self.mcs_stream().protection()
    }

    /// The MCS stream decoder that matters: the intercepted plaintext if any.
    fn mcs_stream(&self) -> &PlainDecoder {
        self.intercepted.as_ref().unwrap_or(&self.plain)
    }

    /// True once both directions are past negotiation and only TLS records are counted:
    /// the relay's hot path then costs a header scan per record.
    pub fn in_tls(&self) -> bool {
        self.sides
            .iter()
            .all(|s| matches!(s.stage, Stage::Tls | Stage::Done))
    }

    /// Feed the next chunk of `dir`'s stream; decoded events are appended to `out`.
    pub fn feed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) {
        let mut data = std::borrow::Cow::Borrowed(data);
        // A stage change hands the rest of the chunk to the next layer; loop until the
        // chunk is used up. Each pass either consumes everything or advances the stage,
        // so this ends.
        for _ in 0..8 {
            if data.is_empty() {
                return;
            }
            match self.sides[dir.idx()].stage {
                Stage::Done => return,
                Stage::Start => {
                    if !self.start(dir, &data, out) {
                        return;
                    }
                }
                Stage::AwaitConfirm => {
                    let side = &mut self.sides[dir.idx()];
                    if side.pending.len() + data.len() > MAX_PENDING {
                        let at = side.reasm.offset();
                        self.fail(dir, Layer::X224, at, "the client kept sending before the server answered its Connection Request".into(), out);
                    } else {
                        side.pending.extend_from_slice(&data);
                    }
                    return;
                }
                Stage::Mcs => {
                    self.plain.feed(dir, &data, out);
                    return;
                }
                Stage::Tls => {
                    let mut tls_events = Vec::new();
                    let r = self.tls.feed(dir, &data, &mut tls_events);
                    out.extend(tls_events.into_iter().map(|e| Decoded {
                        dir,
                        event: DecodeEvent::Tls(e),
                    }));
                    if let Err(e) = r {
                        out.push(Decoded {
                            dir,
                            event: DecodeEvent::Error(e),
                        });
                        self.sides[dir.idx()].stage = Stage::Done;
                    }
                    return;
                }
                Stage::Preconnection | Stage::X224 => match self.framed(dir, &data, out) {
                    Some(rest) => data = std::borrow::Cow::Owned(rest),
                    None => return,
                },
            }
        }
    }

    /// Decide what the first bytes of a direction are. Returns true to keep feeding.
    fn start(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) -> bool {
        let side = &mut self.sides[dir.idx()];
        side.pending.extend_from_slice(data);
        let first = side.pending.first().copied();
        let next = match first {
            Some(0x03) => Stage::X224,
            Some(_) if dir == Dir::C2S && x224::looks_like_preconnection(&side.pending) => {
                Stage::Preconnection
            }
            // A preconnection PDU header needs 16 bytes before it can be recognised.
            Some(_) if dir == Dir::C2S && side.pending.len() < 16 => return false,
            Some(_) => {
                let ev = x224::not_rdp(&side.pending);
                side.pending = Vec::new();
                out.push(Decoded {
                    dir,
                    event: DecodeEvent::X224(ev),
                });
                // Nothing that follows can be RDP either: stop both directions.
                for s in &mut self.sides {
                    s.stage = Stage::Done;
                    s.pending = Vec::new();
                }
                return false;
            }
            None => return false,
        };
        side.stage = next;
        let buffered = std::mem::take(&mut side.pending);
        self.framed_owned(dir, buffered, out);
        false
    }

    fn framed_owned(&mut self, dir: Dir, data: Vec<u8>, out: &mut Vec<Decoded>) {
        let mut data = data;
        for _ in 0..8 {
            if data.is_empty() {
                return;
            }
            match self.sides[dir.idx()].stage {
                Stage::Preconnection | Stage::X224 => match self.framed(dir, &data, out) {
                    Some(rest) => data = rest,
                    None => return,
                },
                _ => {
                    self.feed(dir, &data, out);
                    return;
                }
            }
        }
    }

    /// Run the framed negotiation layers; returns the bytes left over after a stage
    /// change.
    fn framed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) -> Option<Vec<u8>> {
        let stage = self.sides[dir.idx()].stage;
        let framer: fn(&[u8]) -> Hint = match stage {
            Stage::Preconnection => x224::preconnection_hint,
            _ => tpkt::tpkt_hint,
        };
        let mut frames: Vec<(u64, Result<Option<DecodeEvent>, String>, Stage)> = Vec::new();
        let mut reasm = std::mem::replace(&mut self.sides[dir.idx()].reasm, Reassembler::new(0));
        let mut next_stage = stage;
        let pushed = reasm.push(data, framer, |at, frame| {
            let (result, next) = self.decode_frame(dir, next_stage, frame);
            let stop = next != next_stage;
            next_stage = next;
            frames.push((at, result, next));
            if stop {
                Step::Stop
            } else {
                Step::Continue
            }
        });
        self.sides[dir.idx()].reasm = reasm;
        if let Pushed::Stopped { .. } = pushed {
            // The next layer starts with a fresh reassembler, where this one stopped;
            // counted before `enter` so the next layer knows its starting offset.
            let side = &mut self.sides[dir.idx()];
            side.consumed = side.consumed.saturating_add(side.reasm.offset());
            side.reasm = Reassembler::new(tpkt::MAX_TPKT);
        }
        for (at, result, _) in frames {
            match result {
                Ok(Some(ev)) => out.push(Decoded { dir, event: ev }),
                Ok(None) => {}
                Err(reason) => {
                    self.fail(dir, Layer::X224, at, reason, out);
                    return None;
                }
            }
        }
        if next_stage != stage {
            self.enter(dir, next_stage, out);
        }
        match pushed {
            Pushed::Consumed => None,
            Pushed::Stopped { rest } => Some(rest),
            Pushed::Invalid { offset, reason } => {
                self.fail(dir, Layer::X224, offset, reason, out);
                None
            }
        }
    }

    /// Decode one frame and say which stage the direction is in after it.
    fn decode_frame(
        &mut self,
        dir: Dir,
        stage: Stage,
        frame: &[u8],
    ) -> (Result<Option<DecodeEvent>, String>, Stage) {
        if stage == Stage::Preconnection {
            return (
                x224::decode_preconnection(frame).map(|e| Some(DecodeEvent::X224(e))),
                Stage::X224,
            );
        }
        let tpdu = match x224::decode_tpdu(frame) {
            Ok(t) => t,
            Err(e) => return (Err(e), stage),
        };
        match tpdu {
            // Data before the negotiation is over has no layer to go to.
            Tpdu::Data(_) => (Ok(None), stage),
            Tpdu::Event(ev) => {
                let next = match (&ev, dir) {
                    (
                        X224Event::ConnectionRequest {
                            requested_protocols,
                            ..
                        },
                        Dir::C2S,
                    ) => {
                        self.requested = Some(requested_protocols.unwrap_or(Protocols::RDP));
                        Stage::AwaitConfirm
                    }
                    (
                        X224Event::ConnectionConfirm {
                            selected_protocol, ..
                        },
                        Dir::S2C,
                    ) => {
                        let sel = selected_protocol.unwrap_or(Protocols::RDP);
                        self.selected = Some(sel);
                        if sel.uses_tls() {
                            Stage::Tls
                        } else {
                            Stage::Mcs
                        }
                    }
                    (X224Event::NegotiationFailure { .. }, Dir::S2C) => Stage::Done,
                    _ => stage,
                };
                (Ok(Some(DecodeEvent::X224(ev))), next)
            }
        }
    }

    /// Move a direction into a new stage; the server's choice also releases the client.
    fn enter(&mut self, dir: Dir, stage: Stage, out: &mut Vec<Decoded>) {
        self.set_stage(dir, stage);
        if dir == Dir::S2C
            && matches!(stage, Stage::Tls | Stage::Mcs | Stage::Done)
            && self.sides[Dir::C2S.idx()].stage == Stage::AwaitConfirm
        {
            self.set_stage(Dir::C2S, stage);
            let held = std::mem::take(&mut self.sides[Dir::C2S.idx()].pending);
            // Held client bytes are replayed into their now-known layer.
            self.framed_owned(Dir::C2S, held, out);
        }
    }

    /// Set a direction's stage, telling the cleartext MCS decoder where its stream
    /// starts when that is the next layer.
    fn set_stage(&mut self, dir: Dir, stage: Stage) {
        let side = &mut self.sides[dir.idx()];
        side.stage = stage;
        if stage == Stage::Mcs {
            self.plain.start_at(dir, side.consumed);
        }
    }

    fn fail(
        &mut self,
        dir: Dir,
        layer: Layer,
        offset: u64,
        reason: String,
        out: &mut Vec<Decoded>,
    ) {
        let side = &mut self.sides[dir.idx()];
        side.stage = Stage::Done;
        side.pending = Vec::new();
        side.reasm = Reassembler::new(0);
        out.push(Decoded {
            dir,
            event: DecodeEvent::Error(DecodeError {
                layer,
                offset,
                reason,
            }),
        });
    }
}

#[cfg(test)]
#[path = "rdp_plain_tests.rs"]
mod plain_tests;

#[cfg(test)]
#[path = "rdp_capture_tests.rs"]
mod capture_tests;
#[cfg(test)]
#[path = "rdp_tests.rs"]
mod tests;
