//! The HTTP transport's two channels under every framing a gateway, a reverse proxy or
//! a client may use: the OUT channel's `200` with no Content-Length, any Content-Length
//! or chunked (one chunk per packet, or chunks that cut packets), and the IN channel's
//! `RDG_IN_DATA` chunked, with a huge or a small Content-Length, or with none. Each is
//! played whole (every packet decoded, the channel's verdict ok) and cut in the middle
//! of a packet (a `TsguCut` with its byte counts, and a verdict that names it).
//!
//! Both channels share one tunnel decoder, as the session registry has them share it,
//! so the packets of each direction come in the order the protocol requires.

use super::diagnose;
use super::GwInputs;
use crate::decode::gateway::{GwChannel, GwEvent, GwTunnel, PacketSink};
use crate::decode::http::HttpEvent;
use crate::decode::note::{LegTls, Note};
use crate::decode::tsgu::packet::{build, Packet};
use crate::decode::tsgu::{Caps, ExtendedAuth, RedirFlags, Status};
use crate::decode::{DecodeEvent, Decoded};
use crate::session::diagnose::Inputs;
use crate::session::{Cause, Phase, TcpEvent, Timeline, Verdict, What};
use crate::vocab::{Dir, EndKind, StreamEnd};
use std::time::Duration;

/// How a channel's tunnel body is framed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Framing {
    /// Neither Content-Length nor Transfer-Encoding.
    Bare,
    /// `HTTP/1.0` and `Connection: close`, no length (a downgrading proxy; OUT only).
    Http10Close,
    /// `Content-Length: N`, whatever the body's real size.
    Length(u64),
    /// `Transfer-Encoding: chunked`, one chunk per packet (and one for the seed).
    ChunkPerPacket,
    /// `Transfer-Encoding: chunked` in chunks of this many bytes, across packets.
    Chunks(usize),
}

const OUT_FRAMINGS: [Framing; 7] = [
    Framing::Bare,
    Framing::Http10Close,
    Framing::Length(0),
    Framing::Length(10),
    Framing::Length(1 << 30),
    Framing::ChunkPerPacket,
    Framing::Chunks(7),
];

const IN_FRAMINGS: [Framing; 6] = [
    Framing::ChunkPerPacket,
    Framing::Chunks(7),
    Framing::Length(1 << 30),
    Framing::Length(20),
    Framing::Length(0),
    Framing::Bare,
];

impl Framing {
    /// The framing header lines, each ending in CRLF.
    fn headers(self) -> String {
        match self {
            Framing::Bare => String::new(),
            Framing::Http10Close => "Connection: close\r\n".into(),
            Framing::Length(n) => format!("Content-Length: {n}\r\n"),
            Framing::ChunkPerPacket | Framing::Chunks(_) => "Transfer-Encoding: chunked\r\n".into(),
        }
    }

    /// The chunk sizes this framing cuts a stream of `pieces` into, if chunked.
    fn chunks(self, pieces: &[Vec<u8>]) -> Option<Vec<usize>> {
        match self {
            Framing::ChunkPerPacket => Some(pieces.iter().map(Vec::len).collect()),
            Framing::Chunks(n) => {
                let total: usize = pieces.iter().map(Vec::len).sum();
                Some(vec![n; total.div_ceil(n)])
            }
            _ => None,
        }
    }

    /// The body bytes on the wire that carry the first `upto` bytes of the stream made
    /// of `pieces`. A chunk the cut falls in is sent with its size line and only the
    /// data before the cut; prefixes of one stream are prefixes of each other.
    fn wire(self, pieces: &[Vec<u8>], upto: usize) -> Vec<u8> {
        let stream = pieces.concat();
        let Some(sizes) = self.chunks(pieces) else {
            return stream[..upto].to_vec();
        };
        let mut out = Vec::new();
        let mut at = 0;
        for n in sizes {
            let end = (at + n).min(stream.len());
            if at >= upto {
                break;
            }
            out.extend_from_slice(format!("{:x}\r\n", end - at).as_bytes());
            out.extend_from_slice(&stream[at..end.min(upto)]);
            if end > upto {
                break;
            }
            out.extend_from_slice(b"\r\n");
            at = end;
        }
        out
    }
}

/// One TCP connection of the pair: its channel decoder and its own timeline.
pub(super) struct Leg {
    pub(super) ch: GwChannel,
    pub(super) tl: Timeline,
    /// Body bytes of the tunnel stream fed so far.
    fed: usize,
}

/// The tunnel both legs feed, as the session registry shares it.
struct Shared<'a>(&'a mut GwTunnel);

impl PacketSink for Shared<'_> {
    fn packet(&mut self, _: Option<&str>, dir: Dir, p: Packet, f: &[u8], out: &mut Vec<Decoded>) {
        self.0.packet(dir, p, f, out);
    }
}

pub(super) const OUT: usize = 0;
pub(super) const IN: usize = 1;

/// The two channels of one gateway session, fed in pieces of `piece` bytes.
pub(super) struct Pair {
    pub(super) legs: [Leg; 2],
    pub(super) tunnel: GwTunnel,
    pub(super) now: Duration,
    piece: usize,
}

impl Pair {
    fn new(piece: usize) -> Pair {
        let leg = || {
            let mut tl = Timeline::default();
            tl.push(Duration::ZERO, None, What::Phase(Phase::TcpConnect));
            let tls = LegTls {
                version: None,
                cipher_suite: None,
                sni: None,
                handshake_ms: 1.0,
            };
            let note = Note::ClientTls {
                tls,
                leaf_for: "gw".into(),
            };
            tl.push(Duration::ZERO, None, What::Note(note));
            Leg {
                ch: GwChannel::new(),
                tl,
                fed: 0,
            }
        };
        Pair {
            legs: [leg(), leg()],
            tunnel: GwTunnel::new(),
            now: Duration::ZERO,
            piece,
        }
    }

    fn record(&mut self, leg: usize, out: Vec<Decoded>) {
        for d in out {
            self.legs[leg]
                .tl
                .push(self.now, Some(d.dir), What::Decoded(d.event));
        }
    }

    fn feed(&mut self, leg: usize, dir: Dir, bytes: &[u8]) {
        self.now += Duration::from_millis(1);
        let mut out = Vec::new();
        for p in bytes.chunks(self.piece) {
            let l = &mut self.legs[leg];
            l.ch.feed(dir, p, &mut out, &mut Shared(&mut self.tunnel));
        }
        self.record(leg, out);
    }

    fn end(&mut self, leg: usize, dir: Dir) {
        self.now += Duration::from_millis(1);
        let mut out = Vec::new();
        let l = &mut self.legs[leg];
        l.ch.finish(dir, &mut out, &mut Shared(&mut self.tunnel));
        self.record(leg, out);
        let end = StreamEnd {
            kind: EndKind::Fin,
            after: self.now,
            bytes: 100,
        };
        let what = What::Tcp(TcpEvent::StreamEnded { end });
        self.legs[leg].tl.push(self.now, Some(dir), what);
    }

    /// The verdict on one leg, as rdptap gives it when that connection ends.
    fn verdict(&self, leg: usize) -> Verdict {
        let input = Inputs {
            timeline: &self.legs[leg].tl,
            tls_stats: Default::default(),
            target: "gw",
            linger: Duration::from_secs(1),
            duration: self.now,
            plain: Default::default(),
            capture: false,
        };
        diagnose(&input, &GwInputs::default())
    }

    fn events(&self, leg: usize) -> Vec<&DecodeEvent> {
        self.legs[leg].tl.decoded().map(|(_, d)| d).collect()
    }
}

const SEED: [u8; 10] = [0xAB, 0xCD, 0xAB, 0xCD, 0xAB, 0xCD, 0xAB, 0xCD, 0xAB, 0xCD];
/// A minimal X.224 Connection Request, the first inner bytes.
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

/// The seed, then the gateway's answers.
fn server_stream() -> Vec<Vec<u8>> {
    vec![
        SEED.to_vec(),
        build::handshake_response(Status::OK, ExtendedAuth::NONE),
        build::tunnel_response(Status::OK, 1, Caps(0x0d), None),
        build::tunnel_auth_response(Status::OK, RedirFlags::ENABLE_ALL, 30),
        build::channel_response(Status::OK, 7),
    ]
}

fn request(method: &str, framing: &str) -> String {
    format!(
        "{method} /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw\r\nRDG-Connection-Id: {{5}}\r\n{framing}\r\n"
    )
}

/// Where a scenario stops: this leg's tunnel stream ends after this many bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    leg: usize,
    at: usize,
}

/// Plays one session: OUT's request and `200`, IN's authentication round and its tunnel
/// request, then packets each way in protocol order, until the cut if there is one.
fn play(out_f: Framing, in_f: Framing, cut: Option<Cut>, piece: usize) -> Pair {
    let (mut p, stopped) = play_open(out_f, in_f, cut, piece);
    if !stopped {
        p.end(IN, Dir::C2S);
        p.end(OUT, Dir::S2C);
    }
    p
}

/// [`play`] without the ends of a whole session: true when it stopped at the cut.
pub(super) fn play_open(
    out_f: Framing,
    in_f: Framing,
    cut: Option<Cut>,
    piece: usize,
) -> (Pair, bool) {
    let mut p = Pair::new(piece);
    p.feed(
        OUT,
        Dir::C2S,
        request("RDG_OUT_DATA", "Content-Length: 0\r\n").as_bytes(),
    );
    let status = if out_f == Framing::Http10Close {
        "HTTP/1.0 200 OK"
    } else {
        "HTTP/1.1 200 OK"
    };
    let head = format!(
        "{status}\r\nServer: Microsoft-HTTPAPI/2.0\r\n{}\r\n",
        out_f.headers()
    );
    p.feed(OUT, Dir::S2C, head.as_bytes());
    p.feed(
        IN,
        Dir::C2S,
        request("RDG_IN_DATA", "Content-Length: 0\r\n").as_bytes(),
    );
    p.feed(
        IN,
        Dir::S2C,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    p.feed(
        IN,
        Dir::C2S,
        request("RDG_IN_DATA", &in_f.headers()).as_bytes(),
    );
    let streams = [server_stream(), client_packets()];
    let framings = [out_f, in_f];
    let dirs = [Dir::S2C, Dir::C2S];
    // Client packet i, then the gateway's answer to it (after the seed).
    let mut ends = [10, 0];
    let steps = (0..5).flat_map(|i| [(IN, i), (OUT, i + 1)]);
    for (leg, i) in steps {
        let Some(piece) = streams[leg].get(i) else {
            continue;
        };
        ends[leg] += piece.len();
        let mut upto = ends[leg];
        let stop = cut.filter(|c| c.leg == leg && c.at < upto);
        if let Some(c) = stop {
            upto = c.at;
        }
        let old = framings[leg].wire(&streams[leg], p.legs[leg].fed).len();
        let wire = framings[leg].wire(&streams[leg], upto);
        p.feed(leg, dirs[leg], &wire[old..]);
        p.legs[leg].fed = upto;
        if let Some(c) = stop {
            p.end(c.leg, dirs[c.leg]);
            return (p, true);
        }
    }
    (p, false)
}

/// The packets a leg decoded, by type name.
fn packets(p: &Pair, leg: usize) -> Vec<String> {
    p.events(leg)
        .into_iter()
        .filter_map(|e| match e {
            DecodeEvent::Gw(GwEvent::TsguPacket { packet, .. }) => {
                Some(packet.packet_type().to_string())
            }
            _ => None,
        })
        .collect()
}

/// What must never appear: broken HTTP, an unframeable tunnel, packets out of order.
fn assert_clean(p: &Pair, leg: usize, what: &str) {
    for e in p.events(leg) {
        let bad = matches!(
            e,
            DecodeEvent::Http(h) if matches!(**h, HttpEvent::Malformed { .. } | HttpEvent::HeadTooLarge { .. })
        ) || matches!(
            e,
            DecodeEvent::Gw(GwEvent::TsguFramingError { .. } | GwEvent::TsguViolation { .. })
        );
        assert!(!bad, "{what}: {e:?}");
    }
}

fn cuts(p: &Pair, leg: usize) -> Vec<(usize, Option<usize>)> {
    p.events(leg)
        .into_iter()
        .filter_map(|e| match e {
            DecodeEvent::Gw(GwEvent::TsguCut { got, expected, .. }) => Some((*got, *expected)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_out_framing_carries_the_whole_tunnel() {
    for f in OUT_FRAMINGS {
        let p = play(f, Framing::ChunkPerPacket, None, usize::MAX);
        let what = format!("OUT framed {f:?}");
        assert_clean(&p, OUT, &what);
        assert_eq!(
            packets(&p, OUT),
            [
                "HANDSHAKE_RESPONSE",
                "TUNNEL_RESPONSE",
                "TUNNEL_AUTH_RESPONSE",
                "CHANNEL_RESPONSE"
            ],
            "{what}"
        );
        assert!(cuts(&p, OUT).is_empty(), "{what}");
        assert!(
            !p.events(OUT).iter().any(
                |e| matches!(e, DecodeEvent::Http(h) if matches!(**h, HttpEvent::Incomplete { .. }))
            ),
            "{what}"
        );
        let v = p.verdict(OUT);
        assert_eq!(v.cause, Cause::Ok, "{what}: {v:#?}");
        assert!(
            v.summary.contains("carried 4 MS-TSGU packets"),
            "{what}: {}",
            v.summary
        );
    }
}

#[test]
fn every_in_framing_carries_the_whole_tunnel() {
    for f in IN_FRAMINGS {
        let p = play(Framing::Bare, f, None, usize::MAX);
        let what = format!("IN framed {f:?}");
        assert_clean(&p, IN, &what);
        assert_eq!(
            packets(&p, IN),
            [
                "HANDSHAKE_REQUEST",
                "TUNNEL_CREATE",
                "TUNNEL_AUTH",
                "CHANNEL_CREATE",
                "DATA"
            ],
            "{what}"
        );
        assert!(
            p.events(IN)
                .iter()
                .any(|e| matches!(e, DecodeEvent::Inner(i) if i.0.kind() == "connection_request")),
            "{what}: the inner RDP is decoded"
        );
        assert!(cuts(&p, IN).is_empty(), "{what}");
        let v = p.verdict(IN);
        assert_eq!(v.cause, Cause::Ok, "{what}: {v:#?}");
        assert!(
            v.summary.contains("carried 5 MS-TSGU packets"),
            "{what}: {}",
            v.summary
        );
    }
}

#[test]
fn a_gateway_that_cuts_a_packet_short_is_named_in_every_out_framing() {
    let second = server_stream()[2].len();
    // 9 bytes into TUNNEL_RESPONSE (its header is in), after the seed and
    // HANDSHAKE_RESPONSE.
    let at = 10 + server_stream()[1].len() + 9;
    for f in OUT_FRAMINGS {
        let p = play(
            f,
            Framing::ChunkPerPacket,
            Some(Cut { leg: OUT, at }),
            usize::MAX,
        );
        let what = format!("OUT framed {f:?}");
        assert_clean(&p, OUT, &what);
        assert_eq!(packets(&p, OUT), ["HANDSHAKE_RESPONSE"], "{what}");
        assert_eq!(cuts(&p, OUT), [(9, Some(second))], "{what}");
        let v = p.verdict(OUT);
        assert_eq!(v.cause, Cause::GwHttpIncomplete, "{what}: {v:#?}");
        let want = format!("the gateway closed after 9 of {second} bytes of an MS-TSGU packet");
        assert!(v.summary.contains(&want), "{what}: {}", v.summary);
    }
}

#[test]
fn a_client_that_cuts_a_packet_short_is_named_in_every_in_framing() {
    let second = client_packets()[1].len();
    let at = client_packets()[0].len() + 9;
    for f in IN_FRAMINGS {
        let p = play(Framing::Bare, f, Some(Cut { leg: IN, at }), usize::MAX);
        let what = format!("IN framed {f:?}");
        assert_clean(&p, IN, &what);
        assert_eq!(packets(&p, IN), ["HANDSHAKE_REQUEST"], "{what}");
        assert_eq!(cuts(&p, IN), [(9, Some(second))], "{what}");
        let v = p.verdict(IN);
        assert_eq!(v.cause, Cause::GwHttpIncomplete, "{what}: {v:#?}");
        let want = format!("the client closed after 9 of {second} bytes of an MS-TSGU packet");
        assert!(v.summary.contains(&want), "{what}: {}", v.summary);
    }
}

#[test]
fn a_cut_between_chunks_inside_a_packet_is_still_the_packet() {
    // With 7-byte chunks, the stream offset 42 falls between two chunks, inside
    // TUNNEL_RESPONSE: HTTP-wise the body could end there, but the packet is cut.
    let at = 42;
    let p = play(
        Framing::Chunks(7),
        Framing::ChunkPerPacket,
        Some(Cut { leg: OUT, at }),
        usize::MAX,
    );
    let first = server_stream()[1].len();
    assert_eq!(
        cuts(&p, OUT),
        [(at - 10 - first, Some(server_stream()[2].len()))]
    );
    assert_eq!(p.verdict(OUT).cause, Cause::GwHttpIncomplete);
}

#[test]
fn a_cut_seed_is_named_whatever_the_framing() {
    for f in [
        Framing::Length(1 << 30),
        Framing::Chunks(3),
        Framing::Length(10),
    ] {
        let p = play(
            f,
            Framing::ChunkPerPacket,
            Some(Cut { leg: OUT, at: 4 }),
            usize::MAX,
        );
        assert_eq!(cuts(&p, OUT), [(4, Some(10))], "{f:?}");
        assert!(p.verdict(OUT).summary.contains("random seed"), "{f:?}");
    }
}

/// The event kinds of both legs.
fn kinds(p: &Pair) -> [Vec<String>; 2] {
    [OUT, IN].map(|l| p.events(l).into_iter().map(DecodeEvent::kind).collect())
}

#[test]
fn every_framing_gives_the_same_events_however_the_bytes_are_cut() {
    let cut_out = Some(Cut { leg: OUT, at: 35 });
    let cut_in = Some(Cut { leg: IN, at: 19 });
    for f in OUT_FRAMINGS {
        for cut in [None, cut_out] {
            let whole = kinds(&play(f, Framing::ChunkPerPacket, cut, usize::MAX));
            for piece in 1..=9 {
                let got = kinds(&play(f, Framing::ChunkPerPacket, cut, piece));
                assert_eq!(got, whole, "OUT {f:?}, cut {cut:?}, piece {piece}");
            }
        }
    }
    for f in IN_FRAMINGS {
        for cut in [None, cut_in] {
            let whole = kinds(&play(Framing::Bare, f, cut, usize::MAX));
            for piece in 1..=9 {
                let got = kinds(&play(Framing::Bare, f, cut, piece));
                assert_eq!(got, whole, "IN {f:?}, cut {cut:?}, piece {piece}");
            }
        }
    }
}
