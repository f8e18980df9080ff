//! TPKT (T.123) and fast-path framing: where each slow-path or fast-path PDU ends.
//!
//! These are framers for [`Reassembler`](super::reassembly::Reassembler): they only
//! look at the first few header bytes and say how long the PDU is.

use super::reassembly::Hint;
use super::wire::be_u16;

/// The largest PDU either framing can describe (TPKT's length is a u16).
pub const MAX_TPKT: usize = 65535;

/// TPKT version byte: every slow-path PDU starts with it.
pub const TPKT_VERSION: u8 = 0x03;

/// TPKT header length (version, reserved, u16 BE length).
pub const TPKT_HEADER_LEN: usize = 4;

/// The smallest believable TPKT length: header plus the shortest X.224 TPDU (DT, 3 bytes).
/// FreeRDP rejects anything shorter too.
const TPKT_MIN_LEN: usize = 7;

/// Frames one slow-path TPKT PDU (`03 00 LL LL`, length big-endian and inclusive).
pub fn tpkt_hint(buf: &[u8]) -> Hint {
    let Some(&first) = buf.first() else {
        return Hint::Incomplete;
    };
    if first != TPKT_VERSION {
        return Hint::Invalid(format!(
            "not a TPKT header: first byte is 0x{first:02x}, expected 0x03"
        ));
    }
    let Some(len) = be_u16(buf, 2) else {
        return Hint::Incomplete;
    };
    let len = usize::from(len);
    if len < TPKT_MIN_LEN {
        return Hint::Invalid(format!(
            "TPKT length {len} is shorter than the 7-byte minimum"
        ));
    }
    whole_or_needs(buf, len)
}

/// Frames one slow-path TPKT PDU or one fast-path PDU, whichever starts here.
///
/// After the connection sequence both sides may mix the two framings freely, and the
/// first byte tells them apart: 0x03 is TPKT, a low two-bit "action" of 0 is fast-path.
pub fn pdu_hint(buf: &[u8]) -> Hint {
    let Some(&first) = buf.first() else {
        return Hint::Incomplete;
    };
    if first == TPKT_VERSION {
        return tpkt_hint(buf);
    }
    if first & 0x03 != 0 {
        return Hint::Invalid(format!(
            "first byte 0x{first:02x} is neither TPKT (0x03) nor a fast-path header (low bits 00)"
        ));
    }
    fastpath_hint(buf)
}

/// Frames a fast-path PDU: a 1-byte length, or a 15-bit length in 2 bytes when the
/// first length byte has its high bit set (PER-style length). The length includes the
/// header byte and the length bytes themselves.
fn fastpath_hint(buf: &[u8]) -> Hint {
    let Some(&l1) = buf.get(1) else {
        return Hint::Incomplete;
    };
    let (len, header) = if l1 & 0x80 != 0 {
        let Some(&l2) = buf.get(2) else {
            return Hint::Incomplete;
        };
        ((usize::from(l1 & 0x7f) << 8) | usize::from(l2), 3)
    } else {
        (usize::from(l1), 2)
    };
    // A length that does not even cover its own header cannot be a real PDU.
    if len < header {
        return Hint::Invalid(format!(
            "fast-path length {len} is shorter than its own {header}-byte header"
        ));
    }
    whole_or_needs(buf, len)
}

/// Frame when all `len` bytes are here, else Needs.
fn whole_or_needs(buf: &[u8], len: usize) -> Hint {
    if len <= buf.len() {
        Hint::Frame(len)
    } else {
        Hint::Needs(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR: &[u8] = &[
        0x03, 0x00, 0x00, 0x2d, 0x28, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x43, 0x6f, 0x6f, 0x6b,
        0x69, 0x65, 0x3a, 0x20, 0x6d, 0x73, 0x74, 0x73, 0x68, 0x61, 0x73, 0x68, 0x3d, 0x6c, 0x61,
        0x62, 0x75, 0x73, 0x65, 0x72, 0x0d, 0x0a, 0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn whole_tpkt_frame() {
        assert_eq!(tpkt_hint(CR), Hint::Frame(45));
        let mut two = CR.to_vec();
        two.extend_from_slice(CR);
        assert_eq!(tpkt_hint(&two), Hint::Frame(45));
        assert_eq!(pdu_hint(CR), Hint::Frame(45));
    }

    #[test]
    fn partial_tpkt_at_every_length() {
        for cut in 0..CR.len() {
            let h = tpkt_hint(&CR[..cut]);
            if cut < 4 {
                assert_eq!(h, Hint::Incomplete, "cut {cut}");
            } else {
                assert_eq!(h, Hint::Needs(45), "cut {cut}");
            }
            assert_eq!(pdu_hint(&CR[..cut]), h, "cut {cut}");
        }
    }

    #[test]
    fn tpkt_rejects_wrong_version_and_short_length() {
        assert!(matches!(tpkt_hint(&[0x16, 0x03, 0x01]), Hint::Invalid(r) if r.contains("0x16")));
        assert!(matches!(tpkt_hint(&[0x00]), Hint::Invalid(_)));
        for len in 0..7u8 {
            assert!(
                matches!(tpkt_hint(&[3, 0, 0, len]), Hint::Invalid(_)),
                "{len}"
            );
        }
        assert_eq!(tpkt_hint(&[3, 0, 0, 7]), Hint::Needs(7));
    }

    #[test]
    fn tpkt_oversized_length_is_just_a_big_frame() {
        // 0xFFFF is legal for TPKT; the reassembler enforces its own bound.
        assert_eq!(tpkt_hint(&[3, 0, 0xff, 0xff, 0]), Hint::Needs(MAX_TPKT));
    }

    #[test]
    fn fastpath_one_and_two_byte_lengths() {
        // Fast-path output, 1-byte length 5.
        assert_eq!(pdu_hint(&[0x00, 0x05, 1, 2, 3]), Hint::Frame(5));
        assert_eq!(pdu_hint(&[0x44, 0x05, 1]), Hint::Needs(5));
        // 2-byte length: 0x81 0x02 = 0x102 = 258.
        assert_eq!(pdu_hint(&[0x84, 0x81, 0x02]), Hint::Needs(258));
        let mut big = vec![0x80, 0x81, 0x02];
        big.resize(258, 0);
        assert_eq!(pdu_hint(&big), Hint::Frame(258));
        // Largest 15-bit length.
        assert_eq!(pdu_hint(&[0x00, 0xff, 0xff]), Hint::Needs(0x7fff));
        assert_eq!(pdu_hint(&[0x00]), Hint::Incomplete);
        assert_eq!(pdu_hint(&[0x00, 0x80]), Hint::Incomplete);
        assert_eq!(pdu_hint(&[]), Hint::Incomplete);
    }

    #[test]
    fn fastpath_length_must_cover_header() {
        assert!(matches!(pdu_hint(&[0x00, 0x01]), Hint::Invalid(_)));
        assert!(matches!(pdu_hint(&[0x00, 0x00]), Hint::Invalid(_)));
        assert!(matches!(pdu_hint(&[0x00, 0x80, 0x02]), Hint::Invalid(_)));
        assert_eq!(pdu_hint(&[0x00, 0x02]), Hint::Frame(2));
    }

    #[test]
    fn pdu_hint_rejects_other_first_bytes() {
        for b in [0x01u8, 0x02, 0x07, 0x0b, 0x16, 0x17, 0xff] {
            assert!(
                matches!(pdu_hint(&[b, 0x10, 0, 0]), Hint::Invalid(_)),
                "0x{b:02x}"
            );
        }
    }

    #[test]
    fn never_panics_on_any_short_input() {
        for a in 0..=255u8 {
            for b in [0u8, 1, 6, 7, 0x7f, 0x80, 0xff] {
                let _ = pdu_hint(&[a]);
                let _ = pdu_hint(&[a, b]);
                let _ = pdu_hint(&[a, b, b]);
                let _ = tpkt_hint(&[a, 0, b, b]);
            }
        }
    }

    /// Both directions of a captured connection (tests/data; see its README).
    macro_rules! capture {
        ($name:literal) => {
            (
                &include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/data/",
                    $name,
                    ".c2s.bin"
                ))[..],
                &include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/data/",
                    $name,
                    ".s2c.bin"
                ))[..],
            )
        };
    }

    /// The first TPKT frame of a stream, found with the framer.
    fn first_frame(stream: &[u8]) -> &[u8] {
        match tpkt_hint(stream) {
            Hint::Frame(len) => &stream[..len],
            other => panic!("no whole first frame: {other:?}"),
        }
    }

    #[test]
    fn captured_x224_exchanges() {
        use crate::decode::names::{flag_names, NegFailureCode, Protocols, NEG_RSP_FLAGS};
        use crate::decode::x224::{decode_tpdu, Tpdu, X224Event};
        // (capture, requestedProtocols, selectedProtocol, RDP_NEG_RSP flags)
        let cases = [
            (capture!("xrdp-tls12-ok"), Some(1), Some(1), 1),
            (capture!("xrdp-tls13-ok"), Some(1), Some(1), 1),
            // xrdp answers a TLS-only client with RDP_NEG_RSP selecting PROTOCOL_RDP.
            (capture!("xrdp-rdp-negfailure"), Some(1), Some(0), 1),
            (capture!("xrdp-rdp-security"), None, None, 0),
            (capture!("xrdp-tls-rdpclient"), None, None, 0),
            (capture!("xrdp-tls-nlaclient"), Some(3), Some(1), 1),
            // FreeRDP 2's default negotiation asks for SSL|HYBRID (0x3), not HYBRID_EX.
            (capture!("shadow-nla-ok"), Some(3), Some(2), 3),
            (capture!("shadow-nla-wrongpass"), Some(3), Some(2), 3),
        ];
        for ((c2s, s2c), req, sel, flags) in cases {
            let Ok(Tpdu::Event(X224Event::ConnectionRequest {
                cookie,
                routing_token: None,
                requested_protocols,
                correlation_id: None,
                ..
            })) = decode_tpdu(first_frame(c2s))
            else {
                panic!("no CR in {c2s:02x?}");
            };
            assert_eq!(cookie.as_deref(), Some("labuser"));
            assert_eq!(requested_protocols, req.map(Protocols));
            let want = X224Event::ConnectionConfirm {
                selected_protocol: sel.map(Protocols),
                neg_flags: flag_names(flags, NEG_RSP_FLAGS),
            };
            assert_eq!(decode_tpdu(first_frame(s2c)), Ok(Tpdu::Event(want)));
        }
        let (_, s2c) = capture!("shadow-nla-negfailure");
        let code = NegFailureCode::HybridRequiredByServer;
        let want = X224Event::NegotiationFailure { code };
        assert_eq!(decode_tpdu(first_frame(s2c)), Ok(Tpdu::Event(want)));
        // After the CC, a TLS-selecting stream is TLS: the TPKT framer must refuse it.
        let (c2s, _) = capture!("xrdp-tls12-ok");
        assert!(matches!(tpkt_hint(&c2s[45..]), Hint::Invalid(_)));
        assert!(matches!(pdu_hint(&c2s[45..]), Hint::Invalid(_)));
    }

    #[test]
    fn framed_garbage_never_panics_any_decoder() {
        use crate::decode::{mcs::decode_mcs, x224};
        let mut x: u32 = 0x1234_5678;
        let mut stream = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Bias towards plausible headers so the decoders get past their first checks.
            stream.push(match x % 7 {
                0 => 0x03,
                1 => 0x00,
                2 => 0xf0,
                _ => (x >> 8) as u8,
            });
        }
        for start in 0..stream.len() {
            let buf = &stream[start..];
            if let Hint::Frame(len) = pdu_hint(buf) {
                if let Ok(x224::Tpdu::Data(d)) = x224::decode_tpdu(&buf[..len]) {
                    let _ = decode_mcs(d);
                }
            }
            let _ = decode_mcs(&buf[..buf.len().min(64)]);
            let _ = x224::decode_preconnection(&buf[..buf.len().min(64)]);
            let _ = x224::looks_like_preconnection(buf);
            let _ = x224::preconnection_hint(buf);
        }
    }
}
