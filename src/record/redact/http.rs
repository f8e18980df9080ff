//! Gateway HTTP framed for redaction: heads are held until complete and scrubbed;
//! bodies are framed the way `decode::http::HttpConn` frames them (responses by the
//! request they answer, a `101` turning both directions raw); the client's IN-channel
//! body and its WebSocket frames are read as MS-TSGU packets.

use super::chunked::{BodyFramer, Framing};
use super::headers::{self, Patch};
use super::packets::{PacketStream, RpcScrub, TsguScrub};
use super::ws::WsScrub;
use super::{Ctx, Scrub};
use crate::decode::http::{tunnel, HEAD_LIMIT};
use crate::vocab::Dir;
use std::collections::VecDeque;

/// Most requests remembered while awaiting their responses.
const MAX_PENDING: usize = 256;
/// Longest method or `HTTP/` prefix checked before a head is complete, so a stream
/// that is not HTTP is let go at once instead of held up to [`HEAD_LIMIT`].
const START_CHECK: usize = 32;

/// A request awaiting its response.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// A HEAD request: its response has no body.
    head: bool,
    /// It asked to upgrade the connection.
    upgrade: bool,
    /// An `RDG_OUT_DATA` request: its `200` is the tunnel, whatever its framing.
    out: bool,
}

/// What a direction is reading.
#[derive(Debug)]
enum Phase {
    /// A head, held from its first byte (`start`) until its empty line.
    Head { buf: Vec<u8>, start: u64 },
    /// A body; the client's IN-channel body carries MS-TSGU packets.
    Body {
        framer: BodyFramer,
        /// The client's packets in the body: MS-TSGU (IN channel) or RPC (RPC_IN_DATA).
        packets: Option<Box<dyn PacketStream>>,
    },
    /// The client's bytes after an upgrade request that has no answer yet.
    AwaitUpgrade,
    /// The client's bytes after an `RDG_IN_DATA` that declared no body: another
    /// request, or the tunnel's packets.
    Sniff,
    /// The client's WebSocket frames.
    Ws(Box<WsScrub>),
    /// The server's bytes after a `101`: nothing secret, passed as they are.
    Raw,
    /// The framing was lost: bytes pass unredacted.
    Lost,
}

impl Phase {
    fn head() -> Phase {
        Phase::Head {
            buf: Vec::new(),
            start: 0,
        }
    }
}

/// Both directions of one gateway HTTP connection.
#[derive(Debug)]
pub(super) struct HttpScrub {
    phases: [Phase; 2],
    /// The client's last request asked to upgrade and has no answer yet.
    await_upgrade: bool,
    /// The client's last request was an `RDG_IN_DATA` that declared no body.
    sniff_next: bool,
    /// A `101` was seen.
    upgraded: bool,
    pending: VecDeque<Pending>,
}

impl Default for HttpScrub {
    fn default() -> Self {
        HttpScrub {
            phases: [Phase::head(), Phase::head()],
            await_upgrade: false,
            sniff_next: false,
            upgraded: false,
            pending: VecDeque::new(),
        }
    }
}

impl Scrub for HttpScrub {
    fn feed(&mut self, dir: Dir, at: u64, bytes: &[u8], ctx: &mut Ctx) {
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = bytes.get(pos..).unwrap_or(&[]);
            pos += self.step(dir, at + pos as u64, rest, ctx);
        }
    }

    fn finish(&mut self, dir: Dir, ctx: &mut Ctx) {
        if matches!(self.phases[dir.idx()], Phase::Lost) {
            return;
        }
        match std::mem::replace(&mut self.phases[dir.idx()], Phase::Raw) {
            Phase::Head { buf, start } => scrub_head(&buf, start, ctx),
            Phase::Body {
                packets: Some(mut t),
                ..
            } => t.finish(ctx),
            Phase::Ws(mut ws) => ws.finish(ctx),
            _ => {}
        }
    }

    fn pin(&self, dir: Dir) -> Option<u64> {
        match &self.phases[dir.idx()] {
            Phase::Head { buf, start } if !buf.is_empty() => Some(*start),
            Phase::Body {
                packets: Some(t), ..
            } => t.pin(),
            Phase::Ws(ws) => ws.pin(),
            _ => None,
        }
    }

    fn lost(&self, dir: Dir) -> bool {
        match &self.phases[dir.idx()] {
            Phase::Lost => true,
            Phase::Ws(ws) => ws.gave_up(),
            Phase::Body {
                packets: Some(t), ..
            } => t.gave_up(),
            _ => false,
        }
    }
}

impl HttpScrub {
    /// Reads a prefix of `input` (at stream offset `at`); returns how many bytes it used.
    fn step(&mut self, dir: Dir, at: u64, input: &[u8], ctx: &mut Ctx) -> usize {
        let upgraded = self.upgraded;
        match &mut self.phases[dir.idx()] {
            Phase::Raw | Phase::Lost => input.len(),
            Phase::Ws(ws) => {
                ws.feed(at, input, ctx);
                input.len()
            }
            Phase::AwaitUpgrade => {
                // The answer decides what these bytes are; when it is not in yet, the
                // bytes do: a request starts with a method name (or a stray CRLF), and a
                // valid client frame never starts with those bytes (a letter has RSV1
                // set; 0x0A and 0x0D would be fragmented or reserved control frames).
                let http = input
                    .first()
                    .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'\r' | b'\n'));
                self.phases[dir.idx()] = if upgraded || !http {
                    Phase::Ws(Box::default())
                } else {
                    Phase::head()
                };
                0
            }
            Phase::Sniff => {
                // As the decoder decides (a lone CR or LF, whose next byte is not in
                // yet, is taken for a stray line end before a request).
                let (first, second) = (input.first().copied(), input.get(1).copied());
                let packets = first.and_then(|f| tunnel::starts_tunnel(f, second));
                if packets == Some(true) {
                    let scrub: Box<dyn PacketStream> = Box::<TsguScrub>::default();
                    self.start_body(dir, Framing::UntilClose, Some(scrub));
                } else {
                    self.phases[dir.idx()] = Phase::head();
                }
                0
            }
            Phase::Body { framer, packets } => {
                let fed = framer.feed(input, &mut |off, len| {
                    if let (Some(t), Some(run)) = (packets.as_mut(), input.get(off..off + len)) {
                        t.feed(at + off as u64, run, None, ctx);
                    }
                });
                match fed {
                    Ok((used, done)) => {
                        if done || used == 0 {
                            self.after_message(dir);
                        }
                        used
                    }
                    Err(()) => {
                        self.phases[dir.idx()] = Phase::Lost;
                        input.len()
                    }
                }
            }
            Phase::Head { buf, start } => {
                let mut skip = 0;
                if buf.is_empty() {
                    // Stray CRLFs between messages are ignored (RFC 9112 2.2).
                    skip = input
                        .iter()
                        .position(|&b| b != b'\r' && b != b'\n')
                        .unwrap_or(input.len());
                    *start = at + skip as u64;
                }
                let input = input.get(skip..).unwrap_or(&[]);
                let old = buf.len();
                let take = input.len().min(HEAD_LIMIT - old.min(HEAD_LIMIT));
                buf.extend_from_slice(input.get(..take).unwrap_or(&[]));
                // The start is judged first, on its own bytes, so the verdict does not
                // depend on how the head was cut into chunks.
                if !plausible_start(dir, buf) {
                    // Not HTTP: let go at once.
                    self.phases[dir.idx()] = Phase::Lost;
                    return skip + take;
                }
                if let Some(end) = head_end(buf, old.saturating_sub(3)) {
                    buf.truncate(end);
                    let head = std::mem::take(buf);
                    let start = *start;
                    self.on_head(dir, &head, start, ctx);
                    return (skip + end).saturating_sub(old);
                }
                if buf.len() >= HEAD_LIMIT {
                    // Too long to hold: scrub the lines there (always exactly the first
                    // HEAD_LIMIT bytes) and let go.
                    let (head, start) = (std::mem::take(buf), *start);
                    scrub_head(&head, start, ctx);
                    self.phases[dir.idx()] = Phase::Lost;
                }
                skip + take
            }
        }
    }

    /// A complete head, starting at stream offset `start`.
    fn on_head(&mut self, dir: Dir, head: &[u8], start: u64, ctx: &mut Ctx) {
        scrub_head(head, start, ctx);
        let Some(parsed) = Parsed::read(head) else {
            self.phases[dir.idx()] = Phase::Lost;
            return;
        };
        match dir {
            Dir::C2S => self.on_request(&parsed),
            Dir::S2C => self.on_response(&parsed, ctx),
        }
    }

    fn on_request(&mut self, h: &Parsed) {
        let framing = match (h.chunked, h.te_present, h.content_length) {
            (true, _, _) => Some(Framing::Chunked),
            (false, true, _) | (_, _, Err(())) => None,
            (false, false, Ok(Some(n))) => Some(Framing::Length(n)),
            (false, false, Ok(None)) => Some(Framing::Empty),
        };
        let Some(framing) = framing else {
            self.phases[0] = Phase::Lost;
            return;
        };
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            head: h.first.eq_ignore_ascii_case("HEAD"),
            upgrade: h.upgrade,
            out: h.first == "RDG_OUT_DATA",
        });
        // The IN channel's body runs to the close whatever its headers declare.
        let rdg_in = h.first == "RDG_IN_DATA";
        let framing = if rdg_in {
            tunnel::in_body(framing)
        } else {
            framing
        };
        self.sniff_next = rdg_in && framing == Framing::Empty;
        self.await_upgrade = h.upgrade;
        // The IN channel's body is the client's half of the tunnel: MS-TSGU packets on
        // the HTTP transport, RPC PDUs (with their own authentication) on the legacy one.
        let packets: Option<Box<dyn PacketStream>> = match h.first.as_str() {
            _ if framing == Framing::Empty => None,
            "RDG_IN_DATA" => Some(Box::<TsguScrub>::default()),
            "RPC_IN_DATA" => Some(Box::<RpcScrub>::default()),
            _ => None,
        };
        self.start_body(Dir::C2S, framing, packets);
    }

    fn on_response(&mut self, h: &Parsed, ctx: &mut Ctx) {
        let status = h.status.unwrap_or(0);
        // 1xx (but 101) are interim: the real answer follows.
        if (100..200).contains(&status) && status != 101 {
            return;
        }
        let answered = self.pending.pop_front();
        if status == 101 {
            self.upgraded = true;
            self.await_upgrade = false;
            self.phases[1] = Phase::Raw;
            // Both directions become raw at once, as HttpConn makes them: client bytes
            // read as a head so far are the first frame bytes.
            let mut ws = Box::<WsScrub>::default();
            match std::mem::replace(&mut self.phases[0], Phase::Lost) {
                Phase::Lost => return,
                Phase::Head { buf, start } => ws.feed(start, &buf, ctx),
                _ => {}
            }
            self.phases[0] = Phase::Ws(ws);
            return;
        }
        let framing = if answered.is_some_and(|p| p.head) || status == 204 || status == 304 {
            Some(Framing::Empty)
        } else if status == 200 && answered.is_some_and(|p| p.out) {
            Some(tunnel::out_body(h.te_present && h.chunked))
        } else if h.te_present {
            Some(if h.chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            })
        } else {
            match h.content_length {
                Err(()) => None,
                Ok(Some(n)) => Some(Framing::Length(n)),
                Ok(None) => Some(Framing::UntilClose),
            }
        };
        match framing {
            Some(f) => self.start_body(Dir::S2C, f, None),
            None => self.phases[1] = Phase::Lost,
        }
        if answered.is_some_and(|p| p.upgrade) {
            // The upgrade was refused (a 401 round): the client's next bytes are HTTP.
            self.await_upgrade = false;
            if matches!(self.phases[0], Phase::AwaitUpgrade) {
                self.phases[0] = Phase::head();
            }
        }
    }

    fn start_body(&mut self, dir: Dir, framing: Framing, packets: Option<Box<dyn PacketStream>>) {
        match BodyFramer::new(framing) {
            Some(framer) => self.phases[dir.idx()] = Phase::Body { framer, packets },
            None => self.after_message(dir),
        }
    }

    /// What a direction reads once a message is complete.
    fn after_message(&mut self, dir: Dir) {
        self.phases[dir.idx()] = if dir == Dir::C2S && self.await_upgrade {
            Phase::AwaitUpgrade
        } else if dir == Dir::C2S && self.sniff_next {
            Phase::Sniff
        } else {
            Phase::head()
        };
        if dir == Dir::C2S {
            self.sniff_next = false;
        }
    }
}

/// Scrubs a (possibly cut) head that starts at stream offset `start`.
fn scrub_head(head: &[u8], start: u64, ctx: &mut Ctx) {
    let mut patches: Vec<Patch> = Vec::new();
    ctx.scrubbed += headers::scrub_head(head, &mut patches, ctx.names);
    for (off, data) in patches {
        ctx.replace(start + off as u64, data);
    }
}

/// Where the head in `buf` ends (just after its empty line), searching from `from`.
/// Bare-LF line endings are accepted, as HttpConn accepts them.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let lf = i + p;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
            _ => i = lf + 1,
        }
    }
    None
}

/// Whether the first bytes of a head can start a request (a method token and a space)
/// or a response (`HTTP/`).
fn plausible_start(dir: Dir, buf: &[u8]) -> bool {
    let n = buf.len().min(START_CHECK);
    let first = buf.get(..n).unwrap_or(&[]);
    match dir {
        Dir::C2S => match first.iter().position(|&b| b == b' ') {
            Some(sp) => sp > 0 && first.iter().take(sp).all(|&b| is_tchar(b)),
            None => n < START_CHECK && first.iter().all(|&b| is_tchar(b)),
        },
        Dir::S2C => {
            let k = n.min(5);
            first.get(..k) == b"HTTP/".get(..k)
        }
    }
}

/// A token character (RFC 9110 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The framing facts of a head.
#[derive(Debug)]
struct Parsed {
    /// The method (requests) or the version (responses).
    first: String,
    /// The status code of a response.
    status: Option<u16>,
    content_length: Result<Option<u64>, ()>,
    te_present: bool,
    /// The last transfer coding is chunked.
    chunked: bool,
    upgrade: bool,
}

impl Parsed {
    /// Reads a complete head; None when its start line is not HTTP.
    fn read(head: &[u8]) -> Option<Parsed> {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
        let start = lines.next()?;
        let mut words = start.split(' ');
        let first = words.next()?.to_string();
        let status = if first.starts_with("HTTP/") {
            Some(words.next()?.parse::<u16>().ok()?)
        } else {
            None
        };
        let mut p = Parsed {
            first,
            status,
            content_length: Ok(None),
            te_present: false,
            chunked: false,
            upgrade: false,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    for v in value.split(',').map(str::trim) {
                        let n = v
                            .parse::<u64>()
                            .ok()
                            .filter(|_| v.bytes().all(|b| b.is_ascii_digit()));
                        p.content_length = match (n, p.content_length) {
                            (Some(n), Ok(None)) => Ok(Some(n)),
                            (Some(n), Ok(Some(m))) if n == m => Ok(Some(n)),
                            _ => Err(()),
                        };
                    }
                }
                "transfer-encoding" => {
                    for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                        p.te_present = true;
                        p.chunked = v.eq_ignore_ascii_case("chunked");
                    }
                }
                "upgrade" => p.upgrade = true,
                _ => {}
            }
        }
        Some(p)
    }
}
