//! A short label for each event: the message's name and its one or two key values, for
//! ladder arrows and event lists. The labels are shorter than the sentences of
//! `session::describe`, which tell the console and the capture comments what happened.

use super::event::Event;
use super::labels_gateway::{gw_label, http_label, ws_label};
use super::labels_rdp::{mcs_label, rdp_label};
use crate::cert::CertProblem;
use crate::decode::note::{NotIntercepted, Note};
use crate::decode::tls::TlsEvent;
use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;
use crate::session::event::Body;
use crate::session::{TcpEvent, What};
use crate::vocab::{ConnectError, EndKind};

/// A readable name for an identifier nobody gave a label: `shutdown_request` → "shutdown request".
pub(super) fn humanize(id: &str) -> String {
    id.replace('_', " ")
}

/// "NEGOTIATE", "CHALLENGE", "AUTHENTICATE" for NTLM message types.
pub(super) fn ntlm_name(t: Option<u64>) -> &'static str {
    match t {
        Some(1) => "NEGOTIATE",
        Some(2) => "CHALLENGE",
        Some(3) => "AUTHENTICATE",
        _ => "message",
    }
}

/// A list of names, joined.
pub(super) fn join<T: ToString>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// A short name for the message or fact an event reports, for arrows and lists.
pub fn label(e: &Event) -> String {
    let l = match e.body() {
        Body::Entry(w) => entry_label(w),
        Body::Verdict(v) => Some(format!("verdict: {}", v.verdict.cause.id())),
        Body::ProxyStarted { version, .. } => Some(format!("rdptap {version} started")),
        Body::CaptureDropped { packets, .. } => Some(format!("{packets} packets not captured")),
        Body::CaptureFailed { error, .. } => Some(format!("capture failed: {error}")),
        Body::EventsCounted { counts } => Some(format!(
            "{} events past their kind's limit only counted",
            counts.iter().map(|c| c.only_counted).sum::<u64>()
        )),
        Body::EventsDropped { events, .. } => {
            Some(format!("{events} events dropped: the event queue was full"))
        }
        Body::ConnectionsRefused { refused, limit, .. } => Some(format!(
            "{refused} connections refused: {limit} were open (--max-connections)"
        )),
        Body::AnalyzeStarted { .. } | Body::Unknown { .. } => None,
    };
    l.unwrap_or_else(|| match e.phase() {
        // A phase this rdptap does not know still says which.
        Some(p) => format!("phase: {p}"),
        None => humanize(&e.kind()),
    })
}

/// The label of a timeline entry; None where the kind's name says enough.
fn entry_label(w: &What) -> Option<String> {
    match w {
        What::Decoded(d) => decoded_label(d),
        What::Tcp(t) => Some(tcp_label(t)),
        What::Phase(p) => Some(format!("phase: {p}")),
        What::CertAssessed(findings) => Some(if findings.is_empty() {
            "certificate check: passed".to_string()
        } else {
            format!(
                "certificate check: {}",
                join(&finding_names(findings), ", ")
            )
        }),
        What::Note(n) => Some(note_label(n)),
    }
}

/// The label of a decoded event (an inner one is labelled as itself).
fn decoded_label(d: &DecodeEvent) -> Option<String> {
    match d {
        DecodeEvent::X224(x) => Some(x224_label(x)),
        DecodeEvent::Tls(t) => tls_label(t),
        DecodeEvent::Mcs(m) => Some(mcs_label(m)),
        DecodeEvent::Rdp(r) => Some(rdp_label(r)),
        DecodeEvent::Http(h) => Some(http_label(h)),
        DecodeEvent::Ws(w) => ws_label(w),
        DecodeEvent::Gw(g) => Some(gw_label(g)),
        DecodeEvent::Inner(i) => decoded_label(&i.0),
        DecodeEvent::Error(e) => Some(format!("decoder stopped: {}", e.reason)),
    }
}

fn tcp_label(t: &TcpEvent) -> String {
    match t {
        TcpEvent::Accepted { client, .. } => format!("TCP connect from {client}"),
        TcpEvent::UpstreamConnected { addr, connect_ms } => {
            format!("TCP connect to {addr} ({connect_ms:.1} ms)")
        }
        TcpEvent::UpstreamFailed { error } => {
            let (how, what) = match error {
                ConnectError::Dns { error, .. } => ("dns", error),
                ConnectError::Refused { addr } => ("refused", addr),
                ConnectError::Reset { addr } => ("reset", addr),
                ConnectError::Timeout { addr, .. } => ("timeout", addr),
                ConnectError::Other { error, .. } => ("other", error),
            };
            format!("TCP connect failed: {how} ({what})")
        }
        TcpEvent::StreamEnded { end } => {
            let how = match &end.kind {
                EndKind::Fin => "FIN".to_string(),
                EndKind::Rst => "RST".to_string(),
                EndKind::Error { .. } => "error".to_string(),
                EndKind::Linger => "linger".to_string(),
                EndKind::IdleTimeout => humanize("idle_timeout"),
                EndKind::FirstByteTimeout => humanize("first_byte_timeout"),
                EndKind::Shutdown => "shutdown".to_string(),
                EndKind::Aborted => "aborted".to_string(),
                EndKind::WriteFailed { .. } => humanize("write_failed"),
                EndKind::CaptureEnded => humanize("capture_ended"),
            };
            format!("{how} after {} bytes", end.bytes)
        }
    }
}

fn x224_label(x: &X224Event) -> String {
    match x {
        X224Event::ConnectionRequest {
            requested_protocols: Some(p),
            ..
        } => format!("X.224 Connection Request ({})", join(&p.names(), "|")),
        X224Event::ConnectionRequest { .. } => {
            "X.224 Connection Request (no RDP_NEG_REQ)".to_string()
        }
        X224Event::ConnectionConfirm {
            selected_protocol: Some(p),
            ..
        } => format!("X.224 Connection Confirm: {}", join(&p.names(), "|")),
        X224Event::ConnectionConfirm { .. } => {
            "X.224 Connection Confirm (no negotiation data)".to_string()
        }
        X224Event::NegotiationFailure { code } => format!("RDP_NEG_FAILURE {}", code.name()),
        X224Event::DisconnectRequest => "X.224 Disconnect Request".to_string(),
        X224Event::PreconnectionPdu { .. } => "Preconnection PDU".to_string(),
        X224Event::NotRdp { first_bytes } => {
            let b: String = first_bytes.chars().take(16).collect();
            format!("not RDP: {b}")
        }
    }
}

fn tls_label(t: &TlsEvent) -> Option<String> {
    Some(match t {
        TlsEvent::ClientHello { versions, sni, .. } => {
            let sni = sni
                .as_ref()
                .map(|n| format!(" SNI {n}"))
                .unwrap_or_default();
            format!("ClientHello ({}){sni}", join(versions, ", "))
        }
        TlsEvent::ServerHello {
            version,
            cipher_suite,
            hello_retry_request,
            ..
        } => {
            let hrr = if *hello_retry_request {
                " (HelloRetryRequest)"
            } else {
                ""
            };
            format!("ServerHello {version} {cipher_suite}{hrr}")
        }
        TlsEvent::Certificate { chain } => {
            let subject = chain.first().map_or("", |c| c.subject.as_str());
            format!("Certificate {subject}")
        }
        TlsEvent::CertificateHidden { .. } => "Certificate (encrypted by TLS 1.3)".to_string(),
        TlsEvent::Alert { level, description } => format!("Alert {level} {description}"),
        TlsEvent::HandshakeDone => "TLS handshake finished".to_string(),
        TlsEvent::AppRecord { len, .. } => format!("application data ({len} bytes)"),
        TlsEvent::EncryptedAlertLikely { len } => {
            format!("encrypted alert, likely close_notify ({len} bytes)")
        }
    })
}

fn note_label(n: &Note) -> String {
    let text = |v: Option<String>| v.unwrap_or_default();
    match n {
        Note::NotIntercepted { reason } => {
            let why = match reason {
                NotIntercepted::NlaPassthrough => "nla passthrough",
                NotIntercepted::RdpSecurity => "rdp security",
                NotIntercepted::OtherProtocol => "other protocol",
                NotIntercepted::NegotiationFailed => "negotiation failed",
                NotIntercepted::UnusualStart => "unusual start",
                NotIntercepted::ClientTlsIncompatible => "client tls incompatible",
                NotIntercepted::UpstreamTlsIncompatible => "upstream tls incompatible",
            };
            format!("not intercepted: {why}")
        }
        Note::NlaDowngraded { .. } => "NLA removed from the request (--nla downgrade)".to_string(),
        Note::DowngradeHidden { .. } => {
            "clientRequestedProtocols rewritten back (--nla downgrade)".to_string()
        }
        Note::UpstreamTls { tls, .. } | Note::ClientTls { tls, .. } => format!(
            "TLS handshake: {} {} ({:.1} ms)",
            text(tls.version.map(|v| v.to_string())),
            text(tls.cipher_suite.map(|c| c.to_string())),
            tls.handshake_ms
        ),
        Note::UpstreamTlsFailed { alert, error, .. } | Note::ClientTlsFailed { alert, error } => {
            let why = alert.map_or_else(|| error.clone(), |a| a.to_string());
            format!("TLS handshake failed: {why}")
        }
        Note::FallbackReplayed { .. } => {
            "Connection Request replayed on a fresh connection".to_string()
        }
        Note::FallbackFailed { error } => format!("fallback failed: {error}"),
        Note::StrictRefused { findings } => format!(
            "refused the certificate (--strict-upstream): {}",
            findings.join(", ")
        ),
        Note::MintFailed { error } => format!("could not mint a certificate: {error}"),
        Note::CaptureGap {
            missing, offset, ..
        } => format!("capture gap: {missing} bytes missing at offset {offset}"),
        Note::CaptureStartMissed { .. } => "capture starts mid-connection".to_string(),
        Note::CaptureConflict { len, .. } => {
            format!("retransmission differs ({len} bytes; first copy kept)")
        }
        Note::Decrypted {
            version: Some(v),
            cipher_suite: Some(c),
        } => format!("decrypted with the key log: {v} {c}"),
        Note::Decrypted { .. } => "decrypted stream".to_string(),
        Note::DecryptStopped { reason, .. } => format!("not decrypted: {reason}"),
    }
}

/// The short name of each certificate finding (`expired`, `self-signed`…).
pub(super) fn finding_names(findings: &[CertProblem]) -> Vec<&'static str> {
    findings
        .iter()
        .map(|f| match f {
            CertProblem::Expired { .. } => "expired",
            CertProblem::NotYetValid { .. } => "not yet valid",
            CertProblem::NameMismatch { .. } => "name mismatch",
            CertProblem::WrongUsage { .. } => "wrong usage",
            CertProblem::Untrusted { .. } => "untrusted",
            CertProblem::SelfSigned => "self-signed",
            CertProblem::PinMismatch { .. } => "pin mismatch",
        })
        .collect()
}
