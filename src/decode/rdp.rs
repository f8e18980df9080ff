//! The direct-RDP stream decoder: routes each direction's bytes through the layers in
//! the order RDP uses them: an optional preconnection PDU, X.224 negotiation, then TLS
//! (for SSL, HYBRID and friends) or slow-path MCS (for standard RDP security).
//!
//! Both directions share one decoder because the server's Connection Confirm decides
//! how the client's next bytes must be read.

use super::names::Protocols;
use super::reassembly::{Hint, Pushed, Reassembler, Step};
use super::tls::{RecordStats, TlsDecoder};
use super::x224::{Tpdu, X224Event};
use super::{mcs, tpkt, x224, DecodeError, DecodeEvent, Decoded, Dir, Layer};

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
    /// Slow-path TPKT/MCS and fast-path PDUs (standard RDP security).
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
}

impl Side {
    fn new() -> Self {
        Side {
            stage: Stage::Start,
            reasm: Reassembler::new(tpkt::MAX_TPKT),
            pending: Vec::new(),
        }
    }
}

/// Decodes both directions of a direct RDP connection.
#[derive(Debug)]
pub struct RdpDecoder {
    sides: [Side; 2],
    tls: TlsDecoder,
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
    }

    /// True when neither direction will decode anything more.
    pub fn finished(&self) -> bool {
        self.sides.iter().all(|s| s.stage == Stage::Done)
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
                Stage::Preconnection | Stage::X224 | Stage::Mcs => {
                    match self.framed(dir, &data, out) {
                        Some(rest) => data = std::borrow::Cow::Owned(rest),
                        None => return,
                    }
                }
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
                Stage::Preconnection | Stage::X224 | Stage::Mcs => {
                    match self.framed(dir, &data, out) {
                        Some(rest) => data = rest,
                        None => return,
                    }
                }
                _ => {
                    self.feed(dir, &data, out);
                    return;
                }
            }
        }
    }

    /// Run the framed layers; returns the bytes left over after a stage change.
    fn framed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) -> Option<Vec<u8>> {
        let stage = self.sides[dir.idx()].stage;
        let framer: fn(&[u8]) -> Hint = match stage {
            Stage::Preconnection => x224::preconnection_hint,
            Stage::X224 => tpkt::tpkt_hint,
            _ => tpkt::pdu_hint,
        };
        let layer = if stage == Stage::Mcs {
            Layer::Mcs
        } else {
            Layer::X224
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
        for (at, result, _) in frames {
            match result {
                Ok(Some(ev)) => out.push(Decoded { dir, event: ev }),
                Ok(None) => {}
                Err(reason) => {
                    self.fail(dir, layer, at, reason, out);
                    return None;
                }
            }
        }
        if next_stage != stage {
            self.enter(dir, next_stage, out);
        }
        match pushed {
            Pushed::Consumed => None,
            Pushed::Stopped { rest } => {
                // The next layer starts with a fresh reassembler.
                self.sides[dir.idx()].reasm = Reassembler::new(tpkt::MAX_TPKT);
                Some(rest)
            }
            Pushed::Invalid { offset, reason } => {
                self.fail(dir, layer, offset, reason, out);
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
        if stage == Stage::Mcs && frame.first() != Some(&0x03) {
            // Fast-path PDUs are only counted (their contents are encrypted).
            return (Ok(None), stage);
        }
        let tpdu = match x224::decode_tpdu(frame) {
            Ok(t) => t,
            Err(e) => return (Err(e), stage),
        };
        match tpdu {
            Tpdu::Data(user_data) => {
                if stage != Stage::Mcs {
                    return (Ok(None), stage);
                }
                match mcs::decode_mcs(user_data) {
                    Ok(ev) => (Ok(ev.map(DecodeEvent::Mcs)), stage),
                    // MCS past the connect sequence is partly encrypted under standard RDP
                    // security; an unparsable PDU there is not worth stopping for.
                    Err(_) => (Ok(None), stage),
                }
            }
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
        self.sides[dir.idx()].stage = stage;
        if dir == Dir::S2C && matches!(stage, Stage::Tls | Stage::Mcs | Stage::Done) {
            let client = &mut self.sides[Dir::C2S.idx()];
            if client.stage == Stage::AwaitConfirm {
                client.stage = stage;
                let held = std::mem::take(&mut client.pending);
                // Held client bytes are replayed into their now-known layer.
                self.framed_owned(Dir::C2S, held, out);
            }
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
mod tests {
    use super::*;
    use crate::decode::mcs::McsEvent;
    use crate::decode::tls::TlsEvent;

    fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        let c = std::fs::read(format!("{dir}{name}.c2s.bin")).unwrap();
        let s = std::fs::read(format!("{dir}{name}.s2c.bin")).unwrap();
        (c, s)
    }

    /// Split a stream into protocol units (TPKT, fast-path or TLS records).
    fn units(mut b: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let len = match b[0] {
                0x14..=0x17 if b.len() >= 5 => 5 + u16::from_be_bytes([b[3], b[4]]) as usize,
                _ => match tpkt::pdu_hint(b) {
                    Hint::Frame(n) | Hint::Needs(n) => n,
                    _ => b.len(),
                },
            };
            let (u, rest) = b.split_at(len.min(b.len()));
            out.push(u);
            b = rest;
        }
        out
    }

    /// Replay a fixture one unit from each side in turn (close to the real causal
    /// order), each unit fed in chunks of `step` bytes.
    fn replay(name: &str, step: usize) -> Vec<Decoded> {
        let (c, s) = fixture(name);
        let (cu, su) = (units(&c), units(&s));
        let mut d = RdpDecoder::new();
        let mut out = Vec::new();
        for i in 0..cu.len().max(su.len()) {
            for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
                for chunk in u.map(|u| u.chunks(step)).into_iter().flatten() {
                    d.feed(dir, chunk, &mut out);
                }
            }
        }
        out
    }

    fn kinds(ev: &[Decoded]) -> Vec<String> {
        ev.iter()
            .map(|d| format!("{}:{}", d.dir, d.event.kind()))
            .collect()
    }

    #[test]
    fn tls12_fixture_decodes_every_layer() {
        for step in [1, 7, 100, 1 << 20] {
            let ev = replay("xrdp-tls12-ok", step);
            let k = kinds(&ev);
            for want in [
                "c2s:connection_request",
                "s2c:connection_confirm",
                "c2s:client_hello",
                "s2c:server_hello",
                "s2c:certificate",
                "handshake_done",
                "c2s:app_record",
                "s2c:app_record",
            ] {
                assert!(
                    k.iter().any(|x| x.ends_with(want)),
                    "step {step}: {want} missing from {k:?}"
                );
            }
            assert!(!k.iter().any(|x| x.ends_with("decode_error")), "{k:?}");
        }
    }

    #[test]
    fn tls13_fixture_hides_the_certificate() {
        let k = kinds(&replay("xrdp-tls13-ok", 64));
        assert!(k.iter().any(|x| x == "s2c:certificate_hidden"), "{k:?}");
        assert!(!k.iter().any(|x| x == "s2c:certificate"));
    }

    #[test]
    fn rdp_security_fixture_shows_mcs() {
        let ev = replay("xrdp-rdp-security", 13);
        let init = ev.iter().find_map(|d| match &d.event {
            DecodeEvent::Mcs(m @ McsEvent::ConnectInitial { .. }) => Some(m.clone()),
            _ => None,
        });
        let resp = ev.iter().find_map(|d| match &d.event {
            DecodeEvent::Mcs(McsEvent::ConnectResponse { result_code, .. }) => Some(*result_code),
            _ => None,
        });
        assert!(init.is_some(), "{:?}", kinds(&ev));
        assert_eq!(resp, Some(0));
    }

    #[test]
    fn negotiation_failure_fixture() {
        let ev = replay("shadow-nla-negfailure", 5);
        assert!(ev.iter().any(|d| matches!(
            &d.event,
            DecodeEvent::X224(X224Event::NegotiationFailure { code }) if code.code() == 5
        )));
    }

    #[test]
    fn nla_fixture_counts_records() {
        let out = replay("shadow-nla-wrongpass", 1000);
        let apps = out
            .iter()
            .filter(|e| {
                e.dir == Dir::C2S && matches!(e.event, DecodeEvent::Tls(TlsEvent::AppRecord { .. }))
            })
            .count();
        // NEGOTIATE and AUTHENTICATE; the server closed before the client sent more.
        assert_eq!(apps, 2, "{:?}", kinds(&out));
        assert!(out
            .iter()
            .any(|e| matches!(e.event, DecodeEvent::Tls(TlsEvent::HandshakeDone))));
    }

    #[test]
    fn non_rdp_bytes_stop_decoding() {
        let mut d = RdpDecoder::new();
        let mut out = Vec::new();
        d.feed(Dir::C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut out);
        assert!(matches!(
            out[0].event,
            DecodeEvent::X224(X224Event::NotRdp { .. })
        ));
        assert!(d.finished());
        d.feed(Dir::S2C, b"HTTP/1.1 400 Bad\r\n", &mut out);
        assert_eq!(out.len(), 1);
    }
}
