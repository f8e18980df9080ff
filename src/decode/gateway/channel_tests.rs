//! The channel pipeline end to end on hand-made gateway conversations: HTTP, the seed,
//! chunked IN packets and WebSocket frames, into ordered packets and inner RDP events.

use super::{GwChannel, PacketSink};
use crate::decode::gateway::{GwEvent, GwTunnel};
use crate::decode::tsgu::packet::build;
use crate::decode::tsgu::packet::Packet;
use crate::decode::tsgu::{Caps, ExtendedAuth, RedirFlags, Status};
use crate::decode::ws::{encode_frame, Opcode};
use crate::decode::{DecodeEvent, Decoded};
use crate::vocab::Dir;

/// A one-tunnel sink, as the session's registry gives for a single connection.
#[derive(Default)]
struct OneTunnel(GwTunnel, Vec<Option<String>>);

impl PacketSink for OneTunnel {
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        self.1.push(conn_id.map(str::to_string));
        self.0.packet(dir, packet, frame, out);
    }
}

/// A minimal X.224 Connection Request (TPKT, CR TPDU, no cookie, RDP_NEG_REQ SSL).
const CR: [u8; 19] = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 1, 0, 0, 0];

fn client_packets() -> Vec<Vec<u8>> {
    vec![
        build::handshake_request(ExtendedAuth::NONE),
        build::tunnel_create(Caps(0x0d), None),
        build::tunnel_auth("labclient"),
        build::channel_create("rdp-host", 3389),
        build::data(&CR),
    ]
}

fn server_packets(tunnel_status: Status) -> Vec<Vec<u8>> {
    vec![
        build::handshake_response(Status::OK, ExtendedAuth::NONE),
        build::tunnel_response(tunnel_status, 1, Caps(0x0a), None),
        build::tunnel_auth_response(Status::OK, RedirFlags::ENABLE_ALL, 30),
        build::channel_response(Status::OK, 7),
    ]
}

const WS_REQ: &str = "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-Websocket-Version: 13\r\nSec-Websocket-Key: FN[SBOVE@\\ZNWDC\r\nRDG-Connection-Id: {74258260-b98c-6150-4539-d431dc44ac85}\r\nContent-Length: 0\r\n\r\n";
const WS_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n";

/// The WebSocket conversation as (direction, bytes) steps, request and answer alternating.
fn ws_script() -> Vec<(Dir, Vec<u8>)> {
    let mut steps = vec![
        (Dir::C2S, WS_REQ.as_bytes().to_vec()),
        (Dir::S2C, WS_101.as_bytes().to_vec()),
    ];
    let server = server_packets(Status::OK);
    for (i, c) in client_packets().into_iter().enumerate() {
        let mut f = Vec::new();
        encode_frame(Opcode::Binary, &c, Some([1, 2, 3, 4]), &mut f);
        steps.push((Dir::C2S, f));
        if let Some(s) = server.get(i) {
            let mut f = Vec::new();
            encode_frame(Opcode::Binary, s, None, &mut f);
            steps.push((Dir::S2C, f));
        }
    }
    steps
}

fn run(steps: &[(Dir, Vec<u8>)], piece: usize) -> (Vec<Decoded>, OneTunnel) {
    let mut ch = GwChannel::new();
    let mut out = Vec::new();
    let mut t = OneTunnel::default();
    for (dir, bytes) in steps {
        for p in bytes.chunks(piece.max(1)) {
            ch.feed(*dir, p, &mut out, &mut t);
        }
    }
    (out, t)
}

fn kinds(out: &[Decoded]) -> Vec<String> {
    out.iter().map(|d| d.event.kind()).collect()
}

#[test]
fn websocket_tunnel_reaches_data_and_the_inner_connection_request() {
    let (out, t) = run(&ws_script(), usize::MAX);
    let k = kinds(&out);
    assert_eq!(k[0], "http_request");
    assert_eq!(k[1], "http_response");
    assert!(!k.iter().any(|k| k == "tsgu_violation"), "{k:?}");
    assert!(out.iter().any(|d| matches!(&d.event,
        DecodeEvent::Gw(GwEvent::TsguStage { stage }) if stage.to_string().contains("data") || format!("{stage:?}") == "Data")));
    let inner: Vec<&Decoded> = out
        .iter()
        .filter(|d| matches!(d.event, DecodeEvent::Inner(_)))
        .collect();
    assert_eq!(inner.len(), 1, "{k:?}");
    assert_eq!(inner[0].event.kind(), "connection_request");
    let json = serde_json::to_value(&inner[0].event).unwrap();
    assert_eq!(json["inner"], true);
    assert_eq!(
        t.1[0].as_deref(),
        Some("{74258260-b98c-6150-4539-d431dc44ac85}")
    );
    assert_eq!(t.0.stats().data_packets, [1, 0]);
}

#[test]
fn websocket_split_at_every_size_gives_the_same_events() {
    let whole = kinds(&run(&ws_script(), usize::MAX).0);
    for piece in 1..=9 {
        assert_eq!(kinds(&run(&ws_script(), piece).0), whole, "piece {piece}");
    }
}

const OUT_REQ: &str = "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw\r\nRDG-Connection-Id: {abc}\r\nContent-Length: 0\r\n\r\n";
const IN_REQ: &str = "RDG_IN_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw\r\nRDG-Connection-Id: {abc}\r\nTransfer-Encoding: chunked\r\n\r\n";

fn chunk(p: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", p.len()).into_bytes();
    v.extend_from_slice(p);
    v.extend_from_slice(b"\r\n");
    v
}

#[test]
fn http_transport_channels_split_the_packets_by_direction() {
    // The OUT channel: 200 without a length, a 10-byte seed, then the gateway's packets.
    let mut out_body = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    out_body.extend_from_slice(&[0xAB, 0xCD].repeat(5));
    for p in server_packets(Status::from_name("E_PROXY_RAP_ACCESSDENIED").unwrap()) {
        out_body.extend_from_slice(&p);
    }
    let (out, _) = run(
        &[
            (Dir::C2S, OUT_REQ.as_bytes().to_vec()),
            (Dir::S2C, out_body),
        ],
        usize::MAX,
    );
    let k = kinds(&out);
    assert!(k.contains(&"tsgu_seed".to_string()), "{k:?}");
    let statuses: Vec<String> = out
        .iter()
        .filter_map(|d| match &d.event {
            DecodeEvent::Gw(GwEvent::TsguPacket { packet, .. }) => {
                packet.status().map(|s| s.name().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(statuses[1], "E_PROXY_RAP_ACCESSDENIED");

    // The IN channel: one packet per chunk.
    let mut in_bytes = IN_REQ.as_bytes().to_vec();
    for p in client_packets() {
        in_bytes.extend_from_slice(&chunk(&p));
    }
    let (out, t) = run(&[(Dir::C2S, in_bytes)], 7);
    let packets = out
        .iter()
        .filter(|d| matches!(d.event, DecodeEvent::Gw(GwEvent::TsguPacket { .. })))
        .count();
    assert_eq!(packets, 5);
    assert_eq!(t.0.stats().data_bytes, [CR.len() as u64, 0]);
}

#[test]
fn a_cut_seed_is_reported_with_its_byte_counts() {
    let mut ch = GwChannel::new();
    let mut out = Vec::new();
    let mut t = OneTunnel::default();
    ch.feed(Dir::C2S, OUT_REQ.as_bytes(), &mut out, &mut t);
    ch.feed(
        Dir::S2C,
        b"HTTP/1.1 200 OK\r\n\r\n\xab\xcd\xab\xcd",
        &mut out,
        &mut t,
    );
    ch.finish(Dir::S2C, &mut out, &mut t);
    let cut = out
        .iter()
        .find_map(|d| match &d.event {
            DecodeEvent::Gw(GwEvent::TsguCut { got, expected, .. }) => Some((*got, *expected)),
            _ => None,
        })
        .expect("a cut");
    assert_eq!(cut, (4, Some(10)));
}
