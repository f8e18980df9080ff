//! Turns a connection's timeline into exactly one verdict.
//!
//! Pure: no IO and no clock. Everything it needs is in the timeline, so it can be tested
//! on hand-made timelines as well as recorded ones.

mod close;
mod ending;
pub mod gateway;
mod intercept;
mod logon;
mod negotiation;
pub mod nla;
pub mod seen;

use crate::cert::CertProblem;
use crate::decode::tls::RecordStats;
use crate::session::mstsc::{self, MstscCode};
use crate::session::{Cause, CloseKind, ClosedBy, Phase, Timeline, Verdict, Warning};
use crate::vocab::Dir;
pub use close::describe;
use close::{first_close, side_end, Close};
use ending::{by_close, orderly};
use negotiation::{implied_negotiation_failure, negotiation_hint, upstream};
use seen::{At, Seen};
use std::time::Duration;

/// What `diagnose` looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The connection's timeline.
    pub timeline: &'a Timeline,
    /// TLS record counters, [c2s, s2c] (they go on past the timeline's first records).
    pub tls_stats: [RecordStats; 2],
    /// How the host was named, for messages.
    pub target: &'a str,
    /// The linger time in force.
    pub linger: Duration,
    /// How long the connection lasted.
    pub duration: Duration,
    /// Plaintext per direction, [c2s, s2c], when rdptap intercepted TLS.
    pub plain: [crate::session::tracker::PlainSeen; 2],
    /// The traffic was read from a capture (`analyze`), not relayed live: hints name
    /// what helps there.
    pub capture: bool,
}

/// A cause with its text, before the common verdict fields are filled in.
struct Finding {
    cause: Cause,
    summary: String,
    hint: String,
    inferred: bool,
    evidence: Vec<At>,
    /// Overrides for who closed and how, when the cause knows better.
    closed: Option<(ClosedBy, CloseKind)>,
    /// What mstsc most likely showed.
    mstsc: Option<MstscCode>,
}

impl Finding {
    fn new(cause: Cause, summary: String, hint: &str) -> Self {
        Finding {
            cause,
            summary,
            hint: hint.to_string(),
            inferred: false,
            evidence: Vec::new(),
            closed: None,
            mstsc: None,
        }
    }
    fn mstsc(mut self, code: Option<MstscCode>) -> Self {
        self.mstsc = code;
        self
    }
    fn evidence(mut self, at: impl IntoIterator<Item = At>) -> Self {
        self.evidence.extend(at);
        self
    }
    fn inferred(mut self) -> Self {
        self.inferred = true;
        self
    }
}

/// The verdict on one finished connection.
pub fn diagnose(input: &Inputs<'_>) -> Verdict {
    let seen = Seen::scan(input.timeline);
    let close = first_close(&seen);
    let f = find(input, &seen, close.as_ref());
    assemble(input, &seen, close, f)
}

/// The verdict around a finding: who closed, warnings, evidence and side ends.
fn assemble(input: &Inputs<'_>, seen: &Seen, close: Option<Close>, f: Finding) -> Verdict {
    let (closed_by, close_kind) = f.closed.unwrap_or(match &close {
        Some(c) => (c.by, c.kind),
        None if seen.capture_ended() => (ClosedBy::None, CloseKind::CaptureEnd),
        None => (ClosedBy::None, CloseKind::Shutdown),
    });
    let mut problems = effective_problems(&seen.problems);
    problems.retain(|p| p.cause_id() != f.cause.id());
    let hidden = if seen.intercepted() {
        " (hidden from the client by interception)"
    } else {
        ""
    };
    let mut warnings: Vec<Warning> = problems
        .iter()
        .map(|p| Warning {
            cause: Cause::from_id(p.cause_id()).unwrap_or(Cause::CertUntrusted),
            detail: format!("{p}{hidden}"),
        })
        .collect();
    if let Some((_, _, error, true)) = &seen.icpt.upstream_failed {
        if f.cause != Cause::UpstreamTlsIncompatible {
            warnings.push(Warning {
                cause: Cause::UpstreamTlsIncompatible,
                detail: format!(
                    "rdptap could not speak the host's TLS ({error}); it relayed the client's own TLS on a fresh connection instead, so this connection was not intercepted and works as it would without rdptap"
                ),
            });
        }
    }
    let mut evidence_at = f.evidence.clone();
    if let Some(c) = &close {
        evidence_at.push(c.at);
    }
    // What the capture is missing bounds what the verdict can know: say it, with where.
    evidence_at.extend(seen.cap.start_missed.map(|s| s.0));
    evidence_at.extend(seen.cap.gaps.iter().map(|g| g.0));
    evidence_at.sort_by_key(|a| a.seq);
    evidence_at.dedup_by_key(|a| a.seq);
    let evidence = evidence_at
        .iter()
        .filter_map(|a| close::evidence(input.timeline, a.seq))
        .collect();
    let mut summary = match &f.mstsc {
        Some(c) => format!("{}; {c}", f.summary),
        None => f.summary,
    };
    for caveat in seen.capture_caveats() {
        summary.push_str("; ");
        summary.push_str(&caveat);
    }
    Verdict {
        phase: seen.phase.unwrap_or(Phase::TcpConnect),
        cause: f.cause,
        closed_by,
        close_kind,
        summary,
        mstsc: f.mstsc,
        hint: f.hint,
        inferred: f.inferred,
        warnings,
        evidence,
        client: side_end(seen, Dir::C2S),
        server: side_end(seen, Dir::S2C),
        duration_ms: ms(input.duration),
    }
}

/// Certificate problems as reported: a self-signed certificate is untrusted by
/// definition, so "untrusted" is dropped when "self-signed" explains it.
pub(super) fn effective_problems(p: &[CertProblem]) -> Vec<CertProblem> {
    let self_signed = p.iter().any(|x| matches!(x, CertProblem::SelfSigned));
    let mut out: Vec<CertProblem> = p
        .iter()
        .filter(|x| !(self_signed && matches!(x, CertProblem::Untrusted { .. })))
        .cloned()
        .collect();
    out.sort_by_key(|x| x.rank());
    out
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Pick the cause, most decisive evidence first.
fn find(input: &Inputs<'_>, seen: &Seen, close: Option<&Close>) -> Finding {
    if let Some(f) = upstream(seen) {
        return f;
    }
    if let Some(f) = ending::client_silent(seen) {
        return f;
    }
    if let Some((at, dir, bytes)) = &seen.not_rdp {
        return Finding::new(
            Cause::ProtocolMismatch,
            format!(
                "the {} sent bytes that are not RDP (first bytes: {bytes}); rdptap relayed them unchanged",
                dir.sender()
            ),
            "check that the client is an RDP client pointed at an RDP port (an RD Gateway client needs --gateway mode, a browser needs an HTTPS port)",
        )
        .evidence([*at]);
    }
    if let Some((at, code)) = seen.neg_failure {
        let req = seen
            .request
            .map(|(_, p)| format!("; the client requested {p}"))
            .unwrap_or_default();
        return Finding::new(
            Cause::NegotiationFailure,
            format!("the server refused the negotiation with RDP_NEG_FAILURE {code}{req}"),
            negotiation_hint(code),
        )
        .mstsc(mstsc::negotiation(code))
        .evidence(seen.request.map(|r| r.0).into_iter().chain([at]));
    }
    if let (Some((rat, req)), Some((cat, sel))) = (seen.request, seen.confirm) {
        if !req.contains(sel) {
            return Finding::new(
                Cause::ProtocolMismatch,
                format!("the server selected {sel}, which the client did not offer (it requested {req})"),
                "the server ignored the client's offer; check the server's Security Layer setting and any device rewriting RDP on the path",
            )
            .evidence([rat, cat]);
        }
    }
    if let Some(f) = implied_negotiation_failure(seen, close) {
        return f;
    }
    if let Some(f) = intercept::intercept_failure(input, seen, close) {
        return f;
    }
    if seen.tried_intercept() {
        // The client saw rdptap's certificate, not the host's, and NLA is never
        // intercepted: the passthrough inferences below do not apply.
        return intercept::intercepted_end(input, seen, close);
    }
    if let Some(f) = tls_failure(seen, close) {
        return f;
    }
    if let Some(f) = cert_rejected(seen, close) {
        return f;
    }
    if seen.cap.decrypted.is_some() {
        // A key log opened the TLS: what the RDP inside says decides, as under
        // interception, but the client saw the host's own certificate.
        if let Some(f) = logon::session_end(input, seen, close) {
            return f;
        }
    }
    if let Some(f) = nla_failure(seen, close) {
        return f;
    }
    if let Some(f) = logon::session_end(input, seen, close) {
        // Standard RDP security without encryption shows these PDUs in the clear too.
        if seen.rdp.client_info.is_some() {
            return f;
        }
    }
    if let Some(f) = orderly(input, seen, close) {
        return f;
    }
    by_close(seen, close)
}

/// A fatal alert, or a version the client never offered.
fn tls_failure(seen: &Seen, close: Option<&Close>) -> Option<Finding> {
    // An alert sent after the other side had already closed answers that close; it is
    // not why the connection ended.
    let before_close =
        |at: At, dir: Dir| close.is_none_or(|c| at.seq < c.at.seq || c.by == side_of(dir));
    if let Some((at, dir, desc)) = seen
        .fatal_alert
        .filter(|(at, dir, _)| before_close(*at, *dir))
    {
        let cert_alert = matches!(desc.0, 42..=46 | 48);
        if dir == Dir::C2S && cert_alert && !effective_problems(&seen.problems).is_empty() {
            // The client refused the certificate: say which problem it had.
            return None;
        }
        let is_version = desc.0 == 70;
        let mut f = Finding::new(
            if is_version {
                Cause::TlsVersionMismatch
            } else {
                Cause::TlsAlert
            },
            format!(
                "the {} sent a fatal TLS alert {desc} during the TLS handshake{}",
                dir.sender(),
                offered_versions(seen)
            ),
            if is_version {
                "client and server share no TLS version: enable TLS 1.2 on both (old hosts need the TLS 1.2 update), or check a policy that disables versions"
            } else {
                "compare the TLS versions and cipher suites both sides allow, and the host's certificate"
            },
        )
        .evidence(seen.client_hello.into_iter().chain([at]));
        let by = if dir == Dir::C2S {
            ClosedBy::Client
        } else {
            ClosedBy::Server
        };
        f.closed = Some((by, CloseKind::TlsAlert));
        return Some(f);
    }
    let (sat, v, _) = seen.server_hello?;
    if !seen.client_versions.is_empty() && !seen.client_versions.contains(&v) {
        let mut f = Finding::new(
            Cause::TlsVersionMismatch,
            format!(
                "the server chose {v}, which the client did not offer{}",
                offered_versions(seen)
            ),
            "enable a TLS version both sides support (TLS 1.2 is the safe common choice)",
        )
        .evidence([sat]);
        if let Some(c) = close {
            f.closed = Some((c.by, c.kind));
        }
        return Some(f);
    }
    None
}

fn side_of(dir: Dir) -> ClosedBy {
    match dir {
        Dir::C2S => ClosedBy::Client,
        Dir::S2C => ClosedBy::Server,
    }
}

fn offered_versions(seen: &Seen) -> String {
    if seen.client_versions.is_empty() {
        return String::new();
    }
    let v: Vec<String> = seen.client_versions.iter().map(|v| v.to_string()).collect();
    format!(" (the client offered {})", v.join(", "))
}

/// The client left during the handshake, or right after it without sending anything,
/// and the certificate had a problem: that is what a user cancelling a certificate
/// prompt looks like.
fn cert_rejected(seen: &Seen, close: Option<&Close>) -> Option<Finding> {
    let problems = effective_problems(&seen.problems);
    let top = problems.first()?;
    let close = close?;
    let client_alert =
        matches!(seen.fatal_alert, Some((_, Dir::C2S, d)) if matches!(d.0, 42..=46 | 48));
    if close.by != ClosedBy::Client && !client_alert {
        return None;
    }
    let quick = match seen.handshake_done {
        None => true,
        Some(hs) => {
            let sent_data = seen
                .records
                .iter()
                .any(|r| r.dir == Dir::C2S && !r.alert_like && r.at.seq > hs.seq);
            !sent_data && close.at.at.saturating_sub(hs.at) <= Duration::from_secs(2)
        }
    };
    if !quick {
        return None;
    }
    let cause = Cause::from_id(top.cause_id())?;
    let when = if seen.handshake_done.is_some() {
        "right after the TLS handshake, before sending any data"
    } else {
        "during the TLS handshake"
    };
    let mut f = Finding::new(
        cause,
        format!("{top}; the client closed {when} (inferred: it did not accept the certificate)"),
        cert_hint(top),
    )
    .inferred()
    .evidence(seen.cert.into_iter().chain(seen.problems_at));
    if client_alert {
        f.closed = Some((ClosedBy::Client, CloseKind::TlsAlert));
    }
    Some(f)
}

pub(super) fn cert_hint(p: &CertProblem) -> &'static str {
    match p {
        CertProblem::Expired { .. } => "renew the host's Remote Desktop certificate (or delete it so the host makes a new self-signed one)",
        CertProblem::NotYetValid { .. } => "check the clocks of host and client, or the certificate's start date",
        CertProblem::NameMismatch { .. } => "connect with the name the certificate carries, or reissue it with the name clients use (see the hosts-file method in the README)",
        CertProblem::WrongUsage { .. } => "reissue the certificate with the Server Authentication EKU (or the Remote Desktop Authentication OID)",
        CertProblem::Untrusted { .. } => "trust the issuing CA on the client, or deploy a certificate from a CA the client trusts",
        CertProblem::SelfSigned => "deploy a CA-issued certificate on the host, or accept the self-signed one on the client",
        CertProblem::PinMismatch { .. } => "the host presents a different certificate than --pin expects: check whether it was renewed (update the pin) or whether something else answers for the host",
    }
}

fn nla_failure(seen: &Seen, close: Option<&Close>) -> Option<Finding> {
    let sel = seen.selected()?;
    let hs = seen.handshake_done?;
    let close = close?;
    if !sel.is_nla() || !matches!(close.by, ClosedBy::Client | ClosedBy::Server) {
        return None;
    }
    let hybrid_ex = sel.contains(crate::decode::names::Protocols::HYBRID_EX);
    let flights = nla::flights(seen, close.at.at);
    let needed = nla::rounds_needed(hybrid_ex);
    let closer = if close.by == ClosedBy::Client {
        Dir::C2S
    } else {
        Dir::S2C
    };
    let overhead = nla::aead_overhead(seen.tls_version(), seen.server_hello.map(|s| s.2));
    if hybrid_ex && flights.len() == needed {
        let last = flights.last()?;
        if last.dir == Dir::S2C
            && last.records.len() == 1
            && nla::is_early_auth_sized(last.records[0].len, overhead)
        {
            return Some(
                Finding::new(
                    Cause::EarlyAuthDenied,
                    format!(
                        "the {} closed right after the server's 4-byte Early User Authorization Result (inferred: access denied — the user authenticated but may not log on through Remote Desktop)",
                        closer.sender()
                    ),
                    "check that the user is in 'Remote Desktop Users' and has 'Allow log on through Remote Desktop Services' on the host",
                )
                .inferred()
                .evidence([hs, last.records[0].at]),
            );
        }
    }
    if flights.len() >= needed {
        return None;
    }
    let summary = match flights.last() {
        None => format!(
            "the {} closed right after the TLS handshake, before CredSSP began (inferred: NLA never started)",
            closer.sender()
        ),
        Some(last) => {
            let i = flights.len() - 1;
            format!(
                "the {} closed right after the {}'s {} (inferred: {}); CredSSP round {} of {}",
                closer.sender(),
                last.dir.sender(),
                nla::describe(i, last),
                nla::meaning(i, closer, last.dir),
                i + 1,
                needed
            )
        }
    };
    let ev: Vec<At> = flights
        .last()
        .map(|f| f.records.iter().map(|r| r.at).collect())
        .unwrap_or_default();
    Some(
        Finding::new(
            Cause::CredsspFailed,
            summary,
            "check the user name, password and domain, whether the account is locked, disabled or expired, and the host's event log (Security 4625); NLA runs inside TLS, so rdptap infers the round from record sizes",
        )
        .inferred()
        .evidence([hs].into_iter().chain(ev)),
    )
}

#[cfg(test)]
mod tests;
