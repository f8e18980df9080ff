//! A one-pass digest of a timeline: the facts `diagnose` reasons about.

use crate::cert::CertProblem;
use crate::decode::mcs::McsEvent;
use crate::decode::names::{NegFailureCode, Protocols};
use crate::decode::note::{LeafSigner, Mirrored, NotIntercepted, Note};
use crate::decode::pdu::data::SaveSessionInfo;
use crate::decode::pdu::errinfo::ErrorInfo;
use crate::decode::pdu::licensing::License;
use crate::decode::pdu::RdpEvent;
use crate::decode::tls::{AlertDescription, CipherSuite, TlsEvent, TlsVersion};
use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;
use crate::session::{Phase, TcpEvent, Timeline, What};
use crate::vocab::Dir;
use crate::vocab::{ConnectError, StreamEnd};
use std::time::Duration;

/// Where and when something was seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct At {
    pub seq: usize,
    pub at: Duration,
}

/// One encrypted record after the handshake.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rec {
    pub at: At,
    pub dir: Dir,
    pub len: u16,
    pub alert_like: bool,
}

/// Everything `diagnose` needs, gathered in one pass.
#[derive(Debug, Default)]
pub struct Seen {
    pub phase: Option<Phase>,
    pub upstream_failed: Option<(At, ConnectError)>,
    pub not_rdp: Option<(At, Dir, String)>,
    pub request: Option<(At, Protocols)>,
    pub confirm: Option<(At, Protocols)>,
    pub neg_failure: Option<(At, NegFailureCode)>,
    pub client_versions: Vec<TlsVersion>,
    pub client_hello: Option<At>,
    pub server_hello: Option<(At, TlsVersion, CipherSuite)>,
    pub cert: Option<At>,
    pub cert_hidden: bool,
    pub problems: Vec<CertProblem>,
    pub problems_at: Option<At>,
    pub fatal_alert: Option<(At, Dir, AlertDescription)>,
    pub handshake_done: Option<At>,
    pub records: Vec<Rec>,
    pub mcs_response: Option<(At, u8, String)>,
    pub mcs_initial: Option<At>,
    pub dpu_from_server: Option<(At, String)>,
    pub decode_errors: Vec<(At, Dir, String)>,
    pub ends: [Option<(At, StreamEnd)>; 2],
    /// Interception, from the relay's notes.
    pub icpt: Intercept,
    /// What the decrypted (or clear) RDP stream said.
    pub rdp: RdpSeen,
    /// What `analyze` said about the capture it read.
    pub cap: CaptureSeen,
}

/// Facts about a captured connection, from `analyze`.
#[derive(Debug, Default)]
pub struct CaptureSeen {
    /// Bytes missing from the capture: where, which direction, from what offset, how many.
    pub gaps: Vec<(At, Dir, u64, u64)>,
    /// The capture started after the connection did, skipping [c2s, s2c] bytes.
    pub start_missed: Option<(At, [u64; 2])>,
    /// The TLS was decrypted offline with a key log.
    pub decrypted: Option<At>,
    /// A direction whose TLS could not be decrypted, and why.
    pub undecrypted: Vec<(At, Dir, String)>,
}

/// Facts from the RDP PDUs after MCS.
#[derive(Debug, Default)]
pub struct RdpSeen {
    /// The first Set Error Info with a non-zero code.
    pub error_info: Option<(At, ErrorInfo)>,
    /// A licensing message that ended licensing in failure.
    pub license_failed: Option<(At, License)>,
    /// A licensing message that ended licensing successfully.
    pub license_ok: Option<At>,
    /// The server's logon notice (Save Session Info of a logon type).
    pub logon: Option<At>,
    /// A logon error or warning the server reported in Save Session Info.
    pub logon_error: Option<(At, SaveSessionInfo)>,
    /// The server's Demand Active.
    pub demand_active: Option<At>,
    /// The server's Font Map (the session went active).
    pub active: Option<At>,
    /// The server's Deactivate All.
    pub deactivate_all: Option<At>,
    /// The server redirected the client.
    pub redirection: Option<(At, Option<String>)>,
    /// The client asked to end the session (Shutdown Request).
    pub client_shutdown: Option<At>,
    /// The client sent a Disconnect Provider Ultimatum.
    pub client_dpu: Option<At>,
    /// The client's Client Info.
    pub client_info: Option<At>,
}

/// What the relay said about interception.
#[derive(Debug, Default)]
pub struct Intercept {
    /// Why the connection was relayed untouched, if it was.
    pub not: Option<(At, NotIntercepted)>,
    /// rdptap's TLS with the host completed.
    pub upstream: Option<At>,
    /// rdptap's TLS with the host failed: alert and text; and whether it fell back.
    pub upstream_failed: Option<(At, Option<AlertDescription>, String, bool)>,
    /// The client completed TLS with rdptap.
    pub client_tls: Option<At>,
    /// The client's TLS with rdptap failed: alert and text.
    pub client_failed: Option<(At, Option<AlertDescription>, String)>,
    /// `--strict-upstream` refused the host.
    pub strict_refused: Option<At>,
    /// The fallback connection failed.
    pub fallback_failed: Option<(At, String)>,
    /// `--nla downgrade` rewrote the request: (requested, sent).
    pub downgraded: Option<(At, Protocols, Protocols)>,
    /// The certificate rdptap presented to the client: who signed it, and which of the
    /// host's problems it mirrors.
    pub leaf: Option<(At, LeafSigner, Vec<Mirrored>)>,
}

impl Seen {
    /// Digest a timeline.
    pub fn scan(t: &Timeline) -> Seen {
        let mut s = Seen::default();
        let mut back_ends: [Option<(At, StreamEnd)>; 2] = [None, None];
        for e in t.entries() {
            let at = At {
                seq: e.seq,
                at: e.at,
            };
            match &e.what {
                What::Phase(p) => s.phase = Some(s.phase.map_or(*p, |q| q.max(*p))),
                What::CertAssessed(p) => {
                    s.problems = p.clone();
                    s.problems_at = Some(at);
                }
                What::Tcp(TcpEvent::UpstreamFailed { error }) => {
                    s.upstream_failed = Some((at, error.clone()))
                }
                What::Tcp(TcpEvent::StreamEnded { end }) => {
                    if let Some(d) = e.dir {
                        // A gateway channel's back direction ends count only where the
                        // direction that carries the tunnel has no end.
                        if e.back_channel {
                            back_ends[d.idx()] = Some((at, end.clone()));
                        } else {
                            s.ends[d.idx()] = Some((at, end.clone()));
                        }
                    }
                }
                What::Tcp(_) => {}
                What::Note(n) => s.note(at, n),
                What::Decoded(d) => s.decoded(at, e.dir.unwrap_or(Dir::C2S), d),
            }
        }
        for (end, back) in s.ends.iter_mut().zip(back_ends) {
            if end.is_none() {
                *end = back;
            }
        }
        s
    }

    fn decoded(&mut self, at: At, dir: Dir, d: &DecodeEvent) {
        match d {
            DecodeEvent::X224(x) => match x {
                X224Event::NotRdp { first_bytes } => {
                    self.not_rdp.get_or_insert((at, dir, first_bytes.clone()));
                }
                X224Event::ConnectionRequest {
                    requested_protocols,
                    ..
                } => self.request = Some((at, requested_protocols.unwrap_or(Protocols::RDP))),
                X224Event::ConnectionConfirm {
                    selected_protocol, ..
                } => self.confirm = Some((at, selected_protocol.unwrap_or(Protocols::RDP))),
                X224Event::NegotiationFailure { code } => self.neg_failure = Some((at, *code)),
                _ => {}
            },
            DecodeEvent::Tls(t) => match t {
                TlsEvent::ClientHello { versions, .. } => {
                    self.client_hello.get_or_insert(at);
                    self.client_versions = versions.clone();
                }
                TlsEvent::ServerHello {
                    version,
                    cipher_suite,
                    hello_retry_request,
                    ..
                } => {
                    if !hello_retry_request || self.server_hello.is_none() {
                        self.server_hello = Some((at, *version, *cipher_suite));
                    }
                }
                TlsEvent::Certificate { .. } => self.cert = Some(at),
                TlsEvent::CertificateHidden { .. } => self.cert_hidden = true,
                TlsEvent::Alert { level, description } => {
                    if level.0 == 2 && self.fatal_alert.is_none() {
                        self.fatal_alert = Some((at, dir, *description));
                    }
                }
                TlsEvent::HandshakeDone => {
                    self.handshake_done.get_or_insert(at);
                }
                TlsEvent::AppRecord { len, .. } => self.records.push(Rec {
                    at,
                    dir,
                    len: *len,
                    alert_like: false,
                }),
                TlsEvent::EncryptedAlertLikely { len } => self.records.push(Rec {
                    at,
                    dir,
                    len: *len,
                    alert_like: true,
                }),
            },
            DecodeEvent::Mcs(m) => match m {
                McsEvent::ConnectInitial { .. } => self.mcs_initial = Some(at),
                McsEvent::ConnectResponse {
                    result,
                    result_code,
                    ..
                } => self.mcs_response = Some((at, *result_code, result.clone())),
                McsEvent::DisconnectProviderUltimatum { reason } if dir == Dir::S2C => {
                    self.dpu_from_server.get_or_insert((at, reason.clone()));
                }
                McsEvent::DisconnectProviderUltimatum { .. } => {
                    self.rdp.client_dpu.get_or_insert(at);
                }
                _ => {}
            },
            DecodeEvent::Rdp(r) => self.rdp_event(at, dir, r),
            DecodeEvent::Http(_)
            | DecodeEvent::Ws(_)
            | DecodeEvent::Gw(_)
            | DecodeEvent::Inner(_) => {}
            DecodeEvent::Error(e) => self.decode_errors.push((at, dir, e.reason.clone())),
        }
    }

    fn rdp_event(&mut self, at: At, dir: Dir, r: &RdpEvent) {
        let d = &mut self.rdp;
        match r {
            RdpEvent::SetErrorInfo(e) if !e.is_none() && dir == Dir::S2C => {
                d.error_info.get_or_insert((at, *e));
            }
            RdpEvent::License(l) if l.failed() => {
                d.license_failed.get_or_insert((at, *l));
            }
            RdpEvent::License(l) if l.succeeded() => {
                d.license_ok.get_or_insert(at);
            }
            RdpEvent::SaveSessionInfo(s) if s.logon_error.is_some() => {
                d.logon_error.get_or_insert((at, (**s).clone()));
            }
            RdpEvent::SaveSessionInfo(s) if s.is_logon() => {
                d.logon.get_or_insert(at);
            }
            RdpEvent::DemandActive(_) => {
                d.demand_active.get_or_insert(at);
            }
            RdpEvent::FontMap { .. } => {
                d.active.get_or_insert(at);
            }
            RdpEvent::DeactivateAll { .. } => {
                d.deactivate_all.get_or_insert(at);
            }
            RdpEvent::ServerRedirection(x) => {
                d.redirection = Some((at, x.target().map(str::to_string)));
            }
            RdpEvent::ShutdownRequest => {
                d.client_shutdown.get_or_insert(at);
            }
            RdpEvent::ClientInfo(_) => {
                d.client_info.get_or_insert(at);
            }
            _ => {}
        }
    }

    fn note(&mut self, at: At, n: &Note) {
        let i = &mut self.icpt;
        match n {
            Note::NotIntercepted { reason } => i.not = Some((at, *reason)),
            Note::UpstreamTls { .. } => i.upstream = Some(at),
            Note::UpstreamTlsFailed {
                alert,
                error,
                fallback,
            } => i.upstream_failed = Some((at, *alert, error.clone(), *fallback)),
            Note::ClientTls { .. } => i.client_tls = Some(at),
            Note::LeafPresented {
                signed_by, mirrors, ..
            } => i.leaf = Some((at, *signed_by, mirrors.clone())),
            Note::ClientTlsFailed { alert, error } => {
                i.client_failed = Some((at, *alert, error.clone()))
            }
            Note::StrictRefused { .. } => i.strict_refused = Some(at),
            Note::FallbackFailed { error } => i.fallback_failed = Some((at, error.clone())),
            Note::NlaDowngraded { requested, sent } => i.downgraded = Some((at, *requested, *sent)),
            Note::CaptureGap {
                direction,
                offset,
                missing,
            } => self.cap.gaps.push((at, *direction, *offset, *missing)),
            Note::CaptureStartMissed { skipped } => self.cap.start_missed = Some((at, *skipped)),
            Note::Decrypted { .. } => self.cap.decrypted = Some(at),
            Note::DecryptStopped { direction, reason } => {
                self.cap.undecrypted.push((at, *direction, reason.clone()))
            }
            Note::DowngradeHidden { .. }
            | Note::FallbackReplayed { .. }
            | Note::MintFailed { .. }
            | Note::CaptureConflict { .. }
            | Note::GatewayIdReused { .. } => {}
        }
    }

    /// True when the capture `analyze` read ended while the connection was open.
    pub fn capture_ended(&self) -> bool {
        self.ends
            .iter()
            .flatten()
            .any(|(_, e)| matches!(e.kind, crate::vocab::EndKind::CaptureEnded))
    }

    /// What the capture is missing, in plain English, for the verdict's summary.
    pub fn capture_caveats(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((_, skipped)) = self.cap.start_missed {
            out.push(crate::decode::note::Note::CaptureStartMissed { skipped }.describe());
        }
        for (_, dir, offset, missing) in &self.cap.gaps {
            out.push(
                crate::decode::note::Note::CaptureGap {
                    direction: *dir,
                    offset: *offset,
                    missing: *missing,
                }
                .describe(),
            );
        }
        out
    }

    /// True when rdptap terminated TLS on both legs.
    pub fn intercepted(&self) -> bool {
        self.icpt.client_tls.is_some()
    }

    /// True when rdptap took part in the TLS handshake (even if it failed).
    pub fn tried_intercept(&self) -> bool {
        self.icpt.upstream.is_some()
            || self.icpt.client_failed.is_some()
            || self.icpt.strict_refused.is_some()
    }

    /// The selected protocol, once the server confirmed one.
    pub fn selected(&self) -> Option<Protocols> {
        self.confirm.map(|(_, p)| p)
    }

    /// The negotiated TLS version.
    pub fn tls_version(&self) -> Option<TlsVersion> {
        self.server_hello.map(|(_, v, _)| v)
    }
}
