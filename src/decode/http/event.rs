//! The typed events of the HTTP decoder and the enums they carry.

use super::auth::{AuthAttempt, Challenge};
use super::cookies::CookieInfo;
use crate::vocab::closed_vocab;
use crate::vocab::Dir;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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

/// The methods known by name, with their tokens.
const METHODS: [(Method, &str); 6] = [
    (Method::RdgOutData, "RDG_OUT_DATA"),
    (Method::RdgInData, "RDG_IN_DATA"),
    (Method::RpcInData, "RPC_IN_DATA"),
    (Method::RpcOutData, "RPC_OUT_DATA"),
    (Method::Get, "GET"),
    (Method::Post, "POST"),
];

impl Method {
    /// Classifies a method token (methods are case-sensitive).
    pub fn from_token(s: &str) -> Method {
        METHODS
            .iter()
            .find(|(_, t)| *t == s)
            .map_or_else(|| Method::Other(s.to_string()), |(m, _)| m.clone())
    }

    /// The method token as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(s) => s,
            // Every other variant has a row in METHODS.
            known => METHODS
                .iter()
                .find(|(m, _)| m == known)
                .map_or("", |(_, t)| t),
        }
    }

    /// True for the client-to-gateway channel methods, whose bodies are the tunnel.
    pub(super) fn is_in_channel(&self) -> bool {
        matches!(self, Method::RdgInData | Method::RpcInData)
    }

    /// True for the gateway-to-client channel methods, whose 2xx bodies are the tunnel.
    pub(super) fn is_out_channel(&self) -> bool {
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

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Every token is a method: the unknown ones are kept as sent.
        String::deserialize(d).map(|s| Method::from_token(&s))
    }
}

closed_vocab! {
    /// Which gateway transport channel a request opens.
    pub enum Transport {
        /// The HTTP transport's OUT channel (RDG_OUT_DATA).
        HttpOut = ("http_out", "HTTP transport OUT channel"),
        /// The HTTP transport's IN channel (RDG_IN_DATA).
        HttpIn = ("http_in", "HTTP transport IN channel"),
        /// The WebSocket transport (RDG_OUT_DATA with `Upgrade: websocket`).
        WebSocket = ("websocket", "WebSocket transport"),
        /// The legacy RPC-over-HTTP IN channel.
        RpcIn = ("rpc_in", "RPC-over-HTTP IN channel"),
        /// The legacy RPC-over-HTTP OUT channel.
        RpcOut = ("rpc_out", "RPC-over-HTTP OUT channel"),
        /// Not a gateway channel request.
        Other = ("other", "not a gateway channel"),
    }
}

impl Transport {
    /// The channel a request with this method and Upgrade header opens.
    pub(super) fn of(method: &Method, upgrade: Option<&str>) -> Transport {
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

/// Where a direction's stream was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderLine {
    /// The header name as sent.
    pub name: String,
    /// The value, redacted by [`super::redact_header`].
    pub value: String,
}

/// What the HTTP decoder saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        #[serde(skip, default = "dir_of_record")]
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
        #[serde(skip, default = "dir_of_record")]
        dir: Dir,
        /// Where.
        at: Truncation,
    },
    /// A head grew past [`super::HEAD_LIMIT`]; this direction is no longer decoded.
    #[serde(rename = "http_head_too_large")]
    HeadTooLarge {
        /// The direction.
        #[serde(skip, default = "dir_of_record")]
        dir: Dir,
        /// The limit in bytes.
        limit: usize,
    },
    /// Bytes that are not valid HTTP framing; this direction is no longer decoded.
    #[serde(rename = "http_malformed")]
    Malformed {
        /// The direction.
        #[serde(skip, default = "dir_of_record")]
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

/// The direction of an event read back alone. The event file writes the direction next
/// to the event, and [`crate::decode::DecodeEvent::from_json`] puts it back from there.
fn dir_of_record() -> Dir {
    Dir::C2S
}

impl HttpEvent {
    /// Sets the direction of the events that keep one, as read from their record.
    pub(crate) fn set_dir(&mut self, to: Dir) {
        match self {
            HttpEvent::BodyEnd { dir, .. }
            | HttpEvent::Incomplete { dir, .. }
            | HttpEvent::HeadTooLarge { dir, .. }
            | HttpEvent::Malformed { dir, .. } => *dir = to,
            HttpEvent::Request { .. } | HttpEvent::Response { .. } | HttpEvent::Upgrade { .. } => {}
        }
    }

    /// The direction of the bytes the event came from.
    pub fn dir(&self) -> Dir {
        match self {
            HttpEvent::Request { .. } => Dir::C2S,
            HttpEvent::Response { .. } | HttpEvent::Upgrade { .. } => Dir::S2C,
            HttpEvent::BodyEnd { dir, .. }
            | HttpEvent::Incomplete { dir, .. }
            | HttpEvent::HeadTooLarge { dir, .. }
            | HttpEvent::Malformed { dir, .. } => *dir,
        }
    }
}
