//! HTTP/1.1 for the lab gateway: reading request heads, writing response heads, and
//! de-chunking the IN channel's body.
//!
//! Only what RD Gateway clients send is handled; anything else gets a clear error and the
//! connection is closed, which is the right answer for a lab tool.

#[cfg(test)]
#[path = "http_io_tests.rs"]
mod tests;

use crate::decode::http::{ChunkError, ChunkEvent, ChunkedFramer, CHUNK_LINE_LIMIT};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest request head accepted (the same limit IIS uses by default).
pub const MAX_HEAD: usize = 64 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 100;

/// One request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `RDG_OUT_DATA`.
    pub method: String,
    /// The request target, e.g. `/remoteDesktopGateway/`.
    pub target: String,
    /// Header names and values in order, values lossily decoded.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Whether header `name` lists `token` (comma-separated, case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The declared Content-Length, 0 when absent or unreadable.
    pub fn content_length(&self) -> u64 {
        self.header("Content-Length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the body is chunked.
    pub fn chunked(&self) -> bool {
        self.has_token("Transfer-Encoding", "chunked")
    }

    /// Whether this asks for a WebSocket upgrade.
    pub fn wants_websocket(&self) -> bool {
        self.has_token("Upgrade", "websocket")
    }
}

/// Reads one request head from `r`. `buf` carries bytes between calls: on return it
/// holds whatever followed the head. `Ok(None)`: the peer closed before sending a byte.
pub async fn read_head<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
    loop {
        if !buf.is_empty() {
            match parse_head(buf)? {
                Some((req, used)) => {
                    buf.drain(..used);
                    return Ok(Some(req));
                }
                None if buf.len() >= MAX_HEAD => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("request head larger than {MAX_HEAD} bytes"),
                    ))
                }
                None => {}
            }
        }
        let mut chunk = [0u8; 4096];
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed in the middle of a request head after {} bytes",
                    buf.len()
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Parses a complete head at the start of `buf`: the request and its length, or `None`
/// when more bytes are needed.
pub fn parse_head(buf: &[u8]) -> io::Result<Option<(Request, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(used)) => {
            let request = Request {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                headers: req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
            };
            Ok(Some((request, used)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed request head: {e}"),
        )),
    }
}

/// A response head: status line, the headers in order, and the blank line.
pub fn response_head(status: u16, reason: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// De-chunks a `Transfer-Encoding: chunked` body, streaming: data bytes go out as they
/// arrive, never buffered beyond one size line. The framing is the decoder's
/// [`ChunkedFramer`]; this only words its errors the way the lab always has.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    framer: ChunkedFramer,
}

impl ChunkDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkDecoder {
        ChunkDecoder::default()
    }

    /// Whether the terminating zero-size chunk and trailers have been read.
    pub fn done(&self) -> bool {
        self.framer.done()
    }

    /// Feeds body bytes; data goes to `out`. Bytes after the end of the body are ignored.
    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        self.framer
            .feed(input, &mut |ev| {
                if let ChunkEvent::Data(span) = ev {
                    out(input.get(span).unwrap_or(&[]));
                }
            })
            .map(|_| ())
            .map_err(|e| lab_words(&e))
    }
}

/// The lab's wording of a framing error, as its console has always shown it.
fn lab_words(e: &ChunkError) -> String {
    match e {
        ChunkError::LineTooLong => format!("chunk size line longer than {CHUNK_LINE_LIMIT} bytes"),
        ChunkError::BadSize { line, .. } => {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            format!("bad chunk size line {:?}", String::from_utf8_lossy(line))
        }
        ChunkError::NoCrlf => "chunk data not followed by CRLF".to_string(),
        ChunkError::TrailersTooLong => e.to_string(),
    }
}
