//! Who closed first, and how; per-side ends; evidence lines.

use super::seen::{At, Seen};
use crate::decode::mcs::McsEvent;
use crate::decode::tls::TlsEvent;
use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;
use crate::session::{CloseKind, ClosedBy, Evidence, SideEnd, TcpEvent, Timeline, What};
use crate::vocab::Dir;
use crate::vocab::EndKind;

/// The first close of a connection.
#[derive(Debug, Clone)]
pub struct Close {
    pub by: ClosedBy,
    pub kind: CloseKind,
    pub at: At,
}

/// The earliest end that someone caused. rdptap's own follow-up closes ("aborted" after
/// the other side failed) never count as first.
pub fn first_close(seen: &Seen) -> Option<Close> {
    let mut best: Option<(std::time::Duration, usize, Close)> = None;
    for dir in [Dir::C2S, Dir::S2C] {
        let Some((at, end)) = &seen.ends[dir.idx()] else {
            continue;
        };
        let sender = side(dir);
        let receiver = side(dir.other());
        let (by, kind) = match &end.kind {
            EndKind::Fin => (sender, CloseKind::Fin),
            EndKind::Rst => (sender, CloseKind::Rst),
            EndKind::Error { .. } => (sender, CloseKind::Error),
            EndKind::WriteFailed { reset: true, .. } => (receiver, CloseKind::Rst),
            EndKind::WriteFailed { .. } => (receiver, CloseKind::Error),
            EndKind::Linger | EndKind::IdleTimeout | EndKind::FirstByteTimeout => {
                (ClosedBy::Proxy, CloseKind::Timeout)
            }
            EndKind::Shutdown => (ClosedBy::Proxy, CloseKind::Shutdown),
            // rdptap's own follow-up, and a capture that ended first, are nobody's close.
            EndKind::Aborted | EndKind::CaptureEnded => continue,
        };
        let key = (end.after, at.seq);
        if best.as_ref().is_none_or(|(a, s, _)| key < (*a, *s)) {
            best = Some((end.after, at.seq, Close { by, kind, at: *at }));
        }
    }
    best.map(|b| b.2)
}

fn side(dir: Dir) -> ClosedBy {
    match dir {
        Dir::C2S => ClosedBy::Client,
        Dir::S2C => ClosedBy::Server,
    }
}

/// How one side's stream ended, for the verdict.
pub fn side_end(seen: &Seen, dir: Dir) -> SideEnd {
    match &seen.ends[dir.idx()] {
        None => SideEnd {
            close_kind: None,
            after_ms: None,
            bytes: 0,
        },
        Some((_, e)) => SideEnd {
            close_kind: Some(match &e.kind {
                EndKind::Fin => CloseKind::Fin,
                EndKind::Rst | EndKind::WriteFailed { reset: true, .. } => CloseKind::Rst,
                EndKind::Error { .. } | EndKind::WriteFailed { .. } | EndKind::Aborted => {
                    CloseKind::Error
                }
                EndKind::Linger | EndKind::IdleTimeout | EndKind::FirstByteTimeout => {
                    CloseKind::Timeout
                }
                EndKind::Shutdown => CloseKind::Shutdown,
                EndKind::CaptureEnded => CloseKind::CaptureEnd,
            }),
            after_ms: Some((e.after.as_secs_f64() * 1e6).round() / 1e3),
            bytes: e.bytes,
        },
    }
}

/// A one-line description of timeline entry `seq`, for the verdict's evidence.
pub fn evidence(t: &Timeline, seq: usize) -> Option<Evidence> {
    let e = t.get(seq)?;
    let what = match &e.what {
        What::Phase(p) => format!("entered the {p} phase"),
        What::CertAssessed(p) if p.is_empty() => "certificate checks passed".into(),
        What::CertAssessed(p) => {
            let v: Vec<String> = p.iter().map(|x| x.to_string()).collect();
            format!("certificate findings: {}", v.join("; "))
        }
        What::Tcp(TcpEvent::StreamEnded { end }) => format!(
            "the {} {} after {} bytes",
            e.dir.map(|d| d.sender()).unwrap_or("peer"),
            end.kind,
            end.bytes
        ),
        What::Tcp(TcpEvent::UpstreamFailed { error }) => error.to_string(),
        What::Tcp(t) => serde_json::to_string(t).unwrap_or_default(),
        What::Decoded(d) => describe(d),
        What::Note(n) => n.describe(),
    };
    Some(Evidence {
        seq,
        at_ms: (e.at.as_secs_f64() * 1e6).round() / 1e3,
        dir: e.dir,
        layer: e.what.layer(),
        what,
    })
}

/// A short plain-English line for a decoder event.
pub fn describe(d: &DecodeEvent) -> String {
    match d {
        DecodeEvent::X224(X224Event::ConnectionRequest {
            requested_protocols,
            cookie,
            ..
        }) => format!(
            "X.224 Connection Request, requested {}{}",
            requested_protocols.unwrap_or_default(),
            cookie
                .as_ref()
                .map(|c| format!(", cookie mstshash={c}"))
                .unwrap_or_default()
        ),
        DecodeEvent::X224(X224Event::ConnectionConfirm {
            selected_protocol, ..
        }) => format!(
            "X.224 Connection Confirm, selected {}",
            selected_protocol.unwrap_or_default()
        ),
        DecodeEvent::X224(X224Event::NegotiationFailure { code }) => {
            format!("RDP_NEG_FAILURE {}", code.name())
        }
        DecodeEvent::X224(X224Event::NotRdp { first_bytes }) => {
            format!("not RDP: {first_bytes}")
        }
        DecodeEvent::Tls(TlsEvent::Alert { level, description }) => {
            format!("TLS alert {level} {description}")
        }
        DecodeEvent::Tls(TlsEvent::ClientHello {
            versions,
            sni,
            cipher_suites,
            cipher_suites_omitted,
            ..
        }) => {
            let v: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
            format!(
                "ClientHello offering {} with {} cipher suites{}",
                v.join(", "),
                cipher_suites.len() as u64 + u64::from(cipher_suites_omitted.unwrap_or(0)),
                sni.as_ref()
                    .map(|s| format!(", SNI {s}"))
                    .unwrap_or_default()
            )
        }
        DecodeEvent::Tls(TlsEvent::Certificate { chain }) => match chain.first() {
            Some(c) => format!(
                "Certificate: {} issued by {}, valid {} to {}{}",
                c.subject,
                c.issuer,
                c.not_before,
                c.not_after,
                if c.self_signed { " (self-signed)" } else { "" }
            ),
            None => "empty Certificate message".into(),
        },
        DecodeEvent::Tls(TlsEvent::CertificateHidden { version }) => {
            format!("{version}: the certificate is encrypted (use --intercept to check it)")
        }
        DecodeEvent::Tls(TlsEvent::HandshakeDone) => "TLS handshake finished".into(),
        DecodeEvent::Tls(TlsEvent::ServerHello {
            version,
            cipher_suite,
            ..
        }) => format!("ServerHello {version} {cipher_suite}"),
        DecodeEvent::Tls(TlsEvent::AppRecord { seq, len }) => {
            format!("encrypted record #{seq}, {len} bytes")
        }
        DecodeEvent::Tls(TlsEvent::EncryptedAlertLikely { len }) => {
            format!("alert-sized encrypted record, {len} bytes")
        }
        DecodeEvent::Error(e) => format!("{} decoder stopped: {}", e.layer, e.reason),
        DecodeEvent::Rdp(r) => r.summary(),
        DecodeEvent::Mcs(m) => mcs_line(m),
        DecodeEvent::Http(_) | DecodeEvent::Gw(_) | DecodeEvent::Ws(_) | DecodeEvent::Inner(_) => {
            super::gateway::describe::line(d)
        }
        other => other.kind().replace('_', " "),
    }
}

/// MCS events in a line: the connect PDUs' key facts and the channel ids.
fn mcs_line(m: &McsEvent) -> String {
    match m {
        McsEvent::ConnectInitial {
            client_name,
            channels,
            ..
        } => format!(
            "MCS Connect Initial from {}, channels {}",
            client_name.as_deref().unwrap_or("an unnamed client"),
            if channels.is_empty() {
                "none".to_string()
            } else {
                channels.join(", ")
            }
        ),
        McsEvent::ConnectResponse { result, .. } => format!("MCS Connect Response: {result}"),
        McsEvent::AttachUserConfirm {
            result, user_id, ..
        } => format!(
            "MCS Attach User Confirm: {result}{}",
            user_id
                .map(|u| format!(", user channel {u}"))
                .unwrap_or_default()
        ),
        McsEvent::ChannelJoinRequest {
            channel_id,
            channel,
            ..
        } => format!(
            "MCS Channel Join Request for {channel_id}{}",
            channel
                .as_ref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
        McsEvent::ChannelJoinConfirm {
            result,
            channel_id,
            channel,
            ..
        } => format!(
            "MCS Channel Join Confirm for {channel_id}{}: {result}",
            channel
                .as_ref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
        McsEvent::DisconnectProviderUltimatum { reason } => {
            format!("MCS Disconnect Provider Ultimatum ({reason})")
        }
        other => DecodeEvent::Mcs(other.clone()).kind().replace('_', " "),
    }
}
