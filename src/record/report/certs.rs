//! The certificates a connection saw, each with what rdptap found wrong with it.

use super::model::Connection;
use crate::cert::CertProblem;
use crate::decode::note::Note;
use crate::decode::tls::TlsEvent;
use crate::decode::x509::CertInfo;
use crate::decode::DecodeEvent;
use crate::session::What;
use crate::vocab::Dir;

/// A certificate chain someone presented, and what rdptap found wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CertView {
    /// Whose it is and where it was seen.
    pub role: String,
    /// The chain, leaf first (empty when TLS 1.3 hid it).
    pub chain: Vec<CertInfo>,
    /// The findings in plain English (empty: the checks passed, or none were made).
    pub findings: Vec<String>,
    /// True when a certificate check judged it.
    pub assessed: bool,
}

/// A detail of a finding, or "?" where the event left it empty.
fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "?"
    } else {
        s
    }
}

/// One finding in plain English, with its details.
fn finding_text(f: &CertProblem) -> String {
    match f {
        CertProblem::Expired { not_after } => {
            format!("expired (notAfter {})", or_unknown(not_after))
        }
        CertProblem::NotYetValid { not_before } => {
            format!("not valid yet (notBefore {})", or_unknown(not_before))
        }
        CertProblem::NameMismatch {
            expected,
            presented,
        } => format!(
            "name mismatch: expected {}, presented {}",
            or_unknown(expected),
            presented.join(", ")
        ),
        CertProblem::WrongUsage { ekus } => {
            format!("not for server authentication (EKUs: {})", ekus.join(", "))
        }
        CertProblem::Untrusted { reason } => format!("untrusted: {}", or_unknown(reason)),
        CertProblem::SelfSigned => "self-signed (not issued by a trusted CA)".to_string(),
        CertProblem::CaCertificate => {
            "note: a CA certificate (CA:TRUE); clients accept it".to_string()
        }
        CertProblem::PinMismatch { presented } => format!(
            "not the pinned certificate (SHA-256 {})",
            or_unknown(presented)
        ),
    }
}

/// Key type and size, e.g. "EC P-256 (256 bits)"; empty when the type is unknown.
pub fn key_text(c: &CertInfo) -> String {
    match (c.key_type.as_str(), c.key_bits) {
        ("", _) => String::new(),
        (t, Some(b)) => format!("{t} ({b} bits)"),
        (t, None) => t.to_string(),
    }
}

/// The certificates a connection saw, each with the findings of the check that followed.
pub fn certificates(c: &Connection) -> Vec<CertView> {
    let gw = c.is_gateway();
    let mut out: Vec<CertView> = Vec::new();
    // Which view the next certificate check (inside the tunnel or not) belongs to.
    let mut pending: [Option<usize>; 2] = [None, None];
    for e in &c.events {
        let slot = usize::from(e.inner());
        let whose = match (e.inner(), gw) {
            (true, _) => "the host's certificate, inside the gateway tunnel",
            (false, true) => "the gateway's certificate",
            (false, false) => "the host's certificate",
        };
        let view = |role: String, chain: &[CertInfo]| CertView {
            role,
            chain: chain.to_vec(),
            findings: Vec::new(),
            assessed: false,
        };
        if let Some(Note::UpstreamTls { chain, .. }) = e.note() {
            let role = format!("{whose}, as rdptap received it on its own connection");
            out.push(view(role, chain));
            pending[slot] = Some(out.len() - 1);
            continue;
        }
        if let Some(What::CertAssessed(findings)) = e.what() {
            if let Some(i) = pending[slot].take() {
                out[i].findings = findings.iter().map(finding_text).collect();
                out[i].assessed = true;
            }
            continue;
        }
        match e.decoded() {
            Some(DecodeEvent::Tls(TlsEvent::Certificate { chain }))
                if e.dir() != Some(Dir::C2S) =>
            {
                out.push(view(format!("{whose}, as the client received it"), chain));
                pending[slot] = Some(out.len() - 1);
            }
            Some(DecodeEvent::Tls(TlsEvent::CertificateHidden { .. })) => {
                out.push(view(
                    format!("{whose}: encrypted by TLS 1.3, so not seen"),
                    &[],
                ));
            }
            _ => {}
        }
    }
    out
}
