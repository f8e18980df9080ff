use super::build;
use super::*;
use proptest::prelude::*;

/// Little-endian UTF-16 with NUL, written out by hand for fixtures.
fn w(s: &str) -> Vec<u8> {
    let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend_from_slice(&[0, 0]);
    v
}

/// A header + body fixture with packetLength filled in.
fn pkt(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 0, 0, 0];
    v.extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn ok(frame: &[u8]) -> Packet {
    match Packet::decode(frame) {
        Ok(p) => p,
        Err(e) => panic!("decode failed: {e}"),
    }
}

/// One sample of every packet type, with every optional field present somewhere.
fn samples() -> Vec<Packet> {
    vec![
        Packet::HandshakeRequest {
            ver_major: 1,
            ver_minor: 0,
            client_version: 0,
            extended_auth: ExtendedAuth::PAA,
        },
        Packet::HandshakeResponse {
            error: Status::OK,
            ver_major: 1,
            ver_minor: 0,
            server_version: 0,
            extended_auth: ExtendedAuth::SSPI_NTLM,
        },
        Packet::ExtendedAuthMsg {
            error: Status::OK,
            blob_len: 40,
            ntlm_type: Some(2),
        },
        Packet::ExtendedAuthMsg {
            error: Status(0x8009_030C),
            blob_len: 0,
            ntlm_type: None,
        },
        Packet::TunnelCreate {
            caps: Caps(0xd),
            fields_present: 0,
            paa_cookie_len: None,
            reauth_context: None,
        },
        Packet::TunnelCreate {
            caps: Caps(0x3f),
            fields_present: 3,
            paa_cookie_len: Some(10),
            reauth_context: Some(0x0102_0304_0506_0708),
        },
        Packet::TunnelResponse {
            server_version: 5,
            status: Status::OK,
            fields_present: 0x17,
            tunnel_id: Some(7),
            caps: Some(Caps(0x3)),
            consent_message: Some("Be nice".into()),
            server_cert_len: Some(6),
        },
        Packet::TunnelResponse {
            server_version: 0,
            status: Status(0x8007_59DB),
            fields_present: 0,
            tunnel_id: None,
            caps: None,
            consent_message: None,
            server_cert_len: None,
        },
        Packet::TunnelAuth {
            fields_present: 0,
            client_name: "WS01".into(),
            soh_len: None,
        },
        Packet::TunnelAuth {
            fields_present: 1,
            client_name: "laptop-ä".into(),
            soh_len: Some(4),
        },
        Packet::TunnelAuthResponse {
            error: Status::OK,
            fields_present: 7,
            redir_flags: Some(RedirFlags::ENABLE_ALL),
            idle_timeout_min: Some(30),
            soh_response_len: Some(2),
        },
        Packet::ChannelCreate {
            resources: vec!["host.example.com".into(), "host".into()],
            alt_resources: vec!["10.0.0.5".into()],
            port: 3389,
            protocol: 3,
        },
        Packet::ChannelResponse {
            error: Status::OK,
            fields_present: 7,
            channel_id: Some(1),
            udp_port: Some(3391),
            authn_cookie_len: Some(16),
        },
        Packet::ChannelResponse {
            error: Status(0x8007_59DA),
            fields_present: 0,
            channel_id: None,
            udp_port: None,
            authn_cookie_len: None,
        },
        Packet::Data { data_len: 0 },
        Packet::ServiceMessage {
            message: "Maintenance at 22:00".into(),
        },
        Packet::ReauthMessage { context: 99 },
        Packet::Keepalive,
        Packet::CloseChannel {
            status: Status(0x4CA),
        },
        Packet::CloseChannelResponse { status: Status::OK },
        Packet::Unknown {
            packet_type: 0x22,
            len: 12,
        },
    ]
}

#[test]
fn every_type_round_trips() {
    for p in samples() {
        let mut b = Vec::new();
        p.encode(&mut b);
        assert_eq!(ok(&b), p, "bytes {b:02x?}");
        assert_eq!(
            PacketType::from_u16(p.packet_type().to_u16()),
            p.packet_type()
        );
    }
    let mut b = Vec::new();
    Packet::Data { data_len: 3 }.encode(&mut b);
    b.extend_from_slice(b"abc");
    assert_eq!(ok(&b), Packet::Data { data_len: 3 });
    assert_eq!(Packet::data_payload(&b), Some(&b"abc"[..]));
}

#[test]
fn handshake_fixtures() {
    let req = [1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 2, 0];
    assert_eq!(build::handshake_request(ExtendedAuth::PAA), req);
    assert_eq!(
        ok(&req),
        Packet::HandshakeRequest {
            ver_major: 1,
            ver_minor: 0,
            client_version: 0,
            extended_auth: ExtendedAuth::PAA
        }
    );
    let rsp = pkt(2, &[0xDA, 0x59, 0x07, 0x80, 1, 0, 0, 0, 4, 0]);
    assert_eq!(rsp.len(), 18);
    assert_eq!(
        build::handshake_response(Status(0x8007_59DA), ExtendedAuth::SSPI_NTLM),
        rsp
    );
    assert!(matches!(
        ok(&rsp),
        Packet::HandshakeResponse {
            error: Status(0x8007_59DA),
            ver_major: 1,
            extended_auth: ExtendedAuth(4),
            ..
        }
    ));
}

#[test]
fn extended_auth_fixture_keeps_only_the_ntlm_type() {
    let blob = cat(&[b"NTLMSSP\0", &[3, 0, 0, 0], b"secret-response"]);
    let f = pkt(
        3,
        &cat(&[&[0; 4], &(blob.len() as u16).to_le_bytes(), &blob]),
    );
    assert_eq!(build::extended_auth_msg(Status::OK, &blob), f);
    let p = ok(&f);
    assert_eq!(
        p,
        Packet::ExtendedAuthMsg {
            error: Status::OK,
            blob_len: blob.len() as u16,
            ntlm_type: Some(3)
        }
    );
    let json = serde_json::to_string(&p).unwrap_or_default();
    assert!(!json.contains("secret"), "{json}");
    assert!(json.contains("\"packet\":\"EXTENDED_AUTH_MSG\""), "{json}");
}

#[test]
fn tunnel_create_fixture() {
    let cookie = w("tok");
    let f = pkt(
        4,
        &cat(&[&[0x0d, 0, 0, 0], &[1, 0], &[0, 0], &[8, 0], &cookie]),
    );
    assert_eq!(build::tunnel_create(Caps(0xd), Some("tok")), f);
    assert_eq!(
        ok(&f),
        Packet::TunnelCreate {
            caps: Caps(0xd),
            fields_present: 1,
            paa_cookie_len: Some(8),
            reauth_context: None
        }
    );
    let f = pkt(
        4,
        &cat(&[
            &[0x0d, 0, 0, 0],
            &[2, 0],
            &[0, 0],
            &[9, 0, 0, 0, 0, 0, 0, 0],
        ]),
    );
    assert!(matches!(
        ok(&f),
        Packet::TunnelCreate {
            reauth_context: Some(9),
            paa_cookie_len: None,
            ..
        }
    ));
}

#[test]
fn tunnel_response_fixture_reads_fields_in_order() {
    let cert = [0xAAu8; 4];
    let f = pkt(
        5,
        &cat(&[
            &[5, 0],
            &[0, 0, 0, 0],
            &[0x17, 0],
            &[0, 0],
            &[0x11, 0, 0, 0],
            &[0x0d, 0, 0, 0],
            &[0x55; 20],
            &[4, 0],
            &cert,
            &[6, 0],
            &w("ok"),
        ]),
    );
    assert_eq!(
        ok(&f),
        Packet::TunnelResponse {
            server_version: 5,
            status: Status::OK,
            fields_present: 0x17,
            tunnel_id: Some(0x11),
            caps: Some(Caps(0xd)),
            consent_message: Some("ok".into()),
            server_cert_len: Some(4)
        }
    );
    let built = build::tunnel_response(Status(0x8007_59DD), 3, Caps(0x3), Some("ok"));
    let expect = pkt(
        5,
        &cat(&[
            &[0, 0],
            &[0xDD, 0x59, 0x07, 0x80],
            &[0x13, 0],
            &[0, 0],
            &[3, 0, 0, 0],
            &[3, 0, 0, 0],
            &[6, 0],
            &w("ok"),
        ]),
    );
    assert_eq!(built, expect);
}

#[test]
fn tunnel_auth_fixtures() {
    let f = pkt(6, &cat(&[&[0, 0], &[10, 0], &w("WS01")]));
    assert_eq!(build::tunnel_auth("WS01"), f);
    assert_eq!(
        ok(&f),
        Packet::TunnelAuth {
            fields_present: 0,
            client_name: "WS01".into(),
            soh_len: None
        }
    );
    let f = pkt(
        7,
        &cat(&[&[0; 4], &[3, 0], &[0, 0], &[0, 0, 0, 0x80], &[30, 0, 0, 0]]),
    );
    assert_eq!(
        build::tunnel_auth_response(Status::OK, RedirFlags::ENABLE_ALL, 30),
        f
    );
    assert_eq!(
        ok(&f),
        Packet::TunnelAuthResponse {
            error: Status::OK,
            fields_present: 3,
            redir_flags: Some(RedirFlags::ENABLE_ALL),
            idle_timeout_min: Some(30),
            soh_response_len: None
        }
    );
}

#[test]
fn channel_fixtures() {
    let f = pkt(
        8,
        &cat(&[&[1, 0], &[0x3d, 0x0d], &[3, 0], &[10, 0], &w("host")]),
    );
    assert_eq!(build::channel_create("host", 3389), f);
    assert_eq!(
        ok(&f),
        Packet::ChannelCreate {
            resources: vec!["host".into()],
            alt_resources: vec![],
            port: 3389,
            protocol: 3
        }
    );
    // channelId, then udpPort, then the cookie, whatever the bit order.
    let f = pkt(
        9,
        &cat(&[
            &[0; 4],
            &[7, 0],
            &[0, 0],
            &[5, 0, 0, 0],
            &[0x3f, 0x0d],
            &[2, 0],
            &[9, 9],
        ]),
    );
    assert_eq!(
        ok(&f),
        Packet::ChannelResponse {
            error: Status::OK,
            fields_present: 7,
            channel_id: Some(5),
            udp_port: Some(3391),
            authn_cookie_len: Some(2)
        }
    );
    assert_eq!(
        build::channel_response(Status::OK, 5),
        pkt(9, &cat(&[&[0; 4], &[1, 0], &[0, 0], &[5, 0, 0, 0]]))
    );
}

#[test]
fn small_packet_fixtures() {
    let f = pkt(0x0A, &[3, 0, 1, 2, 3]);
    assert_eq!(build::data(&[1, 2, 3]), f);
    assert_eq!(ok(&f), Packet::Data { data_len: 3 });
    assert_eq!(Packet::data_payload(&f), Some(&[1u8, 2, 3][..]));
    assert_eq!(Packet::data_payload(&build::keepalive()), None);
    let f = pkt(0x0B, &cat(&[&[4, 0], &w("x")]));
    assert_eq!(build::service_message("x"), f);
    assert_eq!(
        ok(&f),
        Packet::ServiceMessage {
            message: "x".into()
        }
    );
    let f = pkt(0x0C, &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(build::reauth_message(1), f);
    assert_eq!(ok(&f), Packet::ReauthMessage { context: 1 });
    assert_eq!(build::keepalive(), [0x0D, 0, 0, 0, 8, 0, 0, 0]);
    assert_eq!(ok(&build::keepalive()), Packet::Keepalive);
    let f = pkt(0x10, &[0xCA, 4, 0, 0]);
    assert_eq!(build::close_channel(Status(0x4CA)), f);
    assert_eq!(
        ok(&f),
        Packet::CloseChannel {
            status: Status(0x4CA)
        }
    );
    let f = pkt(0x11, &[0, 0, 0, 0]);
    assert_eq!(f.len(), 12);
    assert_eq!(build::close_channel_response(Status::OK), f);
    // rdpgw appends channel-response-style fields: ignored.
    let f = pkt(0x11, &[0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0]);
    assert_eq!(ok(&f), Packet::CloseChannelResponse { status: Status::OK });
    assert_eq!(
        ok(&pkt(0x30, &[1, 2])),
        Packet::Unknown {
            packet_type: 0x30,
            len: 10
        }
    );
}

#[test]
fn long_data_is_split_into_packets() {
    let payload = vec![7u8; 70_000];
    let b = build::data(&payload);
    assert_eq!(b.len(), 70_000 + 2 * DATA_HEADER_LEN);
    let first = &b[..DATA_HEADER_LEN + 65535];
    assert_eq!(ok(first), Packet::Data { data_len: 65535 });
    assert_eq!(
        ok(&b[first.len()..]),
        Packet::Data {
            data_len: (70_000 - 65535) as u16
        }
    );
    assert_eq!(build::data(&[]), pkt(0x0A, &[0, 0]));
}

#[test]
fn strings_are_lossy_trimmed_and_bounded() {
    // An unpaired surrogate, then text after an embedded NUL.
    let mut s = vec![0x00, 0xD8, b'a', 0];
    s.extend_from_slice(&[0, 0, b'z', 0]);
    let f = pkt(0x0B, &cat(&[&(s.len() as u16).to_le_bytes(), &s]));
    assert_eq!(
        ok(&f),
        Packet::ServiceMessage {
            message: "\u{FFFD}a".into()
        }
    );
    let long = "x".repeat(5000);
    let f = build::service_message(&long);
    let Packet::ServiceMessage { message } = ok(&f) else {
        panic!("not a service message");
    };
    assert_eq!(message.chars().count(), MESSAGE_MAX_CHARS);
}

#[test]
fn truncated_and_bad_headers_are_errors() {
    for p in samples() {
        let mut b = Vec::new();
        p.encode(&mut b);
        for n in 0..b.len() {
            assert!(Packet::decode(&b[..n]).is_err(), "{p:?} cut at {n}");
        }
        // A packetLength that stops inside the fields is an error too.
        if b.len() > HEADER_LEN {
            let mut short = b.clone();
            let cut = (b.len() - 1) as u32;
            short[4..8].copy_from_slice(&cut.to_le_bytes());
            if !matches!(p, Packet::Unknown { .. }) {
                assert!(Packet::decode(&short).is_err(), "{p:?} short length");
            }
        }
    }
    let e = Packet::decode(&[1, 0, 1, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    assert!(e.is_err_and(|e| e.reason.contains("reserved")));
    let e = Packet::decode(&[0x0D, 0, 0, 0, 4, 0, 0, 0]);
    assert!(e.is_err_and(|e| e.reason.contains("smaller")));
    let e = Packet::decode(&pkt(5, &[0, 0, 0, 0, 0, 0, 1, 0, 0, 0]));
    assert!(
        e.is_err_and(|e| e.reason.contains("tunnelId")),
        "names the field"
    );
    // DATA whose cbDataLen runs past packetLength.
    assert!(Packet::decode(&pkt(0x0A, &[9, 0, 1])).is_err());
    assert_eq!(Packet::data_payload(&pkt(0x0A, &[9, 0, 1])), None);
}

#[test]
fn serialises_with_spec_names() {
    let v = serde_json::to_value(Packet::ChannelResponse {
        error: Status(0x8007_59DA),
        fields_present: 0,
        channel_id: None,
        udp_port: None,
        authn_cookie_len: None,
    })
    .unwrap_or_default();
    assert_eq!(v["packet"], "CHANNEL_RESPONSE");
    assert_eq!(v["error"]["name"], "E_PROXY_RAP_ACCESSDENIED");
    assert_eq!(PacketType::TunnelResponse.to_string(), "TUNNEL_RESPONSE");
    assert_eq!(PacketType::Unknown(0x22).to_string(), "UNKNOWN(0x22)");
    assert_eq!(
        serde_json::to_value(PacketType::CloseChannelResponse).unwrap_or_default(),
        "CLOSE_CHANNEL_RESPONSE"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Packet::decode(&bytes);
        let _ = Packet::data_payload(&bytes);
    }

    #[test]
    fn plausible_headers_never_panic(ty in 0u16..0x14, body in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut f = ty.to_le_bytes().to_vec();
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
        f.extend_from_slice(&body);
        if let Ok(p) = Packet::decode(&f) {
            let _ = serde_json::to_string(&p);
            let mut out = Vec::new();
            p.encode(&mut out);
        }
    }

    #[test]
    fn bit_flips_in_samples_never_panic(idx in 0usize..32, pos in 0usize..256, bit in 0u8..8) {
        let s = samples();
        let mut b = Vec::new();
        s[idx % s.len()].encode(&mut b);
        let at = pos % b.len();
        b[at] ^= 1 << bit;
        let _ = Packet::decode(&b);
    }
}
