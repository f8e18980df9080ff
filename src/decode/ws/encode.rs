//! Writes WebSocket frames, for the lab gateway and tests.

use super::framer::{Opcode, Unmasker};

/// Appends one final (FIN) frame carrying `payload`, masked when `mask` is given.
pub fn encode_frame(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>, out: &mut Vec<u8>) {
    encode_fragment(true, opcode, payload, mask, out);
}

/// Appends one frame with an explicit FIN bit (for fragmented messages).
pub fn encode_fragment(
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    out.push(if fin { 0x80 } else { 0 } | opcode.to_u8());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(body)) = (mask, out.get_mut(start..)) {
        // Masking and unmasking are the same XOR.
        Unmasker::new(key).apply(body);
    }
}
