//! The TLS record framer: splits one direction's stream into record headers and bodies.
//!
//! This sits on the hot path for the whole life of a connection, so it never copies or
//! buffers a record body: it hands out slices of the caller's chunk and keeps only a
//! "bytes left in this record" counter between chunks. The one thing it ever holds is a
//! 5-byte header that was split across chunks.

/// Content type of a ChangeCipherSpec record.
pub const CT_CHANGE_CIPHER_SPEC: u8 = 0x14;
/// Content type of an alert record.
pub const CT_ALERT: u8 = 0x15;
/// Content type of a handshake record.
pub const CT_HANDSHAKE: u8 = 0x16;
/// Content type of an application-data record.
pub const CT_APPLICATION_DATA: u8 = 0x17;
/// Content type of a heartbeat record.
pub const CT_HEARTBEAT: u8 = 0x18;

/// Length of a record header: type u8, legacy_version u16, length u16.
pub const HEADER_LEN: usize = 5;

/// Largest record length field we accept: 2^14 plaintext plus 2048 bytes of expansion,
/// the TLS 1.2 ciphertext limit (TLS 1.3 allows only 2^14 + 256, so this covers both).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// A parsed, validated record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The outer content type (0x14..=0x18).
    pub content_type: u8,
    /// The record's legacy_version field.
    pub version: u16,
    /// The length of the record body.
    pub len: u16,
    /// Stream offset of the header's first byte.
    pub offset: u64,
}

/// One step of framing.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The chunk is used up; feed more.
    NeedMore,
    /// A record header was read; its body (if any) follows as [`Piece::Body`] pieces.
    Header(RecordHeader),
    /// The next bytes of the current record's body (the whole body when it fits).
    Body(&'a [u8]),
    /// The current record is complete.
    End(RecordHeader),
    /// The bytes at this offset cannot be a record header.
    Invalid {
        /// Stream offset of the bad header.
        offset: u64,
        /// What was wrong with it.
        reason: String,
    },
}

/// Per-direction framing state. Fixed size: nothing here grows with the input.
#[derive(Debug, Default)]
pub struct RecordFramer {
    /// Header bytes collected so far when a header straddles chunks.
    hdr: [u8; HEADER_LEN],
    hdr_len: usize,
    /// The record whose body we are in, if any.
    cur: Option<RecordHeader>,
    /// Body bytes of `cur` not yet handed out.
    left: usize,
    /// Stream offset of the next unconsumed byte.
    offset: u64,
}

impl RecordFramer {
    /// Stream offset of the next byte this framer has not consumed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The record currently being read, if the framer is inside one.
    pub fn current(&self) -> Option<RecordHeader> {
        self.cur
    }

    /// Where the stream would end in the middle of a record: the record's bytes read
    /// (header included) and its whole length; None between records.
    pub fn mid_record(&self) -> Option<(u64, u64)> {
        if self.hdr_len > 0 {
            return Some((self.hdr_len as u64, HEADER_LEN as u64));
        }
        let h = self.cur.filter(|_| self.left > 0)?;
        let whole = HEADER_LEN as u64 + u64::from(h.len);
        Some((whole - self.left as u64, whole))
    }

    /// Consumes bytes from the front of `data` and says what they were.
    pub fn next<'a>(&mut self, data: &mut &'a [u8]) -> Piece<'a> {
        if let Some(h) = self.cur {
            if self.left == 0 {
                self.cur = None;
                return Piece::End(h);
            }
            if data.is_empty() {
                return Piece::NeedMore;
            }
            let n = self.left.min(data.len());
            let (body, rest) = data.split_at(n);
            *data = rest;
            self.left -= n;
            self.offset += n as u64;
            return Piece::Body(body);
        }
        self.header(data)
    }

    fn header<'a>(&mut self, data: &mut &'a [u8]) -> Piece<'a> {
        let start = self.offset - self.hdr_len as u64;
        let raw: [u8; HEADER_LEN] = if self.hdr_len == 0 && data.len() >= HEADER_LEN {
            // Common case: the whole header is in this chunk; read it in place.
            let mut h = [0u8; HEADER_LEN];
            h.copy_from_slice(&data[..HEADER_LEN]);
            *data = &data[HEADER_LEN..];
            self.offset += HEADER_LEN as u64;
            h
        } else {
            let want = HEADER_LEN - self.hdr_len;
            let n = want.min(data.len());
            self.hdr[self.hdr_len..self.hdr_len + n].copy_from_slice(&data[..n]);
            *data = &data[n..];
            self.hdr_len += n;
            self.offset += n as u64;
            if self.hdr_len < HEADER_LEN {
                return Piece::NeedMore;
            }
            self.hdr_len = 0;
            self.hdr
        };
        match parse_header(&raw, start) {
            Ok(h) => {
                self.cur = Some(h);
                self.left = h.len as usize;
                Piece::Header(h)
            }
            Err(reason) => Piece::Invalid {
                offset: start,
                reason,
            },
        }
    }
}

/// Validates a record header; the reason says which field was wrong.
fn parse_header(raw: &[u8; HEADER_LEN], offset: u64) -> Result<RecordHeader, String> {
    let content_type = raw[0];
    let version = u16::from_be_bytes([raw[1], raw[2]]);
    let len = u16::from_be_bytes([raw[3], raw[4]]);
    if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&content_type) {
        return Err(format!(
            "not a TLS record: unknown content type 0x{content_type:02x}"
        ));
    }
    if raw[1] != 3 {
        return Err(format!(
            "not a TLS record: version 0x{version:04x} does not start with 3"
        ));
    }
    if len as usize > MAX_RECORD_LEN {
        return Err(format!(
            "TLS record length {len} exceeds the {MAX_RECORD_LEN} byte limit"
        ));
    }
    Ok(RecordHeader {
        content_type,
        version,
        len,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames a stream fed in the given chunks, returning (type, body) per record.
    fn frame(chunks: &[&[u8]]) -> (Vec<(u8, Vec<u8>)>, Option<u64>) {
        let mut f = RecordFramer::default();
        let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut body = Vec::new();
        for chunk in chunks {
            let mut d: &[u8] = chunk;
            loop {
                match f.next(&mut d) {
                    Piece::NeedMore => break,
                    Piece::Header(_) => body.clear(),
                    Piece::Body(b) => body.extend_from_slice(b),
                    Piece::End(h) => out.push((h.content_type, body.clone())),
                    Piece::Invalid { offset, .. } => return (out, Some(offset)),
                }
            }
        }
        (out, None)
    }

    #[test]
    fn records_split_anywhere() {
        let stream = [
            0x16, 3, 1, 0, 3, 1, 2, 3, // handshake, 3 bytes
            0x14, 3, 3, 0, 1, 1, // ccs
            0x17, 3, 3, 0, 0, // empty app data
            0x17, 3, 3, 0, 2, 9, 9,
        ];
        let want = vec![
            (0x16, vec![1, 2, 3]),
            (0x14, vec![1]),
            (0x17, vec![]),
            (0x17, vec![9, 9]),
        ];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let (got, err) = frame(&[&stream[..a], &stream[a..b], &stream[b..]]);
                assert_eq!(err, None);
                assert_eq!(got, want, "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn the_middle_of_a_record_says_how_much_of_it_came() {
        let mut f = RecordFramer::default();
        let mut feed = |b: &[u8]| {
            let mut d = b;
            while !matches!(f.next(&mut d), Piece::NeedMore) {}
            f.mid_record()
        };
        assert_eq!(feed(&[0x17, 3]), Some((2, 5)), "a cut header");
        assert_eq!(feed(&[3, 0, 4, 1]), Some((6, 9)), "a cut body");
        assert_eq!(feed(&[2, 3, 4]), None, "the record is whole");
    }

    #[test]
    fn bad_headers_are_refused_with_offset() {
        let (_, err) = frame(&[&[0x16, 3, 3, 0, 1, 0, 0x99, 3, 3, 0, 0]]);
        assert_eq!(err, Some(6));
        let (_, err) = frame(&[&[0x16, 2, 0, 0, 0]]);
        assert_eq!(err, Some(0));
        let (_, err) = frame(&[&[0x17, 3, 3, 0x48, 0x01]]);
        assert_eq!(err, Some(0));
        let (got, err) = frame(&[&[0x17, 3, 3, 0x48, 0x00]]);
        assert_eq!((got.len(), err), (0, None));
    }
}
