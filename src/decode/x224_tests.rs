//! Tests of the X.224 decoder.

use super::*;
use X224Event::*;

/// Bytes from a hex string such as "03 00 00 0b".
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// xfreerdp's usual CR: cookie "labuser", RDP_NEG_REQ for SSL (TPKT length 0x2d).
const CR_XFREERDP: &str = "03 00 00 2d 28 e0 00 00 00 00 00 43 6f 6f 6b 69 65 3a 20 6d 73 74
    73 68 61 73 68 3d 6c 61 62 75 73 65 72 0d 0a 01 00 08 00 01 00 00 00";
/// A CC selecting SSL, with all five RDP_NEG_RSP flags (0x1f).
const CC_SSL: &str = "03 00 00 13 0e d0 00 00 12 34 00 02 1f 08 00 01 00 00 00";
/// A CC with RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER.
const CC_FAIL: &str = "03 00 00 13 0e d0 00 00 12 34 00 03 00 08 00 05 00 00 00";
/// DT carrying an MCS Disconnect Provider Ultimatum.
const DT_DPUM: &str = "03 00 00 09 02 f0 80 21 80";

/// Wraps an X.224 TPDU (from LI on) in a TPKT header.
fn tpkt(tpdu: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 0];
    v.extend_from_slice(&u16::try_from(tpdu.len() + 4).unwrap().to_be_bytes());
    v.extend_from_slice(tpdu);
    v
}

/// A CR with this variable part; LI saturates at 255 (it is one byte) and the
/// decoder reads to the end of the TPKT anyway.
fn cr(var: &[u8]) -> Vec<u8> {
    let li = u8::try_from(6 + var.len()).unwrap_or(u8::MAX);
    let mut t = vec![li, 0xe0, 0, 0, 0, 0, 0];
    t.extend_from_slice(var);
    tpkt(&t)
}

fn event(frame: &[u8]) -> X224Event {
    match decode_tpdu(frame) {
        Ok(Tpdu::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// A CR's cookie, token, flags, requestedProtocols and correlation id.
type CrFields = (
    Option<String>,
    Option<String>,
    Vec<String>,
    Option<u32>,
    Option<String>,
);

/// The CR's fields, for terse assertions.
fn cr_fields(frame: &[u8]) -> CrFields {
    let ConnectionRequest {
        cookie,
        routing_token,
        neg_flags,
        requested_protocols,
        correlation_id,
    } = event(frame)
    else {
        panic!("not a CR");
    };
    let req = requested_protocols.map(|p| p.0);
    (cookie, routing_token, neg_flags, req, correlation_id)
}

#[test]
fn connection_requests() {
    let (cookie, token, flags, req, corr) = cr_fields(&hex(CR_XFREERDP));
    assert_eq!(
        (cookie.as_deref(), token, req, corr),
        (Some("labuser"), None, Some(1), None)
    );
    assert!(flags.is_empty());
    // With correlation info: the GUID's first three fields are little-endian.
    let mut var = b"Cookie: mstshash=DOM\\u\r\n".to_vec();
    var.extend(hex(
        "01 08 08 00 0b 00 00 00 06 00 24 00 33 22 11 10 55 44 77 66",
    ));
    var.extend(hex("88 99 aa bb cc dd ee ff"));
    var.extend([0; 16]);
    let (cookie, _, flags, req, corr) = cr_fields(&cr(&var));
    assert_eq!(cookie.as_deref(), Some("DOM\\u"));
    assert_eq!(flags, vec!["CORRELATION_INFO_PRESENT"]);
    assert_eq!(req, Some(0xb));
    assert_eq!(
        corr.as_deref(),
        Some("{10112233-4455-6677-8899-AABBCCDDEEFF}")
    );
    // Routing tokens instead of a cookie.
    for token in [
        "Cookie: msts=3640205228.15629.0000",
        "tsv://MS Terminal Services Plugin.1.Sessions",
        "mth://example/abc",
    ] {
        let mut var = format!("{token}\r\n").into_bytes();
        var.extend(hex("01 00 08 00 03 00 00 00"));
        let (cookie, got, _, req, _) = cr_fields(&cr(&var));
        assert_eq!((cookie, got.as_deref(), req), (None, Some(token), Some(3)));
    }
    // Legacy client (no RDP_NEG_REQ), and a request without a cookie.
    assert_eq!(cr_fields(&cr(&[])), (None, None, vec![], None, None));
    assert_eq!(cr_fields(&cr(&hex("01 00 08 00 00 00 00 00"))).3, Some(0));
}

#[test]
fn long_cookie_is_capped_and_escaped() {
    let mut var = b"Cookie: mstshash=".to_vec();
    var.extend([b'a'; 400]);
    var.extend(b"\r\n");
    assert_eq!(cr_fields(&cr(&var)).0.unwrap().len(), COOKIE_MAX_CHARS);
    let got = cr_fields(&cr(b"Cookie: mstshash=a\x1bb\r\n")).0;
    assert_eq!(got.as_deref(), Some("a\\u{1b}b"));
}

#[test]
fn malformed_tpdus_are_errors() {
    for var in [
        &b"Cookie: mstshash=bob"[..],    // no CRLF
        &hex("01 00 08 00 01"),          // truncated RDP_NEG_REQ
        &hex("02 00 08 00 01 00 00 00"), // wrong type
        &hex("01 00 09 00 01 00 00 00"), // wrong length
    ] {
        assert!(decode_tpdu(&cr(var)).is_err(), "{var:02x?}");
    }
    assert!(decode_tpdu(&tpkt(&hex("02 e0 00 00"))).is_err()); // LI < fixed header
    assert!(decode_tpdu(&tpkt(&hex("20 e0 00 00 00 00 00"))).is_err()); // LI too long
    assert!(decode_tpdu(&tpkt(&hex("03 f0 80 00"))).is_err()); // DT with LI 3
    let mut bad = hex(CC_SSL);
    bad[11] = 0x07;
    assert!(decode_tpdu(&bad).unwrap_err().contains("0x07"));
    let e = decode_tpdu(&tpkt(&hex("06 50 00 00 00 00 00"))).unwrap_err();
    assert!(e.contains("0x50"), "{e}");
    assert!(decode_tpdu(&tpkt(&hex("02 70 00")))
        .unwrap_err()
        .contains("0x70"));
}

#[test]
fn confirms_disconnects_and_data() {
    let flags = names::flag_names(0x1f, names::NEG_RSP_FLAGS);
    let ssl = ConnectionConfirm {
        selected_protocol: Some(Protocols::SSL),
        neg_flags: flags,
    };
    assert_eq!(event(&hex(CC_SSL)), ssl);
    let code = NegFailureCode::HybridRequiredByServer;
    assert_eq!(event(&hex(CC_FAIL)), NegotiationFailure { code });
    let legacy = ConnectionConfirm {
        selected_protocol: None,
        neg_flags: vec![],
    };
    assert_eq!(event(&hex("03 00 00 0b 06 d0 00 00 12 34 00")), legacy);
    assert_eq!(
        event(&hex("03 00 00 0b 06 80 00 00 12 34 01")),
        DisconnectRequest
    );
    assert_eq!(
        decode_tpdu(&hex(DT_DPUM)),
        Ok(Tpdu::Data(&[0x21, 0x80][..]))
    );
    assert_eq!(
        decode_tpdu(&hex("03 00 00 07 02 f0 80")),
        Ok(Tpdu::Data(&[][..]))
    );
    // Bytes after the TPKT length belong to the next frame.
    let mut two = hex(CC_SSL);
    two.extend(hex(DT_DPUM));
    assert_eq!(event(&two), ssl);
}

#[test]
fn truncations_never_panic() {
    for frame in [CR_XFREERDP, CC_SSL, CC_FAIL, DT_DPUM].map(hex) {
        for cut in 0..frame.len() {
            assert!(
                decode_tpdu(&frame[..cut]).is_err(),
                "cut {cut} of {frame:02x?}"
            );
            // The same cut with a matching TPKT length reaches the X.224 parser.
            if cut >= 4 {
                let _ = decode_tpdu(&tpkt(&frame[4..cut]));
            }
        }
    }
}

/// A preconnection PDU V2 with this (NUL-terminated) blob.
fn pcb_v2(id: u32, blob: &str) -> Vec<u8> {
    let units: Vec<u16> = blob.encode_utf16().chain([0]).collect();
    let size = u32::try_from(18 + units.len() * 2).unwrap();
    let mut v: Vec<u8> = [size, 0, 2, id]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    v.extend(u16::try_from(units.len()).unwrap().to_le_bytes());
    v.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    v
}

#[test]
fn preconnection_pdus() {
    let v1 = hex("10 00 00 00 00 00 00 00 01 00 00 00 07 00 00 00");
    assert!(looks_like_preconnection(&v1));
    assert_eq!(preconnection_hint(&v1), Hint::Frame(16));
    let want = PreconnectionPdu {
        version: 1,
        id: 7,
        blob: None,
    };
    assert_eq!(decode_preconnection(&v1), Ok(want));
    let guid = "8C5E9A6B-0000-4BCD-9A55-123456789ABC";
    let v2 = pcb_v2(0, guid);
    assert!(looks_like_preconnection(&v2));
    assert_eq!(preconnection_hint(&v2), Hint::Frame(v2.len()));
    assert_eq!(preconnection_hint(&v2[..20]), Hint::Needs(v2.len()));
    let want = PreconnectionPdu {
        version: 2,
        id: 0,
        blob: Some(guid.into()),
    };
    assert_eq!(decode_preconnection(&v2), Ok(want));
    for cut in 0..v2.len() {
        assert!(decode_preconnection(&v2[..cut]).is_err(), "cut {cut}");
    }
    assert_eq!(preconnection_hint(&v2[..3]), Hint::Incomplete);
    // Not preconnection PDUs: TPKT, TLS, short, bad V1 size, bad version, huge V2.
    for b in [
        hex(CR_XFREERDP),
        hex("16 03 01 02 00 00 00 00 01 00 00 00 00 00 00 00"),
        hex("10 00 00 00 00 00 00 00 01 00 00"),
        hex("11 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00"),
        hex("10 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00"),
        hex("00 40 00 00 00 00 00 00 02 00 00 00 00 00 00 00"),
    ] {
        assert!(!looks_like_preconnection(&b), "{b:02x?}");
    }
    assert!(matches!(preconnection_hint(&[0xff; 4]), Hint::Invalid(_)));
    assert!(matches!(
        preconnection_hint(&[15, 0, 0, 0]),
        Hint::Invalid(_)
    ));
    let mut v2 = pcb_v2(1, "vm");
    v2[16] = 200; // cchPCB larger than cbSize holds
    assert!(decode_preconnection(&v2).is_err());
    v2[8] = 9;
    assert!(decode_preconnection(&v2).unwrap_err().contains('9'));
}

#[test]
fn not_rdp_shows_sixteen_bytes() {
    let NotRdp { first_bytes } = not_rdp(b"GET / HTTP/1.1\r\nHost: x\r\n") else {
        panic!();
    };
    assert_eq!(
        first_bytes,
        "47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a"
    );
    assert_eq!(
        not_rdp(&[0x16]),
        NotRdp {
            first_bytes: "16".into()
        }
    );
}
