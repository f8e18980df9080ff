//! TLS record framing over a byte stream fed in pieces of any size: one record at a time is
//! gathered into a bounded buffer, where it can then be decrypted in place.

use super::event::StopReason;

/// Bytes of a record header: content type, version, length.
pub(super) const HDR: usize = 5;

/// Largest record body accepted: TLS allows 2^14 bytes of plaintext plus 2048 of expansion
/// (RFC 5246 §6.2.3); anything claiming more is reported, never allocated.
pub const MAX_RECORD: usize = (1 << 14) + 2048;

/// Content types (RFC 8446 §5.1, RFC 6520 for heartbeat).
pub(super) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(super) const ALERT: u8 = 21;
pub(super) const HANDSHAKE: u8 = 22;
pub(super) const APPLICATION_DATA: u8 = 23;
pub(super) const HEARTBEAT: u8 = 24;

/// The result of offering bytes to the reader.
pub(super) enum Pull {
    /// Every byte offered was taken; no record is complete yet.
    NeedMore,
    /// A whole record is in the buffer (`record_mut`); call `done` when finished with it.
    Ready,
    /// The stream is not TLS (or breaks its limits) at this point.
    Bad(StopReason),
}

/// Gathers one record at a time from one direction's stream.
#[derive(Default)]
pub(super) struct RecordReader {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`, the header of the record being gathered.
    start: u64,
    /// Records completed so far.
    count: u64,
}

impl RecordReader {
    /// Takes bytes from the front of `input` until a record is complete or `input` is empty.
    pub fn pull(&mut self, input: &mut &[u8]) -> Pull {
        if self.buf.len() < HDR {
            self.take(input, HDR);
            if self.buf.len() < HDR {
                return Pull::NeedMore;
            }
        }
        let (content_type, version, len) = (
            self.buf[0],
            u16::from_be_bytes([self.buf[1], self.buf[2]]),
            u16::from_be_bytes([self.buf[3], self.buf[4]]),
        );
        if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content_type) || version >> 8 != 3 {
            return Pull::Bad(StopReason::NotTls {
                offset: self.start,
                content_type,
                version,
            });
        }
        if usize::from(len) > MAX_RECORD {
            return Pull::Bad(StopReason::RecordTooLarge {
                record: self.number(),
                offset: self.start,
                len,
            });
        }
        self.take(input, HDR + usize::from(len));
        if self.buf.len() == HDR + usize::from(len) {
            Pull::Ready
        } else {
            Pull::NeedMore
        }
    }

    fn take(&mut self, input: &mut &[u8], upto: usize) {
        let n = upto.saturating_sub(self.buf.len()).min(input.len());
        let (head, rest) = input.split_at(n);
        self.buf.extend_from_slice(head);
        *input = rest;
    }

    /// Lends out the buffer holding the complete record (header first); give it back with
    /// `give_back` so its capacity is reused.
    pub fn take_record(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Returns the buffer lent by `take_record`, and moves past that record.
    pub fn give_back(&mut self, mut buf: Vec<u8>) {
        self.start += buf.len() as u64;
        self.count += 1;
        buf.clear();
        self.buf = buf;
    }

    /// The bytes gathered for the current record, handed back without moving past it
    /// (the caller will offer them again later).
    pub fn unpull(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The content type of the gathered record (valid once `pull` said `Ready`).
    pub fn content_type(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    /// The number of the record being gathered, counting from 1.
    pub fn number(&self) -> u64 {
        self.count + 1
    }

    /// Records completed so far.
    pub fn completed(&self) -> u64 {
        self.count
    }

    /// Stream offset of the record being gathered.
    pub fn offset(&self) -> u64 {
        self.start
    }

    /// Bytes of an incomplete record held (at the end of the stream: a truncated record).
    pub fn partial(&self) -> usize {
        self.buf.len()
    }

    /// Frees the buffer once the direction has stopped.
    pub fn release(&mut self) {
        self.buf = Vec::new();
    }
}
