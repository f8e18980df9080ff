//! The reader's window onto the file: one large buffer filled by big reads, so blocks are
//! parsed in place and memory stays bounded by the largest block accepted.

use std::io::{self, Read};

/// The first read's size.
const MIN_READ: usize = 64 << 10;

/// Unread file bytes between `start` and `end` of `data`; `base` is the file offset of
/// `data[0]`.
pub(super) struct InputBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    base: u64,
    eof: bool,
    chunk: usize,
}

impl InputBuffer {
    /// An empty buffer that reads `chunk` bytes at a time.
    pub(super) fn new(chunk: usize) -> InputBuffer {
        InputBuffer {
            data: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            chunk: chunk.max(MIN_READ),
        }
    }

    /// File offset of the first unread byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The unread bytes.
    pub(super) fn available(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// The whole buffer, for turning positions handed out by [`InputBuffer::position`] back
    /// into slices.
    pub(super) fn data(&self) -> &[u8] {
        &self.data
    }

    /// Index in [`InputBuffer::data`] of the first unread byte; valid until the next fill.
    pub(super) fn position(&self) -> usize {
        self.start
    }

    /// Marks `n` unread bytes as read. The bytes stay in place until the next fill.
    pub(super) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Makes at least `n` unread bytes available unless the source ends first, and returns
    /// how many are available.
    pub(super) fn fill<R: Read>(&mut self, src: &mut R, n: usize) -> io::Result<usize> {
        while self.end - self.start < n && !self.eof {
            if self.data.len() - self.start < n || self.end == self.data.len() {
                self.make_room(n);
            }
            match src.read(&mut self.data[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k.min(self.data.len() - self.end),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Moves the unread bytes to the front and sizes the buffer to hold `n` of them plus a
    /// read's worth, shrinking it back after an unusually large block.
    fn make_room(&mut self, n: usize) {
        self.data.copy_within(self.start..self.end, 0);
        self.base += self.start as u64;
        self.end -= self.start;
        self.start = 0;
        // Reads start small and double up to the chunk size, so short inputs stay cheap and
        // long ones soon read a chunk at a time.
        let read_size = self
            .data
            .len()
            .saturating_mul(2)
            .clamp(MIN_READ, self.chunk);
        let want = n.max(self.end).saturating_add(read_size);
        if self.data.len() < want || self.data.len() > 2 * want {
            self.data.resize(want, 0);
            self.data.shrink_to(want);
        }
    }
}
