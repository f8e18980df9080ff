//! [`HttpConn`]: one connection's two directions, heads and bodies, requests paired with
//! their responses, and the switch to raw bytes after an upgrade.

use super::body::{BodyFramer, Framing};
use super::event::{HeaderLine, HttpEvent, Method, Transport, Truncation};
use super::head::{self, Head, StartLine, HEAD_LIMIT};
use super::snippet::{self, SnippetCapture};
use super::text::clean;
use super::{auth, cookies, redact_header, tunnel, HttpSink};
use crate::vocab::Dir;
use base64::Engine;
use std::collections::VecDeque;

/// Most requests remembered while awaiting their responses; beyond it the oldest is
/// forgotten (its response is then framed as if it answered a GET).
const MAX_PENDING: usize = 256;
/// Most client bytes held while an upgrade request awaits its answer; more stops
/// decoding of the client direction.
const HOLD_LIMIT: usize = HEAD_LIMIT;
/// Longest id-like header value (connection, correlation, user id) rendered.
const ID_MAX_CHARS: usize = 256;

/// A request whose response has not come yet.
#[derive(Debug, Clone)]
struct Pending {
    method: Method,
    /// It asked to upgrade the connection.
    upgrade: bool,
    /// An IN-channel request with a body: the tunnel; no answer is expected while it runs.
    streaming: bool,
}

/// A body in progress.
#[derive(Debug)]
struct BodyCtx {
    framer: BodyFramer,
    bytes: u64,
    snippet: Option<SnippetCapture>,
    /// A gateway channel body: its end at FIN is the normal end of a session.
    tunnel: bool,
}

/// What a direction is doing.
#[derive(Debug, Default)]
enum Phase {
    /// Reading a head (possibly none started).
    #[default]
    Head,
    /// Reading a body.
    Body(Box<BodyCtx>),
    /// Client bytes after an upgrade request, held until its answer says what they are.
    Hold(Vec<u8>),
    /// After an `RDG_IN_DATA` request that declared no body: the next bytes are either
    /// another request or the tunnel. Holds a lone CR or LF until the byte after it
    /// tells (see [`tunnel::starts_tunnel`]).
    Sniff(Option<u8>),
    /// Upgraded: bytes go straight to the sink.
    Raw,
    /// Decoding stopped (an error, or the direction finished).
    Stopped,
}

/// One direction's state.
#[derive(Debug, Default)]
struct Side {
    phase: Phase,
    head: Vec<u8>,
    /// The client's last request asked to upgrade and has no answer yet.
    await_upgrade: bool,
    /// The client's last request was an `RDG_IN_DATA` that declared no body.
    sniff_next: bool,
    closed: bool,
}

/// Decodes both directions of one HTTP connection.
#[derive(Debug, Default)]
pub struct HttpConn {
    c2s: Side,
    s2c: Side,
    pending: VecDeque<Pending>,
    upgraded: bool,
}

impl HttpConn {
    /// A decoder for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// After a 101: both directions' bytes go raw to the sink (as body), no more HTTP.
    pub fn upgraded(&self) -> bool {
        self.upgraded
    }

    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::C2S => &mut self.c2s,
            Dir::S2C => &mut self.s2c,
        }
    }

    /// Decodes the next bytes sent in `dir`.
    pub fn feed(&mut self, dir: Dir, chunk: &[u8], sink: &mut impl HttpSink) {
        let mut rest = chunk;
        while !rest.is_empty() {
            rest = self.step(dir, rest, sink);
        }
    }

    /// Consumes a prefix of `input`; returns what is left.
    fn step<'a>(&mut self, dir: Dir, input: &'a [u8], sink: &mut impl HttpSink) -> &'a [u8] {
        let side = self.side(dir);
        if side.closed {
            return &[];
        }
        match &mut side.phase {
            Phase::Stopped => &[],
            Phase::Raw => {
                sink.body(dir, input);
                &[]
            }
            Phase::Hold(held) => {
                if held.len() + input.len() > HOLD_LIMIT {
                    side.phase = Phase::Stopped;
                    sink.event(HttpEvent::Malformed {
                        dir,
                        reason: format!(
                            "the client sent over {HOLD_LIMIT} bytes before the answer to its upgrade request"
                        ),
                    });
                } else {
                    held.extend_from_slice(input);
                }
                &[]
            }
            Phase::Body(ctx) => {
                let ctx = ctx.as_mut();
                let fed = ctx.framer.feed(input, &mut |b| {
                    ctx.bytes = ctx.bytes.saturating_add(b.len() as u64);
                    if let Some(s) = ctx.snippet.as_mut() {
                        s.push(b);
                    }
                    sink.body(dir, b);
                });
                match fed {
                    Err(reason) => {
                        side.phase = Phase::Stopped;
                        sink.event(HttpEvent::Malformed { dir, reason });
                        &[]
                    }
                    Ok((used, done)) => {
                        if done {
                            self.end_body(dir, sink);
                        }
                        input.get(used..).unwrap_or(&[])
                    }
                }
            }
            Phase::Sniff(held) => {
                let first = held.or_else(|| input.first().copied());
                let second = if held.is_some() {
                    input.first()
                } else {
                    input.get(1)
                };
                let Some(first) = first else { return &[] };
                match tunnel::starts_tunnel(first, second.copied()) {
                    None => {
                        *held = Some(first);
                        input.get(1..).unwrap_or(&[])
                    }
                    Some(false) => {
                        // A held CR or LF was a stray line end, which a head skips.
                        side.phase = Phase::Head;
                        input
                    }
                    Some(true) => {
                        let held = *held;
                        self.start_in_tunnel();
                        if let Some(b) = held {
                            // A read-until-close body takes every byte it is given.
                            let one = [b];
                            self.step(dir, &one, sink);
                        }
                        input
                    }
                }
            }
            Phase::Head => self.head_step(dir, input, sink),
        }
    }

    /// The client's bytes after a bodiless `RDG_IN_DATA` are packets: the request's
    /// body is the tunnel after all, until the close, and no answer is awaited for it.
    fn start_in_tunnel(&mut self) {
        if let Some(p) = self
            .pending
            .back_mut()
            .filter(|p| tunnel::is_rdg_in(&p.method))
        {
            p.streaming = true;
        }
        self.start_body(Dir::C2S, Framing::UntilClose, None, true);
    }

    /// Accumulates head bytes; parses the head once its empty line is in.
    fn head_step<'a>(&mut self, dir: Dir, input: &'a [u8], sink: &mut impl HttpSink) -> &'a [u8] {
        let side = self.side(dir);
        let mut input = input;
        if side.head.is_empty() {
            // Stray CRLFs between messages are to be ignored (RFC 9112 2.2).
            let skip = input
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(input.len());
            input = input.get(skip..).unwrap_or(&[]);
            if input.is_empty() {
                return &[];
            }
        }
        let old = side.head.len();
        let take = input.len().min(HEAD_LIMIT.saturating_sub(old));
        side.head
            .extend_from_slice(input.get(..take).unwrap_or(&[]));
        let Some(end) = head::find_head_end(&side.head, old.saturating_sub(2)) else {
            if side.head.len() >= HEAD_LIMIT {
                side.head = Vec::new();
                side.phase = Phase::Stopped;
                sink.event(HttpEvent::HeadTooLarge {
                    dir,
                    limit: HEAD_LIMIT,
                });
            } else if side.head.len() <= head::EARLY_CHECK_LIMIT {
                if let Err(reason) = head::parse(&side.head, dir == Dir::C2S) {
                    side.head = Vec::new();
                    side.phase = Phase::Stopped;
                    sink.event(HttpEvent::Malformed { dir, reason });
                }
            }
            return &[];
        };
        side.head.truncate(end);
        let bytes = std::mem::take(&mut side.head);
        let rest = input.get(end.saturating_sub(old)..).unwrap_or(&[]);
        match head::parse(&bytes, dir == Dir::C2S) {
            Ok(Some(h)) if dir == Dir::C2S => self.on_request(h, sink),
            Ok(Some(h)) => self.on_response(h, sink),
            Ok(None) => self.stop(
                dir,
                "the head ended before its first line was complete".to_string(),
                sink,
            ),
            Err(reason) => self.stop(dir, reason, sink),
        }
        rest
    }

    /// Gives up on a direction with a reason.
    fn stop(&mut self, dir: Dir, reason: String, sink: &mut impl HttpSink) {
        self.side(dir).phase = Phase::Stopped;
        sink.event(HttpEvent::Malformed { dir, reason });
    }

    /// A whole request head.
    fn on_request(&mut self, h: Head, sink: &mut impl HttpSink) {
        let StartLine::Request { method, target } = &h.start else {
            return;
        };
        let method = Method::from_token(method);
        let content_length = h.content_length();
        let (te_present, chunked) = h.transfer_encoding();
        let upgrade = h.get("upgrade").map(|u| clean(u, ID_MAX_CHARS));
        let mut cookies = Vec::new();
        for c in h.all("cookie") {
            cookies::parse_cookie_header(c, &mut cookies);
        }
        sink.event(HttpEvent::Request {
            transport: Transport::of(&method, upgrade.as_deref()),
            method: method.clone(),
            target: target.clone(),
            version: h.version.clone(),
            headers: shown_headers(&h),
            content_length: content_length.clone().ok().flatten(),
            chunked,
            upgrade: upgrade.clone(),
            connection_id: h.get("rdg-connection-id").map(|v| clean(v, ID_MAX_CHARS)),
            correlation_id: h.get("rdg-correlation-id").map(|v| clean(v, ID_MAX_CHARS)),
            user_id: h.get("rdg-user-id").map(decode_user_id),
            auth: h.get("authorization").map(auth::analyse_authorization),
            rdg_auth_scheme: h.get("rdg-auth-scheme").map(|v| clean(v, ID_MAX_CHARS)),
            cookies,
        });
        // RFC 9112 6.3: chunked wins over Content-Length; other codings cannot be framed
        // in a request; no length means no body.
        let framing = match (te_present, chunked, content_length) {
            (true, true, _) => Framing::Chunked,
            (true, false, _) => {
                return self.stop(
                    Dir::C2S,
                    "request Transfer-Encoding does not end in chunked, so its body cannot be framed".to_string(),
                    sink,
                );
            }
            (false, _, Err(reason)) => return self.stop(Dir::C2S, reason, sink),
            (false, _, Ok(Some(n))) => Framing::Length(n),
            (false, _, Ok(None)) => Framing::Empty,
        };
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            streaming: method.is_in_channel() && framing != Framing::Empty,
            upgrade: upgrade.is_some(),
            method: method.clone(),
        });
        let framing = if tunnel::is_rdg_in(&method) {
            tunnel::in_body(framing)
        } else {
            framing
        };
        self.c2s.sniff_next = tunnel::is_rdg_in(&method) && framing == Framing::Empty;
        self.c2s.await_upgrade = upgrade.is_some();
        self.start_body(Dir::C2S, framing, None, method.is_in_channel());
    }

    /// A whole response head.
    fn on_response(&mut self, h: Head, sink: &mut impl HttpSink) {
        let StartLine::Response { status, reason } = &h.start else {
            return;
        };
        let status = *status;
        let content_length = h.content_length();
        let (te_present, chunked) = h.transfer_encoding();
        let mut challenges = Vec::new();
        for v in h.all("www-authenticate") {
            auth::analyse_challenges(v, &mut challenges);
        }
        let mut set_cookies = Vec::new();
        for v in h.all("set-cookie") {
            cookies::parse_set_cookie(v, &mut set_cookies);
        }
        sink.event(HttpEvent::Response {
            status,
            reason: reason.clone(),
            version: h.version.clone(),
            headers: shown_headers(&h),
            content_length: content_length.clone().ok().flatten(),
            chunked,
            challenges,
            set_cookies,
            body_snippet: None,
        });
        // 1xx (but 101) are interim: the real answer follows with no body in between.
        if (100..200).contains(&status) && status != 101 {
            return;
        }
        let answered = self.pending.pop_front();
        if status == 101 {
            let protocol = h.get("upgrade").map(|u| clean(u, ID_MAX_CHARS));
            sink.event(HttpEvent::Upgrade {
                protocol: protocol.unwrap_or_default(),
            });
            self.switch_to_raw(sink);
            return;
        }
        let method = answered.as_ref().map(|p| &p.method);
        let is_head = method.is_some_and(|m| m.as_str() == "HEAD");
        let framing = if is_head || status == 204 || status == 304 {
            Framing::Empty
        } else if status == 200 && method.is_some_and(tunnel::is_rdg_out) {
            tunnel::out_body(te_present && chunked)
        } else if te_present {
            // A response coding other than chunked is delimited by the close.
            if chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }
        } else {
            match content_length {
                Err(reason) => return self.stop(Dir::S2C, reason, sink),
                Ok(Some(n)) => Framing::Length(n),
                Ok(None) => Framing::UntilClose,
            }
        };
        let tunnel = (200..300).contains(&status) && method.is_some_and(Method::is_out_channel);
        let snippet =
            snippet::wants_snippet(status, h.get("content-type")).then(SnippetCapture::default);
        self.start_body(Dir::S2C, framing, snippet, tunnel);
        if answered.is_some_and(|p| p.upgrade) {
            self.release_hold(sink);
        }
    }

    /// The upgrade request was refused (e.g. a 401 round): held client bytes are HTTP.
    fn release_hold(&mut self, sink: &mut impl HttpSink) {
        self.c2s.await_upgrade = false;
        if let Phase::Hold(held) = &mut self.c2s.phase {
            let held = std::mem::take(held);
            self.c2s.phase = Phase::Head;
            self.feed(Dir::C2S, &held, sink);
        }
    }

    /// After a 101: both directions become raw; client bytes already read past its
    /// request go to the sink first, so nothing is lost or reordered.
    fn switch_to_raw(&mut self, sink: &mut impl HttpSink) {
        self.upgraded = true;
        self.s2c.phase = Phase::Raw;
        self.c2s.await_upgrade = false;
        match std::mem::take(&mut self.c2s.phase) {
            Phase::Hold(held) => sink.body(Dir::C2S, &held),
            Phase::Head => {
                let early = std::mem::take(&mut self.c2s.head);
                if !early.is_empty() {
                    sink.body(Dir::C2S, &early);
                }
            }
            Phase::Stopped => {
                self.c2s.phase = Phase::Stopped;
                return;
            }
            Phase::Sniff(held) => {
                if let Some(b) = held {
                    sink.body(Dir::C2S, &[b]);
                }
            }
            Phase::Body(_) | Phase::Raw => {}
        }
        self.c2s.phase = Phase::Raw;
    }

    /// Enters the body phase, or the next message's when there is no body.
    fn start_body(
        &mut self,
        dir: Dir,
        framing: Framing,
        snippet: Option<SnippetCapture>,
        tunnel: bool,
    ) {
        match BodyFramer::new(framing) {
            Some(framer) => {
                self.side(dir).phase = Phase::Body(Box::new(BodyCtx {
                    framer,
                    bytes: 0,
                    snippet,
                    tunnel,
                }));
            }
            None => self.after_message(dir),
        }
    }

    /// Sets what a direction does once a message is complete.
    fn after_message(&mut self, dir: Dir) {
        let side = self.side(dir);
        side.phase = if dir == Dir::C2S && side.await_upgrade {
            Phase::Hold(Vec::new())
        } else if dir == Dir::C2S && side.sniff_next {
            Phase::Sniff(None)
        } else {
            Phase::Head
        };
        side.sniff_next = false;
    }

    /// A body ended in-stream.
    fn end_body(&mut self, dir: Dir, sink: &mut impl HttpSink) {
        if let Phase::Body(ctx) = std::mem::take(&mut self.side(dir).phase) {
            push_body_end(dir, &ctx, sink);
        }
        self.after_message(dir);
    }

    /// The direction's stream ended (FIN/RST): reports a truncated head/body/chunk as
    /// HttpEvent::Incomplete, and ends a read-until-close body.
    pub fn finish(&mut self, dir: Dir, sink: &mut impl HttpSink) {
        let unanswered = self.pending.iter().any(|p| !p.streaming);
        let side = self.side(dir);
        if side.closed {
            return;
        }
        side.closed = true;
        let head = std::mem::take(&mut side.head);
        match std::mem::replace(&mut side.phase, Phase::Stopped) {
            Phase::Head if head.is_empty() => {
                if dir == Dir::S2C && unanswered {
                    sink.event(HttpEvent::Incomplete {
                        dir,
                        at: Truncation::NoResponse,
                    });
                }
            }
            Phase::Head => {
                let at = if head.contains(&b'\n') {
                    Truncation::Headers { got: head.len() }
                } else {
                    Truncation::StatusLine { got: head.len() }
                };
                sink.event(HttpEvent::Incomplete { dir, at });
            }
            Phase::Body(ctx) => {
                let clean_end = ctx.tunnel
                    && (ctx.framer.between_chunks()
                        || matches!(ctx.framer.truncation(), Some(Truncation::Body { .. })));
                match ctx.framer.truncation() {
                    Some(at) if !clean_end => sink.event(HttpEvent::Incomplete { dir, at }),
                    _ => push_body_end(dir, &ctx, sink),
                }
            }
            // A lone CR or LF after a bodiless RDG_IN_DATA cuts nothing short.
            Phase::Hold(_) | Phase::Sniff(_) | Phase::Raw | Phase::Stopped => {}
        }
    }
}

/// Reports a finished body, unless it was empty.
fn push_body_end(dir: Dir, ctx: &BodyCtx, sink: &mut impl HttpSink) {
    if ctx.bytes > 0 {
        sink.event(HttpEvent::BodyEnd {
            dir,
            bytes: ctx.bytes,
            snippet: ctx.snippet.as_ref().and_then(SnippetCapture::finish),
        });
    }
}

/// The head's headers with secrets redacted.
fn shown_headers(h: &Head) -> Vec<HeaderLine> {
    h.headers
        .iter()
        .map(|(n, v)| HeaderLine {
            name: clean(n, ID_MAX_CHARS),
            value: redact_header(n, v),
        })
        .collect()
}

/// RDG-User-Id is base64 of the UTF-16LE user name; shown as sent if it is not.
fn decode_user_id(v: &str) -> String {
    let v = v.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v)
        .ok()
        .filter(|b| b.len() % 2 == 0)
        .map(|b| {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|p| {
                    u16::from_le_bytes([
                        p.first().copied().unwrap_or(0),
                        p.get(1).copied().unwrap_or(0),
                    ])
                })
                .collect();
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_string()
        });
    clean(&decoded.unwrap_or_else(|| v.to_string()), ID_MAX_CHARS)
}
