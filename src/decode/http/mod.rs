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
mod conn;
mod cookies;
mod event;
mod head;
mod redact;
mod snippet;
mod text;

pub use auth::{ntlm_message, AuthAttempt, AuthScheme, Challenge, NtlmInfo};
pub use body::{CHUNK_LINE_LIMIT, TRAILER_LIMIT};
pub use conn::HttpConn;
pub use cookies::CookieInfo;
pub use event::{HeaderLine, HttpEvent, Method, Transport, Truncation};
pub use head::{HEAD_LIMIT, MAX_HEADERS};
pub use redact::redact_header;
pub use snippet::{sanitise as sanitise_snippet, CAPTURE_LIMIT, SNIPPET_MAX_CHARS};

use super::Dir;

/// Receives body payload bytes (de-chunked) in stream order, per direction.
pub trait BodySink {
    /// The next body bytes sent in `dir`; after an upgrade, every byte of `dir`.
    fn body(&mut self, dir: Dir, bytes: &[u8]);
}

/// A sink that drops everything, for callers that want only the events.
impl BodySink for () {
    fn body(&mut self, _dir: Dir, _bytes: &[u8]) {}
}

#[cfg(test)]
mod conn_tests;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod test_msgs;
