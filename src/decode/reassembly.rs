//! Bounded frame reassembly shared by every framed layer.
//!
//! A framer only answers "how long is the frame starting here?"; this buffer does the
//! rest. Whole frames inside one chunk are handed out straight from the chunk, so the
//! common case copies nothing; only a frame split across chunks is buffered, and never
//! beyond `max_frame` bytes, so hostile length fields cannot make us allocate.

/// What a framer says about the bytes at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// Not enough bytes yet to know (or to hold) the whole frame.
    Incomplete,
    /// A whole frame of this many bytes starts here.
    Frame(usize),
    /// A frame of this total length starts here, but it is not all here yet.
    Needs(usize),
    /// These bytes cannot be the start of a frame of this layer.
    Invalid(String),
}

/// What the frame handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep framing with the same framer.
    Continue,
    /// Stop here: the bytes after this frame belong to another layer.
    Stop,
}

/// The result of one [`Reassembler::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Every byte was consumed or is buffered awaiting the rest of its frame.
    Consumed,
    /// The handler returned [`Step::Stop`]; these bytes followed the last frame.
    Stopped {
        /// The unconsumed bytes, to be fed to the next layer.
        rest: Vec<u8>,
    },
    /// The framer rejected the bytes at this stream offset.
    Invalid {
        /// Stream offset of the frame that was rejected.
        offset: u64,
        /// The framer's reason.
        reason: String,
    },
}

/// Splits a byte stream into frames with bounded buffering.
#[derive(Debug)]
pub struct Reassembler {
    buf: Vec<u8>,
    max_frame: usize,
    offset: u64,
}

impl Reassembler {
    /// A reassembler that refuses frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Reassembler {
            buf: Vec::new(),
            max_frame,
            offset: 0,
        }
    }

    /// Stream offset of the next byte not yet handed out as part of a frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The start of the frame waiting for its rest (empty when none is).
    pub fn held(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes held while waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feed the next chunk; `on_frame` gets each whole frame with its stream offset.
    pub fn push(
        &mut self,
        data: &[u8],
        framer: impl Fn(&[u8]) -> Hint,
        on_frame: impl FnMut(u64, &[u8]) -> Step,
    ) -> Pushed {
        if self.buf.is_empty() {
            return self.run(data, framer, on_frame);
        }
        // A frame began in an earlier chunk: join, frame, and keep only the tail. The
        // held part is at most one frame, so this stays bounded.
        let mut joined = std::mem::take(&mut self.buf);
        joined.extend_from_slice(data);
        self.run(&joined, framer, on_frame)
    }

    fn run(
        &mut self,
        mut data: &[u8],
        framer: impl Fn(&[u8]) -> Hint,
        mut on_frame: impl FnMut(u64, &[u8]) -> Step,
    ) -> Pushed {
        loop {
            if data.is_empty() {
                return Pushed::Consumed;
            }
            match self.check(framer(data), data.len()) {
                Ok(Some(len)) if len <= data.len() => {
                    let at = self.offset;
                    self.offset += len as u64;
                    let (frame, tail) = data.split_at(len);
                    data = tail;
                    if on_frame(at, frame) == Step::Stop {
                        return Pushed::Stopped {
                            rest: data.to_vec(),
                        };
                    }
                }
                Ok(_) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(data);
                    return Pushed::Consumed;
                }
                Err(reason) => return self.invalid(reason),
            }
        }
    }

    /// Turns a hint into a wanted length (None = unknown yet), enforcing the bound.
    fn check(&self, hint: Hint, have: usize) -> Result<Option<usize>, String> {
        match hint {
            Hint::Incomplete => {
                if have >= self.max_frame {
                    Err(format!(
                        "no frame boundary found within {} bytes",
                        self.max_frame
                    ))
                } else {
                    Ok(None)
                }
            }
            Hint::Frame(0) | Hint::Needs(0) => Err("zero-length frame".to_string()),
            Hint::Frame(n) | Hint::Needs(n) => {
                if n > self.max_frame {
                    Err(format!(
                        "frame of {n} bytes exceeds the {} byte limit",
                        self.max_frame
                    ))
                } else {
                    Ok(Some(n))
                }
            }
            Hint::Invalid(r) => Err(r),
        }
    }

    fn invalid(&mut self, reason: String) -> Pushed {
        // Drop what we held: the decoder stops for this stream and must not keep memory.
        self.buf = Vec::new();
        Pushed::Invalid {
            offset: self.offset,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy framer: first byte is the total frame length.
    fn len_prefixed(b: &[u8]) -> Hint {
        match b.first() {
            None => Hint::Incomplete,
            Some(0) => Hint::Invalid("zero".into()),
            Some(&n) if (n as usize) <= b.len() => Hint::Frame(n as usize),
            Some(&n) => Hint::Needs(n as usize),
        }
    }

    fn frames_of(chunks: &[&[u8]], max: usize) -> (Vec<Vec<u8>>, Pushed) {
        let mut r = Reassembler::new(max);
        let mut out = Vec::new();
        let mut last = Pushed::Consumed;
        for c in chunks {
            last = r.push(c, len_prefixed, |_, f| {
                out.push(f.to_vec());
                Step::Continue
            });
            if last != Pushed::Consumed {
                break;
            }
        }
        (out, last)
    }

    #[test]
    fn whole_frames_in_one_chunk() {
        let (f, p) = frames_of(&[&[2, 9, 3, 8, 8]], 16);
        assert_eq!(f, vec![vec![2, 9], vec![3, 8, 8]]);
        assert_eq!(p, Pushed::Consumed);
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let stream = [3u8, 1, 2, 1, 4, 7, 7, 7, 2, 5];
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let (f, _) = frames_of(&[a, b], 16);
            assert_eq!(f.len(), 4, "cut at {cut}");
        }
        let singles: Vec<&[u8]> = stream.chunks(1).collect();
        let (f, _) = frames_of(&singles, 16);
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn oversized_frame_is_refused() {
        let (_, p) = frames_of(&[&[200, 1, 2]], 16);
        assert!(matches!(p, Pushed::Invalid { .. }));
    }

    #[test]
    fn stop_returns_the_rest() {
        let mut r = Reassembler::new(16);
        let p = r.push(&[2, 0, 9, 9, 9], len_prefixed, |_, _| Step::Stop);
        assert_eq!(
            p,
            Pushed::Stopped {
                rest: vec![9, 9, 9]
            }
        );
        let mut r = Reassembler::new(16);
        assert_eq!(
            r.push(&[3, 0], len_prefixed, |_, _| Step::Stop),
            Pushed::Consumed
        );
        let p = r.push(&[0, 5, 5], len_prefixed, |_, _| Step::Stop);
        assert_eq!(p, Pushed::Stopped { rest: vec![5, 5] });
    }
}
