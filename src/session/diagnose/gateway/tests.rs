//! Gateway verdicts on conversations built from real packets and fed through the real
//! gateway decoders, for the causes the lab gateway cannot produce on demand.

use super::{diagnose, GwInputs};
use crate::decode::gateway::{GwChannel, GwTunnel, PacketSink};
use crate::decode::note::{LegTls, Note};
use crate::decode::tsgu::packet::{build, Packet};
use crate::decode::tsgu::{Caps, ExtendedAuth, RedirFlags, Status};
use crate::decode::Decoded;
use crate::session::diagnose::Inputs;
use crate::session::{Cause, ClosedBy, Phase, TcpEvent, Timeline, Verdict, What};
use crate::vocab::Dir;
use crate::vocab::{EndKind, StreamEnd};
use base64::Engine;
use std::time::Duration;

struct Tunnel(GwTunnel);

impl PacketSink for Tunnel {
    fn packet(
        &mut self,
        _: Option<&str>,
        dir: Dir,
        p: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        self.0.packet(dir, p, frame, out);
    }
}

/// One intercepted gateway connection, fed bytes in order.
struct Conv {
    tl: Timeline,
    ch: GwChannel,
    t: Tunnel,
    now: Duration,
}

impl Conv {
    fn new() -> Conv {
        let mut c = Conv {
            tl: Timeline::default(),
            ch: GwChannel::new(),
            t: Tunnel(GwTunnel::new()),
            now: Duration::ZERO,
        };
        c.tl.push(c.now, None, What::Phase(Phase::TcpConnect));
        c.tl.push(
            c.now,
            None,
            What::Note(Note::ClientTls {
                tls: LegTls {
                    version: None,
                    cipher_suite: None,
                    sni: None,
                    handshake_ms: 1.0,
                },
                leaf_for: "gw".into(),
            }),
        );
        c
    }

    fn feed(&mut self, dir: Dir, bytes: &[u8]) -> &mut Self {
        self.now += Duration::from_millis(5);
        let mut out = Vec::new();
        self.ch.feed(dir, bytes, &mut out, &mut self.t);
        for d in out {
            self.tl.push(self.now, Some(d.dir), What::Decoded(d.event));
        }
        self
    }

    fn end(&mut self, dir: Dir, kind: EndKind) -> &mut Self {
        self.now += Duration::from_millis(5);
        let mut out = Vec::new();
        self.ch.finish(dir, &mut out, &mut self.t);
        for d in out {
            self.tl.push(self.now, Some(d.dir), What::Decoded(d.event));
        }
        let end = StreamEnd {
            kind,
            after: self.now,
            bytes: 100,
        };
        self.tl.push(
            self.now,
            Some(dir),
            What::Tcp(TcpEvent::StreamEnded { end }),
        );
        self
    }

    fn verdict(&self, session: bool) -> Verdict {
        diagnose(
            &Inputs {
                timeline: &self.tl,
                tls_stats: Default::default(),
                target: "gw",
                linger: Duration::from_secs(1),
                duration: self.now,
                plain: Default::default(),
                capture: false,
            },
            &GwInputs {
                session,
                ..Default::default()
            },
        )
    }

    fn has(&self, kind: &str) -> bool {
        self.tl.decoded().any(|(_, d)| d.kind() == kind)
    }
}

const WS_REQ: &str = "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nRDG-Connection-Id: {1}\r\n\r\n";
const WS_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";

fn frame(p: &[u8], masked: bool) -> Vec<u8> {
    let mut f = Vec::new();
    crate::decode::ws::encode_frame(
        crate::decode::ws::Opcode::Binary,
        p,
        masked.then_some([9, 8, 7, 6]),
        &mut f,
    );
    f
}

/// A WebSocket tunnel up to an open channel.
fn open_tunnel() -> Conv {
    let mut c = Conv::new();
    c.feed(Dir::C2S, WS_REQ.as_bytes())
        .feed(Dir::S2C, WS_101.as_bytes());
    let steps = [
        (
            build::handshake_request(ExtendedAuth::NONE),
            build::handshake_response(Status::OK, ExtendedAuth::NONE),
        ),
        (
            build::tunnel_create(Caps(0), None),
            build::tunnel_response(Status::OK, 1, Caps(0), None),
        ),
        (
            build::tunnel_auth("pc"),
            build::tunnel_auth_response(Status::OK, RedirFlags::ENABLE_ALL, 0),
        ),
        (
            build::channel_create("host", 3389),
            build::channel_response(Status::OK, 1),
        ),
    ];
    for (req, resp) in steps {
        c.feed(Dir::C2S, &frame(&req, true))
            .feed(Dir::S2C, &frame(&resp, false));
    }
    let cr = [
        3u8, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 1, 0, 0, 0,
    ];
    c.feed(Dir::C2S, &frame(&build::data(&cr), true));
    c
}

#[test]
fn a_channel_closed_with_a_failure_status_is_named() {
    let mut c = open_tunnel();
    let timeout = Status::from_name("E_PROXY_SESSIONTIMEOUT").unwrap();
    c.feed(Dir::S2C, &frame(&build::close_channel(timeout), false))
        .end(Dir::S2C, EndKind::Fin)
        .end(Dir::C2S, EndKind::Fin);
    let v = c.verdict(true);
    assert_eq!(v.cause, Cause::GwClosedChannel, "{v:#?}");
    assert!(
        v.summary.contains("E_PROXY_SESSIONTIMEOUT"),
        "{}",
        v.summary
    );
}

#[test]
fn data_before_the_channel_is_a_protocol_violation() {
    let mut c = Conv::new();
    c.feed(Dir::C2S, WS_REQ.as_bytes())
        .feed(Dir::S2C, WS_101.as_bytes())
        .feed(
            Dir::C2S,
            &frame(&build::handshake_request(ExtendedAuth::NONE), true),
        )
        .feed(Dir::C2S, &frame(&build::data(b"early"), true))
        .end(Dir::S2C, EndKind::Fin)
        .end(Dir::C2S, EndKind::Fin);
    assert!(c.has("tsgu_violation"));
    let v = c.verdict(false);
    assert_eq!(v.cause, Cause::GwProtocolViolation, "{v:#?}");
}

#[test]
fn an_in_channel_alone_is_in_without_out() {
    let mut c = Conv::new();
    c.feed(
        Dir::C2S,
        b"RDG_IN_DATA /remoteDesktopGateway/ HTTP/1.1\r\nRDG-Connection-Id: {2}\r\nContent-Length: 0\r\n\r\n",
    )
    .end(Dir::S2C, EndKind::Fin)
    .end(Dir::C2S, EndKind::Fin);
    assert_eq!(c.verdict(true).cause, Cause::GwInWithoutOut);
}

#[test]
fn a_gateway_reset_in_the_tunnel_setup_is_gw_reset() {
    let mut c = Conv::new();
    c.feed(Dir::C2S, WS_REQ.as_bytes())
        .feed(Dir::S2C, WS_101.as_bytes())
        .feed(
            Dir::C2S,
            &frame(&build::handshake_request(ExtendedAuth::NONE), true),
        )
        .end(Dir::S2C, EndKind::Rst)
        .end(Dir::C2S, EndKind::Aborted);
    let v = c.verdict(false);
    assert_eq!(v.cause, Cause::GwReset, "{v:#?}");
}

#[test]
fn an_error_page_is_gw_http_status_with_its_snippet() {
    let mut c = Conv::new();
    c.feed(Dir::C2S, b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .feed(
            Dir::S2C,
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 57\r\n\r\n<html><body><h1>Service Unavailable</h1></body></html>\r\n\r\n",
        )
        .end(Dir::S2C, EndKind::Fin)
        .end(Dir::C2S, EndKind::Fin);
    let v = c.verdict(false);
    assert_eq!(v.cause, Cause::GwHttpStatus, "{v:#?}");
    assert!(
        v.summary.contains("HTTP 503 Service Unavailable"),
        "{}",
        v.summary
    );
    assert!(
        v.summary.contains("\"Service Unavailable\""),
        "{}",
        v.summary
    );
}

/// An NTLM AUTHENTICATE whose NTLMv2 response carries channel bindings.
fn bound_authenticate() -> String {
    let user: Vec<u8> = "gwuser".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut nt = vec![0u8; 44];
    nt.extend_from_slice(&[0x0A, 0, 16, 0]);
    nt.extend_from_slice(&[0x55; 16]);
    nt.extend_from_slice(&[0, 0, 0, 0]);
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let base = 72u32;
    let field = |len: usize, off: u32| {
        let mut f = (len as u16).to_le_bytes().to_vec();
        f.extend_from_slice(&(len as u16).to_le_bytes());
        f.extend_from_slice(&off.to_le_bytes());
        f
    };
    m.extend(field(0, base)); // LM
    m.extend(field(nt.len(), base)); // NT
    m.extend(field(0, base)); // domain
    m.extend(field(user.len(), base + nt.len() as u32)); // user
    m.extend(field(0, base)); // workstation
    m.extend(field(0, base)); // session key
    m.extend_from_slice(&0x0000_0001u32.to_le_bytes()); // NEGOTIATE_UNICODE
    m.resize(base as usize, 0);
    m.extend_from_slice(&nt);
    m.extend_from_slice(&user);
    base64::engine::general_purpose::STANDARD.encode(m)
}

#[test]
fn a_drop_after_a_bound_authenticate_suspects_channel_binding() {
    let mut c = Conv::new();
    let req = format!(
        "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nContent-Length: 0\r\nAuthorization: NTLM {}\r\n\r\n",
        bound_authenticate()
    );
    c.feed(Dir::C2S, req.as_bytes())
        .end(Dir::S2C, EndKind::Rst)
        .end(Dir::C2S, EndKind::Aborted);
    let v = c.verdict(false);
    assert_eq!(v.cause, Cause::GwAuthBindingSuspected, "{v:#?}");
    assert!(v.summary.contains("gwuser"), "{}", v.summary);
    assert!(
        v.summary.contains("bound to the TLS channel"),
        "{}",
        v.summary
    );
    assert!(v.hint.contains("--gateway-passthrough"));
    assert!(v.inferred);
    // The token itself is nowhere in the recorded events.
    let all: String =
        c.tl.decoded()
            .map(|(_, d)| serde_json::to_string(d).unwrap())
            .collect();
    assert!(!all.contains(&bound_authenticate()[..20]));
}

// ---------------------------------------------------------------------------------------
// The gateway's certificate: the client's reaction decides

/// A timeline of one gateway connection whose certificate `problems` were judged, and
/// that the client closed `after_ms` after its TLS handshake (having sent a record
/// when `sent`). With `mirrors`, rdptap terminated the TLS and its leaf mirrored
/// those; without, the TLS was relayed untouched (`--gateway-passthrough`).
fn cert_timeline(
    problems: Vec<crate::cert::CertProblem>,
    mirrors: Option<Vec<crate::decode::note::Mirrored>>,
    after_ms: u64,
    sent: bool,
) -> Timeline {
    use crate::decode::tls::TlsEvent;
    use crate::decode::DecodeEvent;
    let mut tl = Timeline::default();
    let mut now = Duration::ZERO;
    tl.push(now, None, What::Phase(Phase::TcpConnect));
    let leg = LegTls {
        version: None,
        cipher_suite: None,
        sni: None,
        handshake_ms: 1.0,
    };
    match mirrors {
        Some(mirrors) => {
            tl.push(
                now,
                None,
                What::Note(Note::UpstreamTls {
                    tls: leg.clone(),
                    chain: vec![],
                    resumed: false,
                    pin_matched: None,
                }),
            );
            tl.push(now, Some(Dir::S2C), What::CertAssessed(problems));
            tl.push(
                now,
                None,
                What::Note(Note::LeafPresented {
                    leaf_for: "gw".into(),
                    signed_by: crate::decode::note::LeafSigner::LocalCa,
                    mirrors,
                    names: vec!["gw".into()],
                    not_before: "2020-01-01T00:00:00Z".into(),
                    not_after: "2021-01-01T00:00:00Z".into(),
                }),
            );
            now += Duration::from_millis(2);
            tl.push(
                now,
                None,
                What::Note(Note::ClientTls {
                    tls: leg,
                    leaf_for: "gw".into(),
                }),
            );
        }
        None => {
            tl.push(
                now,
                Some(Dir::S2C),
                What::Decoded(DecodeEvent::Tls(TlsEvent::HandshakeDone)),
            );
            tl.push(now, Some(Dir::S2C), What::CertAssessed(problems));
        }
    }
    if sent {
        tl.push(
            now + Duration::from_millis(1),
            Some(Dir::C2S),
            What::Decoded(DecodeEvent::Tls(TlsEvent::AppRecord { seq: 1, len: 200 })),
        );
    }
    now += Duration::from_millis(after_ms);
    let end = StreamEnd {
        kind: EndKind::Fin,
        after: now,
        bytes: 100,
    };
    tl.push(
        now,
        Some(Dir::C2S),
        What::Tcp(TcpEvent::StreamEnded { end }),
    );
    tl
}

fn gw_verdict(tl: &Timeline, passthrough: bool) -> Verdict {
    diagnose(
        &Inputs {
            timeline: tl,
            tls_stats: Default::default(),
            target: "gw",
            linger: Duration::from_secs(1),
            duration: Duration::from_secs(1),
            plain: Default::default(),
            capture: false,
        },
        &GwInputs {
            passthrough,
            ..Default::default()
        },
    )
}

fn expired() -> crate::cert::CertProblem {
    crate::cert::CertProblem::Expired {
        not_after: "2021-01-01T00:00:00Z".into(),
    }
}

#[test]
fn a_refused_mirrored_gateway_certificate_is_the_cause_with_the_gateways_hint() {
    use crate::decode::note::Mirrored;
    let v = gw_verdict(
        &cert_timeline(vec![expired()], Some(vec![Mirrored::Expired]), 40, false),
        false,
    );
    assert_eq!(v.cause, Cause::CertExpired, "{v:#?}");
    assert!(v.hint.contains("gateway's SSL certificate"), "{}", v.hint);
    assert!(v.summary.contains("mirrors"), "{}", v.summary);
}

#[test]
fn a_gateway_session_that_went_on_is_never_a_certificate_cause() {
    use crate::decode::note::Mirrored;
    // The client accepted and stayed: whatever then ended it, not the certificate.
    let v = gw_verdict(
        &cert_timeline(vec![expired()], Some(vec![Mirrored::Expired]), 5000, false),
        false,
    );
    assert_ne!(v.cause, Cause::CertExpired, "{v:#?}");
    assert_eq!(v.warnings[0].cause, Cause::CertExpired, "{v:#?}");
    assert!(v.warnings[0].detail.contains("mirrored it to the client"));
}

#[test]
fn with_gateway_passthrough_a_quick_close_after_the_handshake_is_a_refusal() {
    let v = gw_verdict(&cert_timeline(vec![expired()], None, 30, false), true);
    assert_eq!(v.cause, Cause::CertExpired, "{v:#?}");
    assert!(v.inferred);
    assert!(v.hint.contains("gateway's SSL certificate"), "{}", v.hint);
    // The client went on: ok, with the problem as a warning.
    let v = gw_verdict(&cert_timeline(vec![expired()], None, 5000, true), true);
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    assert_eq!(v.warnings[0].cause, Cause::CertExpired, "{v:#?}");
}

/// The tunnel open, then the gateway's next DATA packet relayed only in part.
fn cut_download() -> Conv {
    let mut c = open_tunnel();
    let big = frame(&build::data(&[7u8; 4000]), false);
    c.feed(Dir::S2C, &big[..1500]);
    c
}

#[test]
fn a_packet_cut_by_rdptaps_idle_timeout_is_not_blamed_on_the_gateway() {
    for session in [false, true] {
        let mut c = cut_download();
        // The client stopped reading: rdptap's write deadline ends the direction.
        c.end(Dir::S2C, EndKind::IdleTimeout)
            .end(Dir::C2S, EndKind::Aborted);
        let v = c.verdict(session);
        assert_eq!(v.cause, Cause::IdleTimeout, "{v:#?}");
        assert!(
            v.summary.contains("rdptap's idle timeout")
                && v.summary.contains("gateway-to-client")
                && v.summary.contains("not because the gateway closed it"),
            "{}",
            v.summary
        );
        assert!(
            !v.summary.contains("the gateway closed after"),
            "{}",
            v.summary
        );
        assert_eq!(v.closed_by, ClosedBy::Proxy);
    }
}

#[test]
fn a_packet_the_gateway_cut_is_still_the_gateways() {
    let mut c = cut_download();
    c.end(Dir::S2C, EndKind::Fin).end(Dir::C2S, EndKind::Fin);
    let v = c.verdict(true);
    assert_eq!(v.cause, Cause::GwHttpIncomplete, "{v:#?}");
}

#[test]
fn a_packet_cut_by_the_linger_after_the_client_left_is_not_the_gateways() {
    let mut c = cut_download();
    c.end(Dir::C2S, EndKind::Fin).end(Dir::S2C, EndKind::Linger);
    let v = c.verdict(true);
    assert_ne!(v.cause, Cause::GwHttpIncomplete, "{v:#?}");
    assert!(
        !v.summary.contains("the gateway closed after"),
        "{}",
        v.summary
    );
}

/// The tunnel open, the host's Connection Confirm selecting TLS, and half of the host's
/// first TLS record.
fn cut_inner_record() -> Conv {
    let mut c = open_tunnel();
    let cc = [
        3u8, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
    ];
    c.feed(Dir::S2C, &frame(&build::data(&cc), false));
    let mut half = vec![0x16u8, 3, 3, 0, 100];
    half.extend_from_slice(&[0u8; 20]);
    c.feed(Dir::S2C, &frame(&build::data(&half), false));
    c
}

fn verdict_with_cut(c: &Conv) -> Verdict {
    let tls = c.t.0.inner().tls();
    diagnose(
        &Inputs {
            timeline: &c.tl,
            tls_stats: Default::default(),
            target: "gw",
            linger: Duration::from_secs(1),
            duration: c.now,
            plain: Default::default(),
            capture: false,
        },
        &GwInputs {
            session: true,
            inner_cut: [tls.mid_record(Dir::C2S), tls.mid_record(Dir::S2C)],
            ..Default::default()
        },
    )
}

#[test]
fn a_tunnel_closed_with_s_ok_in_the_middle_of_an_inner_record_is_not_orderly() {
    let mut c = cut_inner_record();
    c.feed(Dir::S2C, &frame(&build::close_channel(Status::OK), false))
        .end(Dir::S2C, EndKind::Fin)
        .end(Dir::C2S, EndKind::Fin);
    let v = verdict_with_cut(&c);
    assert_eq!(v.cause, Cause::ServerClosed, "{v:#?}");
    assert!(v.inferred, "the host's reset is inferred");
    assert!(
        v.summary
            .contains("stopped in the middle of a record, after 25 of its 105 bytes")
            && v.summary.contains("S_OK"),
        "{}",
        v.summary
    );
}

#[test]
fn a_record_cut_by_the_clients_own_close_is_not_the_hosts_failure() {
    let mut c = cut_inner_record();
    c.end(Dir::C2S, EndKind::Fin).end(Dir::S2C, EndKind::Fin);
    let v = verdict_with_cut(&c);
    assert!(!v.summary.contains("middle of a record"), "{v:#?}");
}
