//! The client's MS-TSGU packet stream inside a chunked body or WebSocket payloads,
//! followed with the stream offset of every payload byte, so a secret found in a
//! packet can be overwritten where it sits on the wire (between chunk-size lines or
//! frame headers, and masked).
//!
//! Only packets that may hold a secret (TUNNEL_CREATE, EXTENDED_AUTH_MSG, and under
//! `--redact-users` the first DATA packet, for the inner mstshash cookie) are held
//! whole; the rest stream through once their 8-byte header is read.

use super::{tsgu_fields, Ctx, MAX_HOLD};
use crate::decode::tsgu::framer::{MAX_DATA_PACKET, MAX_OTHER_PACKET};
use crate::decode::tsgu::packet::parse_header;
use crate::decode::tsgu::{PacketType, HEADER_LEN};
use std::ops::Range;

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
    /// secret. `want` is 8 until the header is read.
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

/// Follows one direction's MS-TSGU packets.
#[derive(Debug)]
pub(super) struct TsguScrub {
    state: State,
    /// A packet was let through unread because it was spread too thin to hold.
    passed: bool,
    /// A DATA packet went by: under `--redact-users` only the first one is held, for
    /// the mstshash cookie of the inner Connection Request.
    data_seen: bool,
}

impl Default for TsguScrub {
    fn default() -> Self {
        TsguScrub {
            state: fresh(),
            passed: false,
            data_seen: false,
        }
    }
}

/// The state at a packet boundary.
fn fresh() -> State {
    State::Collect {
        buf: Vec::new(),
        runs: Vec::new(),
        want: HEADER_LEN,
    }
}

impl TsguScrub {
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
                        self.state = fresh();
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
                        self.state = match (*want == HEADER_LEN, left) {
                            (true, _) => State::Off,
                            (false, 0) => fresh(),
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
        if *want > HEADER_LEN {
            scrub(buf, runs, ctx);
            self.state = fresh();
            return;
        }
        let Some((ty, reserved, len)) = parse_header(buf) else {
            self.state = State::Off;
            return;
        };
        let ty = PacketType::from_u16(ty);
        let max = if ty == PacketType::Data {
            MAX_DATA_PACKET
        } else {
            MAX_OTHER_PACKET
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if reserved != 0 || !(HEADER_LEN..=max).contains(&len) {
            self.state = State::Off;
            return;
        }
        let first_data = ty == PacketType::Data && !std::mem::replace(&mut self.data_seen, true);
        if (tsgu_fields::may_hold_secret(ty) || (ctx.names && first_data)) && len > HEADER_LEN {
            *want = len;
        } else if len == HEADER_LEN {
            self.state = fresh();
        } else {
            self.state = State::Skip(len - HEADER_LEN);
        }
    }

    /// The stream ended: scrubs what is there of a held packet.
    pub(super) fn finish(&mut self, ctx: &mut Ctx) {
        if let State::Collect { buf, runs, want } = &self.state {
            if *want > HEADER_LEN {
                scrub(buf, runs, ctx);
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

/// Writes zeros (masked as on the wire) over the packet's secret ranges.
fn scrub(packet: &[u8], runs: &[Run], ctx: &mut Ctx) {
    let ranges = tsgu_fields::client_secrets(packet, ctx.names);
    ctx.scrubbed += ranges.len() as u64;
    for r in ranges {
        overwrite(r, 0, runs, ctx);
    }
    if ctx.names {
        if let Some(r) = tsgu_fields::data_cookie(packet) {
            ctx.scrubbed += 1;
            overwrite(r, super::cookie::FILL, runs, ctx);
        }
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
