//! A client's packet stream inside an HTTP body or WebSocket payloads: MS-TSGU packets
//! on the HTTP and WebSocket transports, RPC PDUs on the legacy RPC transport. Each
//! payload byte is followed with its stream offset, so a secret found in a packet can
//! be overwritten where it sits on the wire (between chunk-size lines or frame
//! headers, and masked).
//!
//! A [`PacketFormat`] says how long a packet is, whether it may hold a secret (only such
//! packets are held whole; the rest stream through once their header is read), and
//! which of its bytes are secret.

use super::{Ctx, MAX_HOLD};
use std::ops::Range;

/// What one protocol's packets look like to the scrubber.
pub(super) trait PacketFormat: Default + std::fmt::Debug + Send {
    /// Bytes of the header that gives a packet's length.
    const HEADER: usize;
    /// Judges a packet from its header (`names`: `--redact-users`).
    fn judge(&mut self, header: &[u8], names: bool) -> Judged;
    /// The ranges of a held packet (possibly cut short) to overwrite, and with what.
    fn secrets(&self, packet: &[u8], names: bool) -> Vec<(Range<usize>, u8)>;
}

/// What a header says about its packet (lengths include the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Judged {
    /// Not this protocol: the stream is no longer read.
    Invalid,
    /// A packet of this length with nothing secret.
    Pass(usize),
    /// A packet of this length to hold whole.
    Hold(usize),
}

/// A packet stream scrubber, as the HTTP body and WebSocket readers drive it.
pub(super) trait PacketStream: std::fmt::Debug + Send {
    /// Payload bytes as they are on the wire, starting at stream offset `raw`.
    fn feed(&mut self, raw: u64, wire: &[u8], mask: Mask, ctx: &mut Ctx);
    /// The stream ended: scrubs what is there of a held packet.
    fn finish(&mut self, ctx: &mut Ctx);
    /// The stream offset of the first held byte, while a packet is collected.
    fn pin(&self) -> Option<u64>;
    /// True once a packet passed unredacted or the stream was lost.
    fn gave_up(&self) -> bool;
}

/// The MS-TSGU packet stream of the HTTP and WebSocket transports.
pub(super) type TsguScrub = PacketScrub<super::tsgu_fields::Tsgu>;
/// The RPC PDU stream of the RPC-over-HTTP transport.
pub(super) type RpcScrub = PacketScrub<super::rpc_fields::Rpc>;

/// Most stream bytes one held packet may span, framing included. Half the hold
/// limit: between two checks the span grows by at most one run of payload (under
/// 64 KiB) and its framing, so what is held never reaches [`MAX_HOLD`].
const SPAN_LIMIT: u64 = (MAX_HOLD / 2) as u64;

/// A WebSocket masking key and the key position of the first byte of a run.
pub(super) type Mask = Option<([u8; 4], usize)>;

/// Payload bytes that sit together on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// Stream offset of the first byte.
    raw: u64,
    /// How many payload bytes.
    len: usize,
    /// The masking key and its position at the first byte.
    mask: Mask,
}

/// Where the reader is in the packet stream.
#[derive(Debug)]
enum State {
    /// Collecting a packet: its header, then the whole packet when it may hold a
    /// secret. `want` is the header's length until the header is read.
    Collect {
        buf: Vec<u8>,
        runs: Vec<Run>,
        want: usize,
    },
    /// Passing the rest of a packet with nothing secret.
    Skip(usize),
    /// The stream stopped looking like MS-TSGU: nothing more is read.
    Off,
}

/// Follows one direction's packets.
#[derive(Debug)]
pub(super) struct PacketScrub<F: PacketFormat> {
    state: State,
    /// A packet was let through unread because it was spread too thin to hold.
    passed: bool,
    format: F,
}

impl<F: PacketFormat> Default for PacketScrub<F> {
    fn default() -> Self {
        PacketScrub {
            state: fresh::<F>(),
            passed: false,
            format: F::default(),
        }
    }
}

/// The state at a packet boundary.
fn fresh<F: PacketFormat>() -> State {
    State::Collect {
        buf: Vec::new(),
        runs: Vec::new(),
        want: F::HEADER,
    }
}

impl<F: PacketFormat> PacketStream for PacketScrub<F> {
    fn feed(&mut self, raw: u64, wire: &[u8], mask: Mask, ctx: &mut Ctx) {
        PacketScrub::feed(self, raw, wire, mask, ctx);
    }

    fn finish(&mut self, ctx: &mut Ctx) {
        PacketScrub::finish(self, ctx);
    }

    fn pin(&self) -> Option<u64> {
        PacketScrub::pin(self)
    }

    fn gave_up(&self) -> bool {
        PacketScrub::gave_up(self)
    }
}

impl<F: PacketFormat> PacketScrub<F> {
    /// True once the stream could not be followed.
    pub(super) fn off(&self) -> bool {
        matches!(self.state, State::Off)
    }

    /// True once a packet passed unredacted (too thin to hold) or the stream was lost.
    pub(super) fn gave_up(&self) -> bool {
        self.passed || self.off()
    }

    /// The stream offset of the first held byte, while a packet is collected.
    pub(super) fn pin(&self) -> Option<u64> {
        match &self.state {
            State::Collect { runs, .. } => runs.first().map(|r| r.raw),
            _ => None,
        }
    }

    /// Payload bytes as they are on the wire (masked when `mask` is given), starting at
    /// stream offset `raw`.
    pub(super) fn feed(&mut self, raw: u64, wire: &[u8], mask: Mask, ctx: &mut Ctx) {
        let mut pos = 0;
        while pos < wire.len() {
            let rest = wire.get(pos..).unwrap_or(&[]);
            match &mut self.state {
                State::Off => return,
                State::Skip(n) => {
                    let take = (*n).min(rest.len());
                    *n -= take;
                    pos += take;
                    if *n == 0 {
                        self.state = fresh::<F>();
                    }
                }
                State::Collect { buf, runs, want } => {
                    let take = (*want - buf.len()).min(rest.len());
                    let piece = rest.get(..take).unwrap_or(&[]);
                    let mask = mask.map(|(k, p)| (k, (p + pos) % 4));
                    buf.extend(unmasked(piece, mask));
                    runs.push(Run {
                        raw: raw + pos as u64,
                        len: take,
                        mask,
                    });
                    pos += take;
                    let first = runs.first().map_or(0, |r| r.raw);
                    if raw + pos as u64 - first > SPAN_LIMIT {
                        // Spread too thin on the wire to hold: let this packet through.
                        // Checked before completion too, so the outcome depends on the
                        // packet's span alone, not on how the stream was chunked.
                        let left = *want - buf.len();
                        self.passed = true;
                        self.state = match (*want == F::HEADER, left) {
                            (true, _) => State::Off,
                            (false, 0) => fresh::<F>(),
                            (false, n) => State::Skip(n),
                        };
                    } else if buf.len() == *want {
                        self.complete(ctx);
                    }
                }
            }
        }
    }

    /// The header or the whole held packet is in.
    fn complete(&mut self, ctx: &mut Ctx) {
        let State::Collect { buf, runs, want } = &mut self.state else {
            return;
        };
        if *want > F::HEADER {
            scrub(&self.format, buf, runs, ctx);
            self.state = fresh::<F>();
            return;
        }
        self.state = match self.format.judge(buf, ctx.names) {
            Judged::Invalid => State::Off,
            Judged::Hold(len) if len > F::HEADER => {
                *want = len;
                return;
            }
            Judged::Hold(len) | Judged::Pass(len) if len <= F::HEADER => fresh::<F>(),
            Judged::Hold(len) | Judged::Pass(len) => State::Skip(len - F::HEADER),
        };
    }

    /// The stream ended: scrubs what is there of a held packet.
    pub(super) fn finish(&mut self, ctx: &mut Ctx) {
        if let State::Collect { buf, runs, want } = &self.state {
            if *want > F::HEADER {
                scrub(&self.format, buf, runs, ctx);
            }
        }
        self.state = State::Off;
    }
}

/// `piece` with the mask removed.
fn unmasked(piece: &[u8], mask: Mask) -> impl Iterator<Item = u8> + '_ {
    piece.iter().enumerate().map(move |(i, &b)| match mask {
        Some((k, p)) => b ^ k[(p + i) % 4],
        None => b,
    })
}

/// Overwrites (masked as on the wire) the packet's secret ranges.
fn scrub<F: PacketFormat>(format: &F, packet: &[u8], runs: &[Run], ctx: &mut Ctx) {
    let ranges = format.secrets(packet, ctx.names);
    ctx.scrubbed += ranges.len() as u64;
    for (r, fill) in ranges {
        overwrite(r, fill, runs, ctx);
    }
}

/// Maps a range of payload bytes to the wire and overwrites it there with `fill`.
fn overwrite(r: Range<usize>, fill: u8, runs: &[Run], ctx: &mut Ctx) {
    let mut k = 0;
    for run in runs {
        let (s, e) = (r.start.max(k), r.end.min(k + run.len));
        if s < e {
            let data = (s..e)
                .map(|j| match run.mask {
                    // The byte that unmasks to `fill`.
                    Some((key, p)) => key[(p + j - k) % 4] ^ fill,
                    None => fill,
                })
                .collect();
            ctx.replace(run.raw + (s - k) as u64, data);
        }
        k += run.len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tsgu::packet::build;
    use crate::decode::tsgu::{Caps, ExtendedAuth};

    /// Feeds `stream` in pieces of `step`, returning it with the edits applied.
    fn run(stream: &[u8], step: usize, mask: Option<[u8; 4]>) -> (Vec<u8>, u64) {
        let wire: Vec<u8> = match mask {
            Some(k) => unmasked(stream, Some((k, 0))).collect(),
            None => stream.to_vec(),
        };
        let mut t = TsguScrub::default();
        let mut ctx = Ctx::default();
        for (i, piece) in wire.chunks(step).enumerate() {
            let at = i * step;
            t.feed(at as u64, piece, mask.map(|k| (k, at % 4)), &mut ctx);
        }
        t.finish(&mut ctx);
        let mut out = wire;
        for e in ctx.edits {
            let at = e.at as usize;
            out[at..at + e.data.len()].copy_from_slice(&e.data);
        }
        if let Some(k) = mask {
            out = unmasked(&out, Some((k, 0))).collect();
        }
        (out, ctx.scrubbed)
    }

    #[test]
    fn only_the_cookie_changes_whatever_the_split_and_mask() {
        let stream = [
            build::handshake_request(ExtendedAuth::NONE),
            build::tunnel_create(Caps(0xd), Some("sekrit")),
            build::data(&[7; 300]),
            build::keepalive(),
        ]
        .concat();
        let cookie = build::utf16z("sekrit");
        let at = stream
            .windows(cookie.len())
            .position(|w| w == cookie)
            .expect("cookie");
        let mut want = stream.clone();
        want[at..at + cookie.len()].fill(0);
        for mask in [None, Some([0x12, 0x34, 0x56, 0x78])] {
            for step in [1, 3, 8, 13, stream.len()] {
                assert_eq!(
                    run(&stream, step, mask),
                    (want.clone(), 1),
                    "{step} {mask:?}"
                );
            }
        }
    }

    #[test]
    fn garbage_turns_it_off() {
        let mut t = TsguScrub::default();
        let mut ctx = Ctx::default();
        t.feed(0, b"HTTP/1.1 200 OK\r\n", None, &mut ctx);
        assert!(t.off());
        assert_eq!(t.pin(), None);
    }
}
