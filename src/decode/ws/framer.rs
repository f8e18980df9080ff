//! RFC 6455 frame headers: opcodes, the 2–14 byte header, and payload unmasking that
//! keeps its place across chunk boundaries.

use std::fmt;

/// Longest frame header: 2 bytes, 8-byte extended length, 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;
/// Largest payload of a control frame (close, ping, pong).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// A frame opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: UTF-8 text.
    Text,
    /// 0x2: binary data (MS-TSGU packets travel in these).
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
    /// Any reserved value (0x3–0x7, 0xB–0xF).
    Reserved(u8),
}

impl Opcode {
    /// Decodes the low four bits.
    pub fn from_u8(v: u8) -> Opcode {
        match v & 0x0F {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            o => Opcode::Reserved(o),
        }
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
            Opcode::Reserved(o) => o & 0x0F,
        }
    }

    /// True for close, ping, pong and the reserved control range 0xB–0xF.
    pub fn is_control(self) -> bool {
        self.to_u8() & 0x8 != 0
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opcode::Continuation => f.write_str("continuation"),
            Opcode::Text => f.write_str("text"),
            Opcode::Binary => f.write_str("binary"),
            Opcode::Close => f.write_str("close"),
            Opcode::Ping => f.write_str("ping"),
            Opcode::Pong => f.write_str("pong"),
            Opcode::Reserved(o) => write!(f, "reserved opcode 0x{o:x}"),
        }
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: the last frame of a message.
    pub fin: bool,
    /// RSV1–3 as a 3-bit value (must be 0 without extensions).
    pub rsv: u8,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub len: u64,
}

/// How many header bytes the frame starting with `b` needs (2 until the second byte is known).
pub fn header_len(b: &[u8]) -> usize {
    let Some(&b1) = b.get(1) else {
        return 2;
    };
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    2 + ext + mask
}

/// Parses a complete header (`b` holds at least [`header_len`] bytes).
///
/// None when bytes are missing; Err for a 64-bit length with its top bit set, which
/// RFC 6455 forbids and after which the stream cannot be followed.
pub fn parse_header(b: &[u8]) -> Option<Result<FrameHeader, String>> {
    let (&b0, &b1) = (b.first()?, b.get(1)?);
    let (len, at) = match b1 & 0x7F {
        126 => (
            u64::from(u16::from_be_bytes(b.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => {
            let len = u64::from_be_bytes(b.get(2..10)?.try_into().ok()?);
            if len >> 63 != 0 {
                return Some(Err(format!(
                    "64-bit payload length 0x{len:016x} has its most significant bit set"
                )));
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        Some(b.get(at..at + 4)?.try_into().ok()?)
    } else {
        None
    };
    Some(Ok(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode: Opcode::from_u8(b0),
        mask,
        len,
    }))
}

/// XORs payload bytes with a masking key, remembering where in the key it is so a
/// payload split across chunks unmasks the same as a whole one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmasker {
    key: [u8; 4],
    phase: usize,
}

impl Unmasker {
    /// Starts at the first payload byte.
    pub fn new(key: [u8; 4]) -> Self {
        Unmasker { key, phase: 0 }
    }

    /// Unmasks `buf` in place and moves the phase on by its length.
    pub fn apply(&mut self, buf: &mut [u8]) {
        // Eight bytes at a time with the key rotated to the current phase: a byte at a
        // time costs as much as the TLS decryption of the same bytes.
        let mut rotated = [0u8; 8];
        for (i, r) in rotated.iter_mut().enumerate() {
            *r = self.key[(self.phase + i) % 4];
        }
        let word = u64::from_ne_bytes(rotated);
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            c.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
        }
        for b in chunks.into_remainder() {
            *b ^= self.key[self.phase];
            self.phase = (self.phase + 1) % 4;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths_and_parsing() {
        assert_eq!(header_len(&[0x82]), 2);
        assert_eq!(header_len(&[0x82, 0x05]), 2);
        assert_eq!(header_len(&[0x82, 0x85]), 6);
        assert_eq!(header_len(&[0x82, 126]), 4);
        assert_eq!(header_len(&[0x82, 0xFF]), 14);
        let h = parse_header(&[0x82, 126, 0x01, 0x00]);
        assert_eq!(
            h,
            Some(Ok(FrameHeader {
                fin: true,
                rsv: 0,
                opcode: Opcode::Binary,
                mask: None,
                len: 256
            }))
        );
        let mut b = vec![0x02, 0xFF];
        b.extend_from_slice(&(1u64 << 40).to_be_bytes());
        b.extend_from_slice(&[1, 2, 3, 4]);
        let h = parse_header(&b).and_then(Result::ok);
        assert_eq!(
            h.map(|h| (h.fin, h.len, h.mask)),
            Some((false, 1 << 40, Some([1, 2, 3, 4])))
        );
        let mut b = vec![0x82, 0x7F];
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(parse_header(&b), Some(Err(_))));
        assert_eq!(parse_header(&[0x82, 0x85, 1]), None);
    }

    #[test]
    fn unmasking_keeps_its_phase() {
        let key = [1, 2, 3, 4];
        let mut whole = *b"hello world";
        Unmasker::new(key).apply(&mut whole);
        for cut in 0..=whole.len() {
            let mut b = whole;
            let mut u = Unmasker::new(key);
            let (x, y) = b.split_at_mut(cut);
            u.apply(x);
            u.apply(y);
            assert_eq!(&b, b"hello world");
        }
        assert!(Opcode::Ping.is_control());
        assert!(Opcode::Reserved(0xB).is_control());
        assert!(!Opcode::Reserved(0x3).is_control());
        assert_eq!(Opcode::from_u8(0x8A), Opcode::Pong);
    }
}
