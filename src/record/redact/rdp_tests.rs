//! RDP plaintext redaction: the captured fixtures (with a password and cookie seeded
//! into their Client Info) and hand-built PDUs for input, Save Session Info,
//! redirection and CredSSP, each checked against rdptap's own decoder.

use super::test_support::*;
use super::{FlowProto, StreamRedactor};
use crate::decode::mcs::test_support::{connect_response_pdu, in_tpkt};
use crate::decode::pdu::test_pdus::{self, share_control, share_data};
use crate::decode::pdu::RdpEvent;
use crate::decode::{DecodeEvent, Decoded};
use crate::vocab::Dir::{self, C2S, S2C};
use bytes::Bytes;

/// The fixtures with a Client Info; the `shadow` ones use the same sequence.
const FIXTURES: [&str; 6] = [
    "xrdp-tls-plain-active",
    "xrdp-tls-plain-serverkill",
    "xrdp-tls-plain-serverterm",
    "xrdp-tls-plain-sigterm",
    "shadow-tls-plain-stop",
    "shadow-tls-plain-authfail",
];

/// The steps of `script` as (direction, bytes), with the bytes taken from the given
/// streams (same step lengths).
fn replay(script: &[Step], c2s: &[u8], s2c: &[u8]) -> Vec<(Dir, Vec<u8>)> {
    let mut at = [0usize; 2];
    let mut out = Vec::new();
    for step in script {
        if let Step::Bytes(dir, b) = step {
            let src = if *dir == C2S { c2s } else { s2c };
            let i = dir.idx();
            out.push((*dir, src[at[i]..at[i] + b.len()].to_vec()));
            at[i] += b.len();
        }
    }
    out
}

/// Redacts `script` and checks the lengths and that rdptap's plaintext decoder reads
/// the redacted streams exactly as the originals.
fn redact(script: &[Step]) -> Output {
    let out = run(FlowProto::Rdp, script);
    let (c2s, s2c) = (input(script, C2S), input(script, S2C));
    assert_eq!((out.c2s.len(), out.s2c.len()), (c2s.len(), s2c.len()));
    let before = plain_decode(&replay(script, &c2s, &s2c));
    let after = plain_decode(&replay(script, &out.c2s, &out.s2c));
    assert_eq!(
        after, before,
        "the decoder reads the redacted streams alike"
    );
    out
}

fn client_info_of(events: &[Decoded]) -> Option<(u16, u16, String)> {
    events.iter().find_map(|d| match &d.event {
        DecodeEvent::Rdp(RdpEvent::ClientInfo(ci)) => {
            Some((ci.password_len, ci.arc_cookie_len, ci.user.clone()))
        }
        _ => None,
    })
}

#[test]
fn fixtures_lose_the_seeded_password_cookie_and_keys() {
    for name in FIXTURES {
        let (c2s, s2c) = fixture(name);
        let seeded = with_secrets(&c2s);
        let script = fixture_steps(&seeded, &s2c);
        let out = redact(&script);
        for secret in [
            &utf16(FIXTURE_PASSWORD)[..],
            FIXTURE_PASSWORD.as_bytes(),
            FIXTURE_VERIFIER,
        ] {
            assert!(contains(&seeded, secret) || secret == FIXTURE_PASSWORD.as_bytes());
            assert!(!contains(&out.c2s, secret), "{name}");
        }
        let events = plain_decode(&replay(&script, &out.c2s, &out.s2c));
        assert_eq!(
            client_info_of(&events),
            Some((14, 28, "labuser".to_string())),
            "{name}"
        );
        assert_eq!(out.s2c, s2c, "{name}: nothing secret from the server");
        // Every change is in the Client Info or a fast-path key code.
        let diff = changed(&seeded, &out.c2s);
        let keys = diff
            .iter()
            .filter(|&&i| seeded[i] == 0x0f && out.c2s[i] == 0)
            .count();
        // The password's high bytes and terminator were zero already.
        assert_eq!(diff.len(), 7 + 16 + keys, "{name}");
        assert!(keys >= 2, "{name}: the Tab key codes");
        assert_eq!(out.scrubbed, 2 + keys as u64, "{name}");
    }
}

#[test]
fn fixtures_at_every_small_piece_size_give_the_same_bytes() {
    let (c2s, s2c) = fixture("xrdp-tls-plain-active");
    let script = fixture_steps(&with_secrets(&c2s), &s2c);
    let whole = run(FlowProto::Rdp, &script);
    for size in [1, 2, 3, 7, 64, 1000] {
        assert_eq!(run_pieces(FlowProto::Rdp, &script, size), whole, "{size}");
    }
}

/// The server's Connect-Response (I/O 1003, static channels 1004 and 1005) and then
/// `steps`.
fn after_connect(steps: Vec<Step>) -> Vec<Step> {
    let mut script = vec![bytes(S2C, in_tpkt(&connect_response_pdu(0)))];
    script.extend(steps);
    script
}

#[test]
fn client_info_loses_password_and_cookie_on_the_io_channel_only() {
    let info = test_pdus::client_info_pdu();
    let script = after_connect(vec![
        bytes(C2S, send_data(C2S, 1004, &info)),
        bytes(C2S, send_data(C2S, 1003, &info)),
    ]);
    let out = redact(&script);
    let frames = frames(&out.c2s);
    assert_eq!(
        frames[0],
        send_data(C2S, 1004, &info),
        "a virtual channel is not touched"
    );
    let password = utf16(test_pdus::PASSWORD);
    assert!(!contains(&frames[1], &password));
    assert!(!contains(&frames[1], test_pdus::ARC_COOKIE));
    assert!(contains(&frames[1], &utf16("alice")));
    assert_eq!(out.scrubbed, 2);
}

/// A slow-path TS_INPUT_EVENT.
fn slow_event(kind: u16, a: u16, b: u16) -> Vec<u8> {
    let mut e = 0x1234_5678u32.to_le_bytes().to_vec();
    for v in [kind, a, b, 0] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e
}

#[test]
fn slow_path_key_codes_go_and_the_mouse_stays() {
    let mut body = 3u16.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend(slow_event(0x0004, 0x0000, 0x001E));
    body.extend(slow_event(0x0005, 0x8000, u16::from(b'x')));
    body.extend(slow_event(0x8001, 0x0800, 100));
    let pdu = share_data(0x1C, &body);
    let script = after_connect(vec![bytes(C2S, send_data(C2S, 1003, &pdu))]);
    let out = redact(&script);
    let original = send_data(C2S, 1003, &pdu);
    let diff = changed(&original, &out.c2s);
    assert_eq!(diff.len(), 2, "{diff:?}: 0x1E and 'x' are one byte each");
    assert!(diff
        .iter()
        .all(|&i| original[i] == 0x1E || original[i] == b'x'));
    assert_eq!(out.scrubbed, 2);
}

#[test]
fn fast_path_key_codes_go_and_the_rest_stays() {
    let events: Vec<u8> = [
        &[0x00, 0x1E][..],                     // scancode press 'a'
        &[0x80, 0x2D, 0x4E],                   // unicode U+4E2D
        &[0x20, 0x00, 0x08, 0x10, 0, 0x20, 0], // mouse move
        &[0x60],                               // sync
        &[0xC0, 1, 2, 3, 4],                   // QoE timestamp
        &[0x01, 0x1E],                         // scancode release 'a'
    ]
    .concat();
    let fp = |header: u8, count: Option<u8>| {
        let mut v = vec![header, 0];
        v.extend(count);
        v.extend_from_slice(&events);
        v[1] = v.len() as u8;
        v
    };
    let six = fp(6 << 2, None);
    let counted = fp(0, Some(6));
    let encrypted = fp((6 << 2) | 0x80, None);
    let script = after_connect(vec![
        bytes(C2S, send_data(C2S, 1003, &test_pdus::license_error(7, 2))),
        bytes(
            C2S,
            [six.clone(), counted.clone(), encrypted.clone()].concat(),
        ),
    ]);
    let out = redact(&script);
    let sent = input(&script, C2S);
    let diff = changed(&sent, &out.c2s);
    let start = sent.len() - six.len() - counted.len() - encrypted.len();
    let want: Vec<usize> = [3, 5, 6, 21]
        .iter()
        .flat_map(|&k| [start + k, start + six.len() + 1 + k])
        .collect();
    let mut want = want;
    want.sort();
    assert_eq!(
        diff, want,
        "key codes of both PDUs; the encrypted one is left"
    );
    assert_eq!(out.scrubbed, 6);
}

/// A Save Session Info PDU with a logon extended info: an auto-reconnect cookie
/// (ArcRandomBits `bits`) and a logon error.
fn save_session_info(bits: &[u8; 16]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&3u32.to_le_bytes());
    body.extend_from_slice(&(2u16 + 4 + 4 + 28 + 4 + 8).to_le_bytes());
    body.extend_from_slice(&3u32.to_le_bytes());
    body.extend_from_slice(&28u32.to_le_bytes());
    for v in [28u32, 1, 7] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(bits);
    body.extend_from_slice(&8u32.to_le_bytes());
    body.extend_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
    body.extend_from_slice(&2u32.to_le_bytes());
    body.extend_from_slice(&[0; 570]);
    share_data(0x26, &body)
}

#[test]
fn save_session_info_loses_the_random_bits_only() {
    let bits = b"ARC-RANDOM-BITS!";
    let pdu = save_session_info(bits);
    let script = after_connect(vec![bytes(S2C, send_data(S2C, 1003, &pdu))]);
    let out = redact(&script);
    assert!(!contains(&out.s2c, bits));
    let diff = changed(&input(&script, S2C), &out.s2c);
    assert_eq!(diff.len(), 16);
    assert_eq!(out.scrubbed, 1);
}

/// RDP_SERVER_REDIRECTION_PACKET with an address, user, domain and password blob.
fn redirection_packet(password: &[u8]) -> Vec<u8> {
    let field = |b: &[u8]| [&(b.len() as u32).to_le_bytes()[..], b].concat();
    let fields = [
        field(&utf16("10.0.0.9\0")),
        field(&utf16("alice\0")),
        field(&utf16("CONTOSO\0")),
        field(password),
        field(&utf16("host.contoso.test\0")),
    ]
    .concat();
    let mut p = 0x0400u16.to_le_bytes().to_vec();
    p.extend_from_slice(&(12 + fields.len() as u16).to_le_bytes());
    p.extend_from_slice(&5u32.to_le_bytes());
    p.extend_from_slice(&(0x1u32 | 0x4 | 0x8 | 0x10 | 0x100).to_le_bytes());
    p.extend(fields);
    p
}

#[test]
fn redirection_loses_its_password_under_both_securities() {
    let password = b"broker-cookie-or-password";
    let packet = redirection_packet(password);
    let enhanced = share_control(0xA, &[&[0, 0][..], &packet].concat());
    let script = after_connect(vec![
        bytes(S2C, send_data(S2C, 1003, &enhanced)),
        bytes(S2C, send_data(S2C, 1003, &packet)),
    ]);
    let out = redact(&script);
    assert!(!contains(&out.s2c, password));
    assert!(contains(&out.s2c, &utf16("host.contoso.test")));
    let diff = changed(&input(&script, S2C), &out.s2c);
    assert_eq!(diff.len(), 2 * password.len());
    assert_eq!(out.scrubbed, 2);
}

/// A TSRequest with these context-tagged fields.
fn ts_request(fields: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let body: Vec<u8> = fields.iter().flat_map(|(t, v)| der(*t, v)).collect();
    der(0x30, &body)
}

#[test]
fn credssp_loses_credentials_and_ntlm_responses_and_keeps_pub_key_auth() {
    let version = der(0x02, &[6]);
    let t3 = ntlm_type3_mic("labuser", "LAB");
    let nego = der(0x30, &der(0x30, &der(0xA0, &der(0x04, &t3))));
    let pub_key_auth = der(0x04, &[0xEE; 40]);
    let creds = der(0x04, &[0xCC; 300]);
    let c2s = [
        ts_request(&[
            (0xA0, version.clone()),
            (0xA1, nego),
            (0xA3, pub_key_auth.clone()),
        ]),
        ts_request(&[(0xA0, version.clone()), (0xA2, creds)]),
    ];
    let s2c = [
        ts_request(&[(0xA0, version.clone()), (0xA3, pub_key_auth)]),
        vec![0, 0, 0, 0],
        in_tpkt(&connect_response_pdu(0)),
        send_data(S2C, 1003, &save_session_info(b"ARC-RANDOM-BITS!")),
    ];
    let script = vec![
        bytes(C2S, &c2s[0]),
        bytes(S2C, &s2c[0]),
        bytes(C2S, &c2s[1]),
        bytes(S2C, [&s2c[1][..], &s2c[2], &s2c[3]].concat()),
        bytes(C2S, send_data(C2S, 1003, &test_pdus::client_info_pdu())),
    ];
    let out = run(FlowProto::Rdp, &script);
    for b in [0xB1u8, 0xA5, 0xC3, 0xD7, 0xCC] {
        assert!(!contains(&out.c2s, &[b; 8]), "{b:#x}");
    }
    assert!(contains(&out.c2s, &[0xEE; 40]), "pubKeyAuth stays");
    assert!(contains(&out.c2s, &utf16("labuser")));
    assert!(
        !contains(&out.s2c, b"ARC-RANDOM-BITS!"),
        "in sync after CredSSP"
    );
    assert!(
        !contains(&out.c2s, &utf16(test_pdus::PASSWORD)),
        "in sync after CredSSP"
    );
    // LM, NT, key, MIC; authInfo; the random bits; password and cookie.
    assert_eq!(out.scrubbed, 4 + 1 + 1 + 2);
}

#[test]
fn garbage_passes_unchanged_and_says_so() {
    let mut r = StreamRedactor::new(FlowProto::Rdp);
    let junk = Bytes::from_static(b"\x42\x03\x03\x00\x10hello, not rdp at all");
    let mut out = Vec::new();
    r.feed(C2S, junk.clone(), &mut out);
    assert_eq!(out, vec![junk]);
    assert!(r.lost_sync(C2S));
}

#[test]
fn an_inner_connection_with_its_own_tls_passes_without_losing_sync() {
    // X.224 Connection Request and Confirm, then TLS records.
    let cr = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 1, 0, 0, 0];
    let hello = [0x16, 0x03, 0x01, 0x00, 0x04, 1, 0, 0, 0];
    let script = vec![
        bytes(C2S, cr),
        bytes(
            C2S,
            [&hello[..], &[0x17, 0x03, 0x03, 0, 2, 0x40, 0x00]].concat(),
        ),
    ];
    let mut r = StreamRedactor::new(FlowProto::Rdp);
    let out = run_cut(&mut r, &script, &mut |_, n| vec![1; n]);
    assert_eq!(out.c2s, input(&script, C2S));
    assert!(!r.lost_sync(C2S));
}

#[test]
fn graphics_pass_uncopied() {
    let mut r = StreamRedactor::new(FlowProto::Rdp);
    let mut out = Vec::new();
    r.feed(
        S2C,
        Bytes::from(in_tpkt(&connect_response_pdu(0))),
        &mut out,
    );
    let update = Bytes::from(send_data(S2C, 1003, &share_data(0x02, &[0x11; 5000])));
    let fast = Bytes::from(
        vec![0x80, 0x80 | 0x10, 0x00]
            .into_iter()
            .chain([0; 4093])
            .collect::<Vec<u8>>(),
    );
    for chunk in [update, fast] {
        let mut out = Vec::new();
        r.feed(S2C, chunk.clone(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ptr(), chunk.as_ptr());
    }
    assert!(!r.lost_sync(S2C));
}

#[test]
fn redact_users_hides_client_info_and_redirection_names() {
    let info = test_pdus::client_info_pdu();
    let packet = redirection_packet(b"broker-password");
    let script = after_connect(vec![
        bytes(C2S, send_data(C2S, 1003, &info)),
        bytes(S2C, send_data(S2C, 1003, &packet)),
    ]);
    let out = run_names(FlowProto::Rdp, &script, &[1, 7, 100]);
    for name in ["alice", "CONTOSO"] {
        assert!(
            !contains(&out.c2s, &utf16(name)),
            "{name} in the Client Info"
        );
        assert!(
            !contains(&out.s2c, &utf16(name)),
            "{name} in the redirection"
        );
    }
    assert!(!contains(&out.c2s, &utf16(test_pdus::PASSWORD)));
    assert!(contains(&out.s2c, &utf16("host.contoso.test")));
    // The Client Info still decodes, with its lengths as they were.
    let events = plain_decode(&replay(&script, &out.c2s, &out.s2c));
    let (password_len, _, user) = client_info_of(&events).expect("Client Info decoded");
    assert_eq!(password_len, 30);
    assert!(!user.contains("alice"), "{user}");
    // Without --redact-users the names stay.
    assert!(contains(&redact(&script).c2s, &utf16("alice")));
}

#[test]
fn redact_users_hides_the_logon_info_names() {
    for version in [0u32, 1] {
        let mut body = version.to_le_bytes().to_vec();
        if version == 0 {
            // cbDomain, Domain[52], cbUserName, UserName[512], SessionId.
            let mut d = utf16("CONTOSO");
            d.resize(52, 0);
            let mut u = utf16("alice");
            u.resize(512, 0);
            body.extend_from_slice(&16u32.to_le_bytes());
            body.extend(d);
            body.extend_from_slice(&12u32.to_le_bytes());
            body.extend(u);
            body.extend_from_slice(&7u32.to_le_bytes());
        } else {
            // Version, Size, SessionId, cbDomain, cbUserName, Pad[558], names.
            let (d, u) = (utf16("CONTOSO\0"), utf16("alice\0"));
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&576u32.to_le_bytes());
            body.extend_from_slice(&7u32.to_le_bytes());
            body.extend_from_slice(&(d.len() as u32).to_le_bytes());
            body.extend_from_slice(&(u.len() as u32).to_le_bytes());
            body.extend_from_slice(&[0; 558]);
            body.extend(d);
            body.extend(u);
        }
        let pdu = share_data(0x26, &body);
        let script = after_connect(vec![bytes(S2C, send_data(S2C, 1003, &pdu))]);
        let out = run_names(FlowProto::Rdp, &script, &[1, 7, 100]);
        for name in ["alice", "CONTOSO"] {
            assert!(!contains(&out.s2c, &utf16(name)), "v{version}: {name}");
        }
        assert_eq!(out.s2c.len(), input(&script, S2C).len());
    }
}

#[test]
fn redact_users_hides_the_license_request_user_name() {
    // Security header (SEC_LICENSE_PKT), preamble, algorithm, platform, client random,
    // the encrypted premaster secret, then the user and machine names.
    let mut pdu = vec![0x80, 0, 0, 0, 0x13, 0x83, 0, 0];
    pdu.extend_from_slice(&[1, 0, 0, 0, 0, 0, 1, 4]);
    pdu.extend_from_slice(&[0x11; 32]);
    pdu.extend_from_slice(&[2, 0, 72, 0]);
    pdu.extend_from_slice(&[0x22; 72]);
    pdu.extend_from_slice(&[0x0F, 0, 8, 0]);
    pdu.extend_from_slice(b"labuser\0");
    pdu.extend_from_slice(&[0x10, 0, 3, 0]);
    pdu.extend_from_slice(b"vm\0");
    let size = (pdu.len() - 4) as u16;
    pdu[6..8].copy_from_slice(&size.to_le_bytes());
    let script = after_connect(vec![bytes(C2S, send_data(C2S, 1003, &pdu))]);
    let out = run_names(FlowProto::Rdp, &script, &[1, 7, 100]);
    assert!(!contains(&out.c2s, b"labuser"));
    assert!(contains(&out.c2s, b"vm\0"), "the machine name stays");
    assert_eq!(changed(&input(&script, C2S), &out.c2s).len(), 7);
    assert_eq!(
        redact(&script).c2s,
        input(&script, C2S),
        "names stay by default"
    );
}

/// A cliprdr chunk: channel header, then `data`.
fn vc_chunk(total: usize, flags: u32, data: &[u8]) -> Vec<u8> {
    let mut c = (total as u32).to_le_bytes().to_vec();
    c.extend_from_slice(&flags.to_le_bytes());
    c.extend_from_slice(data);
    c
}

#[test]
fn clipboard_contents_go_and_other_channels_stay() {
    use crate::decode::mcs::test_support::{client_blocks_with, connect_initial_pdu};
    let blocks = client_blocks_with(&["rdpdr", "cliprdr"]);
    // CB_FORMAT_DATA_RESPONSE with the copied text, sent whole by the client and in
    // three chunks by the host.
    let secret = utf16("Vault-P@ssw0rd-copied\0");
    let mut msg = vec![5, 0, 1, 0];
    msg.extend_from_slice(&(secret.len() as u32).to_le_bytes());
    msg.extend_from_slice(&secret);
    let (a, rest) = msg.split_at(12);
    let (b, c) = rest.split_at(10);
    let script = vec![
        bytes(C2S, in_tpkt(&connect_initial_pdu(&blocks))),
        bytes(S2C, in_tpkt(&connect_response_pdu(0))),
        bytes(C2S, send_data(C2S, 1004, &vc_chunk(msg.len(), 3, &msg))),
        bytes(C2S, send_data(C2S, 1005, &vc_chunk(msg.len(), 3, &msg))),
        bytes(S2C, send_data(S2C, 1005, &vc_chunk(msg.len(), 1, a))),
        bytes(S2C, send_data(S2C, 1005, &vc_chunk(msg.len(), 0, b))),
        bytes(S2C, send_data(S2C, 1005, &vc_chunk(msg.len(), 2, c))),
    ];
    let out = redact(&script);
    let frames_c2s = frames(&out.c2s);
    assert!(
        contains(&frames_c2s[1], &secret),
        "rdpdr is not the clipboard"
    );
    assert!(!contains(&frames_c2s[2], &secret[..8]));
    assert!(contains(&frames_c2s[2], &[5, 0, 1, 0]), "the header stays");
    let diff = changed(&input(&script, S2C), &out.s2c);
    // Every data byte the host sent, over three chunks, and none of its headers.
    let nonzero = secret.iter().filter(|b| **b != 0).count();
    assert_eq!(diff.len(), nonzero);
    for size in [1, 9, 100] {
        assert_eq!(run_pieces(FlowProto::Rdp, &script, size), out, "{size}");
    }
}
