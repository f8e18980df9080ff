//! The most recent bytes delivered in one direction, kept so that a retransmission of
//! already-delivered data can be compared with the first copy. Grows with the stream up to
//! its bound, charged to a budget shared by all directions.

use std::collections::VecDeque;

/// Recently delivered bytes, ending at stream offset `end`.
#[derive(Debug, Default)]
pub(super) struct History {
    bytes: VecDeque<u8>,
    end: u64,
}

/// Where a retransmission differs from the first copy, and how much of it could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Comparison {
    /// Stream offsets of the first differing byte and one past the last.
    pub(super) differs: Option<(u64, u64)>,
    /// Bytes older than what is kept.
    pub(super) unverified: u64,
}

impl History {
    /// Stream offset of the oldest byte kept.
    fn start(&self) -> u64 {
        self.end - self.bytes.len() as u64
    }

    /// Forgets everything and continues at `offset` (after a gap the stream is not
    /// contiguous).
    pub(super) fn restart_at(&mut self, offset: u64) {
        self.bytes.clear();
        self.end = offset;
    }

    /// Appends `data`, delivered at stream offset `offset`, keeping at most `cap` bytes;
    /// `charged` is the budget's running total and `limit` its bound.
    pub(super) fn push(
        &mut self,
        offset: u64,
        data: &[u8],
        cap: usize,
        charged: &mut usize,
        limit: usize,
    ) {
        if offset != self.end {
            self.restart_at(offset);
        }
        self.end = offset + data.len() as u64;
        if cap == 0 {
            return;
        }
        let want = (self.bytes.len() + data.len()).min(cap);
        if want > self.bytes.capacity() {
            let before = self.bytes.capacity();
            // Grow by doubling so a long stream reaches the bound in few steps.
            let target = want.max(before.saturating_mul(2)).min(cap);
            if charged.saturating_add(target - before) <= limit {
                self.bytes.reserve_exact(target - self.bytes.len());
                *charged += self.bytes.capacity().saturating_sub(before);
            }
        }
        let room = self.bytes.capacity().min(cap);
        if room == 0 {
            return;
        }
        let data = &data[data.len().saturating_sub(room)..];
        let excess = (self.bytes.len() + data.len()).saturating_sub(room);
        self.bytes.drain(..excess);
        self.bytes.extend(data);
    }

    /// Compares `data`, retransmitted at stream offset `offset`, with what was delivered.
    pub(super) fn compare(&self, offset: u64, data: &[u8]) -> Comparison {
        let end = offset + data.len() as u64;
        let lo = offset.max(self.start());
        let hi = end.min(self.end);
        let mut result = Comparison {
            differs: None,
            unverified: data.len() as u64,
        };
        if lo >= hi {
            return result;
        }
        result.unverified -= hi - lo;
        let kept_from = (lo - self.start()) as usize;
        let new_from = (lo - offset) as usize;
        let len = (hi - lo) as usize;
        let (a, b) = self.bytes.as_slices();
        let mut first = None;
        let mut last = 0;
        // The kept bytes may wrap around in the ring: compare against both halves.
        for (part_start, part) in [(0usize, a), (a.len(), b)] {
            let from = kept_from.max(part_start);
            let to = (kept_from + len).min(part_start + part.len());
            if from >= to {
                continue;
            }
            let kept = &part[from - part_start..to - part_start];
            let fresh = &data[new_from + (from - kept_from)..new_from + (to - kept_from)];
            if kept != fresh {
                for (j, (x, y)) in kept.iter().zip(fresh).enumerate() {
                    if x != y {
                        let at = from - kept_from + j;
                        first.get_or_insert(at);
                        last = at;
                    }
                }
            }
        }
        if let Some(first) = first {
            result.differs = Some((lo + first as u64, lo + last as u64 + 1));
        }
        result
    }

    /// Memory to hand back to the budget when the direction's state goes.
    pub(super) fn allocated(&self) -> usize {
        self.bytes.capacity()
    }
}
