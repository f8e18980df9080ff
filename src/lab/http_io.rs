//! HTTP/1.1 for the lab gateway: reading request heads, writing response heads, and
//! de-chunking the IN channel's body.
//!
//! Only what RD Gateway clients send is handled; anything else gets a clear error and the
//! connection is closed, which is the right answer for a lab tool.

#[cfg(test)]
#[path = "http_io_tests.rs"]
mod tests;

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

/// The longest chunk-size line (with extensions) accepted.
const MAX_SIZE_LINE: usize = 1024;

/// Where a [`ChunkDecoder`] is inside the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size line.
    Size,
    /// Inside a chunk's data with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data; `bool`: CR seen.
    DataEnd(bool),
    /// After the last chunk: reading trailer lines until an empty one.
    Trailer,
    /// The body has ended.
    Done,
}

/// De-chunks a `Transfer-Encoding: chunked` body, streaming: data bytes go out as they
/// arrive, never buffered beyond one size line.
#[derive(Debug)]
pub struct ChunkDecoder {
    state: ChunkState,
    line: Vec<u8>,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        ChunkDecoder::new()
    }
}

impl ChunkDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkDecoder {
        ChunkDecoder {
            state: ChunkState::Size,
            line: Vec::new(),
        }
    }

    /// Whether the terminating zero-size chunk and trailers have been read.
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Feeds body bytes; data goes to `out`. Bytes after the end of the body are ignored.
    pub fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        while let Some((&first, rest)) = input.split_first() {
            match self.state {
                ChunkState::Size | ChunkState::Trailer => {
                    input = rest;
                    if first != b'\n' {
                        if self.line.len() >= MAX_SIZE_LINE {
                            return Err(format!(
                                "chunk size line longer than {MAX_SIZE_LINE} bytes"
                            ));
                        }
                        self.line.push(first);
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    if self.state == ChunkState::Trailer {
                        if line.is_empty() {
                            self.state = ChunkState::Done;
                        }
                        continue;
                    }
                    let size = parse_chunk_size(line)?;
                    self.state = if size == 0 {
                        ChunkState::Trailer
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (data, rest) = input.split_at(take);
                    out(data);
                    input = rest;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd(false)
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::DataEnd(cr_seen) => {
                    input = rest;
                    self.state = match (first, cr_seen) {
                        (b'\r', false) => ChunkState::DataEnd(true),
                        (b'\n', _) => ChunkState::Size,
                        _ => return Err("chunk data not followed by CRLF".to_string()),
                    };
                }
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(line);
    let hex = text.split(';').next().unwrap_or("").trim();
    if hex.is_empty() || hex.len() > 15 {
        return Err(format!("bad chunk size line {text:?}"));
    }
    u64::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size line {text:?}"))
}
