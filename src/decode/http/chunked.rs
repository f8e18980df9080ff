//! The one parser of `Transfer-Encoding: chunked` (RFC 9112 7.1), sans-IO: fed the body
//! in pieces of any size, it reports chunk-size lines (with their extensions), payload
//! spans, trailer bytes and the end, as offsets into the piece just fed.
//!
//! The HTTP decoder, the trace redactor and the lab gateway all frame chunked bodies
//! with it, so they agree on where a body ends. It never panics and holds at most one
//! chunk-size line ([`CHUNK_LINE_LIMIT`] bytes); trailers are counted, not kept.

use super::Truncation;
use std::fmt;
use std::ops::Range;

/// Longest chunk-size line (size, extensions and CR) accepted.
pub const CHUNK_LINE_LIMIT: usize = 1024;
/// Most trailer bytes accepted after the last chunk (the same bound as a head).
pub const TRAILER_LIMIT: usize = super::head::HEAD_LIMIT;

/// What the framer found in the piece it was fed; offsets index that piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkEvent<'a> {
    /// A chunk-size line ended just before `end` (after its LF).
    Size {
        /// The chunk's size (0 for the last chunk).
        size: u64,
        /// What follows the first `;` on the line, without the line's CR.
        extensions: &'a [u8],
        /// Offset just past the line's LF.
        end: usize,
    },
    /// Chunk payload bytes.
    Data(Range<usize>),
    /// Trailer bytes after the last chunk, as sent (the closing empty line included).
    Trailers(Range<usize>),
    /// The body ended; the piece from `at` on belongs to the next message.
    End {
        /// Offset just past the body's last byte.
        at: usize,
    },
}

/// Why a chunk-size line gives no size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeFault {
    /// Nothing but whitespace before the extensions.
    Missing,
    /// A byte of the size is not a hex digit.
    NotHex,
    /// The size does not fit in 64 bits.
    TooBig,
}

/// Why a chunked body cannot be framed; after one, the stream cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// A chunk-size line is longer than [`CHUNK_LINE_LIMIT`].
    LineTooLong,
    /// A chunk-size line holds no size: the line (without its LF) and what is wrong.
    BadSize {
        /// The line as received, CR included; at most [`CHUNK_LINE_LIMIT`] bytes.
        line: Vec<u8>,
        /// What is wrong with it.
        fault: SizeFault,
    },
    /// A chunk's data is not followed by CRLF (or a bare LF).
    NoCrlf,
    /// The trailers are longer than [`TRAILER_LIMIT`].
    TrailersTooLong,
}

impl fmt::Display for ChunkError {
    /// The decoder's words, which reach event files (keep them stable).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::LineTooLong => {
                write!(f, "chunk-size line longer than {CHUNK_LINE_LIMIT} bytes")
            }
            ChunkError::BadSize { fault, line } => match fault {
                SizeFault::Missing => f.write_str("chunk-size line has no size"),
                SizeFault::NotHex => {
                    let hex = size_part(line);
                    let shown = hex.get(..hex.len().min(16)).unwrap_or(&[]);
                    write!(
                        f,
                        "chunk size `{}` is not hexadecimal",
                        String::from_utf8_lossy(shown).escape_debug()
                    )
                }
                SizeFault::TooBig => f.write_str("chunk size does not fit in 64 bits"),
            },
            ChunkError::NoCrlf => f.write_str("chunk data is not followed by CRLF"),
            ChunkError::TrailersTooLong => {
                write!(f, "trailers longer than {TRAILER_LIMIT} bytes")
            }
        }
    }
}

impl std::error::Error for ChunkError {}

/// Where the framer is inside the body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line (held in `ChunkedFramer::line`) up to its LF.
    SizeLine,
    /// Inside a chunk's data.
    Data { got: u64, size: u64 },
    /// After a chunk's data, expecting its CRLF.
    DataEnd { seen_cr: bool },
    /// After the last chunk: trailer lines up to an empty line.
    Trailers { line_len: usize, total: usize },
    /// The body has ended.
    Done,
    /// The framing broke; every later feed repeats why.
    Broken(ChunkError),
}

/// Frames one chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedFramer {
    state: State,
    /// The chunk-size line so far (without its LF), at most [`CHUNK_LINE_LIMIT`] bytes.
    line: Vec<u8>,
}

impl Default for ChunkedFramer {
    fn default() -> Self {
        ChunkedFramer::new()
    }
}

impl ChunkedFramer {
    /// A framer at the start of a chunked body.
    pub fn new() -> Self {
        ChunkedFramer {
            state: State::SizeLine,
            line: Vec::new(),
        }
    }

    /// Consumes a prefix of `input`, reporting what it holds to `on`, in order.
    ///
    /// Returns how many bytes were used and whether the body ended there (the rest of
    /// `input` then belongs to the next message). Events before an error are reported.
    pub fn feed(
        &mut self,
        input: &[u8],
        on: &mut impl FnMut(ChunkEvent<'_>),
    ) -> Result<(usize, bool), ChunkError> {
        let mut pos = 0;
        loop {
            match &self.state {
                State::Done => return Ok((pos, true)),
                State::Broken(e) => return Err(e.clone()),
                _ => {}
            }
            let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) else {
                return Ok((pos, false));
            };
            match self.step(rest, pos, on) {
                // Every state uses a byte of a non-empty piece; this guards the loop.
                Ok(0) => return Ok((pos, false)),
                Ok(used) => pos += used,
                Err(e) => {
                    self.state = State::Broken(e.clone());
                    return Err(e);
                }
            }
            if self.state == State::Done {
                on(ChunkEvent::End { at: pos });
            }
        }
    }

    /// Reads from the non-empty `rest`, which starts at offset `base` of the piece fed;
    /// returns how many bytes it used.
    fn step(
        &mut self,
        rest: &[u8],
        base: usize,
        on: &mut impl FnMut(ChunkEvent<'_>),
    ) -> Result<usize, ChunkError> {
        match &mut self.state {
            State::SizeLine => {
                let lf = rest.iter().position(|&b| b == b'\n');
                let part = rest.get(..lf.unwrap_or(rest.len())).unwrap_or(&[]);
                if self.line.len() + part.len() > CHUNK_LINE_LIMIT {
                    return Err(ChunkError::LineTooLong);
                }
                self.line.extend_from_slice(part);
                let Some(lf) = lf else {
                    return Ok(part.len());
                };
                let size = parse_size(&self.line)?;
                on(ChunkEvent::Size {
                    size,
                    extensions: extensions(&self.line),
                    end: base + lf + 1,
                });
                self.line.clear();
                self.state = if size == 0 {
                    State::Trailers {
                        line_len: 0,
                        total: 0,
                    }
                } else {
                    State::Data { got: 0, size }
                };
                Ok(lf + 1)
            }
            State::Data { got, size } => {
                let want = size.saturating_sub(*got);
                let n = usize::try_from(want).map_or(rest.len(), |w| w.min(rest.len()));
                on(ChunkEvent::Data(base..base + n));
                *got = got.saturating_add(n as u64);
                if *got >= *size {
                    self.state = State::DataEnd { seen_cr: false };
                }
                Ok(n)
            }
            State::DataEnd { seen_cr } => {
                match rest.first() {
                    Some(b'\r') if !*seen_cr => *seen_cr = true,
                    Some(b'\n') => self.state = State::SizeLine,
                    _ => return Err(ChunkError::NoCrlf),
                }
                Ok(1)
            }
            State::Trailers { line_len, total } => {
                let mut used = 0;
                for &b in rest {
                    *total += 1;
                    if *total > TRAILER_LIMIT && !(b == b'\n' && *line_len == 0) {
                        // The bytes before this one were accepted: report them, so the
                        // events do not depend on how the body was cut into pieces.
                        if used > 0 {
                            on(ChunkEvent::Trailers(base..base + used));
                        }
                        return Err(ChunkError::TrailersTooLong);
                    }
                    used += 1;
                    match b {
                        // The closing empty line ends the body; its LF is not held to
                        // the limit (the decoder has always accepted it).
                        b'\n' if *line_len == 0 => {
                            self.state = State::Done;
                            break;
                        }
                        b'\n' => *line_len = 0,
                        b'\r' => {}
                        _ => *line_len += 1,
                    }
                }
                on(ChunkEvent::Trailers(base..base + used));
                Ok(used)
            }
            // `feed` never steps a finished framer; using nothing is the safe answer.
            State::Done => Ok(0),
            State::Broken(e) => Err(e.clone()),
        }
    }

    /// Whether the last chunk and its trailers have been read.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// True between whole chunks (a gateway tunnel may end there normally).
    pub fn between_chunks(&self) -> bool {
        self.state == State::SizeLine && self.line.is_empty()
    }

    /// What was cut off if the sender closes now; None once the body is done.
    pub fn truncation(&self) -> Option<Truncation> {
        match &self.state {
            State::SizeLine => Some(Truncation::ChunkSize {
                got: self.line.len(),
            }),
            State::Data { got, size } => Some(Truncation::Chunk {
                got: *got,
                expected: *size,
            }),
            State::DataEnd { .. } => Some(Truncation::ChunkSize { got: 0 }),
            State::Trailers { total, .. } => Some(Truncation::Headers { got: *total }),
            State::Done | State::Broken(_) => None,
        }
    }
}

/// The size part of a chunk-size line: before the first `;`, without surrounding
/// whitespace (a CR before the LF included).
fn size_part(line: &[u8]) -> &[u8] {
    line.split(|&b| b == b';')
        .next()
        .unwrap_or(&[])
        .trim_ascii()
}

/// The extensions of a chunk-size line: after the first `;`, without the CR.
fn extensions(line: &[u8]) -> &[u8] {
    let Some(semi) = line.iter().position(|&b| b == b';') else {
        return &[];
    };
    let ext = line.get(semi + 1..).unwrap_or(&[]);
    ext.strip_suffix(b"\r").unwrap_or(ext)
}

/// The hex size on a chunk-size line, with overflow checked.
fn parse_size(line: &[u8]) -> Result<u64, ChunkError> {
    let fail = |fault| ChunkError::BadSize {
        line: line.to_vec(),
        fault,
    };
    let hex = size_part(line);
    if hex.is_empty() {
        return Err(fail(SizeFault::Missing));
    }
    let mut size: u64 = 0;
    for &b in hex {
        let digit = char::from(b)
            .to_digit(16)
            .ok_or_else(|| fail(SizeFault::NotHex))?;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(digit)))
            .ok_or_else(|| fail(SizeFault::TooBig))?;
    }
    Ok(size)
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
