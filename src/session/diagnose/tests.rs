//! Verdicts on hand-made timelines.

use super::*;
use crate::decode::names::{NegFailureCode, Protocols};
use crate::decode::tls::{AlertDescription, AlertLevel, CipherSuite, TlsEvent, TlsVersion};
use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;
use crate::session::{TcpEvent, What};
use crate::vocab::{EndKind, StreamEnd};

/// Builds a timeline with a moving clock.
struct T {
    tl: Timeline,
    now: Duration,
}

impl T {
    fn new() -> T {
        let mut t = T {
            tl: Timeline::default(),
            now: Duration::ZERO,
        };
        t.push(None, What::Phase(Phase::TcpConnect));
        t
    }
    fn wait(&mut self, ms: u64) -> &mut Self {
        self.now += Duration::from_millis(ms);
        self
    }
    fn push(&mut self, dir: Option<Dir>, what: What) -> &mut Self {
        self.tl.push(self.now, dir, what);
        self
    }
    fn x(&mut self, dir: Dir, e: X224Event) -> &mut Self {
        self.push(Some(dir), What::Decoded(DecodeEvent::X224(e)))
    }
    fn tls(&mut self, dir: Dir, e: TlsEvent) -> &mut Self {
        self.push(Some(dir), What::Decoded(DecodeEvent::Tls(e)))
    }
    fn phase(&mut self, p: Phase) -> &mut Self {
        self.push(None, What::Phase(p))
    }
    fn end(&mut self, dir: Dir, kind: EndKind) -> &mut Self {
        let after = self.now;
        self.push(
            Some(dir),
            What::Tcp(TcpEvent::StreamEnded {
                end: StreamEnd {
                    kind,
                    after,
                    bytes: 100,
                },
            }),
        )
    }
    /// CR/CC selecting `sel` after a request of `req`.
    fn negotiate(&mut self, req: u32, sel: u32) -> &mut Self {
        self.phase(Phase::X224)
            .x(
                Dir::C2S,
                X224Event::ConnectionRequest {
                    cookie: Some("labuser".into()),
                    routing_token: None,
                    neg_flags: vec![],
                    requested_protocols: Some(Protocols(req)),
                    correlation_id: None,
                },
            )
            .wait(1)
            .x(
                Dir::S2C,
                X224Event::ConnectionConfirm {
                    selected_protocol: Some(Protocols(sel)),
                    neg_flags: vec![],
                },
            )
    }
    /// A TLS 1.3 handshake.
    fn handshake(&mut self) -> &mut Self {
        self.wait(1)
            .phase(Phase::TlsHandshake)
            .tls(
                Dir::C2S,
                TlsEvent::ClientHello {
                    legacy_version: TlsVersion(0x0303),
                    versions: vec![TlsVersion(0x0304), TlsVersion(0x0303)],
                    cipher_suites: vec![CipherSuite(0x1302)],
                    cipher_suites_omitted: Some(0),
                    sni: None,
                    alpn: vec![],
                },
            )
            .wait(1)
            .tls(
                Dir::S2C,
                TlsEvent::ServerHello {
                    version: TlsVersion(0x0304),
                    cipher_suite: CipherSuite(0x1302),
                    hello_retry_request: false,
                    downgrade_sentinel: None,
                },
            )
            .wait(1)
            .phase(Phase::TlsSession)
            .tls(Dir::C2S, TlsEvent::HandshakeDone)
    }
    fn rec(&mut self, dir: Dir, len: u16) -> &mut Self {
        self.wait(1).tls(dir, TlsEvent::AppRecord { seq: 0, len })
    }
    fn verdict(&self) -> Verdict {
        diagnose(&Inputs {
            plain: Default::default(),
            capture: false,
            timeline: &self.tl,
            tls_stats: Default::default(),
            target: "host:3389",
            linger: Duration::from_secs(5),
            duration: self.now,
        })
    }
}

#[test]
fn orderly_client_close_after_tls_is_ok_even_if_the_server_lingers() {
    let mut t = T::new();
    t.negotiate(1, 1)
        .handshake()
        .rec(Dir::C2S, 400)
        .rec(Dir::S2C, 900);
    t.wait(5)
        .tls(Dir::C2S, TlsEvent::EncryptedAlertLikely { len: 19 })
        .end(Dir::C2S, EndKind::Fin)
        .wait(5000)
        .end(Dir::S2C, EndKind::Linger);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    assert_eq!(
        (v.closed_by, v.close_kind),
        (ClosedBy::Client, CloseKind::Fin)
    );
    assert_eq!(v.server.close_kind, Some(CloseKind::Timeout));
    assert!(
        v.summary.contains("close_notify, inferred"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("--intercept"));
}

#[test]
fn neg_failure_names_the_code() {
    let mut t = T::new();
    t.phase(Phase::X224)
        .x(
            Dir::S2C,
            X224Event::NegotiationFailure {
                code: NegFailureCode::from_u32(5),
            },
        )
        .end(Dir::S2C, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::NegotiationFailure);
    assert!(
        v.summary.contains("HYBRID_REQUIRED_BY_SERVER"),
        "{}",
        v.summary
    );
    assert_eq!(v.phase, Phase::X224);
}

#[test]
fn server_picking_rdp_for_a_tls_only_client_is_a_negotiation_failure() {
    let mut t = T::new();
    t.negotiate(1, 0).wait(2).end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::NegotiationFailure, "{v:#?}");
    assert!(v.inferred);
    assert!(v.summary.contains("SSL_NOT_ALLOWED_BY_SERVER"));
}

#[test]
fn selected_protocol_not_offered_is_a_mismatch() {
    let mut t = T::new();
    t.negotiate(1, 2).wait(2).end(Dir::S2C, EndKind::Fin);
    assert_eq!(t.verdict().cause, Cause::ProtocolMismatch);
}

#[test]
fn server_close_after_authenticate_is_credssp_failed_and_names_the_round() {
    let mut t = T::new();
    t.negotiate(3, 2).handshake();
    t.rec(Dir::C2S, 110)
        .rec(Dir::S2C, 250)
        .rec(Dir::S2C, 179)
        .rec(Dir::C2S, 450)
        .wait(2)
        .tls(Dir::S2C, TlsEvent::EncryptedAlertLikely { len: 19 })
        .end(Dir::S2C, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::CredsspFailed, "{v:#?}");
    assert!(v.inferred);
    assert!(
        v.summary.contains("AUTHENTICATE-sized record"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("credentials rejected"), "{}", v.summary);
    assert_eq!(v.closed_by, ClosedBy::Server);
}

#[test]
fn close_after_the_early_auth_result_is_early_auth_denied() {
    let mut t = T::new();
    t.negotiate(0xb, 8).handshake();
    for (d, l) in [
        (Dir::C2S, 110),
        (Dir::S2C, 300),
        (Dir::C2S, 500),
        (Dir::S2C, 90),
        (Dir::C2S, 200),
        (Dir::S2C, 21),
    ] {
        t.rec(d, l);
    }
    t.wait(1).end(Dir::S2C, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::EarlyAuthDenied, "{v:#?}");
    assert!(v.inferred);
}

#[test]
fn fatal_protocol_version_alert_is_a_version_mismatch() {
    let mut t = T::new();
    t.negotiate(1, 1)
        .wait(1)
        .phase(Phase::TlsHandshake)
        .tls(
            Dir::S2C,
            TlsEvent::Alert {
                level: AlertLevel(2),
                description: AlertDescription(70),
            },
        )
        .end(Dir::S2C, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::TlsVersionMismatch);
    assert_eq!(v.close_kind, CloseKind::TlsAlert);
    assert_eq!(v.closed_by, ClosedBy::Server);
}

#[test]
fn client_leaving_right_after_the_handshake_makes_the_cert_problem_the_cause() {
    let mut t = T::new();
    t.negotiate(1, 1).handshake();
    t.push(
        Some(Dir::S2C),
        What::CertAssessed(vec![
            CertProblem::Expired {
                not_after: "2026-10-02T00:00:00Z".into(),
            },
            CertProblem::Untrusted {
                reason: "unknown issuer".into(),
            },
            CertProblem::SelfSigned,
        ]),
    );
    t.wait(300).end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::CertExpired, "{v:#?}");
    // Self-signed explains untrusted, so only self-signed stays as a warning.
    let w: Vec<Cause> = v.warnings.iter().map(|w| w.cause).collect();
    assert_eq!(w, vec![Cause::CertSelfSigned]);
}

#[test]
fn cert_problem_is_only_a_warning_when_the_client_carries_on() {
    let mut t = T::new();
    t.negotiate(1, 1).handshake();
    t.push(
        Some(Dir::S2C),
        What::CertAssessed(vec![CertProblem::SelfSigned]),
    );
    t.rec(Dir::C2S, 500)
        .rec(Dir::S2C, 500)
        .wait(10)
        .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::Ok);
    assert_eq!(v.warnings[0].cause, Cause::CertSelfSigned);
}

#[test]
fn upstream_refused() {
    let mut t = T::new();
    t.push(
        None,
        What::Tcp(TcpEvent::UpstreamFailed {
            error: crate::vocab::ConnectError::Refused {
                addr: "127.0.0.1:9".into(),
            },
        }),
    );
    let v = t.verdict();
    assert_eq!(v.cause, Cause::UpstreamRefused);
    assert_eq!((v.closed_by, v.phase), (ClosedBy::Proxy, Phase::TcpConnect));
}

#[test]
fn resets_and_closes_by_side() {
    let mut t = T::new();
    t.negotiate(1, 1)
        .wait(1)
        .phase(Phase::TlsHandshake)
        .end(Dir::S2C, EndKind::Rst);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::ServerReset);
    assert_eq!(v.phase, Phase::TlsHandshake);
    let mut t = T::new();
    t.negotiate(1, 1).wait(1).end(Dir::C2S, EndKind::Fin);
    assert_eq!(t.verdict().cause, Cause::ClientClosed);
}

#[test]
fn non_rdp_bytes_are_a_protocol_mismatch() {
    let mut t = T::new();
    t.x(
        Dir::C2S,
        X224Event::NotRdp {
            first_bytes: "47 45 54 20".into(),
        },
    )
    .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::ProtocolMismatch);
    assert!(v.summary.contains("47 45 54 20"));
}

#[test]
fn an_alert_answering_the_clients_close_is_not_the_cause() {
    let mut t = T::new();
    t.negotiate(1, 1).wait(1).phase(Phase::TlsHandshake);
    t.wait(200).end(Dir::C2S, EndKind::Fin).wait(1).tls(
        Dir::S2C,
        TlsEvent::Alert {
            level: AlertLevel(2),
            description: AlertDescription(50),
        },
    );
    t.end(Dir::S2C, EndKind::Rst);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::ClientClosed, "{v:#?}");
    assert_eq!(
        (v.closed_by, v.close_kind),
        (ClosedBy::Client, CloseKind::Fin)
    );
    assert_eq!(v.phase, Phase::TlsHandshake);
}

// ---------------------------------------------------------------------------------------
// Interception and the decrypted phases

mod decrypted {
    use super::*;
    use crate::decode::note::{LegTls, NotIntercepted, Note};
    use crate::decode::pdu::errinfo::ErrorInfo;
    use crate::decode::pdu::RdpEvent;

    fn leg() -> LegTls {
        LegTls {
            version: Some(TlsVersion(0x0304)),
            cipher_suite: Some(CipherSuite(0x1301)),
            sni: None,
            handshake_ms: 1.0,
        }
    }

    impl T {
        fn note(&mut self, n: Note) -> &mut Self {
            self.push(None, What::Note(n))
        }
        fn rdp(&mut self, dir: Dir, e: RdpEvent) -> &mut Self {
            self.push(Some(dir), What::Decoded(DecodeEvent::Rdp(e)))
        }
        /// X.224 selecting TLS, then both of rdptap's handshakes.
        fn intercepted(&mut self) -> &mut Self {
            self.negotiate(1, 1)
                .wait(1)
                .note(Note::UpstreamTls {
                    tls: leg(),
                    chain: vec![],
                    resumed: false,
                    pin_matched: None,
                })
                .push(Some(Dir::S2C), What::CertAssessed(vec![]))
                .wait(1)
                .note(Note::ClientTls {
                    tls: leg(),
                    leaf_for: "localhost".into(),
                })
                .phase(Phase::TlsSession)
        }
    }

    /// The Demand Active xrdp sent in a captured session.
    fn demand_active() -> RdpEvent {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        let s2c = std::fs::read(format!("{dir}xrdp-tls-plain-active.plain.s2c.bin")).unwrap();
        let mut d = crate::decode::rdp::RdpDecoder::new();
        d.tls_intercepted();
        let mut out = Vec::new();
        d.feed_plain(Dir::S2C, &s2c, &mut out);
        out.into_iter()
            .find_map(|e| match e.event {
                DecodeEvent::Rdp(r @ RdpEvent::DemandActive(_)) => Some(r),
                _ => None,
            })
            .expect("a Demand Active in the capture")
    }

    #[test]
    fn set_error_info_then_server_close_names_the_mstsc_codes() {
        let mut t = T::new();
        t.intercepted()
            .wait(50)
            .phase(Phase::Licensing)
            .rdp(Dir::S2C, RdpEvent::SetErrorInfo(ErrorInfo(7)))
            .wait(5)
            .end(Dir::S2C, EndKind::Fin)
            .end(Dir::C2S, EndKind::Fin);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::ServerErrorInfo, "{v:#?}");
        assert!(
            v.summary.contains("ERRINFO_SERVER_DENIED_CONNECTION"),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains("mstsc shows 0x904 / extended 0x7"),
            "{}",
            v.summary
        );
        let m = v.mstsc.expect("mstsc code");
        assert_eq!(
            (m.disc_reason, m.extended, m.inferred),
            (0x904, Some(7), true)
        );
    }

    #[test]
    fn licensing_error_info_is_licensing_failed() {
        let mut t = T::new();
        t.intercepted()
            .wait(50)
            .rdp(Dir::S2C, RdpEvent::SetErrorInfo(ErrorInfo(0x102)))
            .end(Dir::S2C, EndKind::Fin);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::LicensingFailed, "{v:#?}");
        assert_eq!(v.mstsc.map(|m| m.disc_reason), Some(0x808));
    }

    #[test]
    fn server_closing_after_demand_active_without_a_reason() {
        let mut t = T::new();
        t.intercepted().wait(50).phase(Phase::Capabilities);
        let da = demand_active();
        t.rdp(Dir::S2C, da).wait(100).end(Dir::S2C, EndKind::Fin);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::ServerClosedAfterLogon, "{v:#?}");
        assert_eq!(v.closed_by, ClosedBy::Server);
    }

    #[test]
    fn client_alert_to_rdptap_is_client_rejected_proxy_cert() {
        let mut t = T::new();
        t.negotiate(1, 1)
            .note(Note::UpstreamTls {
                tls: leg(),
                chain: vec![],
                resumed: false,
                pin_matched: None,
            })
            .note(Note::ClientTlsFailed {
                alert: Some(AlertDescription(48)),
                error: "the client sent the TLS alert unknown_ca".into(),
            })
            .end(Dir::C2S, EndKind::Fin)
            .end(Dir::S2C, EndKind::Aborted);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::ClientRejectedProxyCert, "{v:#?}");
        assert!(!v.inferred);
        assert!(v.hint.contains("rdptap ca show"));
    }

    #[test]
    fn quick_silent_close_after_rdptap_handshake_is_inferred_rejection() {
        let mut t = T::new();
        t.intercepted()
            .wait(300)
            .end(Dir::C2S, EndKind::Fin)
            .end(Dir::S2C, EndKind::Linger);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::ClientRejectedProxyCert, "{v:#?}");
        assert!(v.inferred);
    }

    #[test]
    fn host_certificate_problem_is_named_when_the_session_worked() {
        let mut t = T::new();
        t.negotiate(1, 1)
            .note(Note::UpstreamTls {
                tls: leg(),
                chain: vec![],
                resumed: false,
                pin_matched: None,
            })
            .push(
                Some(Dir::S2C),
                What::CertAssessed(vec![CertProblem::SelfSigned]),
            )
            .note(Note::ClientTls {
                tls: leg(),
                leaf_for: "localhost".into(),
            })
            .phase(Phase::Active)
            .wait(5000);
        t.end(Dir::C2S, EndKind::Fin);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::CertSelfSigned, "{v:#?}");
        assert!(v.summary.contains("rdptap presented its own certificate"));
    }

    #[test]
    fn fallback_is_a_warning_not_a_failure() {
        let mut t = T::new();
        t.negotiate(1, 1)
            .note(Note::UpstreamTlsFailed {
                alert: Some(AlertDescription(70)),
                error: "the host sent the TLS alert protocol_version".into(),
                fallback: true,
            })
            .note(Note::NotIntercepted {
                reason: NotIntercepted::UpstreamTlsIncompatible,
            })
            .handshake()
            .rec(Dir::C2S, 400)
            .rec(Dir::S2C, 400)
            .wait(3000)
            .end(Dir::C2S, EndKind::Fin)
            .end(Dir::S2C, EndKind::Fin);
        let v = t.verdict();
        assert_eq!(v.cause, Cause::Ok, "{v:#?}");
        assert!(v
            .warnings
            .iter()
            .any(|w| w.cause == Cause::UpstreamTlsIncompatible));
    }
}

#[test]
fn a_client_that_never_speaks_is_client_silent() {
    let mut t = T::new();
    t.wait(30_000);
    for dir in [Dir::C2S, Dir::S2C] {
        let end = StreamEnd {
            kind: EndKind::FirstByteTimeout,
            after: t.now,
            bytes: 0,
        };
        t.push(Some(dir), What::Tcp(TcpEvent::StreamEnded { end }));
    }
    let v = t.verdict();
    assert_eq!(v.cause, Cause::ClientSilent, "{v:#?}");
    assert_eq!(
        (v.closed_by, v.close_kind),
        (ClosedBy::Proxy, CloseKind::Timeout)
    );
    assert_eq!(v.phase, Phase::TcpConnect);
    assert!(
        v.summary
            .starts_with("the client connected and sent nothing for 30.0 s"),
        "{}",
        v.summary
    );
    assert_eq!(v.client.close_kind, Some(CloseKind::Timeout));
}
