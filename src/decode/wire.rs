//! Bounds-checked reads from untrusted bytes: [`Reader`], the one cursor the binary
//! decoders read through, and fixed-width integers at an offset.
//!
//! Every read checks the bytes left first, so a truncated or hostile input ends in a
//! [`Short`], never a panic, and nothing is allocated. A [`Short`] carries the facts
//! only; each decoder words it in its own error, whose text users' event files keep.

/// A read that ran past the end of a [`Reader`]'s bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    /// Where the read started, counted from the start of the reader's bytes.
    pub at: usize,
    /// How many bytes the read needed.
    pub need: usize,
    /// How many bytes were left.
    pub left: usize,
    /// How many bytes the reader holds in all.
    pub len: usize,
}

/// The result of one read.
pub type Read<T> = Result<T, Short>;

/// The width and byte order of a length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// One byte.
    U8,
    /// Two bytes, little-endian.
    U16Le,
    /// Two bytes, big-endian.
    U16Be,
    /// Three bytes, big-endian (TLS handshake vectors).
    U24Be,
    /// Four bytes, little-endian.
    U32Le,
}

/// A read cursor that refuses to run past the end of its slice.
///
/// A failed read consumes nothing.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, at: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.at
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.at)
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes left, without consuming them.
    pub fn unread(&self) -> &'a [u8] {
        self.buf.get(self.at..).unwrap_or(&[])
    }

    /// The next `n` bytes, consumed.
    pub fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let end = self.at.checked_add(n);
        match end.and_then(|e| self.buf.get(self.at..e).map(|s| (s, e))) {
            Some((s, e)) => {
                self.at = e;
                Ok(s)
            }
            None => Err(Short {
                at: self.at,
                need: n,
                left: self.remaining(),
                len: self.buf.len(),
            }),
        }
    }

    /// Skips `n` bytes without looking at them (padding, or secrets never kept).
    pub fn skip(&mut self, n: usize) -> Read<()> {
        self.take(n).map(|_| ())
    }

    /// Everything left, consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = self.unread();
        self.at = self.buf.len();
        s
    }

    /// A reader over the next `n` bytes, consumed from this one.
    pub fn sub(&mut self, n: usize) -> Read<Reader<'a>> {
        self.take(n).map(Reader::new)
    }

    /// A length in `prefix`'s form, then that many bytes.
    ///
    /// When the bytes fall short, the [`Short`] is about them (where they would start,
    /// after the prefix), though nothing is consumed.
    pub fn prefixed(&mut self, prefix: Prefix) -> Read<&'a [u8]> {
        let start = self.at;
        let len = match prefix {
            Prefix::U8 => usize::from(self.u8()?),
            Prefix::U16Le => usize::from(self.u16_le()?),
            Prefix::U16Be => usize::from(self.u16_be()?),
            Prefix::U24Be => widen(self.u24_be()?),
            Prefix::U32Le => widen(self.u32_le()?),
        };
        self.take(len).inspect_err(|_| self.at = start)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        let b = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Read<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self) -> Read<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// A big-endian u16.
    pub fn u16_be(&mut self) -> Read<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian 24-bit integer.
    pub fn u24_be(&mut self) -> Read<u32> {
        self.array::<3>()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self) -> Read<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// A big-endian u32.
    pub fn u32_be(&mut self) -> Read<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// A little-endian u64.
    pub fn u64_le(&mut self) -> Read<u64> {
        self.array().map(u64::from_le_bytes)
    }
}

/// A wire length as a usize; one that does not fit can never be satisfied anyway.
fn widen(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A reader whose cursor stands at `at` (past the end: every read fails).
fn cursor_at(buf: &[u8], at: usize) -> Reader<'_> {
    Reader { buf, at }
}

/// The big-endian u16 at `at`, if present.
pub fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    cursor_at(b, at).u16_be().ok()
}

/// The little-endian u16 at `at`, if present.
pub fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    cursor_at(b, at).u16_le().ok()
}

/// The little-endian u32 at `at`, if present.
pub fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    cursor_at(b, at).u32_le().ok()
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
