//! One direction's bytes between the moment they are fed and the moment they are
//! released: a queue of shared chunks, patched in place (copy on write) by edits.
//!
//! Nothing is copied while nothing is held: a chunk fed and released at once leaves as
//! the same `Bytes`. Small chunks fed while something is held are gathered into one
//! buffer, so a stream cut into tiny pieces cannot inflate the queue.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Chunks shorter than this are copied into the tail buffer while bytes are held.
const SMALL: usize = 1024;

/// Same-length replacement bytes at an absolute stream offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    /// Stream offset of the first replaced byte.
    pub at: u64,
    /// The bytes written there.
    pub data: Vec<u8>,
}

impl Edit {
    /// The offset just past the edit.
    fn end(&self) -> u64 {
        self.at.saturating_add(self.data.len() as u64)
    }
}

/// The held bytes of one direction.
#[derive(Debug, Default)]
pub(super) struct Lane {
    /// Held chunks in order, then `tail`.
    segs: VecDeque<Bytes>,
    /// Small chunks gathered after the last entry of `segs`.
    tail: BytesMut,
    /// Stream offset of the first held byte.
    base: u64,
    /// Bytes held (segs and tail).
    len: usize,
}

impl Lane {
    /// Stream offset just past the last byte fed.
    pub(super) fn end(&self) -> u64 {
        self.base.saturating_add(self.len as u64)
    }

    /// Bytes held now.
    pub(super) fn held(&self) -> usize {
        self.len
    }

    /// Appends a chunk.
    pub(super) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        if self.len > chunk.len() && chunk.len() < SMALL {
            self.tail.extend_from_slice(&chunk);
        } else {
            self.seal_tail();
            self.segs.push_back(chunk);
        }
    }

    /// Moves the tail buffer into the queue, so the next chunk goes after it.
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.segs.push_back(self.tail.split().freeze());
        }
    }

    /// Writes the edits into the held bytes; parts outside them are dropped (they
    /// cannot happen: scrubbers hold every byte they may still change).
    pub(super) fn apply(&mut self, edits: &mut [Edit]) {
        if edits.is_empty() {
            return;
        }
        edits.sort_by_key(|e| e.at);
        let mut start = self.base;
        for seg in self.segs.iter_mut() {
            let end = start + seg.len() as u64;
            if edits.iter().any(|e| e.at < end && e.end() > start) {
                let mut owned = BytesMut::from(&seg[..]);
                patch(&mut owned, start, edits);
                *seg = owned.freeze();
            }
            start = end;
        }
        patch(&mut self.tail, start, edits);
    }

    /// Hands out every held byte before stream offset `upto`, in order.
    pub(super) fn release(&mut self, upto: u64, out: &mut Vec<Bytes>) {
        let mut want = usize::try_from(upto.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.len);
        self.base = self.base.saturating_add(want as u64);
        self.len -= want;
        while want > 0 {
            let Some(front) = self.segs.front_mut() else {
                break;
            };
            if front.len() <= want {
                want -= front.len();
                if let Some(seg) = self.segs.pop_front() {
                    out.push(seg);
                }
            } else {
                out.push(front.split_to(want));
                want = 0;
            }
        }
        if want > 0 {
            let n = want.min(self.tail.len());
            out.push(self.tail.split_to(n).freeze());
        }
    }
}

/// Writes the parts of `edits` that fall in `buf`, which starts at stream offset `start`.
fn patch(buf: &mut [u8], start: u64, edits: &[Edit]) {
    let end = start + buf.len() as u64;
    for e in edits {
        if e.at >= end || e.end() <= start {
            continue;
        }
        let from = e.at.max(start);
        let to = e.end().min(end);
        let (Ok(dst), Ok(src)) = (usize::try_from(from - start), usize::try_from(from - e.at))
        else {
            continue;
        };
        let n = usize::try_from(to - from).unwrap_or(0);
        if let (Some(d), Some(s)) = (buf.get_mut(dst..dst + n), e.data.get(src..src + n)) {
            d.copy_from_slice(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(out: &[Bytes]) -> Vec<u8> {
        out.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn a_chunk_released_at_once_is_not_copied() {
        let mut lane = Lane::default();
        let chunk = Bytes::from_static(b"hello world");
        lane.push(chunk.clone());
        let mut out = Vec::new();
        lane.release(lane.end(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ptr(), chunk.as_ptr());
        assert_eq!(lane.held(), 0);
    }

    #[test]
    fn edits_span_chunks_and_the_tail() {
        let mut lane = Lane::default();
        lane.push(Bytes::from_static(b"0123"));
        lane.push(Bytes::from_static(b"4567"));
        lane.push(Bytes::from_static(b"89"));
        let mut edits = vec![
            Edit {
                at: 7,
                data: b"xyz".to_vec(),
            },
            Edit {
                at: 2,
                data: b"ab".to_vec(),
            },
            Edit {
                at: 100,
                data: b"gone".to_vec(),
            },
        ];
        lane.apply(&mut edits);
        let mut out = Vec::new();
        lane.release(5, &mut out);
        assert_eq!(joined(&out), b"01ab4");
        lane.release(lane.end(), &mut out);
        assert_eq!(joined(&out), b"01ab456xyz");
        assert_eq!(lane.end(), 10);
    }
}
