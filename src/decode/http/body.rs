//! The body framer: where a message body ends (Content-Length, chunked through
//! [`ChunkedFramer`], or read-until-close), handing out its payload bytes de-chunked and
//! streamed, never buffered. The decoder and the trace redactor both frame with it.

use super::chunked::{ChunkError, ChunkEvent, ChunkedFramer};
use super::Truncation;
use std::ops::Range;

// The body tests check the chunked limits through this module.
#[cfg(test)]
use super::chunked::{CHUNK_LINE_LIMIT, TRAILER_LIMIT};

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
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
    /// A chunked body.
    Chunked(ChunkedFramer),
    /// Read-until-close.
    UntilClose,
    /// The body has ended.
    Done,
}

/// Frames one body, for the decoder and the trace redactor alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyFramer {
    state: State,
}

impl BodyFramer {
    /// A framer for `framing`, or None when there is no body to frame.
    pub fn new(framing: Framing) -> Option<BodyFramer> {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => return None,
            Framing::Length(n) => State::Length {
                got: 0,
                expected: n,
            },
            Framing::Chunked => State::Chunked(ChunkedFramer::new()),
            Framing::UntilClose => State::UntilClose,
        };
        Some(BodyFramer { state })
    }

    /// Consumes a prefix of `input`, handing payload bytes to `out` in order.
    ///
    /// Returns how many bytes were used and whether the body ended there (the rest of
    /// `input` then belongs to the next message). Err says why the body is unframeable.
    pub fn feed(
        &mut self,
        input: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(usize, bool), String> {
        self.feed_spans(input, &mut |span| out(input.get(span).unwrap_or(&[])))
            .map_err(|e| e.to_string())
    }

    /// Like [`BodyFramer::feed`], with payload reported as spans of `input`.
    pub fn feed_spans(
        &mut self,
        input: &[u8],
        out: &mut impl FnMut(Range<usize>),
    ) -> Result<(usize, bool), ChunkError> {
        let (used, done) = match &mut self.state {
            State::Length { got, expected } => {
                let want = expected.saturating_sub(*got);
                let n = usize::try_from(want).map_or(input.len(), |w| w.min(input.len()));
                if n > 0 {
                    out(0..n);
                }
                *got = got.saturating_add(n as u64);
                (n, *got >= *expected)
            }
            State::Chunked(c) => c.feed(input, &mut |ev| {
                if let ChunkEvent::Data(span) = ev {
                    out(span);
                }
            })?,
            State::UntilClose => {
                if !input.is_empty() {
                    out(0..input.len());
                }
                (input.len(), false)
            }
            State::Done => (0, true),
        };
        if done {
            self.state = State::Done;
        }
        Ok((used, done))
    }

    /// What was cut off if the sender closes now; None when a close ends the body cleanly
    /// (read-until-close, or already done).
    pub fn truncation(&self) -> Option<Truncation> {
        match &self.state {
            State::Length { got, expected } => Some(Truncation::Body {
                got: *got,
                expected: *expected,
            }),
            State::Chunked(c) => c.truncation(),
            State::UntilClose | State::Done => None,
        }
    }

    /// True between whole chunks of a chunked body (a tunnel may end there normally).
    pub fn between_chunks(&self) -> bool {
        matches!(&self.state, State::Chunked(c) if c.between_chunks())
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
