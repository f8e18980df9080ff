//! A bounded little-endian cursor over one payload, and the error the decoders return.
//!
//! The cursor is the shared [`wire::Reader`] (every read checks the bytes left first,
//! so a truncated or hostile payload ends in an error value, never a panic); this adds
//! RDP's byte order, its text fields and the [`ParseError`] wording.

use crate::decode::names::{utf16_text, wire_text};
use crate::decode::wire::{self, Short};
use std::fmt;

/// Longest text kept from any wire string; longer names are cut, not rejected.
pub const MAX_TEXT_CHARS: usize = 256;

/// Why a PDU could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The structure being read, e.g. "Client Info" (empty until a caller names it).
    pub what: &'static str,
    /// What was wrong, in plain English.
    pub reason: String,
}

impl ParseError {
    /// A structural problem other than truncation.
    pub fn new(reason: impl Into<String>) -> Self {
        ParseError {
            what: "",
            reason: reason.into(),
        }
    }

    /// Names the structure, unless a deeper decoder already did.
    pub fn within(mut self, what: &'static str) -> Self {
        if self.what.is_empty() {
            self.what = what;
        }
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

/// The result of one decoding step.
pub type Parsed<T> = Result<T, ParseError>;

impl From<Short> for ParseError {
    /// The PDU decoders' words for a read past the end, which event files keep.
    fn from(s: Short) -> Self {
        ParseError::new(format!(
            "truncated at byte {}: {} more bytes needed, {} left",
            s.at, s.need, s.left
        ))
    }
}

/// A read cursor that refuses to run past the end of its slice: the shared
/// [`wire::Reader`], little-endian as RDP is, with errors as [`ParseError`]s.
#[derive(Debug, Clone)]
pub struct Reader<'a>(wire::Reader<'a>);

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader(wire::Reader::new(buf))
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.0.offset()
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.0.remaining()
    }

    /// The next `n` bytes, consumed.
    pub fn take(&mut self, n: usize) -> Parsed<&'a [u8]> {
        Ok(self.0.take(n)?)
    }

    /// The next `n` bytes as a length taken from the wire (any unsigned width).
    pub fn take_len(&mut self, n: impl TryInto<usize>) -> Parsed<&'a [u8]> {
        match n.try_into() {
            Ok(n) => self.take(n),
            Err(_) => Err(ParseError::new("a length field does not fit in memory")),
        }
    }

    /// Skips `n` bytes without looking at them (used for secrets and padding).
    pub fn skip(&mut self, n: usize) -> Parsed<()> {
        Ok(self.0.skip(n)?)
    }

    /// Everything left, consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        self.0.rest()
    }

    /// One byte.
    pub fn u8(&mut self) -> Parsed<u8> {
        Ok(self.0.u8()?)
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> Parsed<u16> {
        Ok(self.0.u16_le()?)
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Parsed<u32> {
        Ok(self.0.u32_le()?)
    }

    /// `n` bytes of UTF-16LE text, cut at the first NUL and at [`MAX_TEXT_CHARS`].
    pub fn utf16(&mut self, n: impl TryInto<usize>) -> Parsed<String> {
        Ok(utf16_text(self.take_len(n)?, MAX_TEXT_CHARS))
    }

    /// `n` bytes of ANSI text, cut at the first NUL and at [`MAX_TEXT_CHARS`].
    pub fn ansi(&mut self, n: impl TryInto<usize>) -> Parsed<String> {
        Ok(ansi_text(self.take_len(n)?))
    }
}

/// Renders ANSI/ASCII wire text up to its first NUL, escaped and bounded.
pub fn ansi_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    wire_text(bytes.get(..end).unwrap_or(bytes), MAX_TEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5]);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(
            r.u32().map_err(|e| e.reason.contains("truncated")),
            Err(true)
        );
        // A failed read consumes nothing.
        assert_eq!(r.pos(), 2);
        assert_eq!(r.u8(), Ok(3));
        assert!(r.take(usize::MAX).is_err());
        assert!(r.take_len(u32::MAX).is_err());
        assert_eq!(r.rest(), &[4, 5]);
        assert_eq!(r.remaining(), 0);
        assert!(r.u8().is_err());
    }

    #[test]
    fn text_is_cut_at_nul() {
        let mut r = Reader::new(b"ab\0cd\x41\x00\x42\x00\x00\x00");
        assert_eq!(r.ansi(5).as_deref(), Ok("ab"));
        assert_eq!(r.utf16(6).as_deref(), Ok("AB"));
        assert_eq!(ansi_text(b"x\n"), "x\\n");
    }

    #[test]
    fn errors_keep_the_innermost_name() {
        let e = ParseError::new("bad").within("inner").within("outer");
        assert_eq!(e.to_string(), "inner: bad");
    }
}
