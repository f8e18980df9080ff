//! The client's WebSocket frames after a `101`: frame headers are read to find the
//! payload bytes of binary messages, which carry MS-TSGU packets, and their masking
//! key, so a scrubbed byte can be written to unmask to zero.

use super::packets::TsguScrub;
use super::Ctx;
use crate::decode::ws::framer::{header_len, parse_header, Opcode, MAX_HEADER_LEN};

/// Follows one direction's WebSocket frames.
#[derive(Debug, Default)]
pub(super) struct WsScrub {
    /// Header bytes of the next frame.
    header: Vec<u8>,
    /// Payload bytes left in the current frame.
    left: u64,
    /// The current frame's masking key.
    key: Option<[u8; 4]>,
    /// Payload bytes of the current frame read so far (the key position).
    done: u64,
    /// The current frame carries message data (binary, or its continuation).
    data: bool,
    /// The message being continued is binary.
    binary: bool,
    /// The packets inside.
    tsgu: TsguScrub,
    /// A frame header could not be read.
    broken: bool,
}

impl WsScrub {
    /// True once the frames (or the packets inside) could not be followed.
    pub(super) fn lost(&self) -> bool {
        self.broken || self.tsgu.off()
    }

    /// True once anything passed unredacted.
    pub(super) fn gave_up(&self) -> bool {
        self.broken || self.tsgu.gave_up()
    }

    /// The first stream offset that may still change.
    pub(super) fn pin(&self) -> Option<u64> {
        self.tsgu.pin()
    }

    /// Reads bytes starting at stream offset `at`.
    pub(super) fn feed(&mut self, at: u64, bytes: &[u8], ctx: &mut Ctx) {
        let mut pos = 0;
        while pos < bytes.len() && !self.lost() {
            let rest = bytes.get(pos..).unwrap_or(&[]);
            if self.left > 0 {
                let take = usize::try_from(self.left).map_or(rest.len(), |l| l.min(rest.len()));
                if self.data {
                    let mask = self.key.map(|k| (k, (self.done % 4) as usize));
                    let piece = rest.get(..take).unwrap_or(&[]);
                    self.tsgu.feed(at + pos as u64, piece, mask, ctx);
                }
                self.left -= take as u64;
                self.done += take as u64;
                pos += take;
                continue;
            }
            let need = header_len(&self.header).max(2);
            let take = (need - self.header.len().min(need)).min(rest.len());
            self.header
                .extend_from_slice(rest.get(..take).unwrap_or(&[]));
            pos += take;
            if self.header.len() < header_len(&self.header).max(2) {
                continue;
            }
            match parse_header(&self.header) {
                Some(Ok(h)) => {
                    self.data = match h.opcode {
                        Opcode::Binary => {
                            self.binary = true;
                            true
                        }
                        Opcode::Text => {
                            self.binary = false;
                            false
                        }
                        Opcode::Continuation => self.binary,
                        _ => false,
                    };
                    self.left = h.len;
                    self.key = h.mask;
                    self.done = 0;
                    self.header.clear();
                }
                _ => self.broken = true,
            }
            debug_assert!(self.header.len() <= MAX_HEADER_LEN);
        }
    }

    /// The stream ended: scrubs what is there of a held packet.
    pub(super) fn finish(&mut self, ctx: &mut Ctx) {
        self.tsgu.finish(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tsgu::packet::build;
    use crate::decode::tsgu::Caps;
    use crate::decode::ws::{encode_fragment, encode_frame};

    #[test]
    fn a_cookie_split_over_masked_frames_unmasks_to_zeros() {
        let packet = build::tunnel_create(Caps(0xd), Some("sekrit"));
        let (a, b) = packet.split_at(20);
        let mut wire = Vec::new();
        encode_fragment(false, Opcode::Binary, a, Some([1, 2, 3, 4]), &mut wire);
        encode_frame(Opcode::Ping, b"hi", Some([9, 9, 9, 9]), &mut wire);
        encode_fragment(true, Opcode::Continuation, b, Some([5, 6, 7, 8]), &mut wire);
        for step in 1..wire.len() {
            let mut ws = WsScrub::default();
            let mut ctx = Ctx::default();
            for (i, piece) in wire.chunks(step).enumerate() {
                ws.feed((i * step) as u64, piece, &mut ctx);
            }
            assert!(!ws.lost());
            assert_eq!(ctx.scrubbed, 1);
            let mut out = wire.clone();
            for e in &ctx.edits {
                let at = e.at as usize;
                out[at..at + e.data.len()].copy_from_slice(&e.data);
            }
            // Decode the frames again and check the cookie bytes unmask to zero.
            let mut dec = crate::decode::ws::WsDecoder::new(crate::vocab::Dir::C2S);
            let mut payload = Vec::new();
            dec.feed(&out, &mut Vec::new(), &mut |p: &[u8]| {
                payload.extend_from_slice(p)
            });
            assert_eq!(payload.len(), packet.len());
            let cookie = build::utf16z("sekrit");
            let at = packet
                .windows(cookie.len())
                .position(|w| w == cookie)
                .expect("cookie");
            assert!(payload[at..at + cookie.len()].iter().all(|&b| b == 0));
            assert_eq!(payload[..at], packet[..at]);
        }
    }
}
