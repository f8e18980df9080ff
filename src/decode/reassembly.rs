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
///
/// Holding a frame costs only the bytes that arrive for it: a chunk that does not
/// complete the held frame is appended, never joined with the held bytes into a new
/// buffer, so a frame delivered one byte at a time costs linear, not quadratic, work.
#[derive(Debug)]
pub struct Reassembler {
    buf: Vec<u8>,
    max_frame: usize,
    offset: u64,
    /// Bytes copied into `buf` so far: the reassembly's own work, for tests and stats.
    copied: u64,
}

/// How far a held frame got with the bytes of one chunk.
enum Held {
    /// Every byte of the chunk was taken and the frame is still incomplete.
    Waiting,
    /// `buf` holds exactly one whole frame, completed with this many bytes of the chunk.
    Whole(usize),
}

/// The first step when a framer cannot yet say a held frame's length: enough for the
/// header of every framer here (TPKT 4, fast-path 3, MS-TSGU 8, preconnection 16).
const PEEK_STEP: usize = 64;

impl Reassembler {
    /// A reassembler that refuses frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Reassembler {
            buf: Vec::new(),
            max_frame,
            offset: 0,
            copied: 0,
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

    /// Bytes copied into the hold buffer since the start: at most every byte once.
    pub fn copied(&self) -> u64 {
        self.copied
    }

    /// Feed the next chunk; `on_frame` gets each whole frame with its stream offset.
    pub fn push(
        &mut self,
        data: &[u8],
        framer: impl Fn(&[u8]) -> Hint,
        mut on_frame: impl FnMut(u64, &[u8]) -> Step,
    ) -> Pushed {
        let mut data = data;
        if !self.buf.is_empty() {
            // A frame began in an earlier chunk: give it only the bytes it still needs,
            // then frame the rest of the chunk in place.
            let used = match self.fill_held(data, &framer) {
                Err(reason) => return self.invalid(reason),
                Ok(Held::Waiting) => return Pushed::Consumed,
                Ok(Held::Whole(used)) => used,
            };
            let frame = std::mem::take(&mut self.buf);
            let at = self.offset;
            self.offset += frame.len() as u64;
            data = data.get(used..).unwrap_or(&[]);
            if on_frame(at, &frame) == Step::Stop {
                return Pushed::Stopped {
                    rest: data.to_vec(),
                };
            }
        }
        self.run(data, framer, on_frame)
    }

    /// Appends to the held frame the bytes of `data` it still needs, and no more once
    /// its length is known. While the framer cannot tell the length yet, the held bytes
    /// grow geometrically, so asking it again stays linear over the whole frame.
    fn fill_held(&mut self, data: &[u8], framer: &impl Fn(&[u8]) -> Hint) -> Result<Held, String> {
        let mut used = 0;
        loop {
            let goal = match self.check(framer(&self.buf), self.buf.len())? {
                Some(len) if len <= self.buf.len() => {
                    // The frame ends inside the bytes just appended: hand the surplus
                    // back to the chunk. A framer that asked for more bytes than the
                    // frame turns out to have cannot give back bytes held earlier.
                    let surplus = self.buf.len() - len;
                    if surplus > used {
                        return Err(format!(
                            "frame length {len} is shorter than the {} bytes its framer needed to tell it",
                            self.buf.len() - used
                        ));
                    }
                    self.buf.truncate(len);
                    return Ok(Held::Whole(used - surplus));
                }
                Some(len) => len,
                None => self
                    .buf
                    .len()
                    .saturating_mul(2)
                    .max(PEEK_STEP)
                    .min(self.max_frame),
            };
            let rest = data.get(used..).unwrap_or(&[]);
            if rest.is_empty() {
                return Ok(Held::Waiting);
            }
            let take = goal.saturating_sub(self.buf.len()).min(rest.len());
            self.hold(rest.get(..take).unwrap_or(&[]), goal);
            used += take;
        }
    }

    /// Appends to the held bytes, reserving the whole frame at once when its length is
    /// known, so the buffer is never reallocated (or over-allocated) on the way.
    fn hold(&mut self, bytes: &[u8], frame_len: usize) {
        self.buf
            .reserve_exact(frame_len.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(bytes);
        self.copied += bytes.len() as u64;
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
                Ok(want) => {
                    self.buf.clear();
                    self.hold(data, want.unwrap_or(0));
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

    /// A TPKT-like framer (4-byte header, u16 big-endian length) that counts its calls.
    fn counted(calls: &std::cell::Cell<u64>) -> impl Fn(&[u8]) -> Hint + '_ {
        move |b: &[u8]| {
            calls.set(calls.get() + 1);
            match b.get(2..4) {
                None => Hint::Incomplete,
                Some(l) => {
                    let n = usize::from(u16::from_be_bytes([l[0], l[1]]));
                    if n <= b.len() {
                        Hint::Frame(n)
                    } else {
                        Hint::Needs(n)
                    }
                }
            }
        }
    }

    /// Feeds `frame` in pieces of `piece` bytes; returns the frames handed out, the
    /// bytes copied into the hold buffer and the framer calls.
    fn trickle(frame: &[u8], piece: usize) -> (usize, u64, u64) {
        let calls = std::cell::Cell::new(0);
        let framer = counted(&calls);
        let mut r = Reassembler::new(65535);
        let mut frames = 0;
        for p in frame.chunks(piece) {
            let pushed = r.push(p, &framer, |_, f| {
                assert_eq!(f, frame);
                frames += 1;
                Step::Continue
            });
            assert_eq!(pushed, Pushed::Consumed);
        }
        assert_eq!(r.buffered(), 0);
        (frames, r.copied(), calls.get())
    }

    fn frame_of(len: usize) -> Vec<u8> {
        let mut f = vec![3, 0];
        f.extend_from_slice(&(len as u16).to_be_bytes());
        f.extend((4..len).map(|i| i as u8));
        f
    }

    #[test]
    fn a_frame_in_one_byte_pieces_costs_linear_work() {
        // Each byte is copied into the hold buffer once and the framer is asked a
        // bounded number of times per piece, whatever the frame's size: 16 KiB and
        // 64 KiB cost the same per byte.
        for len in [16 * 1024, 65535] {
            let frame = frame_of(len);
            let (frames, copied, calls) = trickle(&frame, 1);
            assert_eq!(frames, 1);
            assert_eq!(copied, len as u64, "{len}-byte frame");
            assert!(
                calls <= 2 * len as u64,
                "{calls} framer calls for {len} pieces"
            );
        }
    }

    #[test]
    fn held_bytes_are_not_copied_again_for_any_piece_size() {
        let frame = frame_of(65535);
        for piece in [2, 3, 7, 100, 4096, 65534] {
            let (frames, copied, _) = trickle(&frame, piece);
            assert_eq!(frames, 1, "piece {piece}");
            // The last piece completes the frame from the hold buffer; no byte is
            // copied twice.
            assert!(
                copied <= frame.len() as u64,
                "piece {piece}: {copied} copied"
            );
        }
    }

    #[test]
    fn a_frame_ending_inside_the_peek_hands_back_the_rest() {
        // A framer that needs two header bytes (a big-endian total length). One byte
        // is held; the next chunk holds the rest of a 5-byte frame and two whole frames
        // after it: the held frame keeps only its own bytes, the others are framed in
        // place.
        let be16 = |b: &[u8]| match b.get(..2) {
            None => Hint::Incomplete,
            Some(l) => {
                let n = usize::from(u16::from_be_bytes([l[0], l[1]]));
                if n <= b.len() {
                    Hint::Frame(n)
                } else {
                    Hint::Needs(n)
                }
            }
        };
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        r.push(&[0], be16, |at, f| {
            out.push((at, f.to_vec()));
            Step::Continue
        });
        let p = r.push(&[5, 1, 2, 3, 0, 2, 0, 3, 8], be16, |at, f| {
            out.push((at, f.to_vec()));
            Step::Continue
        });
        assert_eq!(p, Pushed::Consumed);
        assert_eq!(
            out,
            vec![
                (0, vec![0, 5, 1, 2, 3]),
                (5, vec![0, 2]),
                (7, vec![0, 3, 8])
            ]
        );
        // One byte held, then the peek took the whole chunk; nothing after that.
        assert_eq!(r.copied(), 10);
        assert_eq!(r.offset(), 10);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn an_unbounded_frame_is_refused_at_the_limit_in_any_pieces() {
        let never = |_: &[u8]| Hint::Incomplete;
        for piece in [1, 5, 16, 40] {
            let mut r = Reassembler::new(32);
            let mut last = Pushed::Consumed;
            for p in [0u8; 64].chunks(piece) {
                last = r.push(p, never, |_, _| Step::Continue);
                if last != Pushed::Consumed {
                    break;
                }
            }
            assert!(
                matches!(&last, Pushed::Invalid { reason, .. } if reason.contains("32 bytes")),
                "piece {piece}: {last:?}"
            );
            assert_eq!(r.buffered(), 0);
        }
    }

    proptest::proptest! {
        /// Any frames cut at any points come out whole and in order, no byte is held
        /// twice, and no more than one frame is ever held.
        #[test]
        fn any_cuts_give_the_same_frames_with_linear_copying(
            lens in proptest::collection::vec(1u8..=40, 1..30),
            cuts in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let frames: Vec<Vec<u8>> = lens
                .iter()
                .map(|&n| (0..n).map(|i| if i == 0 { n } else { i }).collect())
                .collect();
            let stream = frames.concat();
            let mut r = Reassembler::new(40);
            let mut got = Vec::new();
            let (mut at, mut i) = (0, 0);
            while at < stream.len() {
                let n = cuts[i % cuts.len()].min(stream.len() - at);
                let p = r.push(&stream[at..at + n], len_prefixed, |_, f| {
                    got.push(f.to_vec());
                    Step::Continue
                });
                proptest::prop_assert_eq!(p, Pushed::Consumed);
                proptest::prop_assert!(r.buffered() < 40);
                at += n;
                i += 1;
            }
            proptest::prop_assert_eq!(got, frames);
            proptest::prop_assert!(r.copied() <= stream.len() as u64);
        }
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
