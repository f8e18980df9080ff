//! Tests for the MCS decoder, on hand-made connect PDUs (see [`super::test_support`])
//! and captured ones.

use super::test_support::*;
use super::*;
use crate::decode::x224::{decode_tpdu, Tpdu};

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
        encryption_methods: Some(EncryptionMethods(0x1b)),
        encryption_methods_code: Some(0x1b),
        cluster_flags: None,
        redirection_supported: None,
        monitor_count: None,
        channel_defs: ["rdpdr", "rdpsnd"]
            .map(|n| ChannelDef {
                name: n.into(),
                options: vec!["INITIALIZED".into(), "COMPRESS_RDP".into()],
                options_code: 0x8080_0000,
            })
            .to_vec(),
        message_channel: false,
    }
}

/// The Connect Response event for [`connect_response_pdu`] with this result.
fn full_response(result_code: u8) -> McsEvent {
    McsEvent::ConnectResponse {
        result: names::mcs_result_name(result_code),
        result_code,
        server_version: Some("RDP 10.7".into()),
        client_requested_protocols: Some(Protocols::RDP),
        early_capability_flags: Some(vec![]),
        encryption_method: Some(EncryptionMethods::BIT128),
        encryption_method_code: Some(2),
        encryption_level: Some(EncryptionLevel::CLIENT_COMPATIBLE),
        encryption_level_code: Some(2),
        io_channel_id: Some(1003),
        channels: vec![
            ChannelRef {
                id: 1004,
                name: None,
            },
            ChannelRef {
                id: 1005,
                name: None,
            },
        ],
        message_channel_id: None,
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
    assert_eq!(decode_mcs(data), Ok(Some(full_response(0))));
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
fn domain_pdus_are_reported_without_channel_names() {
    assert_eq!(
        decode_mcs(&[0x04, 0x01, 0x00, 0x01, 0x00]),
        Ok(Some(McsEvent::ErectDomain))
    );
    assert_eq!(decode_mcs(&[0x28]), Ok(Some(McsEvent::AttachUserRequest)));
    assert_eq!(
        decode_mcs(&[0x2e, 0x00, 0x00, 0x06]),
        Ok(Some(McsEvent::AttachUserConfirm {
            result: McsResult::SUCCESSFUL,
            result_code: 0,
            user_id: Some(1007)
        }))
    );
    assert_eq!(
        decode_mcs(&[0x38, 0x00, 0x06, 0x03, 0xeb]),
        Ok(Some(McsEvent::ChannelJoinRequest {
            user_id: 1007,
            channel_id: 1003,
            channel: None
        }))
    );
    assert_eq!(
        decode_mcs(&[0x3c, 0x60, 0x00, 0x06, 0x03, 0xf5]),
        Ok(Some(McsEvent::ChannelJoinConfirm {
            result: McsResult(3),
            result_code: 3,
            channel_id: 1013,
            channel: None
        }))
    );
}

#[test]
fn send_data_and_unused_pdus_are_not_reported() {
    let pdus: [&[u8]; 3] = [
        &[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x00], // Send Data Request, empty
        &[0x68, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x01, 0xff], // Send Data Indication
        &[0x7f, 0x67, 0x00],                         // Connect-Additional
    ];
    for p in pdus {
        assert_eq!(decode_mcs(p), Ok(None), "{p:02x?}");
    }
    // A Send Data without its userData is malformed, not silently skipped.
    assert!(decode_mcs(&[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70]).is_err());
}

#[test]
fn serialized_domain_events() {
    let ev = McsEvent::ChannelJoinConfirm {
        result: McsResult(0),
        result_code: 0,
        channel_id: 1004,
        channel: Some(ChannelName::Virtual("rdpdr".into())),
    };
    assert_eq!(
        serde_json::to_string(&ev).unwrap(),
        r#"{"kind":"channel_join_confirm","result":"rt-successful","result_code":0,"channel_id":1004,"channel":"rdpdr"}"#
    );
    assert_eq!(
        serde_json::to_string(&McsEvent::ErectDomain).unwrap(),
        r#"{"kind":"erect_domain"}"#
    );
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
        encryption_methods: Some(EncryptionMethods(0x1b)),
        encryption_methods_code: Some(0x1b),
        cluster_flags: Some(vec![
            "REDIRECTION_SUPPORTED".into(),
            "REDIRECTION_VERSION4".into(),
        ]),
        redirection_supported: Some(true),
        monitor_count: None,
        channel_defs: [
            ("rdpdr", 0xc080_0000),
            ("rdpsnd", 0xc000_0000),
            ("cliprdr", 0xc0a0_0000),
            ("drdynvc", 0xc080_0000),
        ]
        .map(|(name, options)| ChannelDef {
            name: name.into(),
            options: gcc::channel_option_names(options),
            options_code: options,
        })
        .to_vec(),
        message_channel: false,
    };
    assert_eq!(mcs_of(c2s[1]), Ok(Some(want)));
    // xrdp's SC_CORE is the short 8-byte form: a version and nothing else.
    let want = McsEvent::ConnectResponse {
        result: "rt-successful".into(),
        result_code: 0,
        server_version: Some("RDP 5.0+ (0x00080004)".into()),
        client_requested_protocols: None,
        early_capability_flags: None,
        // crypt_level=fips in xrdp.ini.
        encryption_method: Some(EncryptionMethods::FIPS),
        encryption_method_code: Some(0x10),
        encryption_level: Some(EncryptionLevel::FIPS),
        encryption_level_code: Some(4),
        io_channel_id: Some(1003),
        channels: (1004..=1007)
            .map(|id| ChannelRef { id, name: None })
            .collect(),
        message_channel_id: None,
    };
    assert_eq!(mcs_of(s2c[1]), Ok(Some(want)));
    // Every later slow-path PDU is a domain PDU that decodes cleanly: Erect Domain,
    // Attach User, six Channel Joins each way, and Send Data (not reported).
    let later: Vec<_> = c2s
        .iter()
        .skip(2)
        .chain(s2c.iter().skip(2))
        .filter(|p| p[0] == 3)
        .collect();
    let kinds: Vec<String> = later
        .iter()
        .filter_map(|p| mcs_of(p).unwrap())
        .map(|e| crate::decode::DecodeEvent::Mcs(e).kind())
        .collect();
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(count("erect_domain"), 1);
    assert_eq!(count("attach_user_request"), 1);
    assert_eq!(count("channel_join_request"), 6);
    assert_eq!(count("attach_user_confirm"), 1);
    assert_eq!(count("channel_join_confirm"), 6);
    assert_eq!(kinds.len(), 15, "{kinds:?}");
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
