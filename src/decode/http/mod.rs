//! HTTP/1.1 as RD Gateway uses it, decoded sans-IO for both directions of one TCP
//! connection: request and response heads (secrets redacted), authentication rounds,
//! body framing, and the switch to raw bytes after `101 Switching Protocols`.
//!
//! Responses are framed by the request they answer (a FIFO of pending requests), so HEAD,
//! 1xx, 101, 204/304 and read-until-close bodies (the RDG_OUT_DATA channel) come out
//! right. Body payload bytes, de-chunked, go to a [`HttpSink`]; nothing is buffered but
//! a head (at most [`HEAD_LIMIT`]), a chunk-size line and a short error-page snippet.
//!
//! [`BodyFramer`] and [`ChunkedFramer`] are the one body framing of the crate: the trace
//! redactor and the lab gateway frame bodies with them too.

mod auth;
mod body;
mod chunked;
mod conn;
mod cookies;
mod event;
mod head;
mod redact;
mod secret_names;
mod snippet;
mod text;
pub mod tunnel;

pub use auth::{ntlm_message, AuthAttempt, AuthScheme, Challenge, NtlmInfo};
pub use body::{BodyFramer, Framing};
pub use chunked::{
    ChunkError, ChunkEvent, ChunkedFramer, SizeFault, CHUNK_LINE_LIMIT, TRAILER_LIMIT,
};
pub use conn::HttpConn;
pub use cookies::CookieInfo;
pub use event::{HeaderLine, HttpEvent, Method, Transport, Truncation};
pub use head::{HEAD_LIMIT, MAX_HEADERS};
pub use redact::{names_rpc_server, redact_header, redact_target};
pub use secret_names::{header_secret, HeaderSecret, NOT_SECRET, SECRET_NAME_PARTS};
pub use snippet::{sanitise as sanitise_snippet, CAPTURE_LIMIT, SNIPPET_MAX_CHARS};

use crate::vocab::Dir;

/// Receives what an [`HttpConn`] decodes, events and body bytes interleaved in stream
/// order, so the receiver knows which message each body byte belongs to.
pub trait HttpSink {
    /// An HTTP event; a message's head event comes before its body bytes.
    fn event(&mut self, ev: HttpEvent);
    /// The next body bytes sent in `dir` (de-chunked); after an upgrade, every byte.
    fn body(&mut self, dir: Dir, bytes: &[u8]);
}

/// Collects the events and drops the bodies, for callers that want only the events.
impl HttpSink for Vec<HttpEvent> {
    fn event(&mut self, ev: HttpEvent) {
        self.push(ev);
    }
    fn body(&mut self, _dir: Dir, _bytes: &[u8]) {}
}

#[cfg(test)]
mod conn_tests;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
pub(crate) mod test_msgs;
