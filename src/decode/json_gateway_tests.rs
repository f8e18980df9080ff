//! Round trips of the gateway events: RD Gateway HTTP, WebSocket frames, MS-TSGU
//! packets of every type, and the inner RDP connection's events, produced by the
//! decoders from hand-made conversations (and, inside the tunnel, from a capture).

use super::gateway::{GwChannel, GwTunnel, PacketSink};
use super::http::test_msgs::{self, bytes, Step};
use super::http::{HttpEvent, HEAD_LIMIT};
use super::json_tests::{fixture, round_trip_all, units};
use super::tsgu::packet::build;
use super::tsgu::{Caps, ExtendedAuth, Packet, RedirFlags, Status};
use super::ws::{encode_frame, Opcode};
use super::{DecodeEvent, Decoded};
use crate::vocab::Dir::{self, C2S, S2C};
use crate::vocab::Layer;
use std::collections::BTreeSet;

/// The packets of one tunnel, as the session's registry hands them on.
#[derive(Default)]
struct Tunnel(GwTunnel);

impl PacketSink for Tunnel {
    fn packet(
        &mut self,
        _conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        self.0.packet(dir, packet, frame, out);
    }
}

/// Feeds (direction, bytes) steps to one gateway connection, then ends both directions.
fn channel(steps: &[(Dir, Vec<u8>)]) -> Vec<Decoded> {
    let mut ch = GwChannel::new();
    let mut t = Tunnel::default();
    let mut out = Vec::new();
    for (dir, b) in steps {
        ch.feed(*dir, b, &mut out, &mut t);
    }
    for dir in [C2S, S2C] {
        ch.finish(dir, &mut out, &mut t);
    }
    out
}

/// A WebSocket frame: binary unless told, masked as a client's must be.
fn ws(dir: Dir, opcode: Opcode, payload: &[u8]) -> (Dir, Vec<u8>) {
    let mask = (dir == C2S).then_some([7, 1, 9, 3]);
    let mut f = Vec::new();
    encode_frame(opcode, payload, mask, &mut f);
    (dir, f)
}

/// A packet type MS-TSGU does not define, with a 4-byte body.
fn unknown_packet() -> Vec<u8> {
    let mut p = vec![0x99, 0x00, 0x00, 0x00, 12, 0, 0, 0];
    p.extend_from_slice(&[1, 2, 3, 4]);
    p
}

/// A close frame's payload: the code, then the reason.
fn close(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// The WebSocket transport with every packet type both ways, control and text
/// frames, closes and frames that break RFC 6455.
fn websocket_script() -> Vec<(Dir, Vec<u8>)> {
    let ntlm1 = test_msgs::ntlm_type3("labuser", "LAB", "WS01", true);
    let rap = Status::from_name("E_PROXY_RAP_ACCESSDENIED").unwrap_or_default();
    let mut steps = vec![
        (C2S, test_msgs::SAMPLE_WS.as_bytes().to_vec()),
        (S2C, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n".to_vec()),
    ];
    let client = [
        build::handshake_request(ExtendedAuth(0x14)),
        build::extended_auth_msg(Status::OK, &ntlm1),
        build::tunnel_create(Caps(0x13f), Some("paa-cookie")),
        build::tunnel_auth("labclient"),
        build::channel_create("rdp-host.lab", 3389),
        build::data(b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00"),
        build::keepalive(),
        unknown_packet(),
        build::close_channel(Status(0x0000_04CA)),
    ];
    let server = [
        build::handshake_response(Status::OK, ExtendedAuth::SSPI_NTLM),
        build::extended_auth_msg(Status::OK, &[]),
        build::tunnel_response(Status::OK, 5, Caps(0x0a), Some("Accept the policy")),
        build::tunnel_auth_response(Status::OK, RedirFlags(0x8000_0019), 30),
        build::channel_response(Status::OK, 7),
        build::data(&[]),
        build::service_message("Maintenance at 17:00"),
        build::reauth_message(0x1122_3344_5566_7788),
        build::close_channel_response(rap),
    ];
    for i in 0..client.len().max(server.len()) {
        if let Some(c) = client.get(i) {
            steps.push(ws(C2S, Opcode::Binary, c));
        }
        if let Some(s) = server.get(i) {
            steps.push(ws(S2C, Opcode::Binary, s));
        }
    }
    steps.extend([
        ws(C2S, Opcode::Ping, b"are you there"),
        ws(S2C, Opcode::Pong, b"are you there"),
        ws(C2S, Opcode::Text, b"text is not MS-TSGU"),
        ws(C2S, Opcode::Close, &close(1000, "bye")),
        ws(S2C, Opcode::Close, &close(4321, "gateway \x1b going")),
        // Frames after the close, a masked server frame: violations.
        ws(C2S, Opcode::Binary, &build::keepalive()),
        ws(C2S, Opcode::Close, &[]),
    ]);
    let mut masked = Vec::new();
    encode_frame(Opcode::Ping, b"", Some([1, 1, 1, 1]), &mut masked);
    steps.push((S2C, masked));
    steps
}

/// The HTTP transport's OUT channel: a seed, the gateway's packets, then bytes that
/// cannot be a packet header.
fn out_channel_script() -> Vec<(Dir, Vec<u8>)> {
    let mut body = b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\n\r\n".to_vec();
    body.extend_from_slice(&[0xAB; 10]);
    body.extend(build::handshake_response(Status::OK, ExtendedAuth::NONE));
    body.extend(build::tunnel_response(
        Status(0x8007_59DD),
        1,
        Caps(0),
        None,
    ));
    body.extend_from_slice(&[0x0D, 0x00, 0x77, 0x77, 8, 0, 0, 0]);
    let req = test_msgs::request(
        "RDG_OUT_DATA",
        "RDG-Connection-Id: {abc}\r\nContent-Length: 0\r\n",
    );
    vec![(C2S, req.into_bytes()), (S2C, body)]
}

/// The HTTP transport's IN channel: one packet per chunk, the last one cut short.
fn in_channel_script() -> Vec<(Dir, Vec<u8>)> {
    let req = test_msgs::request(
        "RDG_IN_DATA",
        "RDG-Connection-Id: {abc}\r\nTransfer-Encoding: chunked\r\n",
    );
    let mut body = req.into_bytes();
    let hs = build::handshake_request(ExtendedAuth::NONE);
    for p in [&hs[..], &build::tunnel_create(Caps(0x0d), None)[..6]] {
        body.extend(format!("{:x}\r\n", p.len()).into_bytes());
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    vec![(C2S, body)]
}

/// An OUT channel whose seed the stream cuts.
fn cut_seed_script() -> Vec<(Dir, Vec<u8>)> {
    let req = test_msgs::request("RDG_OUT_DATA", "Content-Length: 0\r\n");
    vec![
        (C2S, req.into_bytes()),
        (S2C, b"HTTP/1.1 200 OK\r\n\r\n\x01\x02\x03".to_vec()),
    ]
}

/// A capture's streams as DATA packets through an open tunnel, one unit per packet.
fn tunnel_carrying(name: &str) -> Vec<Decoded> {
    let mut t = GwTunnel::new();
    let mut out = Vec::new();
    let mut send = |dir: Dir, frame: Vec<u8>, out: &mut Vec<Decoded>| {
        let packet = Packet::decode(&frame).expect("built packets decode");
        t.packet(dir, packet, &frame, out);
    };
    send(C2S, build::handshake_request(ExtendedAuth::NONE), &mut out);
    send(
        S2C,
        build::handshake_response(Status::OK, ExtendedAuth::NONE),
        &mut out,
    );
    send(C2S, build::tunnel_create(Caps(0), None), &mut out);
    send(
        S2C,
        build::tunnel_response(Status::OK, 1, Caps(0), None),
        &mut out,
    );
    send(C2S, build::tunnel_auth("labclient"), &mut out);
    send(
        S2C,
        build::tunnel_auth_response(Status::OK, RedirFlags(0), 0),
        &mut out,
    );
    send(C2S, build::channel_create("host", 3389), &mut out);
    send(S2C, build::channel_response(Status::OK, 1), &mut out);
    let (c, s) = fixture(name);
    let (cu, su) = (units(&c), units(&s));
    for i in 0..cu.len().max(su.len()) {
        for (dir, u) in [(C2S, cu.get(i)), (S2C, su.get(i))] {
            if let Some(u) = u {
                send(dir, build::data(u), &mut out);
            }
        }
    }
    out
}

/// The (layer, kind) pairs seen, as "layer:kind" for assertions.
fn labels(seen: &BTreeSet<(Layer, String)>) -> BTreeSet<String> {
    seen.iter()
        .map(|(l, k)| format!("{}:{k}", l.id()))
        .collect()
}

#[test]
fn gateway_channel_events_read_back_the_same() {
    let mut seen = BTreeSet::new();
    for script in [
        websocket_script(),
        out_channel_script(),
        in_channel_script(),
        cut_seed_script(),
    ] {
        seen.extend(round_trip_all(&channel(&script)));
    }
    let seen = labels(&seen);
    for want in [
        "http:http_request",
        "http:http_response",
        "http:http_upgrade",
        "ws:ws_ping",
        "ws:ws_pong",
        "ws:ws_text",
        "ws:ws_close",
        "ws:ws_violation",
        "tsgu:tsgu_packet",
        "tsgu:tsgu_violation",
        "tsgu:tsgu_stage",
        "tsgu:tsgu_seed",
        "tsgu:tsgu_cut",
        "tsgu:tsgu_framing_error",
        "x224:inner connection_request",
    ] {
        assert!(seen.contains(want), "{want} missing from {seen:?}");
    }
}

#[test]
fn every_packet_type_reads_back_the_same() {
    let events = channel(&websocket_script());
    let packets: BTreeSet<String> = events
        .iter()
        .filter_map(|d| match &d.event {
            DecodeEvent::Gw(super::gateway::GwEvent::TsguPacket { packet, .. }) => {
                Some(packet.packet_type().name().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(packets.len(), 16, "{packets:?}");
    round_trip_all(&events);
}

#[test]
fn inner_events_read_back_the_same() {
    let mut seen = BTreeSet::new();
    for name in [
        "xrdp-tls12-ok",
        "xrdp-tls-nlaclient",
        "shadow-nla-negfailure",
    ] {
        let events = tunnel_carrying(name);
        assert!(events
            .iter()
            .any(|d| matches!(d.event, DecodeEvent::Inner(_))));
        seen.extend(round_trip_all(&events));
    }
    let seen = labels(&seen);
    for want in [
        "x224:inner connection_request",
        "x224:inner connection_confirm",
        "x224:inner negotiation_failure",
        "tls:inner client_hello",
        "tls:inner server_hello",
        "tls:inner certificate",
        "tls:inner alert",
        "tls:inner handshake_done",
        "tls:inner app_record",
        "tls:inner decode_error",
    ] {
        assert!(seen.contains(want), "{want} missing from {seen:?}");
    }
}

/// Round-trips what an HTTP connection decodes from a script.
fn http_round_trip(script: &[Step]) -> BTreeSet<(Layer, String)> {
    let (events, _) = test_msgs::run(script);
    let decoded: Vec<Decoded> = events
        .into_iter()
        .map(|e: HttpEvent| Decoded {
            dir: e.dir(),
            event: DecodeEvent::Http(Box::new(e)),
        })
        .collect();
    round_trip_all(&decoded)
}

#[test]
fn http_events_read_back_the_same() {
    let req = test_msgs::request("RDG_OUT_DATA", "Content-Length: 0\r\n");
    let cut = |answer: &str| {
        vec![
            bytes(C2S, &req),
            bytes(S2C, answer),
            Step::Fin(S2C),
            Step::Fin(C2S),
        ]
    };
    let scripts = vec![
        test_msgs::ntlm_out_channel(),
        test_msgs::websocket_channel(),
        vec![bytes(C2S, &req), Step::Fin(S2C)],
        cut("HTTP/1.1 20"),
        cut("HTTP/1.1 200 OK\r\nServer: x"),
        cut("HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc"),
        cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
        cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"),
        vec![bytes(C2S, "\u{1}\u{2} not http at all\r\n\r\n")],
        vec![bytes(
            C2S,
            format!("GET / HTTP/1.1\r\nX-Long: {}", "a".repeat(HEAD_LIMIT)),
        )],
        vec![bytes(
            C2S,
            test_msgs::request("POST", "Authorization: Basic dXNlcjpwYXNz\r\nCookie: a=1; b\r\nContent-Length: 0\r\n"),
        )],
    ];
    let mut seen = BTreeSet::new();
    for script in &scripts {
        seen.extend(http_round_trip(script));
    }
    let seen = labels(&seen);
    for want in [
        "http:http_request",
        "http:http_response",
        "http:http_body_end",
        "http:http_incomplete",
        "http:http_head_too_large",
        "http:http_malformed",
        "http:http_upgrade",
    ] {
        assert!(seen.contains(want), "{want} missing from {seen:?}");
    }
}
