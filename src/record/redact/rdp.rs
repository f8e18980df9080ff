//! RDP plaintext framed for redaction: CredSSP TSRequests (DER) until the first TPKT,
//! then TPKT and fast-path PDUs, as `decode::plain` frames them.
//!
//! The first bytes of every frame are read to judge whether it may hold a secret
//! (Client Info, input, Save Session Info, redirection, a client TSRequest, the
//! clipboard channel); only such frames are held whole. The rest (graphics, other
//! virtual channels) stream through. The MCS connect PDUs are read too, to learn which
//! channel is the I/O channel and which the clipboard.

use super::clip;
use super::der;
use super::rdp_fields::{self, Channels, Mcs};
use super::{Ctx, Scrub, MAX_HOLD};
use crate::decode::mcs::{decode_connect, ConnectPdu};
use crate::decode::reassembly::Hint;
use crate::decode::tpkt::{self, TPKT_VERSION};
use crate::decode::x224::{decode_tpdu, Tpdu};
use crate::vocab::Dir;

/// Bytes read from the start of a frame to classify it: the TPKT, X.224, MCS,
/// security and Share Data headers fit well within.
const PEEK: usize = 64;
/// The content type of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// The clipboard's static virtual channel.
const CLIPRDR: &str = "cliprdr";
/// The Early User Authorization Result PDU (HYBRID_EX): a bare u32 after CredSSP.
const EARLY_AUTH_LEN: usize = 4;

/// How a frame is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// TPKT (slow path).
    Tpkt,
    /// Fast-path.
    FastPath,
    /// A CredSSP TSRequest.
    Der,
    /// The Early User Authorization Result.
    EarlyAuth,
}

/// Where a direction is in its frames.
#[derive(Debug)]
enum State {
    /// Reading a frame's first bytes, held from `start`.
    Peek { buf: Vec<u8>, start: u64 },
    /// Holding a whole frame that may hold a secret.
    Hold {
        buf: Vec<u8>,
        start: u64,
        len: usize,
        kind: Kind,
    },
    /// Passing the rest of a frame with nothing secret.
    Skip(usize),
    /// The framing was lost: bytes pass unredacted.
    Lost,
    /// TLS records: an inner connection (through a gateway) whose TLS rdptap does not
    /// end. Ciphertext has nothing to scrub.
    Ciphertext,
    /// The direction finished.
    Ended,
}

/// The state at a frame boundary.
fn fresh() -> State {
    State::Peek {
        buf: Vec::new(),
        start: 0,
    }
}

#[derive(Debug)]
struct Side {
    state: State,
    /// A TPKT frame was seen: from here 0x30 starts a fast-path PDU, not DER.
    slow_seen: bool,
    /// A TSRequest was seen (so the server's next non-DER bytes may be the early
    /// authorization result).
    der_seen: bool,
}

/// Both directions of one RDP plaintext flow.
#[derive(Debug)]
pub(super) struct RdpScrub {
    sides: [Side; 2],
    chans: Channels,
}

impl Default for RdpScrub {
    fn default() -> Self {
        let side = || Side {
            state: fresh(),
            slow_seen: false,
            der_seen: false,
        };
        RdpScrub {
            sides: [side(), side()],
            chans: Channels::default(),
        }
    }
}

impl Scrub for RdpScrub {
    fn feed(&mut self, dir: Dir, at: u64, bytes: &[u8], ctx: &mut Ctx) {
        let side = &mut self.sides[dir.idx()];
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = bytes.get(pos..).unwrap_or(&[]);
            match &mut side.state {
                State::Lost | State::Ciphertext | State::Ended => return,
                State::Skip(n) => {
                    let take = (*n).min(rest.len());
                    *n -= take;
                    pos += take;
                    if *n == 0 {
                        side.state = fresh();
                    }
                }
                State::Hold { buf, len, .. } => {
                    let take = (*len - buf.len()).min(rest.len());
                    buf.extend_from_slice(rest.get(..take).unwrap_or(&[]));
                    pos += take;
                    if buf.len() == *len {
                        if let State::Hold {
                            buf, start, kind, ..
                        } = std::mem::replace(&mut side.state, fresh())
                        {
                            frame_done(dir, kind, &buf, start, &mut self.chans, ctx);
                        }
                    }
                }
                State::Peek { buf, start } => {
                    if buf.is_empty() {
                        *start = at + pos as u64;
                    }
                    let old = buf.len();
                    let take = (PEEK - old).min(rest.len());
                    buf.extend_from_slice(rest.get(..take).unwrap_or(&[]));
                    match tls_start(buf) {
                        Some(true) => {
                            side.state = State::Ciphertext;
                            return;
                        }
                        Some(false) => {}
                        None => {
                            pos += take;
                            continue;
                        }
                    }
                    let (kind, hint) = frame_hint(dir, side.slow_seen, side.der_seen, buf);
                    let len = match hint {
                        Hint::Incomplete if buf.len() < PEEK => {
                            pos += take;
                            continue;
                        }
                        Hint::Frame(len) | Hint::Needs(len) => len,
                        Hint::Incomplete | Hint::Invalid(_) => {
                            side.state = State::Lost;
                            return;
                        }
                    };
                    let keep = len.min(buf.len());
                    buf.truncate(keep);
                    pos += keep.saturating_sub(old);
                    if keep < len.min(PEEK) {
                        continue;
                    }
                    let (buf, start) = (std::mem::take(buf), *start);
                    side.slow_seen |= kind == Kind::Tpkt;
                    side.der_seen |= kind == Kind::Der;
                    side.state = if !may_hold(dir, kind, &buf, &self.chans) {
                        match len - keep {
                            0 => fresh(),
                            n => State::Skip(n),
                        }
                    } else if keep == len {
                        frame_done(dir, kind, &buf, start, &mut self.chans, ctx);
                        fresh()
                    } else {
                        State::Hold {
                            buf,
                            start,
                            len,
                            kind,
                        }
                    };
                }
            }
        }
    }

    fn finish(&mut self, dir: Dir, ctx: &mut Ctx) {
        let side = &mut self.sides[dir.idx()];
        if matches!(side.state, State::Lost) {
            return;
        }
        match std::mem::replace(&mut side.state, State::Ended) {
            State::Hold {
                buf, start, kind, ..
            } => frame_done(dir, kind, &buf, start, &mut self.chans, ctx),
            State::Peek { buf, start } if !buf.is_empty() => {
                let (kind, hint) = frame_hint(dir, side.slow_seen, side.der_seen, &buf);
                if matches!(hint, Hint::Frame(_) | Hint::Needs(_))
                    && may_hold(dir, kind, &buf, &self.chans)
                {
                    frame_done(dir, kind, &buf, start, &mut self.chans, ctx);
                }
            }
            _ => {}
        }
    }

    fn pin(&self, dir: Dir) -> Option<u64> {
        match &self.sides[dir.idx()].state {
            State::Peek { buf, start } if !buf.is_empty() => Some(*start),
            State::Hold { start, .. } => Some(*start),
            _ => None,
        }
    }

    fn lost(&self, dir: Dir) -> bool {
        matches!(self.sides[dir.idx()].state, State::Lost)
    }

    fn idle(&self, dir: Dir) -> bool {
        matches!(
            self.sides[dir.idx()].state,
            State::Lost | State::Ciphertext | State::Ended
        )
    }
}

/// Whether `buf` starts a TLS handshake record (content type 22, version 3.x), which
/// no RDP frame can (its first byte is neither TPKT, fast-path nor DER); None until
/// the second byte is in.
fn tls_start(buf: &[u8]) -> Option<bool> {
    match (buf.first(), buf.get(1)) {
        (Some(&TLS_HANDSHAKE), None) => None,
        (Some(&TLS_HANDSHAKE), Some(&3)) => Some(true),
        _ => Some(false),
    }
}

/// What frame starts in `buf` and how long it is.
fn frame_hint(dir: Dir, slow_seen: bool, der_seen: bool, buf: &[u8]) -> (Kind, Hint) {
    let first = buf.first().copied().unwrap_or(0);
    if slow_seen {
        let kind = if first == TPKT_VERSION {
            Kind::Tpkt
        } else {
            Kind::FastPath
        };
        return (kind, tpkt::pdu_hint(buf));
    }
    if first == der::SEQUENCE {
        return (Kind::Der, der_hint(buf));
    }
    if dir == Dir::S2C && der_seen && first != TPKT_VERSION {
        return (Kind::EarlyAuth, whole_or_needs(buf, EARLY_AUTH_LEN));
    }
    (Kind::Tpkt, tpkt::tpkt_hint(buf))
}

/// The length of the DER element starting `buf`, bounded by [`MAX_HOLD`].
fn der_hint(buf: &[u8]) -> Hint {
    let Some(&l) = buf.get(1) else {
        return Hint::Incomplete;
    };
    let n = if l & 0x80 == 0 {
        0
    } else {
        usize::from(l & 0x7F)
    };
    if !(0..=4).contains(&n) || l == 0x80 {
        return Hint::Invalid("DER length is indefinite or over four bytes".into());
    }
    if buf.len() < 2 + n {
        return Hint::Incomplete;
    }
    match der::element(buf, 0) {
        Some((_, end)) if end <= MAX_HOLD => whole_or_needs(buf, end),
        _ => Hint::Invalid("TSRequest longer than can be held".into()),
    }
}

/// Frame when all `len` bytes are in `buf`, else Needs.
fn whole_or_needs(buf: &[u8], len: usize) -> Hint {
    if len <= buf.len() {
        Hint::Frame(len)
    } else {
        Hint::Needs(len)
    }
}

/// Whether a frame of `kind` whose first bytes are `head` may hold a secret.
fn may_hold(dir: Dir, kind: Kind, head: &[u8], chans: &Channels) -> bool {
    match kind {
        Kind::Tpkt => rdp_fields::tpkt_may_hold(dir, head, chans),
        // Client fast-path PDUs are input; server ones are graphics.
        Kind::FastPath | Kind::Der => dir == Dir::C2S,
        Kind::EarlyAuth => false,
    }
}

/// Learns the channel names (Connect-Initial) and numbers (Connect-Response): the I/O
/// channel, and the clipboard's.
fn learn_channels(frame: &[u8], chans: &mut Channels) {
    let Ok(Tpdu::Data(data)) = decode_tpdu(frame) else {
        return;
    };
    match decode_connect(data) {
        Ok(Some(ConnectPdu::Initial(client))) => {
            chans.names = client.channels.into_iter().map(|c| c.name).collect();
        }
        Ok(Some(ConnectPdu::Response { server, .. })) => {
            chans.io = server.io_channel;
            chans.clip = chans
                .names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(CLIPRDR))
                .and_then(|i| server.channel_ids.get(i).copied());
        }
        _ => {}
    }
}

/// Scrubs a held frame (possibly cut short) that starts at stream offset `start`, and
/// learns the I/O channel from the Connect-Response.
fn frame_done(dir: Dir, kind: Kind, frame: &[u8], start: u64, chans: &mut Channels, ctx: &mut Ctx) {
    let ranges = match (kind, dir) {
        (Kind::Tpkt, _) => match rdp_fields::mcs(frame) {
            Mcs::ConnectInitial | Mcs::ConnectResponse => {
                learn_channels(frame, chans);
                Vec::new()
            }
            Mcs::SendData { channel, at, len } if chans.clip == Some(channel) => {
                let end = at.saturating_add(len).min(frame.len());
                let chunk = frame.get(at..end).unwrap_or(&[]);
                let ranges = clip::secrets(chunk, &mut chans.clip_state[dir.idx()]);
                rdp_fields::shift(ranges, at, end)
            }
            _ => rdp_fields::tpkt_secrets(dir, frame, chans, ctx.names),
        },
        (Kind::FastPath, Dir::C2S) => rdp_fields::fast_path_input(frame),
        (Kind::Der, Dir::C2S) => rdp_fields::ts_request(frame, ctx.names),
        _ => Vec::new(),
    };
    ctx.scrubbed += ranges.len() as u64;
    for r in ranges {
        ctx.fill(start + r.start as u64, r.len(), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixture, fixture_steps, Step};
    use super::*;

    #[test]
    fn a_real_session_names_its_clipboard_channel() {
        // FreeRDP's Connect-Initial lists cliprdr; xrdp's Connect-Response numbers it.
        let (c2s, s2c) = fixture("xrdp-tls-plain-active");
        let mut scrub = RdpScrub::default();
        let mut at = [0u64; 2];
        let mut ctx = Ctx::default();
        for step in fixture_steps(&c2s, &s2c) {
            if let Step::Bytes(dir, b) = step {
                scrub.feed(dir, at[dir.idx()], &b, &mut ctx);
                at[dir.idx()] += b.len() as u64;
            }
        }
        let names = &scrub.chans.names;
        assert!(names.iter().any(|n| n == CLIPRDR), "{names:?}");
        assert!(scrub.chans.clip.is_some(), "{:?}", scrub.chans);
        assert!(scrub.chans.clip != scrub.chans.io);
    }
}
