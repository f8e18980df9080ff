//! Clipboard contents on the `cliprdr` static virtual channel (MS-RDPECLIP): what is
//! copied between client and host, a password as often as anything else. The Format
//! Data Response and File Contents Response carry it; a large one spans several
//! channel chunks, so each direction remembers whether the chunks that follow continue
//! one. Format lists, capabilities and requests stay.

use crate::decode::wire::{le_u16, le_u32};
use std::ops::Range;

/// CHANNEL_PDU_HEADER: length and flags.
const CHANNEL_HEADER: usize = 8;
/// CHANNEL_FLAG_FIRST and CHANNEL_FLAG_LAST.
const FIRST: u32 = 0x1;
const LAST: u32 = 0x2;
/// CHANNEL_PACKET_COMPRESSED: the chunk is bulk-compressed, so unreadable; it is
/// scrubbed whole rather than guessed at.
const COMPRESSED: u32 = 0x0020_0000;
/// Every CHANNEL_PDU_HEADER flag (first, last, show protocol, suspend, resume, shadow
/// persistent, and the compression bits).
const KNOWN_FLAGS: u32 = 0x00FF_00F3;
/// CLIPRDR_HEADER: msgType, msgFlags, dataLen.
const CLIP_HEADER: usize = 8;
/// CB_FORMAT_DATA_RESPONSE and CB_FILECONTENTS_RESPONSE.
const FORMAT_DATA_RESPONSE: u16 = 0x0005;
const FILECONTENTS_RESPONSE: u16 = 0x0009;
/// A File Contents Response starts with its streamId, which stays.
const STREAM_ID: usize = 4;

/// One direction's place in the channel's messages.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ClipState {
    /// The chunks that follow continue a message whose data is scrubbed.
    in_data: bool,
}

/// The ranges of one cliprdr chunk (its channel header first) to zero.
pub(super) fn secrets(chunk: &[u8], st: &mut ClipState) -> Vec<Range<usize>> {
    let (Some(total), Some(flags)) = (le_u32(chunk, 0), le_u32(chunk, 4)) else {
        return Vec::new();
    };
    // No channel header where one should be: a security header (standard RDP security,
    // whose encrypted data is ciphertext anyway) or not a chunk at all.
    let data_len = chunk.len() - CHANNEL_HEADER;
    if (total as usize) < data_len || flags & !KNOWN_FLAGS != 0 {
        return Vec::new();
    }
    let whole = CHANNEL_HEADER..chunk.len();
    let continues = flags & LAST == 0;
    let out = if flags & COMPRESSED != 0 {
        st.in_data = continues;
        vec![whole]
    } else if flags & FIRST != 0 {
        let from = match le_u16(chunk, CHANNEL_HEADER) {
            Some(FORMAT_DATA_RESPONSE) => Some(CHANNEL_HEADER + CLIP_HEADER),
            Some(FILECONTENTS_RESPONSE) => Some(CHANNEL_HEADER + CLIP_HEADER + STREAM_ID),
            _ => None,
        };
        st.in_data = from.is_some() && continues;
        from.map(|f| f..chunk.len()).into_iter().collect()
    } else if st.in_data {
        st.in_data = continues;
        vec![whole]
    } else {
        Vec::new()
    };
    out.into_iter()
        .map(|r| r.start.min(chunk.len())..r.end)
        .filter(|r| !r.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(total: usize, flags: u32, data: &[u8]) -> Vec<u8> {
        let mut c = (total as u32).to_le_bytes().to_vec();
        c.extend_from_slice(&flags.to_le_bytes());
        c.extend_from_slice(data);
        c
    }

    fn clip(msg_type: u16, data: &[u8]) -> Vec<u8> {
        let mut m = msg_type.to_le_bytes().to_vec();
        m.extend_from_slice(&1u16.to_le_bytes());
        m.extend_from_slice(&(data.len() as u32).to_le_bytes());
        m.extend_from_slice(data);
        m
    }

    #[test]
    fn a_data_response_loses_its_data_over_every_chunk() {
        let msg = clip(
            FORMAT_DATA_RESPONSE,
            b"P@ssw0rd copied from a vault, and more text",
        );
        let (a, b) = msg.split_at(20);
        let (b, c) = b.split_at(10);
        let mut st = ClipState::default();
        let first = chunk(msg.len(), FIRST, a);
        assert_eq!(secrets(&first, &mut st), vec![16..first.len()]);
        let mid = chunk(msg.len(), 0, b);
        assert_eq!(secrets(&mid, &mut st), vec![8..mid.len()]);
        let last = chunk(msg.len(), LAST, c);
        assert_eq!(secrets(&last, &mut st), vec![8..last.len()]);
        // The next message is a format list: it stays.
        let list = chunk(12, FIRST | LAST, &clip(0x0002, b"\x0d\0\0\0"));
        assert!(secrets(&list, &mut st).is_empty());
    }

    #[test]
    fn file_contents_keep_their_stream_id_and_compressed_chunks_go() {
        let msg = clip(FILECONTENTS_RESPONSE, b"\x07\0\0\0file bytes");
        let mut st = ClipState::default();
        let one = chunk(msg.len(), FIRST | LAST, &msg);
        assert_eq!(secrets(&one, &mut st), vec![20..one.len()]);
        let packed = chunk(40, FIRST | LAST | COMPRESSED, &[0xAB; 30]);
        assert_eq!(secrets(&packed, &mut st), vec![8..38]);
    }

    #[test]
    fn what_is_not_a_chunk_is_left_alone() {
        let mut st = ClipState::default();
        assert!(secrets(&[1, 2, 3], &mut st).is_empty());
        // A basic security header with SEC_ENCRYPT, then ciphertext.
        let enc = [&[8u8, 0, 0, 0][..], &[0x5A; 40]].concat();
        assert!(secrets(&enc, &mut st).is_empty());
    }
}
