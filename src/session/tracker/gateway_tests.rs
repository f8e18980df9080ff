//! The gateway tracker driven by hand: one WebSocket connection through a made-up
//! gateway that refuses the channel, with the shared session state held by the test.

use super::*;
use crate::decode::http::test_msgs::SAMPLE_WS;
use crate::decode::note::LegTls;
use crate::decode::tls::RecordStats;
use crate::decode::tsgu::names::{Caps, ExtendedAuth, RedirFlags};
use crate::decode::tsgu::packet::build;
use crate::decode::tsgu::packet::Packet;
use crate::decode::tsgu::status::Status;
use crate::decode::ws::encode::encode_frame;
use crate::decode::ws::framer::Opcode;
use crate::decode::Decoded;
use crate::session::event::Body;
use crate::session::gateway::{Deposit, GwSession};
use crate::session::kind::Counted;
use crate::session::Cause;
use crate::vocab::EndKind;

/// One gateway session, reached directly: a test needs no lock.
#[derive(Default)]
struct Solo {
    session: GwSession,
    key: Option<String>,
}

impl Tunnels for Solo {
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        self.link(conn_id);
        self.session.tunnel.packet(dir, packet, frame, out);
    }
    fn link(&mut self, conn_id: Option<&str>) {
        if self.key.is_none() {
            self.key = Some(conn_id.unwrap_or("conn-1").to_string());
            self.session.join();
        }
    }
    fn linked(&self) -> bool {
        self.key.is_some()
    }
    fn inner_stats(&self) -> [RecordStats; 2] {
        Default::default()
    }
    fn key(&self) -> Option<String> {
        self.key.clone()
    }
    fn depart(&mut self, deposit: Deposit) -> Option<(String, Vec<Deposit>)> {
        let members = self.session.depart(deposit)?;
        Some((self.key.clone()?, members))
    }
}

fn info() -> ConnInfo {
    ConnInfo {
        id: 1,
        target_name: "gw.example".into(),
        target_desc: "gw.example:443".into(),
        linger: Duration::from_secs(5),
        redact_users: false,
        roots: Arc::new(rustls::RootCertStore::empty()),
        wall_start: std::time::UNIX_EPOCH + Duration::from_secs(1_795_348_800),
        source: crate::session::event::Source::Proxy,
        start_offset: Duration::from_secs(2),
    }
}

fn ws(payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(
        Opcode::Binary,
        payload,
        masked.then_some([1, 2, 3, 4]),
        &mut out,
    );
    out
}

#[test]
fn a_refused_channel_is_named_for_the_connection_and_its_session() {
    let mut t = GatewayTracker::new(info(), Box::new(Solo::default()), false);
    let ms = Duration::from_millis;
    let leg = LegTls {
        version: None,
        cipher_suite: None,
        sni: Some("gw.example".into()),
        handshake_ms: 1.0,
    };
    t.fact(
        ms(1),
        Fact::Note(Note::ClientTls {
            tls: leg,
            leaf_for: "gw.example".into(),
        }),
    );
    let script: Vec<(Dir, Vec<u8>)> = vec![
        (Dir::C2S, SAMPLE_WS.as_bytes().to_vec()),
        (
            Dir::S2C,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n".to_vec(),
        ),
        (Dir::C2S, ws(&build::handshake_request(ExtendedAuth::NONE), true)),
        (
            Dir::S2C,
            ws(&build::handshake_response(Status::OK, ExtendedAuth::NONE), false),
        ),
        (Dir::C2S, ws(&build::tunnel_create(Caps(0), None), true)),
        (
            Dir::S2C,
            ws(&build::tunnel_response(Status::OK, 1, Caps(0), None), false),
        ),
        (Dir::C2S, ws(&build::tunnel_auth("client"), true)),
        (
            Dir::S2C,
            ws(
                &build::tunnel_auth_response(Status::OK, RedirFlags::ENABLE_ALL, 0),
                false,
            ),
        ),
        (Dir::C2S, ws(&build::channel_create("host", 3389), true)),
        (
            Dir::S2C,
            ws(
                &build::channel_response(
                    Status::from_name("E_PROXY_RAP_ACCESSDENIED").unwrap(),
                    0,
                ),
                false,
            ),
        ),
    ];
    let mut at = 2;
    for (dir, bytes) in &script {
        t.plain(ms(at), *dir, bytes);
        at += 1;
    }
    let fin = |dir, at: u64, bytes: u64| {
        Fact::Ended(
            dir,
            StreamEnd {
                kind: EndKind::Fin,
                after: Duration::from_millis(at),
                bytes,
            },
        )
    };
    t.fact(ms(at), fin(Dir::S2C, at, 500));
    t.fact(ms(at + 1), fin(Dir::C2S, at + 1, 900));
    let done = t.finish(ms(at + 2));
    assert_eq!(done.verdict.cause, Cause::GwHresult, "{:#?}", done.verdict);
    assert!(done.verdict.summary.contains("E_PROXY_RAP_ACCESSDENIED"));
    let session = done.session.expect("the only member ends the session");
    assert_eq!(session.key, "{74258260-b98c-6150-4539-d431dc44ac85}");
    assert_eq!(session.verdict.cause, Cause::GwHresult);
}

/// The WebSocket tunnel of `a_refused_channel…` up to an open channel, and one DATA
/// packet carrying the inner Connection Request.
fn open_tunnel() -> Vec<(Dir, Vec<u8>)> {
    const CR: [u8; 19] = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 1, 0, 0, 0];
    vec![
        (Dir::C2S, SAMPLE_WS.as_bytes().to_vec()),
        (
            Dir::S2C,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n".to_vec(),
        ),
        (Dir::C2S, ws(&build::handshake_request(ExtendedAuth::NONE), true)),
        (Dir::S2C, ws(&build::handshake_response(Status::OK, ExtendedAuth::NONE), false)),
        (Dir::C2S, ws(&build::tunnel_create(Caps(0), None), true)),
        (Dir::S2C, ws(&build::tunnel_response(Status::OK, 1, Caps(0), None), false)),
        (Dir::C2S, ws(&build::tunnel_auth("client"), true)),
        (
            Dir::S2C,
            ws(&build::tunnel_auth_response(Status::OK, RedirFlags::ENABLE_ALL, 0), false),
        ),
        (Dir::C2S, ws(&build::channel_create("host", 3389), true)),
        (Dir::S2C, ws(&build::channel_response(Status::OK, 1), false)),
        (Dir::C2S, ws(&build::data(&CR), true)),
    ]
}

fn intercepted(t: &mut GatewayTracker) {
    let leg = LegTls {
        version: None,
        cipher_suite: None,
        sni: Some("gw.example".into()),
        handshake_ms: 1.0,
    };
    t.fact(
        Duration::from_millis(1),
        Fact::Note(Note::ClientTls {
            tls: leg,
            leaf_for: "gw.example".into(),
        }),
    );
}

fn counted(events: &[Event], kind: &str) -> Vec<Counted> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::EventsCounted { counts } => Some(counts.clone()),
            _ => None,
        })
        .flatten()
        .filter(|c| c.name.kind == kind || c.name.packet.as_deref() == Some(kind))
        .collect()
}

#[test]
fn endless_keepalives_keep_the_timeline_bounded_and_the_verdict_counts_them() {
    let mut t = GatewayTracker::new(info(), Box::new(Solo::default()), false);
    intercepted(&mut t);
    let ms = Duration::from_millis;
    let mut at = 2;
    for (dir, bytes) in open_tunnel() {
        t.plain(ms(at), dir, &bytes);
        at += 1;
    }
    let (c2s, s2c) = (
        ws(&build::keepalive(), true),
        ws(&build::keepalive(), false),
    );
    let n = 10_000;
    let mut most = 0;
    for _ in 0..n {
        t.plain(ms(at), Dir::C2S, &c2s);
        t.plain(ms(at), Dir::S2C, &s2c);
        at += 1;
        most = most.max(t.kept());
        while t.poll_event().is_some() {}
    }
    assert!(most < 200, "{most} entries kept");
    t.fact(ms(at), fin(Dir::C2S, at, 1));
    t.fact(ms(at + 1), fin(Dir::S2C, at + 1, 1));
    let done = t.finish(ms(at + 2));
    let events: Vec<Event> = std::iter::from_fn(|| t.poll_event()).collect();
    let k = counted(&events, "KEEPALIVE");
    assert_eq!(k.len(), 2, "{k:?}");
    for c in &k {
        assert_eq!((c.written, c.written + c.only_counted), (64, n));
    }
    // The verdict counts every keepalive, kept or not, for the connection and the session.
    let want = format!("{} keepalives", 2 * n);
    assert!(
        done.verdict.summary.contains(&want),
        "{}",
        done.verdict.summary
    );
    let session = done.session.expect("the only member ends the session");
    assert!(
        session.verdict.summary.contains(&want),
        "{}",
        session.verdict.summary
    );
}

#[test]
fn endless_http_rounds_keep_the_timeline_bounded_and_are_counted() {
    let mut t = GatewayTracker::new(info(), Box::new(Solo::default()), false);
    intercepted(&mut t);
    let ms = Duration::from_millis;
    let request =
        b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n";
    let answer = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 5\r\n\r\nnope!";
    let n = 5_000;
    let mut most = 0;
    for i in 0..n {
        t.plain(ms(2 + 2 * i), Dir::C2S, request);
        t.plain(ms(3 + 2 * i), Dir::S2C, answer);
        most = most.max(t.kept());
        while t.poll_event().is_some() {}
    }
    assert!(most < 300, "{most} entries kept");
    let at = 2 * n + 2;
    t.fact(ms(at), fin(Dir::C2S, at, 1));
    t.fact(ms(at + 1), fin(Dir::S2C, at + 1, 1));
    t.finish(ms(at + 2));
    let events: Vec<Event> = std::iter::from_fn(|| t.poll_event()).collect();
    for kind in ["http_request", "http_response", "http_body_end"] {
        let c = counted(&events, kind);
        assert_eq!(c.len(), 1, "{kind}: {c:?}");
        assert_eq!(
            (c[0].written, c[0].written + c[0].only_counted),
            (64, n),
            "{kind}"
        );
    }
}

fn fin(dir: Dir, at: u64, bytes: u64) -> Fact {
    Fact::Ended(
        dir,
        StreamEnd {
            kind: EndKind::Fin,
            after: Duration::from_millis(at),
            bytes,
        },
    )
}
