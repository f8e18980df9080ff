//! HTTP/1.1 as RD Gateway uses it, decoded sans-IO for both directions of one TCP
//! connection: request and response heads (secrets redacted), authentication rounds,
//! body framing, and the switch to raw bytes after `101 Switching Protocols`.
//!
//! Responses are framed by the request they answer (a FIFO of pending requests), so HEAD,
//! 1xx, 101, 204/304 and read-until-close bodies (the RDG_OUT_DATA channel) come out
//! right. Body payload bytes, de-chunked, go to a [`BodySink`]; nothing is buffered but
//! a head (at most [`HEAD_LIMIT`]), a chunk-size line and a short error-page snippet.

mod auth;
mod body;
mod cookies;
mod head;
mod redact;
mod snippet;
mod text;

pub use auth::{ntlm_message, AuthAttempt, AuthScheme, Challenge, NtlmInfo};
pub use body::{CHUNK_LINE_LIMIT, TRAILER_LIMIT};
pub use cookies::CookieInfo;
pub use head::{HEAD_LIMIT, MAX_HEADERS};
pub use redact::redact_header;
pub use snippet::{sanitise as sanitise_snippet, CAPTURE_LIMIT, SNIPPET_MAX_CHARS};

use super::Dir;
use base64::Engine;
use body::{BodyFramer, Framing};
use head::{Head, StartLine};
use serde::{Serialize, Serializer};
use snippet::SnippetCapture;
use std::collections::VecDeque;
use std::fmt;
use text::clean;

/// Most requests remembered while awaiting their responses; beyond it the oldest is
/// forgotten (its response is then framed as if it answered a GET).
const MAX_PENDING: usize = 256;
/// Most client bytes held while an upgrade request awaits its answer; more stops
/// decoding of the client direction.
const HOLD_LIMIT: usize = HEAD_LIMIT;
/// Longest id-like header value (connection, correlation, user id) rendered.
const ID_MAX_CHARS: usize = 256;

/// Receives body payload bytes (de-chunked) in stream order, per direction.
pub trait BodySink {
    /// The next body bytes sent in `dir`; after an upgrade, every byte of `dir`.
    fn body(&mut self, dir: Dir, bytes: &[u8]);
}

/// A sink that drops everything, for callers that want only the events.
impl BodySink for () {
    fn body(&mut self, _dir: Dir, _bytes: &[u8]) {}
}

/// An HTTP request method; the RD Gateway and RPC-over-HTTP ones by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `RDG_OUT_DATA`: the gateway-to-client channel (or the WebSocket request).
    RdgOutData,
    /// `RDG_IN_DATA`: the client-to-gateway channel of the HTTP transport.
    RdgInData,
    /// `RPC_IN_DATA`: the legacy RPC-over-HTTP IN channel.
    RpcInData,
    /// `RPC_OUT_DATA`: the legacy RPC-over-HTTP OUT channel.
    RpcOutData,
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// Any other method, as sent.
    Other(String),
}

impl Method {
    /// Classifies a method token (methods are case-sensitive).
    pub fn from_token(s: &str) -> Method {
        match s {
            "RDG_OUT_DATA" => Method::RdgOutData,
            "RDG_IN_DATA" => Method::RdgInData,
            "RPC_IN_DATA" => Method::RpcInData,
            "RPC_OUT_DATA" => Method::RpcOutData,
            "GET" => Method::Get,
            "POST" => Method::Post,
            other => Method::Other(other.to_string()),
        }
    }

    /// The method token as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Method::RdgOutData => "RDG_OUT_DATA",
            Method::RdgInData => "RDG_IN_DATA",
            Method::RpcInData => "RPC_IN_DATA",
            Method::RpcOutData => "RPC_OUT_DATA",
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Other(s) => s,
        }
    }

    /// True for the client-to-gateway channel methods, whose bodies are the tunnel.
    fn is_in_channel(&self) -> bool {
        matches!(self, Method::RdgInData | Method::RpcInData)
    }

    /// True for the gateway-to-client channel methods, whose 2xx bodies are the tunnel.
    fn is_out_channel(&self) -> bool {
        matches!(self, Method::RdgOutData | Method::RpcOutData)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which gateway transport channel a request opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// The HTTP transport's OUT channel (RDG_OUT_DATA).
    HttpOut,
    /// The HTTP transport's IN channel (RDG_IN_DATA).
    HttpIn,
    /// The WebSocket transport (RDG_OUT_DATA with `Upgrade: websocket`).
    #[serde(rename = "websocket")]
    WebSocket,
    /// The legacy RPC-over-HTTP IN channel.
    RpcIn,
    /// The legacy RPC-over-HTTP OUT channel.
    RpcOut,
    /// Not a gateway channel request.
    Other,
}

impl Transport {
    /// The channel a request with this method and Upgrade header opens.
    fn of(method: &Method, upgrade: Option<&str>) -> Transport {
        match method {
            Method::RdgOutData
                if upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket")) =>
            {
                Transport::WebSocket
            }
            Method::RdgOutData => Transport::HttpOut,
            Method::RdgInData => Transport::HttpIn,
            Method::RpcInData => Transport::RpcIn,
            Method::RpcOutData => Transport::RpcOut,
            _ => Transport::Other,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::HttpOut => "HTTP transport OUT channel",
            Transport::HttpIn => "HTTP transport IN channel",
            Transport::WebSocket => "WebSocket transport",
            Transport::RpcIn => "RPC-over-HTTP IN channel",
            Transport::RpcOut => "RPC-over-HTTP OUT channel",
            Transport::Other => "not a gateway channel",
        })
    }
}

/// Where a direction's stream was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Truncation {
    /// The server closed without answering a request.
    NoResponse,
    /// Closed inside the first line (request or status line).
    StatusLine {
        /// Bytes of the line received.
        got: usize,
    },
    /// Closed inside the headers (or a chunked body's trailers).
    Headers {
        /// Bytes of the head received.
        got: usize,
    },
    /// Closed inside a Content-Length body.
    Body {
        /// Body bytes received.
        got: u64,
        /// Body bytes announced.
        expected: u64,
    },
    /// Closed inside a chunk's data.
    Chunk {
        /// Bytes of this chunk received.
        got: u64,
        /// This chunk's announced size.
        expected: u64,
    },
    /// Closed inside (or before) a chunk-size line, before the last chunk.
    ChunkSize {
        /// Bytes of the line received (0: closed between chunks).
        got: usize,
    },
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Truncation::NoResponse => f.write_str("closed before any response"),
            Truncation::StatusLine { got } => {
                write!(
                    f,
                    "closed in the middle of the first line after {got} bytes"
                )
            }
            Truncation::Headers { got } => {
                write!(f, "closed in the middle of the headers after {got} bytes")
            }
            Truncation::Body { got, expected } => {
                write!(f, "closed after {got} of {expected} body bytes")
            }
            Truncation::Chunk { got, expected } => {
                write!(f, "closed after {got} of {expected} bytes of a body chunk")
            }
            Truncation::ChunkSize { got: 0 } => {
                f.write_str("closed between chunks, before the chunked body's last chunk")
            }
            Truncation::ChunkSize { got } => write!(
                f,
                "closed in the middle of a chunk-size line after {got} bytes"
            ),
        }
    }
}

/// One header as shown: the value with secrets replaced by `<redacted N bytes>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderLine {
    /// The header name as sent.
    pub name: String,
    /// The value, redacted by [`redact_header`].
    pub value: String,
}

/// What the HTTP decoder saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind")]
// Heads are a handful per connection, so a large variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
pub enum HttpEvent {
    /// A client request head.
    #[serde(rename = "http_request")]
    Request {
        /// The method.
        method: Method,
        /// The request target.
        target: String,
        /// `HTTP/1.1` or `HTTP/1.0`.
        version: String,
        /// Every header, secrets redacted.
        headers: Vec<HeaderLine>,
        /// Content-Length, if sent.
        content_length: Option<u64>,
        /// True for Transfer-Encoding: chunked.
        chunked: bool,
        /// The Upgrade header (`websocket` for the WebSocket transport).
        upgrade: Option<String>,
        /// RDG-Connection-Id (the tunnel's GUID; pairs the IN and OUT channels).
        connection_id: Option<String>,
        /// RDG-Correlation-Id.
        correlation_id: Option<String>,
        /// RDG-User-Id, decoded from base64 UTF-16LE (as sent if it does not decode).
        user_id: Option<String>,
        /// The Authorization header, analysed.
        auth: Option<AuthAttempt>,
        /// RDG-Auth-Scheme (`PAA`, `SSPI_NTLM`…).
        rdg_auth_scheme: Option<String>,
        /// Cookies sent (names and value lengths).
        cookies: Vec<CookieInfo>,
        /// The gateway channel this request opens.
        transport: Transport,
    },
    /// A server response head.
    #[serde(rename = "http_response")]
    Response {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// `HTTP/1.1` or `HTTP/1.0`.
        version: String,
        /// Every header, secrets redacted.
        headers: Vec<HeaderLine>,
        /// Content-Length, if sent.
        content_length: Option<u64>,
        /// True for Transfer-Encoding: chunked.
        chunked: bool,
        /// The WWW-Authenticate challenges, analysed.
        challenges: Vec<Challenge>,
        /// Cookies set (names and value lengths).
        set_cookies: Vec<CookieInfo>,
        /// Always None here: the body has not arrived yet; its snippet comes in
        /// [`HttpEvent::BodyEnd`].
        body_snippet: Option<String>,
    },
    /// A non-empty body ended (including a read-until-close body at FIN).
    #[serde(rename = "http_body_end")]
    BodyEnd {
        /// The body's direction.
        dir: Dir,
        /// Payload bytes (de-chunked).
        bytes: u64,
        /// A sanitised excerpt, for error responses with a text/html or text/plain body.
        snippet: Option<String>,
    },
    /// A direction ended in the middle of a message.
    #[serde(rename = "http_incomplete")]
    Incomplete {
        /// The direction that was cut off.
        dir: Dir,
        /// Where.
        at: Truncation,
    },
    /// A head grew past [`HEAD_LIMIT`]; this direction is no longer decoded.
    #[serde(rename = "http_head_too_large")]
    HeadTooLarge {
        /// The direction.
        dir: Dir,
        /// The limit in bytes.
        limit: usize,
    },
    /// Bytes that are not valid HTTP framing; this direction is no longer decoded.
    #[serde(rename = "http_malformed")]
    Malformed {
        /// The direction.
        dir: Dir,
        /// What was wrong, in plain English.
        reason: String,
    },
    /// `101 Switching Protocols`: from here both directions are raw bytes.
    #[serde(rename = "http_upgrade")]
    Upgrade {
        /// The Upgrade header of the 101 (e.g. `websocket`).
        protocol: String,
    },
}

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
    pub fn feed(
        &mut self,
        dir: Dir,
        chunk: &[u8],
        events: &mut Vec<HttpEvent>,
        sink: &mut impl BodySink,
    ) {
        let mut rest = chunk;
        while !rest.is_empty() {
            rest = self.step(dir, rest, events, sink);
        }
    }

    /// Consumes a prefix of `input`; returns what is left.
    fn step<'a>(
        &mut self,
        dir: Dir,
        input: &'a [u8],
        events: &mut Vec<HttpEvent>,
        sink: &mut impl BodySink,
    ) -> &'a [u8] {
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
                    events.push(HttpEvent::Malformed {
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
                        events.push(HttpEvent::Malformed { dir, reason });
                        &[]
                    }
                    Ok((used, done)) => {
                        if done {
                            self.end_body(dir, events);
                        }
                        input.get(used..).unwrap_or(&[])
                    }
                }
            }
            Phase::Head => self.head_step(dir, input, events, sink),
        }
    }

    /// Accumulates head bytes; parses the head once its empty line is in.
    fn head_step<'a>(
        &mut self,
        dir: Dir,
        input: &'a [u8],
        events: &mut Vec<HttpEvent>,
        sink: &mut impl BodySink,
    ) -> &'a [u8] {
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
                events.push(HttpEvent::HeadTooLarge {
                    dir,
                    limit: HEAD_LIMIT,
                });
            } else if side.head.len() <= head::EARLY_CHECK_LIMIT {
                if let Err(reason) = head::parse(&side.head, dir == Dir::C2S) {
                    side.head = Vec::new();
                    side.phase = Phase::Stopped;
                    events.push(HttpEvent::Malformed { dir, reason });
                }
            }
            return &[];
        };
        side.head.truncate(end);
        let bytes = std::mem::take(&mut side.head);
        let rest = input.get(end.saturating_sub(old)..).unwrap_or(&[]);
        match head::parse(&bytes, dir == Dir::C2S) {
            Ok(Some(h)) if dir == Dir::C2S => self.on_request(h, events),
            Ok(Some(h)) => self.on_response(h, events, sink),
            Ok(None) => self.stop(
                dir,
                "the head ended before its first line was complete".to_string(),
                events,
            ),
            Err(reason) => self.stop(dir, reason, events),
        }
        rest
    }

    /// Gives up on a direction with a reason.
    fn stop(&mut self, dir: Dir, reason: String, events: &mut Vec<HttpEvent>) {
        self.side(dir).phase = Phase::Stopped;
        events.push(HttpEvent::Malformed { dir, reason });
    }

    /// A whole request head.
    fn on_request(&mut self, h: Head, events: &mut Vec<HttpEvent>) {
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
        events.push(HttpEvent::Request {
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
                    events,
                );
            }
            (false, _, Err(reason)) => return self.stop(Dir::C2S, reason, events),
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
        self.c2s.await_upgrade = upgrade.is_some();
        self.start_body(Dir::C2S, framing, None, method.is_in_channel());
    }

    /// A whole response head.
    fn on_response(&mut self, h: Head, events: &mut Vec<HttpEvent>, sink: &mut impl BodySink) {
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
        events.push(HttpEvent::Response {
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
            events.push(HttpEvent::Upgrade {
                protocol: protocol.unwrap_or_default(),
            });
            self.switch_to_raw(sink);
            return;
        }
        let method = answered.as_ref().map(|p| &p.method);
        let is_head = method.is_some_and(|m| m.as_str() == "HEAD");
        let framing = if is_head || status == 204 || status == 304 {
            Framing::Empty
        } else if te_present {
            // A response coding other than chunked is delimited by the close.
            if chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }
        } else {
            match content_length {
                Err(reason) => return self.stop(Dir::S2C, reason, events),
                Ok(Some(n)) => Framing::Length(n),
                Ok(None) => Framing::UntilClose,
            }
        };
        let tunnel = (200..300).contains(&status) && method.is_some_and(Method::is_out_channel);
        let snippet =
            snippet::wants_snippet(status, h.get("content-type")).then(SnippetCapture::default);
        self.start_body(Dir::S2C, framing, snippet, tunnel);
        if answered.is_some_and(|p| p.upgrade) {
            self.release_hold(events, sink);
        }
    }

    /// The upgrade request was refused (e.g. a 401 round): held client bytes are HTTP.
    fn release_hold(&mut self, events: &mut Vec<HttpEvent>, sink: &mut impl BodySink) {
        self.c2s.await_upgrade = false;
        if let Phase::Hold(held) = &mut self.c2s.phase {
            let held = std::mem::take(held);
            self.c2s.phase = Phase::Head;
            self.feed(Dir::C2S, &held, events, sink);
        }
    }

    /// After a 101: both directions become raw; client bytes already read past its
    /// request go to the sink first, so nothing is lost or reordered.
    fn switch_to_raw(&mut self, sink: &mut impl BodySink) {
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
        } else {
            Phase::Head
        };
    }

    /// A body ended in-stream.
    fn end_body(&mut self, dir: Dir, events: &mut Vec<HttpEvent>) {
        if let Phase::Body(ctx) = std::mem::take(&mut self.side(dir).phase) {
            push_body_end(dir, &ctx, events);
        }
        self.after_message(dir);
    }

    /// The direction's stream ended (FIN/RST): reports a truncated head/body/chunk as
    /// HttpEvent::Incomplete, and ends a read-until-close body.
    pub fn finish(&mut self, dir: Dir, events: &mut Vec<HttpEvent>) {
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
                    events.push(HttpEvent::Incomplete {
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
                events.push(HttpEvent::Incomplete { dir, at });
            }
            Phase::Body(ctx) => {
                let clean_end = ctx.tunnel
                    && (ctx.framer.between_chunks()
                        || matches!(ctx.framer.truncation(), Some(Truncation::Body { .. })));
                match ctx.framer.truncation() {
                    Some(at) if !clean_end => events.push(HttpEvent::Incomplete { dir, at }),
                    _ => push_body_end(dir, &ctx, events),
                }
            }
            Phase::Hold(_) | Phase::Raw | Phase::Stopped => {}
        }
    }
}

/// Reports a finished body, unless it was empty.
fn push_body_end(dir: Dir, ctx: &BodyCtx, events: &mut Vec<HttpEvent>) {
    if ctx.bytes > 0 {
        events.push(HttpEvent::BodyEnd {
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

#[cfg(test)]
mod conn_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod test_msgs;
