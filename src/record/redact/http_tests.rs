//! Gateway HTTP redaction end to end: NTLM rounds, cookies, the chunked IN channel,
//! WebSocket frames, framing corner cases, and rdptap's own gateway decoder reading
//! the redacted streams exactly as it read the originals.

use super::test_support::*;
use super::{FlowProto, StreamRedactor, MAX_HOLD};
use crate::decode::http::{ntlm_message, test_msgs};
use crate::decode::tsgu::packet::build;
use crate::decode::tsgu::{Caps, ExtendedAuth, Status};
use crate::decode::ws::{encode_frame, Opcode, WsDecoder};
use crate::vocab::Dir::{self, C2S, S2C};
use base64::Engine;
use bytes::Bytes;

const PAA: &str = "paa-cookie-0123456789";

/// Redacts `script` fed whole and checks what every redaction must keep: the lengths,
/// and rdptap's gateway decoder seeing the same events and packets.
fn redact(script: &[Step]) -> Output {
    let out = run(FlowProto::Http, script);
    for dir in [C2S, S2C] {
        assert_eq!(out.dir(dir).len(), input(script, dir).len(), "{dir} length");
    }
    let before = gateway_decode(script, &input(script, C2S), &input(script, S2C));
    let after = gateway_decode(script, &out.c2s, &out.s2c);
    assert_eq!(
        after, before,
        "the gateway decoder reads the redacted streams alike"
    );
    out
}

/// The token of the `n`th `Authorization: NTLM` header in `stream`, decoded.
fn ntlm_token(stream: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(stream);
    let token = text
        .split("Authorization: NTLM ")
        .nth(n + 1)
        .and_then(|t| t.split("\r\n").next())
        .expect("header");
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("still base64")
}

#[test]
fn ntlm_rounds_keep_names_and_lose_responses() {
    let script = test_msgs::ntlm_out_channel();
    let out = redact(&script);
    let c2s = input(&script, C2S);
    // The NEGOTIATE passes as sent; the AUTHENTICATE keeps its names.
    assert_eq!(ntlm_token(&out.c2s, 0), ntlm_token(&c2s, 0));
    let t3 = ntlm_token(&out.c2s, 1);
    let info = ntlm_message(&t3).expect("an NTLM message");
    assert_eq!(
        (
            info.message_type,
            info.user.as_deref(),
            info.domain.as_deref()
        ),
        (3, Some("labuser"), Some("LAB"))
    );
    assert!(!contains(&t3, &NT_RESPONSE[..8]));
    assert!(contains(&ntlm_token(&c2s, 1), &NT_RESPONSE[..8]));
    assert!(!contains(&out.c2s, b"s3cretvalue"));
    assert!(contains(&out.c2s, b"Cookie: RDGSESS=XXXXXXXXXXX\r\n"));
    assert!(!contains(&out.s2c, b"n3wsecret"));
    assert!(contains(&out.s2c, b"Set-Cookie: RDGSESS=XXXXXXXXX; path=/"));
    // The 401 page and the chunked tunnel body pass as they were.
    assert!(contains(&out.s2c, test_msgs::IIS_401_PAGE.as_bytes()));
    assert!(contains(&out.s2c, b"0\r\nX-Trailer: done\r\n\r\n"));
    assert_eq!(out.scrubbed, 3);
}

/// The HTTP transport's IN channel: NTLM extended auth and a PAA cookie, in chunks
/// that split one packet and join two.
pub(super) fn in_channel(packets: &[Vec<u8>]) -> Vec<Step> {
    let all = packets.concat();
    let mut body = Vec::new();
    let cuts = [0, 5, 40, 41, all.len() - 3, all.len()];
    for w in cuts.windows(2) {
        let piece = &all[w[0]..w[1]];
        body.extend_from_slice(format!("{:x};x=y\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = test_msgs::request(
        "RDG_IN_DATA",
        "RDG-Connection-Id: {bfbe6f46-87c6-b653-1076-aa725b6f9e0b}\r\nTransfer-Encoding: chunked\r\n",
    );
    vec![
        bytes(C2S, head),
        bytes(C2S, &body[..30]),
        bytes(C2S, &body[30..]),
    ]
}

/// Client packets with a PAA cookie and an NTLM exchange, then data.
pub(super) fn client_packets() -> Vec<Vec<u8>> {
    vec![
        build::handshake_request(ExtendedAuth(0x2)),
        build::extended_auth_msg(Status(0), &test_msgs::ntlm_type2("LAB")[..0]),
        build::extended_auth_msg(Status(0), b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2"),
        build::extended_auth_msg(Status(0), &ntlm_type3_mic("labuser", "LAB")),
        build::tunnel_create(Caps(0x1f), Some(PAA)),
        build::tunnel_auth("WS01"),
        build::data(&[0x5A; 700]),
    ]
}

#[test]
fn in_channel_packets_lose_the_cookie_and_ntlm_responses() {
    let script = in_channel(&client_packets());
    let out = redact(&script);
    assert!(!contains(&out.c2s, &utf16(PAA)));
    assert!(contains(&input(&script, C2S), &utf16(PAA)));
    for b in [0xB1u8, 0xA5, 0xC3, 0xD7] {
        assert!(!contains(&out.c2s, &[b; 8]), "{b:#x}");
    }
    assert!(contains(&out.c2s, &utf16("labuser")));
    assert!(contains(&out.c2s, &[0x5A; 600]), "DATA passes");
    // LM, NT, session key, MIC, and the cookie.
    assert_eq!(out.scrubbed, 5);
}

#[test]
fn in_channel_packets_lose_the_cookie_whatever_the_request_declares() {
    // mstsc's huge Content-Length, one smaller than the tunnel, 0 and none: the body is
    // the tunnel to the close all the same, as the decoder reads it.
    for framing in [
        "Content-Length: 1073741824\r\n",
        "Content-Length: 20\r\n",
        "Content-Length: 0\r\n",
        "",
    ] {
        let head = test_msgs::request(
            "RDG_IN_DATA",
            &format!("RDG-Connection-Id: {{1}}\r\n{framing}"),
        );
        let body = client_packets().concat();
        let script = vec![
            bytes(
                C2S,
                test_msgs::request("RDG_IN_DATA", "Content-Length: 0\r\n"),
            ),
            bytes(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            bytes(C2S, head),
            bytes(C2S, &body[..30]),
            bytes(C2S, &body[30..]),
        ];
        let out = redact(&script);
        assert!(!contains(&out.c2s, &utf16(PAA)), "{framing:?}");
        assert_eq!(out.scrubbed, 5, "{framing:?}");
    }
}

/// A WebSocket channel: a 401 round, the 101, then masked client frames (a packet
/// split over a fragment, a ping and its continuation) and server frames.
pub(super) fn websocket(packets: &[Vec<u8>]) -> Vec<Step> {
    let mut c2s_frames = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let key = [i as u8 + 1, 0x5C, 0xA3, 0x17];
        if p.len() > 12 {
            let (a, b) = p.split_at(11);
            crate::decode::ws::encode_fragment(
                false,
                Opcode::Binary,
                a,
                Some(key),
                &mut c2s_frames,
            );
            encode_frame(Opcode::Ping, b"p", Some([9, 8, 7, 6]), &mut c2s_frames);
            crate::decode::ws::encode_fragment(
                true,
                Opcode::Continuation,
                b,
                Some(key),
                &mut c2s_frames,
            );
        } else {
            encode_frame(Opcode::Binary, p, Some(key), &mut c2s_frames);
        }
    }
    let mut s2c_frames = Vec::new();
    encode_frame(
        Opcode::Binary,
        &build::handshake_response(Status::OK, ExtendedAuth(0x2)),
        None,
        &mut s2c_frames,
    );
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n";
    let t3 = b64(&ntlm_type3("labuser", "LAB", "WS01", true));
    vec![
        bytes(C2S, test_msgs::request("RDG_OUT_DATA", &format!("{upgrade}Authorization: NTLM {}\r\n", test_msgs::TYPE1_B64))),
        bytes(S2C, format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: 0\r\n\r\n", b64(&ntlm_type2("LAB")))),
        bytes(C2S, test_msgs::request("RDG_OUT_DATA", &format!("{upgrade}Authorization: NTLM {t3}\r\n"))),
        bytes(S2C, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: lb=affinity1\r\n\r\n"),
        bytes(S2C, &s2c_frames),
        bytes(C2S, &c2s_frames[..17]),
        bytes(C2S, &c2s_frames[17..]),
        Step::Fin(C2S),
        Step::Fin(S2C),
    ]
}

/// The client's WebSocket payload after the 101, unmasked.
fn ws_payload(c2s: &[u8]) -> Vec<u8> {
    let at = c2s
        .windows(4)
        .rposition(|w| w == b"\r\n\r\n")
        .expect("last head")
        + 4;
    let mut dec = WsDecoder::new(C2S);
    let mut payload = Vec::new();
    dec.feed(&c2s[at..], &mut Vec::new(), &mut |p: &[u8]| {
        payload.extend_from_slice(p)
    });
    payload
}

#[test]
fn websocket_frames_are_scrubbed_under_their_mask() {
    let script = websocket(&client_packets());
    let out = redact(&script);
    let payload = ws_payload(&out.c2s);
    assert_eq!(payload.len(), client_packets().concat().len());
    assert!(!contains(&payload, &utf16(PAA)));
    assert!(contains(&ws_payload(&input(&script, C2S)), &utf16(PAA)));
    assert!(!contains(&payload, &[0xA5; 8]));
    assert!(contains(&payload, &utf16("labuser")));
    // Set-Cookie in the 101 head, the AUTHENTICATE header, then five packet fields.
    assert_eq!(out.scrubbed, 7);
    assert!(contains(&out.s2c, b"Set-Cookie: lb=XXXXXXXXX\r\n"));
}

/// Requests with Basic, Bearer, Kerberos-in-SPNEGO and NTLM-in-SPNEGO credentials.
pub(super) fn other_schemes() -> Vec<Step> {
    let kerberos = b64(&spnego_kerberos());
    let spnego_t3 = b64(&spnego_ntlm(&ntlm_type3_mic("labuser", "LAB")));
    vec![
        bytes(
            C2S,
            test_msgs::request("GET", "Authorization: Basic dXNlcjpwYXNz\r\n"),
        ),
        bytes(S2C, "HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n"),
        bytes(
            C2S,
            test_msgs::request(
                "GET",
                "Authorization: Bearer eyJ.abc.def\r\nX-Auth-Token: t0ken\r\n",
            ),
        ),
        bytes(S2C, "HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n"),
        bytes(
            C2S,
            test_msgs::request("GET", &format!("Authorization: Negotiate {kerberos}\r\n")),
        ),
        bytes(S2C, "HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n"),
        bytes(
            C2S,
            test_msgs::request(
                "GET",
                &format!("Proxy-Authorization: Negotiate {spnego_t3}\r\n"),
            ),
        ),
    ]
}

#[test]
fn other_schemes_lose_the_whole_credential() {
    let spnego_t3 = b64(&spnego_ntlm(&ntlm_type3_mic("labuser", "LAB")));
    let script = other_schemes();
    let out = redact(&script);
    let text = String::from_utf8_lossy(&out.c2s).to_string();
    assert!(
        text.contains("Authorization: Basic XXXXXXXXXXXX\r\n"),
        "{text}"
    );
    assert!(text.contains("Authorization: Bearer XXXXXXXXXXX\r\n"));
    assert!(text.contains("X-Auth-Token: XXXXX\r\n"));
    // Kerberos in SPNEGO keeps its mechanism list; its token is zeroed.
    let token = text
        .split("Authorization: Negotiate ")
        .nth(1)
        .and_then(|t| t.split("\r\n").next())
        .expect("header");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64");
    let original = spnego_kerberos();
    // The mechToken is the last 55 bytes: 0x60, its length, the OID, 01 00, 40 bytes.
    let mech_token = original.len() - 55;
    assert!(changed(&original, &blob).iter().all(|&i| i >= mech_token));
    assert!(blob[mech_token..].iter().all(|&b| b == 0));
    assert_eq!(blob[..mech_token], original[..mech_token]);
    let token = text
        .split("Proxy-Authorization: Negotiate ")
        .nth(1)
        .and_then(|t| t.split("\r\n").next())
        .expect("header");
    assert_eq!(token.len(), spnego_t3.len());
    let blob = base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64");
    let at = blob
        .windows(8)
        .position(|w| w == b"NTLMSSP\0")
        .expect("NTLM inside");
    let info = ntlm_message(&blob[at..]).expect("NTLM");
    assert_eq!(info.user.as_deref(), Some("labuser"));
    assert!(!contains(&blob, &[0xA5; 8]));
    assert_eq!(out.scrubbed, 5);
}

#[test]
fn frames_sent_before_the_101_are_read_by_their_looks() {
    let packets = vec![build::tunnel_create(Caps(0x1f), Some(PAA))];
    let mut script = websocket(&packets);
    // The client's frames go out before the 101 arrives.
    let frames = script.remove(5);
    let more = script.remove(5);
    script.insert(3, frames);
    script.insert(4, more);
    let out = run(FlowProto::Http, &script);
    assert!(!contains(&ws_payload(&out.c2s), &utf16(PAA)));
    assert_eq!(out.c2s.len(), input(&script, C2S).len());
}

/// A refused upgrade with a pipelined request, interim, HEAD, 204, chunked and
/// read-until-close responses, each carrying a cookie.
pub(super) fn odd_responses() -> Vec<Step> {
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\n";
    vec![
        bytes(C2S, test_msgs::request("RDG_OUT_DATA", upgrade)),
        // The client pipelines its next request before the refusal comes.
        bytes(C2S, test_msgs::request("HEAD", "Cookie: a=secret1\r\n")),
        bytes(S2C, "HTTP/1.1 401 No\r\nContent-Length: 5\r\n\r\nnope!"),
        bytes(S2C, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 50\r\nSet-Cookie: b=secret2\r\n\r\n"),
        bytes(C2S, test_msgs::request("GET", "Cookie: c=secret3\r\n")),
        bytes(S2C, "HTTP/1.1 204 No Content\r\nSet-Cookie: d=secret4\r\n\r\n"),
        bytes(C2S, test_msgs::request("POST", "Content-Length: 3\r\n") + "abc"),
        bytes(S2C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"),
        bytes(S2C, "HTTP/1.1 200 OK\r\nSet-Cookie: e=secret5\r\n\r\nuntil close"),
    ]
}

#[test]
fn refused_upgrades_and_odd_responses_keep_the_framing() {
    let script = odd_responses();
    let out = redact(&script);
    for s in ["secret1", "secret2", "secret3", "secret4", "secret5"] {
        assert!(
            !contains(&out.c2s, s.as_bytes()) && !contains(&out.s2c, s.as_bytes()),
            "{s}"
        );
    }
    assert!(contains(&out.s2c, b"until close"));
    assert_eq!(out.scrubbed, 5);
}

#[test]
fn a_head_cut_by_the_close_is_scrubbed() {
    let script = vec![
        bytes(
            C2S,
            "RDG_OUT_DATA / HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic dXNlcjpw",
        ),
        Step::Fin(C2S),
    ];
    let out = run(FlowProto::Http, &script);
    assert_eq!(
        out.c2s,
        b"RDG_OUT_DATA / HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic XXXXXXXX".to_vec()
    );
}

#[test]
fn bytes_that_are_not_http_pass_and_say_so() {
    let mut r = StreamRedactor::new(FlowProto::Http);
    let tls = Bytes::from_static(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 Authorization: x");
    let mut out = Vec::new();
    r.feed(C2S, tls.clone(), &mut out);
    assert_eq!(out, vec![tls]);
    assert!(r.lost_sync(C2S));
    assert!(!r.lost_sync(S2C));
}

#[test]
fn body_bytes_with_nothing_secret_are_not_copied() {
    let mut r = StreamRedactor::new(FlowProto::Http);
    let mut out = Vec::new();
    r.feed(
        C2S,
        Bytes::from(test_msgs::request(
            "RDG_OUT_DATA",
            "Content-Length: 1000000000\r\n",
        )),
        &mut out,
    );
    r.feed(
        S2C,
        Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"),
        &mut out,
    );
    let body = Bytes::from(vec![0x42; 100_000]);
    for dir in [C2S, S2C] {
        let mut out = Vec::new();
        r.feed(dir, body.clone(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ptr(), body.as_ptr(), "{dir}");
        assert_eq!(r.held(dir), 0);
    }
}

#[test]
fn a_head_longer_than_the_limit_is_let_go() {
    let mut r = StreamRedactor::new(FlowProto::Http);
    let mut out = Vec::new();
    let mut head = b"GET / HTTP/1.1\r\nAuthorization: Basic c2VjcmV0\r\n".to_vec();
    head.extend(std::iter::repeat_n(b'a', 70_000));
    let mut written = Vec::new();
    for piece in head.chunks(1000) {
        r.feed(C2S, Bytes::copy_from_slice(piece), &mut out);
        assert!(r.held(C2S) <= MAX_HOLD);
    }
    r.finish(C2S, &mut out);
    for b in out {
        written.extend_from_slice(&b);
    }
    assert_eq!(written.len(), head.len());
    assert!(r.lost_sync(C2S));
    assert!(
        !contains(&written, b"c2VjcmV0"),
        "scrubbed before it was let go"
    );
}

#[test]
fn finishing_one_direction_releases_it_alone() {
    let mut r = StreamRedactor::new(FlowProto::Http);
    let mut out = Vec::new();
    r.feed(
        C2S,
        Bytes::from_static(b"GET / HTTP/1.1\r\nCookie: a=b"),
        &mut out,
    );
    r.feed(S2C, Bytes::from_static(b"HTTP/1.1 200 OK\r\n"), &mut out);
    assert!(out.is_empty());
    let mut c2s = Vec::new();
    r.finish(C2S, &mut c2s);
    assert_eq!(c2s.concat(), b"GET / HTTP/1.1\r\nCookie: a=X".to_vec());
    assert_eq!(r.held(S2C), 17);
    let mut after = Vec::new();
    r.feed(C2S, Bytes::from_static(b"late"), &mut after);
    assert_eq!(after.concat(), b"late".to_vec());
    let _ = Dir::C2S;
}

#[test]
fn redact_users_hides_ntlm_names_and_the_user_id() {
    let mut script = test_msgs::ntlm_out_channel();
    script.insert(
        0,
        bytes(
            C2S,
            test_msgs::request("RDG_OUT_DATA", "RDG-User-Id: bABhAGIAdQBzAGUAcgA=\r\n"),
        ),
    );
    let out = run_names(FlowProto::Http, &script, &[1, 5, 300]);
    let t3 = ntlm_token(&out.c2s, 1);
    let info = ntlm_message(&t3).expect("still an NTLM message");
    assert_eq!(info.message_type, 3);
    assert_ne!(info.user.as_deref(), Some("labuser"));
    assert_ne!(info.domain.as_deref(), Some("LAB"));
    assert!(contains(&out.c2s, b"RDG-User-Id: XXXXXXXXXXXXXXXXXXXX\r\n"));
}

#[test]
fn redact_users_hides_the_inner_cookie_in_both_transports() {
    // The inner connection's first bytes are its Connection Request.
    let mut packets = client_packets();
    let last = packets.len() - 1;
    packets.insert(last, build::data(&x224_request("labuser")));
    packets.push(build::data(b"Cookie: mstshash=later-bytes-pass"));
    for (name, script) in [
        ("chunked", in_channel(&packets)),
        ("websocket", websocket(&packets)),
    ] {
        let out = run_names(FlowProto::Http, &script, &[1, 5, 300]);
        let plain = if name == "websocket" {
            ws_payload(&out.c2s)
        } else {
            out.c2s.clone()
        };
        assert!(!contains(&plain, b"mstshash=labuser"), "{name}");
        assert!(contains(&plain, b"mstshash=XXXXXXX\r\n"), "{name}");
        // Only the first DATA packet is the Connection Request.
        assert!(contains(&plain, b"mstshash=later-bytes-p"), "{name}");
        assert!(!contains(&plain, &utf16("labuser")), "{name}: NTLM user");
    }
}

#[test]
fn rpc_in_data_bodies_lose_the_ntlm_responses() {
    let body = [
        rpc_pdu(20, &[0; 20], &[]),
        rpc_pdu(11, &[1; 60], b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2"),
        rpc_pdu(16, &[0; 4], &ntlm_type3_mic("labuser", "LAB")),
        rpc_pdu(0, &[0x5A; 700], &[]),
    ]
    .concat();
    let head = test_msgs::request(
        "RPC_IN_DATA",
        &format!("Content-Length: {}\r\n", body.len()),
    );
    let script = vec![
        bytes(C2S, head),
        bytes(C2S, &body[..70]),
        bytes(C2S, &body[70..]),
    ];
    let out = redact(&script);
    for b in [0xB1u8, 0xA5, 0xC3, 0xD7] {
        assert!(!contains(&out.c2s, &[b; 8]), "{b:#x}");
    }
    assert!(
        contains(&out.c2s, &utf16("labuser")),
        "names stay by default"
    );
    assert!(contains(&out.c2s, &[0x5A; 700]), "requests pass");
    assert_eq!(out.scrubbed, 4);
    for size in [1, 13, 500] {
        assert_eq!(run_pieces(FlowProto::Http, &script, size), out, "{size}");
    }
    let hidden = run_names(FlowProto::Http, &script, &[7]);
    assert!(!contains(&hidden.c2s, &utf16("labuser")));
}
