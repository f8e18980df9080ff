//! Out-of-order data of one direction: segments that arrived ahead of a hole, held until
//! the hole is filled or declared a gap. Held pieces never overlap; where a later copy
//! overlaps a held one, the held (first) copy is kept and a difference is reported.

use std::collections::BTreeMap;

/// Bytes of bookkeeping charged per held piece on top of its data, so that a flood of tiny
/// segments is bounded too.
pub(super) const PIECE_OVERHEAD: usize = 64;

/// Held pieces by stream offset.
#[derive(Debug, Default)]
pub(super) struct Ooo {
    pieces: BTreeMap<u64, Vec<u8>>,
    /// Data bytes held plus [`PIECE_OVERHEAD`] per piece.
    charged: usize,
}

impl Ooo {
    /// Stream offset of the first held piece.
    pub(super) fn first_start(&self) -> Option<u64> {
        self.pieces.keys().next().copied()
    }

    /// Memory charged for what is held.
    pub(super) fn charged(&self) -> usize {
        self.charged
    }

    /// Holds `data` at stream offset `start`, keeping held bytes where they overlap and
    /// calling `differs(offset, len)` for each overlap whose bytes differ. Returns the
    /// added charge and how many bytes overlapped held ones.
    pub(super) fn insert(
        &mut self,
        start: u64,
        data: &[u8],
        differs: &mut dyn FnMut(u64, u64),
    ) -> (usize, u64) {
        if data.is_empty() {
            return (0, 0);
        }
        let end = start + data.len() as u64;
        let mut overlapped = 0;
        let mut uncovered: Vec<(u64, u64)> = Vec::new();
        let mut pos = start;
        // The piece starting at or before `start` may reach into the new data.
        let before = self
            .pieces
            .range(..=start)
            .next_back()
            .map(|(k, v)| (*k, v));
        let overlapping = before.into_iter().chain(
            self.pieces
                .range(start.saturating_add(1)..end)
                .map(|(k, v)| (*k, v)),
        );
        for (k, held) in overlapping {
            let k_end = k + held.len() as u64;
            if k_end <= start {
                continue;
            }
            let lo = k.max(start);
            let hi = k_end.min(end);
            overlapped += hi - lo;
            if lo > pos {
                uncovered.push((pos, lo));
            }
            let old = &held[(lo - k) as usize..(hi - k) as usize];
            let new = &data[(lo - start) as usize..(hi - start) as usize];
            if old != new {
                let first = old.iter().zip(new).position(|(a, b)| a != b).unwrap_or(0);
                let last = old
                    .iter()
                    .zip(new)
                    .rposition(|(a, b)| a != b)
                    .unwrap_or(first);
                differs(lo + first as u64, (last - first + 1) as u64);
            }
            pos = pos.max(hi);
        }
        if pos < end {
            uncovered.push((pos, end));
        }
        let mut added = 0;
        for (lo, hi) in uncovered {
            let piece = data[(lo - start) as usize..(hi - start) as usize].to_vec();
            added += piece.len() + PIECE_OVERHEAD;
            self.pieces.insert(lo, piece);
        }
        self.charged += added;
        (added, overlapped)
    }

    /// Removes and returns the first piece if it starts at or before `at`, with the memory
    /// that frees.
    pub(super) fn pop_if_at_or_before(&mut self, at: u64) -> Option<(u64, Vec<u8>, usize)> {
        let first = self.first_start()?;
        if first > at {
            return None;
        }
        let (start, piece) = self.pieces.pop_first()?;
        let freed = piece.len() + PIECE_OVERHEAD;
        self.charged -= freed;
        Some((start, piece, freed))
    }

    /// Stream offset of the last held piece.
    pub(super) fn last_start(&self) -> Option<u64> {
        self.pieces.keys().next_back().copied()
    }

    /// Removes the last piece, returning its length and the memory that frees.
    pub(super) fn pop_last(&mut self) -> Option<(usize, usize)> {
        let (_, piece) = self.pieces.pop_last()?;
        let freed = piece.len() + PIECE_OVERHEAD;
        self.charged -= freed;
        Some((piece.len(), freed))
    }

    /// Drops everything, returning the memory that frees.
    pub(super) fn clear(&mut self) -> usize {
        self.pieces.clear();
        std::mem::take(&mut self.charged)
    }
}
