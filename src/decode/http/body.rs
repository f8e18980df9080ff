//! The body framer: where a message body ends (Content-Length, chunked with extensions
//! and trailers, or read-until-close), handing out its payload bytes de-chunked and
//! streamed, never buffered.

use super::Truncation;

/// Longest chunk-size line (size, extensions and CR) accepted.
pub const CHUNK_LINE_LIMIT: usize = 1024;
/// Most trailer bytes accepted after the last chunk (the same bound as a head).
pub const TRAILER_LIMIT: usize = super::head::HEAD_LIMIT;

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
    /// Everything until the sender closes.
    UntilClose,
}

/// Where the framer is inside the body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// A Content-Length body.
    Length { got: u64, expected: u64 },
    /// Reading a chunk-size line (up to its LF).
    SizeLine { line: Vec<u8> },
    /// Inside a chunk's data.
    Data { got: u64, size: u64 },
    /// After a chunk's data, expecting its CRLF.
    DataEnd { seen_cr: bool },
    /// After the last chunk: trailer lines up to an empty line.
    Trailers { line_len: usize, total: usize },
    /// Read-until-close.
    UntilClose,
    /// The body has ended.
    Done,
}

/// Frames one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BodyFramer {
    state: State,
}

impl BodyFramer {
    /// A framer for `framing`, or None when there is no body to frame.
    pub(super) fn new(framing: Framing) -> Option<BodyFramer> {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => return None,
            Framing::Length(n) => State::Length {
                got: 0,
                expected: n,
            },
            Framing::Chunked => State::SizeLine { line: Vec::new() },
            Framing::UntilClose => State::UntilClose,
        };
        Some(BodyFramer { state })
    }

    /// Consumes a prefix of `input`, handing payload bytes to `out` in order.
    ///
    /// Returns how many bytes were used and whether the body ended there (the rest of
    /// `input` then belongs to the next message). Err says why the body is unframeable.
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(usize, bool), String> {
        let mut pos = 0;
        while let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) {
            match &mut self.state {
                State::Length { got, expected } => {
                    let n = take(rest, expected.saturating_sub(*got));
                    out(rest.get(..n).unwrap_or(&[]));
                    *got = got.saturating_add(n as u64);
                    pos += n;
                    if *got >= *expected {
                        self.state = State::Done;
                    }
                }
                State::SizeLine { line } => {
                    let lf = rest.iter().position(|&b| b == b'\n');
                    let part = rest.get(..lf.unwrap_or(rest.len())).unwrap_or(&[]);
                    if line.len() + part.len() > CHUNK_LINE_LIMIT {
                        return Err(format!(
                            "chunk-size line longer than {CHUNK_LINE_LIMIT} bytes"
                        ));
                    }
                    line.extend_from_slice(part);
                    pos += part.len();
                    if lf.is_some() {
                        pos += 1;
                        let size = parse_chunk_size(line)?;
                        self.state = if size == 0 {
                            State::Trailers {
                                line_len: 0,
                                total: 0,
                            }
                        } else {
                            State::Data { got: 0, size }
                        };
                    }
                }
                State::Data { got, size } => {
                    let n = take(rest, size.saturating_sub(*got));
                    out(rest.get(..n).unwrap_or(&[]));
                    *got = got.saturating_add(n as u64);
                    pos += n;
                    if *got >= *size {
                        self.state = State::DataEnd { seen_cr: false };
                    }
                }
                State::DataEnd { seen_cr } => {
                    pos += 1;
                    match rest.first() {
                        Some(b'\r') if !*seen_cr => *seen_cr = true,
                        Some(b'\n') => self.state = State::SizeLine { line: Vec::new() },
                        _ => return Err("chunk data is not followed by CRLF".to_string()),
                    }
                }
                State::Trailers { line_len, total } => {
                    for &b in rest {
                        pos += 1;
                        *total += 1;
                        match b {
                            b'\n' if *line_len == 0 => {
                                self.state = State::Done;
                                break;
                            }
                            b'\n' => *line_len = 0,
                            b'\r' => {}
                            _ => *line_len += 1,
                        }
                        if *total > TRAILER_LIMIT {
                            return Err(format!("trailers longer than {TRAILER_LIMIT} bytes"));
                        }
                    }
                }
                State::UntilClose => {
                    out(rest);
                    pos += rest.len();
                }
                State::Done => break,
            }
            if self.state == State::Done {
                break;
            }
        }
        Ok((pos, self.state == State::Done))
    }

    /// What was cut off if the sender closes now; None when a close ends the body cleanly
    /// (read-until-close, or already done).
    pub(super) fn truncation(&self) -> Option<Truncation> {
        match &self.state {
            State::Length { got, expected } => Some(Truncation::Body {
                got: *got,
                expected: *expected,
            }),
            State::SizeLine { line } => Some(Truncation::ChunkSize { got: line.len() }),
            State::Data { got, size } => Some(Truncation::Chunk {
                got: *got,
                expected: *size,
            }),
            State::DataEnd { .. } => Some(Truncation::ChunkSize { got: 0 }),
            State::Trailers { total, .. } => Some(Truncation::Headers { got: *total }),
            State::UntilClose | State::Done => None,
        }
    }

    /// True between whole chunks of a chunked body (a tunnel may end there normally).
    pub(super) fn between_chunks(&self) -> bool {
        matches!(&self.state, State::SizeLine { line } if line.is_empty())
    }
}

/// How many of `rest` to take when `want` more are wanted.
fn take(rest: &[u8], want: u64) -> usize {
    usize::try_from(want).map_or(rest.len(), |w| w.min(rest.len()))
}

/// The size on a chunk-size line (hex, then optional `;extensions`), with overflow checked.
fn parse_chunk_size(line: &[u8]) -> Result<u64, String> {
    let hex = line.split(|&b| b == b';').next().unwrap_or(&[]);
    let hex = hex.trim_ascii();
    if hex.is_empty() {
        return Err("chunk-size line has no size".to_string());
    }
    let mut size: u64 = 0;
    for &b in hex {
        let digit = char::from(b).to_digit(16).ok_or_else(|| {
            format!(
                "chunk size `{}` is not hexadecimal",
                String::from_utf8_lossy(hex.get(..hex.len().min(16)).unwrap_or(&[])).escape_debug()
            )
        })?;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(digit)))
            .ok_or_else(|| "chunk size does not fit in 64 bits".to_string())?;
    }
    Ok(size)
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
