//! Where an HTTP message body ends, and where its payload bytes sit in the stream:
//! Content-Length, chunked (sizes, extensions, trailers) or read-until-close. Nothing
//! is buffered: payload runs are reported as offsets into the bytes fed.

/// Longest chunk-size line accepted (size, extensions and CR).
const SIZE_LINE_LIMIT: usize = 1024;
/// Most trailer bytes accepted after the last chunk.
const TRAILER_LIMIT: usize = 64 * 1024;

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body.
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
    /// Content-Length bytes still to come.
    Length(u64),
    /// A chunk-size line: bytes so far, the size read, and which part of the line.
    Size { len: usize, size: u64, part: Part },
    /// Chunk data still to come.
    Data(u64),
    /// The CRLF after chunk data (whether the CR was seen).
    DataEnd(bool),
    /// Trailer lines after the last chunk, up to an empty line.
    Trailers { line: usize, total: usize },
    /// Read-until-close.
    UntilClose,
    /// The body ended.
    Done,
}

/// The parts of a chunk-size line, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Whitespace before the size.
    Lead,
    /// Hex digits.
    Digits,
    /// Whitespace (or the CR) after the size.
    Tail,
    /// `;extensions`: anything up to LF.
    Ext,
}

/// A fresh chunk-size line.
const SIZE_LINE: State = State::Size {
    len: 0,
    size: 0,
    part: Part::Lead,
};

/// Frames one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BodyFramer {
    state: State,
}

impl BodyFramer {
    /// A framer for `framing`; None when there is no body.
    pub(super) fn new(framing: Framing) -> Option<Self> {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => return None,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => SIZE_LINE,
            Framing::UntilClose => State::UntilClose,
        };
        Some(BodyFramer { state })
    }

    /// Consumes a prefix of `input`, calling `data(offset, len)` for each payload run.
    ///
    /// Returns how many bytes were used and whether the body ended there; Err when the
    /// chunked framing is broken, after which the stream cannot be followed.
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        data: &mut impl FnMut(usize, usize),
    ) -> Result<(usize, bool), ()> {
        let mut pos = 0;
        while pos < input.len() && self.state != State::Done {
            let rest = input.len() - pos;
            match &mut self.state {
                State::Length(left) | State::Data(left) => {
                    let n = usize::try_from(*left).map_or(rest, |l| l.min(rest));
                    data(pos, n);
                    pos += n;
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = match self.state {
                            State::Data(_) => State::DataEnd(false),
                            _ => State::Done,
                        };
                    }
                }
                State::UntilClose => {
                    data(pos, rest);
                    pos = input.len();
                }
                State::Size { .. } => {
                    let b = input.get(pos).copied().unwrap_or(0);
                    pos += 1;
                    self.size_byte(b)?;
                }
                State::DataEnd(cr) => {
                    match input.get(pos) {
                        Some(b'\r') if !*cr => *cr = true,
                        Some(b'\n') => self.state = SIZE_LINE,
                        _ => return Err(()),
                    }
                    pos += 1;
                }
                State::Trailers { line, total } => {
                    let b = input.get(pos).copied().unwrap_or(0);
                    pos += 1;
                    *total += 1;
                    if *total > TRAILER_LIMIT {
                        return Err(());
                    }
                    match b {
                        b'\n' if *line == 0 => self.state = State::Done,
                        b'\n' => *line = 0,
                        b'\r' => {}
                        _ => *line += 1,
                    }
                }
                State::Done => {}
            }
        }
        Ok((pos, self.state == State::Done))
    }

    /// One byte of a chunk-size line: hex digits, then optional whitespace and
    /// `;extensions`, up to LF.
    fn size_byte(&mut self, b: u8) -> Result<(), ()> {
        let State::Size { len, size, part } = &mut self.state else {
            return Err(());
        };
        *len += 1;
        if *len > SIZE_LINE_LIMIT {
            return Err(());
        }
        let next = match (*part, b) {
            // A line with no size at all.
            (Part::Lead, b'\n') => return Err(()),
            (_, b'\n') => {
                self.state = if *size == 0 {
                    State::Trailers { line: 0, total: 0 }
                } else {
                    State::Data(*size)
                };
                return Ok(());
            }
            (Part::Ext, _) => Part::Ext,
            (Part::Lead | Part::Digits, _) if b.is_ascii_hexdigit() => {
                let d = u64::from((b as char).to_digit(16).unwrap_or(0));
                *size = size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(d))
                    .ok_or(())?;
                Part::Digits
            }
            (Part::Lead, b' ' | b'\t') => Part::Lead,
            (Part::Digits | Part::Tail, b' ' | b'\t' | b'\r') => Part::Tail,
            (Part::Digits | Part::Tail, b';') => Part::Ext,
            _ => return Err(()),
        };
        *part = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step`, returning the payload and whether it ended.
    fn run(framing: Framing, input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ()> {
        let mut f = BodyFramer::new(framing).ok_or(())?;
        let mut payload = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            let (n, done) = f.feed(piece, &mut |at, len| {
                payload.extend_from_slice(&piece[at..at + len])
            })?;
            used += n;
            if done {
                return Ok((payload, used, true));
            }
        }
        Ok((payload, used, false))
    }

    #[test]
    fn chunked_bodies_at_every_piece_size() {
        let body = b"5;ext=1\r\nhello\r\n 3 \r\nabc\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (p, used, done) = run(Framing::Chunked, body, step).expect("frames");
            assert_eq!(p, b"helloabc");
            assert!(done);
            assert!(used <= body.len());
        }
        let (_, used, _) = run(Framing::Chunked, body, body.len()).expect("frames");
        assert_eq!(&body[used..], b"NEXT");
    }

    #[test]
    fn length_and_close_bodies() {
        assert_eq!(
            run(Framing::Length(3), b"abcdef", 2).map(|r| (r.0, r.2)),
            Ok((b"abc".to_vec(), true))
        );
        assert_eq!(
            run(Framing::UntilClose, b"abcdef", 4).map(|r| (r.0, r.2)),
            Ok((b"abcdef".to_vec(), false))
        );
        assert!(BodyFramer::new(Framing::Empty).is_none());
    }

    #[test]
    fn broken_chunking_is_an_error() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"1 2\r\n",
            b"3\r\nabcX",
            b"fffffffffffffffff\r\n",
        ] {
            assert!(run(Framing::Chunked, bad, 1).is_err(), "{bad:?}");
        }
        let long = vec![b'1'; 2000];
        assert!(run(Framing::Chunked, &long, 7).is_err());
    }
}
