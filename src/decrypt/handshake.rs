//! Handshake message framing inside a direction's handshake records: messages may span
//! records and records may hold several messages. Only the bodies that are read (hellos and
//! KeyUpdate) are buffered; the rest, such as certificate chains, are only counted.

use super::names::HandshakeType;

/// Largest hello body buffered: a ClientHello's own length fields allow just under 2^17.
pub const MAX_HELLO: usize = 1 << 17;

/// One complete handshake message.
pub(super) struct Message {
    /// Its type.
    pub kind: u8,
    /// Its body length.
    pub len: u32,
    /// The body, for the types that are read; `None` for others, and for a hello over
    /// `MAX_HELLO` (then `too_large`).
    pub body: Option<Vec<u8>>,
    /// A message whose body should have been kept was over `MAX_HELLO`.
    pub too_large: bool,
}

/// Finds message boundaries in a direction's handshake bytes.
#[derive(Default)]
pub(super) struct HandshakeReader {
    header: [u8; 4],
    header_len: usize,
    remaining: usize,
    keep: bool,
    too_large: bool,
    body: Vec<u8>,
}

fn wanted(kind: u8) -> bool {
    matches!(
        kind,
        HandshakeType::CLIENT_HELLO | HandshakeType::SERVER_HELLO | HandshakeType::KEY_UPDATE
    )
}

impl HandshakeReader {
    /// Takes bytes from the front of `data`; the next complete message, if one completes.
    pub fn next(&mut self, data: &mut &[u8]) -> Option<Message> {
        if self.header_len < 4 {
            let n = (4 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            *data = &data[n..];
            if self.header_len < 4 {
                return None;
            }
            let len = u32::from_be_bytes([0, self.header[1], self.header[2], self.header[3]]);
            self.remaining = len as usize;
            self.keep = wanted(self.header[0]);
            self.too_large = self.keep && self.remaining > MAX_HELLO;
            self.body.clear();
        }
        let n = self.remaining.min(data.len());
        if self.keep && !self.too_large {
            self.body.extend_from_slice(&data[..n]);
        }
        *data = &data[n..];
        self.remaining -= n;
        if self.remaining > 0 {
            return None;
        }
        self.header_len = 0;
        let len = u32::from_be_bytes([0, self.header[1], self.header[2], self.header[3]]);
        let body = (self.keep && !self.too_large).then(|| std::mem::take(&mut self.body));
        Some(Message {
            kind: self.header[0],
            len,
            body,
            too_large: self.too_large,
        })
    }

    /// Forgets any partial message (at a key change, where messages may not straddle).
    pub fn reset(&mut self) {
        *self = HandshakeReader::default();
    }
}
