//! What is secret in the client's RPC PDUs on the RPC-over-HTTP transport (the IN
//! channel's body): the authentication a bind, alter_context or rpc_auth3 PDU carries
//! in its auth verifier (DCE 1.1 RPC 12.6, MS-RPCE 2.2.2.11). An NTLM AUTHENTICATE
//! loses its responses, session key and MIC like one in an HTTP header; any other
//! token (Kerberos, SPNEGO without NTLM) is zeroed whole, as it cannot be read.

use super::ntlm;
use super::packets::{Judged, PacketFormat};
use std::ops::Range;

/// The common header of a connection-oriented PDU.
const HEADER: usize = 16;
/// PTYPE of the PDUs that carry the client's authentication.
const BIND: u8 = 11;
const ALTER_CONTEXT: u8 = 14;
const AUTH3: u8 = 16;
/// The sec_trailer before the auth value: type, level, pad length, reserved, context id.
const SEC_TRAILER: usize = 8;

/// RPC connection-oriented PDUs as [`PacketScrub`](super::packets::PacketScrub) reads
/// them.
#[derive(Debug, Default)]
pub(super) struct Rpc;

/// frag_length and auth_length of a header, in the byte order its data
/// representation says.
fn lengths(h: &[u8]) -> Option<(usize, usize)> {
    let little = h.get(4)? & 0x10 != 0;
    let u16_at = |at: usize| -> Option<usize> {
        let b: [u8; 2] = h.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }))
    };
    Some((u16_at(8)?, u16_at(10)?))
}

impl PacketFormat for Rpc {
    const HEADER: usize = HEADER;

    fn judge(&mut self, header: &[u8], _names: bool) -> Judged {
        // Version 5.0 is the only connection-oriented RPC there is.
        if header.first() != Some(&5) || header.get(1) != Some(&0) {
            return Judged::Invalid;
        }
        let Some((frag, auth)) = lengths(header) else {
            return Judged::Invalid;
        };
        if frag < HEADER {
            return Judged::Invalid;
        }
        let authenticates = matches!(header.get(2), Some(&(BIND | ALTER_CONTEXT | AUTH3)));
        if authenticates && auth > 0 {
            Judged::Hold(frag)
        } else {
            Judged::Pass(frag)
        }
    }

    fn secrets(&self, pdu: &[u8], names: bool) -> Vec<(Range<usize>, u8)> {
        let Some((frag, auth)) = lengths(pdu) else {
            return Vec::new();
        };
        let end = frag.min(pdu.len());
        let Some(start) = frag
            .checked_sub(auth)
            .filter(|s| *s >= HEADER + SEC_TRAILER)
        else {
            return Vec::new();
        };
        let value = pdu.get(start..end).unwrap_or(&[]);
        if value.is_empty() {
            return Vec::new();
        }
        let ranges = if ntlm::find(value).is_some() {
            ntlm::secrets_in(value, names)
        } else {
            let whole = 0..value.len();
            vec![whole]
        };
        ranges
            .into_iter()
            .map(|r| ((r.start + start).min(end)..(r.end + start).min(end), 0))
            .filter(|(r, _)| !r.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::packets::{PacketStream, RpcScrub};
    use super::super::test_support::{ntlm_type3_mic, rpc_pdu};
    use super::super::Ctx;
    use super::*;

    fn run(stream: &[u8], step: usize) -> (Vec<u8>, u64) {
        let mut s = RpcScrub::default();
        let mut ctx = Ctx::default();
        for (i, piece) in stream.chunks(step).enumerate() {
            s.feed((i * step) as u64, piece, None, &mut ctx);
        }
        PacketStream::finish(&mut s, &mut ctx);
        let mut out = stream.to_vec();
        for e in ctx.edits {
            let at = e.at as usize;
            out[at..at + e.data.len()].copy_from_slice(&e.data);
        }
        (out, ctx.scrubbed)
    }

    #[test]
    fn auth3_loses_the_ntlm_responses_and_the_rest_passes() {
        let t3 = ntlm_type3_mic("labuser", "LAB");
        let stream = [
            // An RTS PDU (type 20), a bind with an NTLM NEGOTIATE, the rpc_auth3, a request.
            rpc_pdu(20, &[0; 20], &[]),
            rpc_pdu(BIND, &[1; 60], b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2"),
            rpc_pdu(AUTH3, &[0; 4], &t3),
            rpc_pdu(0, &[0xA5; 300], &[]),
        ]
        .concat();
        for step in [1, 5, 16, 100, stream.len()] {
            let (out, n) = run(&stream, step);
            assert_eq!(n, 4, "{step}: LM, NT, key and MIC");
            assert_eq!(out.len(), stream.len());
            for b in [0xB1u8, 0xC3, 0xD7] {
                assert!(!out.windows(8).any(|w| w == [b; 8]), "{step}: {b:#x}");
            }
            assert!(out.windows(300).any(|w| w == [0xA5; 300]), "request passes");
            assert!(out.windows(4).any(|w| w == b"\x01\0\0\0"));
        }
    }

    #[test]
    fn other_tokens_go_whole_and_garbage_stops_reading() {
        let stream = rpc_pdu(ALTER_CONTEXT, &[1; 8], &[0x6E; 40]);
        let (out, n) = run(&stream, 7);
        assert_eq!(n, 1);
        assert!(out.ends_with(&[0; 40]));
        let mut s = RpcScrub::default();
        let mut ctx = Ctx::default();
        s.feed(0, b"HTTP/1.1 200 OK\r\n", None, &mut ctx);
        assert!(s.gave_up());
        // A header whose lengths point anywhere never reads out of bounds.
        let mut bad = rpc_pdu(AUTH3, &[], &[1; 10]);
        bad[10] = 0xFF;
        let _ = run(&bad, 3);
    }
}
