//! Finds MS-TSGU packet boundaries in a byte stream (chunked bodies or WebSocket
//! payloads), whatever the chunk splits: a packet may span chunks and a chunk may
//! hold several packets.

use super::packet::{parse_header, DATA_HEADER_LEN};
use super::{PacketType, HEADER_LEN};
use crate::decode::reassembly::{Hint, Pushed, Reassembler, Step};
use crate::decode::wire::le_u16;

/// Largest DATA packet: header, cbDataLen and a full 65535-byte payload.
pub const MAX_DATA_PACKET: usize = DATA_HEADER_LEN + u16::MAX as usize;
/// Largest packet of any other type; real ones are a few hundred bytes.
pub const MAX_OTHER_PACKET: usize = 64 * 1024;

/// Reassembles whole MS-TSGU packets from chunks, holding at most one partial packet.
///
/// Once the stream is unframeable (reserved field not zero, packetLength below 8 or
/// above the cap) it stops for good: [`TsguFramer::error`] says why, the buffer is
/// freed and later input is ignored, since there is no way to find the next header.
#[derive(Debug)]
pub struct TsguFramer {
    re: Reassembler,
    error: Option<String>,
}

impl Default for TsguFramer {
    fn default() -> Self {
        Self::new()
    }
}

/// The longest packet of type `ty` accepted: DATA carries up to 64 KiB of payload.
pub fn max_packet(ty: PacketType) -> usize {
    if ty == PacketType::Data {
        MAX_DATA_PACKET
    } else {
        MAX_OTHER_PACKET
    }
}

/// How long the packet starting here is, or why it cannot be one.
fn hint(b: &[u8]) -> Hint {
    if let Some(reserved) = le_u16(b, 2).filter(|&r| r != 0) {
        return Hint::Invalid(format!(
            "packet header has reserved field 0x{reserved:04x}, expected 0 (not an MS-TSGU stream, or out of sync)"
        ));
    }
    let Some((ty, _, len)) = parse_header(b) else {
        return Hint::Incomplete;
    };
    let ty = PacketType::from_u16(ty);
    let max = max_packet(ty);
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len < HEADER_LEN {
        return Hint::Invalid(format!(
            "{ty} packetLength {len} is smaller than the {HEADER_LEN}-byte header"
        ));
    }
    if len > max {
        return Hint::Invalid(format!(
            "{ty} packetLength {len} exceeds the {max}-byte limit for that packet type"
        ));
    }
    if len <= b.len() {
        Hint::Frame(len)
    } else {
        Hint::Needs(len)
    }
}

impl TsguFramer {
    /// A framer at the start of a packet stream.
    pub fn new() -> Self {
        TsguFramer {
            re: Reassembler::new(MAX_DATA_PACKET.max(MAX_OTHER_PACKET)),
            error: None,
        }
    }

    /// Feeds the next chunk; `out` gets each whole packet (header included), in order.
    pub fn push(&mut self, chunk: &[u8], out: &mut impl FnMut(&[u8])) {
        if self.error.is_some() {
            return;
        }
        let pushed = self.re.push(chunk, hint, |_, frame| {
            out(frame);
            Step::Continue
        });
        if let Pushed::Invalid { offset, reason } = pushed {
            self.error = Some(format!("at stream byte {offset}: {reason}"));
        }
    }

    /// Why the stream became unframeable, once it has.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Bytes held while waiting for the rest of a packet.
    pub fn pending(&self) -> usize {
        self.re.buffered()
    }

    /// The whole length of the packet being held, once its header is in.
    pub fn expected(&self) -> Option<usize> {
        parse_header(self.re.held()).and_then(|(_, _, len)| usize::try_from(len).ok())
    }

    /// Stream offset of the first byte not yet handed out in a packet.
    pub fn offset(&self) -> u64 {
        self.re.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tsgu::packet::build;
    use crate::decode::tsgu::{Caps, ExtendedAuth, Status};

    fn stream() -> Vec<Vec<u8>> {
        vec![
            build::handshake_request(ExtendedAuth::NONE),
            build::tunnel_create(Caps(0xd), Some("cookie")),
            build::data(&[0x03, 0, 0, 0x13, 0x0e]),
            build::keepalive(),
            build::close_channel(Status(0x4CA)),
        ]
    }

    fn frames(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, TsguFramer) {
        let mut f = TsguFramer::new();
        let mut got = Vec::new();
        for c in chunks {
            f.push(c, &mut |p: &[u8]| got.push(p.to_vec()));
        }
        (got, f)
    }

    #[test]
    fn several_packets_in_one_chunk() {
        let want = stream();
        let all = want.concat();
        let (got, f) = frames(&[&all]);
        assert_eq!(got, want);
        assert_eq!(f.pending(), 0);
        assert_eq!(f.error(), None);
        assert_eq!(f.offset(), all.len() as u64);
    }

    #[test]
    fn every_split_gives_the_same_frames() {
        let want = stream();
        let all = want.concat();
        for cut in 0..=all.len() {
            let (a, b) = all.split_at(cut);
            let (got, _) = frames(&[a, b]);
            assert_eq!(got, want, "cut at {cut}");
        }
        for cut in 1..all.len() {
            let (a, rest) = all.split_at(cut / 2);
            let (b, c) = rest.split_at(cut - cut / 2);
            let (got, _) = frames(&[a, b, c]);
            assert_eq!(got, want, "cuts at {} and {cut}", cut / 2);
        }
        let singles: Vec<&[u8]> = all.chunks(1).collect();
        let (got, f) = frames(&singles);
        assert_eq!(got, want);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn partial_packet_is_held() {
        let k = build::tunnel_auth("WS01");
        let (got, f) = frames(&[&k[..5]]);
        assert!(got.is_empty());
        assert_eq!(f.pending(), 5);
    }

    #[test]
    fn largest_data_packet_passes_and_oversize_is_refused() {
        let big = build::data(&vec![1u8; 65535]);
        assert_eq!(big.len(), MAX_DATA_PACKET);
        let (got, f) = frames(&[&big[..1000], &big[1000..]]);
        assert_eq!(got.len(), 1);
        assert_eq!(f.error(), None);

        // A non-DATA packet claiming 64 KiB + 1.
        let mut hdr = vec![0x0B, 0, 0, 0];
        hdr.extend_from_slice(&(65537u32).to_le_bytes());
        let (got, f) = frames(&[&hdr]);
        assert!(got.is_empty());
        assert!(
            f.error().is_some_and(|e| e.contains("exceeds")),
            "{:?}",
            f.error()
        );
        assert_eq!(f.pending(), 0);

        let mut hdr = vec![0x0A, 0, 0, 0];
        hdr.extend_from_slice(&u32::MAX.to_le_bytes());
        let (_, f) = frames(&[&hdr]);
        assert!(f.error().is_some());
    }

    #[test]
    fn the_largest_data_packet_in_one_byte_pieces_is_copied_once() {
        // 1-byte WebSocket frames or HTTP chunks hand the framer one byte at a time:
        // each byte must be held once, not once per piece.
        let big = build::data(&vec![7u8; 65535]);
        let singles: Vec<&[u8]> = big.chunks(1).collect();
        let (got, f) = frames(&singles);
        assert_eq!(got, vec![big.clone()]);
        assert_eq!(f.re.copied(), big.len() as u64);
    }

    #[test]
    fn unframeable_streams_stop() {
        let (_, f) = frames(&[&[0x0D, 0, 1, 0]]);
        assert!(f.error().is_some_and(|e| e.contains("reserved")));
        let (got, f) = frames(&[&[0x0D, 0, 0, 0, 7, 0, 0, 0], &build::keepalive()]);
        assert!(got.is_empty(), "nothing after the error");
        assert!(f.error().is_some_and(|e| e.contains("smaller")));
        // Good packets before the bad header are still handed out.
        let mut s = build::keepalive();
        s.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let (got, f) = frames(&[&s]);
        assert_eq!(got.len(), 1);
        assert!(f.error().is_some_and(|e| e.contains("byte 8")));
    }
}
