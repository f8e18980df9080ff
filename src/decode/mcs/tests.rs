//! Tests for the MCS decoder, with a builder for hand-made connect PDUs laid out as
//! MS-RDPBCGR 4.1.3/4.1.4 show them.

use super::*;
use crate::decode::x224::{decode_tpdu, Tpdu};

/// Appends a BER definite length.
fn ber_len(v: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        v.push(len as u8);
    } else if len < 0x100 {
        v.extend_from_slice(&[0x81, len as u8]);
    } else {
        v.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

/// A BER element with a one- or two-byte tag.
fn ber(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut v = if tag > 0xff {
        tag.to_be_bytes().to_vec()
    } else {
        vec![tag as u8]
    };
    ber_len(&mut v, value.len());
    v.extend_from_slice(value);
    v
}

/// Appends a PER length determinant.
fn per_len(v: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        v.push(len as u8);
    } else {
        v.extend_from_slice(&[0x80 | (len >> 8) as u8, len as u8]);
    }
}

/// DomainParameters with these eight integers.
fn domain_params(p: [u16; 8]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in p {
        if n < 0x80 {
            v.extend(ber(0x02, &[n as u8]));
        } else {
            v.extend(ber(0x02, &[0x00, (n >> 8) as u8, n as u8]));
        }
    }
    ber(0x30, &v)
}

/// A GCC ConnectData with the fixed ConnectGCCPDU prefix, key and data blocks.
fn gcc(prefix: &[u8], key: &[u8; 4], blocks: &[u8]) -> Vec<u8> {
    let mut pdu = prefix.to_vec();
    pdu.extend_from_slice(key);
    per_len(&mut pdu, blocks.len());
    pdu.extend_from_slice(blocks);
    let mut v = vec![0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01];
    per_len(&mut v, pdu.len());
    v.extend_from_slice(&pdu);
    v
}

/// A data block with its header.
fn block(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut v = kind.to_le_bytes().to_vec();
    v.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// A full 216-byte TS_UD_CS_CORE, as a Windows 11 client sends it.
fn cs_core() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x0008_000Cu32.to_le_bytes()); // version
    b.extend_from_slice(&1920u16.to_le_bytes());
    b.extend_from_slice(&1080u16.to_le_bytes());
    b.extend_from_slice(&0xCA01u16.to_le_bytes()); // colorDepth
    b.extend_from_slice(&0xAA03u16.to_le_bytes()); // SASSequence
    b.extend_from_slice(&0x0409u32.to_le_bytes()); // keyboardLayout
    b.extend_from_slice(&22621u32.to_le_bytes()); // clientBuild
    let mut name: Vec<u8> = "LAB-PC".encode_utf16().flat_map(u16::to_le_bytes).collect();
    name.resize(32, 0);
    b.extend_from_slice(&name);
    b.extend_from_slice(&4u32.to_le_bytes()); // keyboardType
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&12u32.to_le_bytes());
    b.extend_from_slice(&[0; 64]); // imeFileName
    b.extend_from_slice(&0xCA01u16.to_le_bytes()); // postBeta2ColorDepth
    b.extend_from_slice(&1u16.to_le_bytes()); // clientProductId
    b.extend_from_slice(&0u32.to_le_bytes()); // serialNumber
    b.extend_from_slice(&0x18u16.to_le_bytes()); // highColorDepth
    b.extend_from_slice(&0x0Fu16.to_le_bytes()); // supportedColorDepths
    b.extend_from_slice(&0x0121u16.to_le_bytes()); // earlyCapabilityFlags
    b.extend_from_slice(&[0; 64]); // clientDigProductId
    b.extend_from_slice(&[0, 0]); // connectionType, pad1octet
    b.extend_from_slice(&0u32.to_le_bytes()); // serverSelectedProtocol: PROTOCOL_RDP
    let v = block(gcc::CS_CORE, &b);
    assert_eq!(v.len(), 216);
    v
}

/// The client data blocks: core, security, network (rdpdr, rdpsnd).
fn client_blocks() -> Vec<u8> {
    let mut v = cs_core();
    v.extend(block(0xC002, &[0x1b, 0, 0, 0, 0, 0, 0, 0]));
    let mut net = 2u32.to_le_bytes().to_vec();
    for n in [b"rdpdr\0\0\0", b"rdpsnd\0\0"] {
        net.extend_from_slice(n);
        net.extend_from_slice(&0x8080_0000u32.to_le_bytes());
    }
    v.extend(block(gcc::CS_NET, &net));
    v
}

/// An MCS Connect-Initial carrying these client data blocks.
fn connect_initial_pdu(blocks: &[u8]) -> Vec<u8> {
    let mut body = ber(0x04, &[0x01]);
    body.extend(ber(0x04, &[0x01]));
    body.extend(ber(0x01, &[0xff]));
    body.extend(domain_params([34, 2, 0, 1, 0, 1, 0xffff, 2]));
    body.extend(domain_params([1, 1, 1, 1, 0, 1, 0x420, 2]));
    body.extend(domain_params([0xffff, 0xfc17, 0xffff, 1, 0, 1, 0xffff, 2]));
    let req = [0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00];
    body.extend(ber(0x04, &gcc(&req, per::CLIENT_KEY, blocks)));
    ber(0x7f65, &body)
}

/// An MCS Connect-Response with this result and an SC_CORE for RDP 10.7.
fn connect_response_pdu(result: u8) -> Vec<u8> {
    let mut core = 0x0008_000Cu32.to_le_bytes().to_vec();
    core.extend_from_slice(&0u32.to_le_bytes()); // clientRequestedProtocols
    core.extend_from_slice(&0u32.to_le_bytes()); // earlyCapabilityFlags
    let mut blocks = block(gcc::SC_CORE, &core);
    blocks.extend(block(0x0C02, &[2, 0, 0, 0, 2, 0, 0, 0]));
    blocks.extend(block(0x0C03, &[0xeb, 0x03, 2, 0, 0xec, 0x03, 0xed, 0x03]));
    let rsp = [0x14, 0x76, 0x0a, 0x01, 0x01, 0x00, 0x01, 0xc0, 0x00];
    let mut body = ber(0x0a, &[result]);
    body.extend(ber(0x02, &[0x00]));
    body.extend(domain_params([34, 3, 0, 1, 0, 1, 0xfff8, 2]));
    body.extend(ber(0x04, &gcc(&rsp, per::SERVER_KEY, &blocks)));
    ber(0x7f66, &body)
}

/// Wraps MCS bytes in X.224 DT and TPKT, as they travel.
fn in_tpkt(mcs: &[u8]) -> Vec<u8> {
    let mut v = vec![0x03, 0x00];
    v.extend_from_slice(&u16::try_from(mcs.len() + 7).unwrap().to_be_bytes());
    v.extend_from_slice(&[0x02, 0xf0, 0x80]);
    v.extend_from_slice(mcs);
    v
}

fn full_initial() -> McsEvent {
    McsEvent::ConnectInitial {
        client_version: Some("RDP 10.7".into()),
        desktop_width: Some(1920),
        desktop_height: Some(1080),
        client_name: Some("LAB-PC".into()),
        server_selected_protocol: Some(Protocols::RDP),
        channels: vec!["rdpdr".into(), "rdpsnd".into()],
        client_build: Some(22621),
        early_capability_flags: Some(vec![
            "SUPPORT_ERRINFO_PDU".into(),
            "VALID_CONNECTION_TYPE".into(),
            "SUPPORT_DYNVC_GFX_PROTOCOL".into(),
        ]),
    }
}

#[test]
fn connect_initial_through_x224() {
    let frame = in_tpkt(&connect_initial_pdu(&client_blocks()));
    let Ok(Tpdu::Data(data)) = decode_tpdu(&frame) else {
        panic!("not a DT");
    };
    assert_eq!(decode_mcs(data), Ok(Some(full_initial())));
}

#[test]
fn connect_initial_without_selected_protocol() {
    // An RDP 5-era core block stops after imeFileName (132 bytes): no optional fields.
    let mut blocks = cs_core();
    blocks.truncate(132);
    blocks[2..4].copy_from_slice(&132u16.to_le_bytes());
    let Ok(Some(McsEvent::ConnectInitial {
        server_selected_protocol,
        early_capability_flags,
        client_name,
        channels,
        ..
    })) = decode_mcs(&connect_initial_pdu(&blocks))
    else {
        panic!("no Connect-Initial");
    };
    assert_eq!(server_selected_protocol, None);
    assert_eq!(early_capability_flags, None);
    assert_eq!(client_name.as_deref(), Some("LAB-PC"));
    assert!(channels.is_empty());
}

/// Length of the outer BER header (two-byte tag plus length) of a connect PDU.
fn outer_header_len(pdu: &[u8]) -> usize {
    match pdu[2] {
        l if l < 0x80 => 3,
        l => 3 + usize::from(l & 0x7f),
    }
}

#[test]
fn connect_initial_truncated_at_every_length() {
    let pdu = connect_initial_pdu(&client_blocks());
    let hdr = outer_header_len(&pdu);
    assert_eq!(hdr, 5);
    for cut in 0..pdu.len() {
        match decode_mcs(&pdu[..cut]) {
            // Inside the outer header (7f 65 82 LL LL) nothing can be said.
            Err(_) => assert!(cut < hdr, "cut {cut}"),
            Ok(Some(McsEvent::ConnectInitial {
                client_version,
                client_name,
                channels,
                ..
            })) => {
                assert!(cut >= hdr);
                assert!(client_version.is_none() || client_version.as_deref() == Some("RDP 10.7"));
                assert!(client_name.is_none() || client_name.as_deref().unwrap().len() <= 6);
                assert!(channels.len() <= 2);
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn connect_response_success_and_failure() {
    let frame = in_tpkt(&connect_response_pdu(0));
    let Ok(Tpdu::Data(data)) = decode_tpdu(&frame) else {
        panic!("not a DT");
    };
    assert_eq!(
        decode_mcs(data),
        Ok(Some(McsEvent::ConnectResponse {
            result: "rt-successful".into(),
            result_code: 0,
            server_version: Some("RDP 10.7".into()),
            client_requested_protocols: Some(Protocols::RDP),
        }))
    );
    let Ok(Some(McsEvent::ConnectResponse {
        result,
        result_code,
        ..
    })) = decode_mcs(&connect_response_pdu(15))
    else {
        panic!("no Connect-Response");
    };
    assert_eq!((result.as_str(), result_code), ("rt-user-rejected", 15));
}

#[test]
fn connect_response_truncated_at_every_length() {
    let pdu = connect_response_pdu(8);
    let needed = outer_header_len(&pdu) + 3;
    for cut in 0..pdu.len() {
        match decode_mcs(&pdu[..cut]) {
            // Until the result's three bytes (0a 01 RR) are in, there is no event.
            Err(_) => assert!(cut < needed, "cut {cut}"),
            Ok(Some(McsEvent::ConnectResponse { result, .. })) => {
                assert!(cut >= needed);
                assert_eq!(result, "rt-parameters-unacceptable");
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn disconnect_provider_ultimatum_reasons() {
    let names = [
        "rn-domain-disconnected",
        "rn-provider-initiated",
        "rn-token-purged",
        "rn-user-requested",
        "rn-channel-purged",
    ];
    for (r, name) in names.iter().enumerate() {
        let r = r as u8;
        let pdu = [0x20 | (r >> 1), (r & 1) << 7];
        assert_eq!(
            decode_mcs(&pdu),
            Ok(Some(McsEvent::DisconnectProviderUltimatum {
                reason: (*name).into()
            }))
        );
    }
    // The wire example 03 00 00 09 02 F0 80 21 80.
    let frame = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];
    let Ok(Tpdu::Data(data)) = decode_tpdu(&frame) else {
        panic!("not a DT");
    };
    assert_eq!(
        decode_mcs(data),
        Ok(Some(McsEvent::DisconnectProviderUltimatum {
            reason: "rn-user-requested".into()
        }))
    );
    assert!(matches!(
        decode_mcs(&[0x23, 0x80]),
        Ok(Some(McsEvent::DisconnectProviderUltimatum { reason })) if reason == "rn-unknown-7"
    ));
    assert!(matches!(
        decode_mcs(&[0x21]),
        Ok(Some(McsEvent::DisconnectProviderUltimatum { .. }))
    ));
}

#[test]
fn other_domain_pdus_are_not_reported() {
    let pdus: [&[u8]; 6] = [
        &[0x04, 0x01, 0x00, 0x01, 0x00],       // Erect Domain Request
        &[0x28],                               // Attach User Request
        &[0x2e, 0x00, 0x00, 0x06],             // Attach User Confirm
        &[0x38, 0x00, 0x06, 0x03, 0xeb],       // Channel Join Request
        &[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70], // Send Data Request
        &[0x7f, 0x67, 0x00],                   // Connect-Additional
    ];
    for p in pdus {
        assert_eq!(decode_mcs(p), Ok(None), "{p:02x?}");
    }
}

#[test]
fn malformed_and_garbage_inputs_are_errors() {
    assert!(decode_mcs(&[]).is_err());
    assert!(decode_mcs(&[0xac, 0x00]).is_err());
    assert!(decode_mcs(&[0xff]).is_err());
    assert!(decode_mcs(&[0x16, 0x03, 0x01]).is_ok()); // choice 5: a (bogus) domain PDU
    assert!(decode_mcs(&[0x7f, 0x65, 0x80]).is_err()); // indefinite length
    assert!(decode_mcs(&[0x7f, 0x69, 0x00]).is_err()); // unknown application tag
    assert!(decode_mcs(&[0x7f, 0x65, 0x03, 0x02, 0x01, 0x00]).is_err()); // wrong inner tag
    assert!(decode_mcs(&[0x7f, 0x66, 0x03, 0x02, 0x01, 0x00]).is_err());
    assert!(decode_mcs(&[0x7f, 0x66, 0x02, 0x0a, 0x00]).is_err()); // empty result
    assert!(decode_mcs(&[0x7f, 0x66, 0x04, 0x0a, 0x02, 0x01, 0x00]).is_err()); // result 256
}

#[test]
fn oversized_lengths_are_read_leniently() {
    let mut pdu = vec![0x7f, 0x65, 0x84, 0xff, 0xff, 0xff, 0xff];
    pdu.extend(ber(0x04, &[0x01]));
    assert!(matches!(
        decode_mcs(&pdu),
        Ok(Some(McsEvent::ConnectInitial {
            client_version: None,
            ..
        }))
    ));
    // userData claiming far more than is there still yields the blocks present.
    let good = connect_initial_pdu(&client_blocks());
    let mut lying = good.clone();
    let at = good.len() - client_blocks().len() - 2;
    lying[at] = 0xbf; // PER length of the blocks: 0x3fxx
    assert!(matches!(
        decode_mcs(&lying),
        Ok(Some(McsEvent::ConnectInitial {
            client_build: Some(22621),
            ..
        }))
    ));
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u32 = 0x2545_f491;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let base = connect_initial_pdu(&client_blocks());
    for _ in 0..3000 {
        // Random bytes after a valid-looking header, and single-byte corruptions.
        let n = (rnd() % 400) as usize;
        let mut v = vec![0x7f, 0x65 + (rnd() % 2) as u8];
        v.extend((0..n).map(|_| rnd() as u8));
        let _ = decode_mcs(&v);
        let mut c = base.clone();
        let i = rnd() as usize % c.len();
        c[i] = rnd() as u8;
        let _ = decode_mcs(&c);
    }
}

/// A captured stream (tests/data; see its README for how it was made).
macro_rules! capture {
    ($name:literal) => {
        &include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/",
            $name,
            ".bin"
        ))[..]
    };
}

/// Splits a captured stream into slow-path and fast-path PDUs; panics on leftovers.
fn pdus(mut stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        let crate::decode::reassembly::Hint::Frame(len) = crate::decode::tpkt::pdu_hint(stream)
        else {
            panic!(
                "stream does not frame at {:02x?}",
                &stream[..stream.len().min(8)]
            );
        };
        let (pdu, rest) = stream.split_at(len);
        out.push(pdu);
        stream = rest;
    }
    out
}

/// The MCS event in a TPKT frame carrying X.224 Data.
fn mcs_of(frame: &[u8]) -> Result<Option<McsEvent>, String> {
    match decode_tpdu(frame)? {
        Tpdu::Data(d) => decode_mcs(d),
        Tpdu::Event(e) => Err(format!("not a DT: {e:?}")),
    }
}

#[test]
fn xrdp_standard_security_capture() {
    // xfreerdp /sec:rdp against xrdp security_layer=rdp: MCS travels in the clear.
    let c2s = pdus(capture!("xrdp-rdp-security.c2s"));
    let s2c = pdus(capture!("xrdp-rdp-security.s2c"));
    let want = McsEvent::ConnectInitial {
        client_version: Some("RDP 10.7".into()),
        desktop_width: Some(1024),
        desktop_height: Some(768),
        client_name: Some("vm".into()),
        server_selected_protocol: Some(Protocols::RDP),
        channels: ["rdpdr", "rdpsnd", "cliprdr", "drdynvc"]
            .map(String::from)
            .to_vec(),
        client_build: Some(18363),
        early_capability_flags: Some(names::flag_names(0x05e3, names::EARLY_CAPABILITY_FLAGS)),
    };
    assert_eq!(mcs_of(c2s[1]), Ok(Some(want)));
    // xrdp's SC_CORE is the short 8-byte form: a version and nothing else.
    let want = McsEvent::ConnectResponse {
        result: "rt-successful".into(),
        result_code: 0,
        server_version: Some("RDP 5.0+ (0x00080004)".into()),
        client_requested_protocols: None,
    };
    assert_eq!(mcs_of(s2c[1]), Ok(Some(want)));
    // Every later slow-path PDU is a domain PDU (Erect Domain, Attach User, Channel
    // Join, Send Data) that decodes cleanly and is not reported.
    let later = c2s.iter().skip(2).chain(s2c.iter().skip(2));
    for pdu in later.filter(|p| p[0] == 3) {
        if let Ok(Tpdu::Data(_)) = decode_tpdu(pdu) {
            assert_eq!(mcs_of(pdu), Ok(None), "{:02x?}", &pdu[..8]);
        }
    }
    // The fast-path output at the end of s2c framed too.
    assert!(s2c.iter().any(|p| p[0] == 0x80));
}

#[test]
fn xrdp_refusing_a_standard_security_client_capture() {
    // The client sends its Connect Initial without waiting for the CC.
    let c2s = pdus(capture!("xrdp-tls-rdpclient.c2s"));
    let Ok(Some(McsEvent::ConnectInitial { channels, .. })) = mcs_of(c2s[1]) else {
        panic!("no Connect-Initial");
    };
    assert_eq!(channels.len(), 4);
    let s2c = pdus(capture!("xrdp-tls-rdpclient.s2c"));
    let dpum = McsEvent::DisconnectProviderUltimatum {
        reason: "rn-user-requested".into(),
    };
    assert_eq!(mcs_of(s2c[1]), Ok(Some(dpum.clone())));
    // After refusing NLA, xrdp writes a cleartext TLS alert (7 bytes), then a DPUm.
    let s2c = capture!("xrdp-tls-nlaclient.s2c");
    assert_eq!(&s2c[19..22], &[0x15, 0x03, 0x03]);
    assert_eq!(mcs_of(&s2c[26..]), Ok(Some(dpum)));
}
