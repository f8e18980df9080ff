//! Causes that only exist when rdptap terminates TLS itself: the client refusing
//! rdptap's certificate (its own, or one that mirrors the host's problem),
//! `--strict-upstream` refusing the host's, and a fallback that could not be opened.

use super::close::Close;
use super::seen::Seen;
use super::{effective_problems, Finding, Inputs};
use crate::cert::CertProblem;
use crate::decode::tls::AlertDescription;
use crate::session::{Cause, CloseKind, ClosedBy};
use crate::vocab::{Dir, FarEnd};
use std::time::Duration;

/// How long after its TLS handshake a client that closes without sending anything is
/// taken to have refused the certificate (FreeRDP checks it after the handshake).
const REJECT_WINDOW: Duration = Duration::from_secs(2);

/// What to do about a client that does not trust rdptap's CA.
pub const TRUST_CA_HINT: &str = "make the client trust rdptap's local CA: `rdptap ca show` prints the commands (Windows: certutil -user -addstore Root <file>; Debian: update-ca-certificates; FreeRDP: /cert:ignore or /cert:tofu), or run without --intercept";
/// The same, in gateway mode, where the way out is relaying the gateway's own TLS.
pub const TRUST_CA_HINT_GATEWAY: &str = "make the client trust rdptap's local CA: `rdptap ca show` prints the commands (Windows: certutil -user -addstore Root <file>; Debian: update-ca-certificates; FreeRDP: /cert:ignore or /cert:tofu), or run with --gateway-passthrough";

/// The interception-specific cause, if one applies. `hint` names the fix for a
/// certificate problem of the host (or the gateway).
pub(super) fn intercept_failure(
    input: &Inputs<'_>,
    seen: &Seen,
    close: Option<&Close>,
    far: FarEnd,
    hint: fn(&CertProblem) -> &'static str,
) -> Option<Finding> {
    let i = &seen.icpt;
    let (name, trust_hint, without) = match far {
        FarEnd::Host => ("host", TRUST_CA_HINT, "run without --intercept"),
        FarEnd::Gateway => (
            "gateway",
            TRUST_CA_HINT_GATEWAY,
            "run with --gateway-passthrough",
        ),
    };
    if let Some(at) = i.strict_refused {
        let problems = effective_problems(&seen.problems);
        let top = problems.first()?;
        let mut f = Finding::new(
            Cause::from_id(top.cause_id()).unwrap_or(Cause::CertUntrusted),
            format!(
                "--strict-upstream refused the {name}'s certificate: {top}; rdptap closed the client's connection before answering its TLS handshake"
            ),
            hint(top),
        )
        .evidence(i.upstream.into_iter().chain([at]));
        f.closed = Some((ClosedBy::Proxy, CloseKind::Fin));
        return Some(f);
    }
    if let Some((at, error)) = &i.fallback_failed {
        let mut f = Finding::new(
            Cause::UpstreamTlsIncompatible,
            format!(
                "rdptap could not speak the {name}'s TLS, and the fresh connection to relay the client's own TLS failed: {error}"
            ),
            match far {
                FarEnd::Host => "run without --intercept for this host, and check that it still accepts connections",
                FarEnd::Gateway => "run with --gateway-passthrough for this gateway, and check that it still accepts connections",
            },
        )
        .evidence(i.upstream_failed.as_ref().map(|u| u.0).into_iter().chain([*at]));
        f.closed = Some((ClosedBy::Proxy, CloseKind::Error));
        return Some(f);
    }
    if let Some((at, alert, error)) = &i.client_failed {
        let refused = Refusal::Handshake(*alert, error);
        let mut f = match (mirrored_problem(seen), alert) {
            (Some(top), Some(a)) if a.is_certificate_problem() || a.0 == 49 => {
                mirrored_refusal(&top, seen, refused, hint)
            }
            (Some(top), None) => mirrored_refusal(&top, seen, refused, hint),
            (_, Some(a)) if a.is_certificate_problem() || a.0 == 49 => Finding::new(
                Cause::ClientRejectedProxyCert,
                format!(
                    "the client refused rdptap's certificate with the TLS alert {a}: it does not trust rdptap's local CA"
                ),
                trust_hint,
            ),
            (_, Some(a)) => Finding::new(
                Cause::TlsAlert,
                format!("the client sent the TLS alert {a} during its TLS handshake with rdptap"),
                &format!("compare the TLS versions and cipher suites the client allows with TLS 1.2/1.3 and modern suites, or {without}"),
            ),
            (None, None) => Finding::new(
                Cause::ClientRejectedProxyCert,
                format!(
                    "the client gave up during its TLS handshake with rdptap ({error}) (inferred: it did not accept rdptap's certificate)"
                ),
                trust_hint,
            )
            .inferred(),
        };
        f = f.evidence(
            i.upstream
                .into_iter()
                .chain(i.leaf.as_ref().map(|l| l.0))
                .chain([*at]),
        );
        f.closed = Some((
            ClosedBy::Client,
            if alert.is_some() {
                CloseKind::TlsAlert
            } else {
                CloseKind::Fin
            },
        ));
        return Some(f);
    }
    let hs = i.client_tls?;
    let close = close?;
    if close.by != ClosedBy::Client || input.plain[Dir::C2S.idx()].bytes > 0 {
        return None;
    }
    let after = close.at.at.saturating_sub(hs.at);
    if after > REJECT_WINDOW {
        return None;
    }
    let mut f = match mirrored_problem(seen) {
        Some(top) => mirrored_refusal(&top, seen, Refusal::QuickClose(after), hint),
        None => Finding::new(
            Cause::ClientRejectedProxyCert,
            format!(
                "the client closed {:.0} ms after its TLS handshake with rdptap, before sending anything (inferred: it checked rdptap's certificate and refused it)",
                after.as_secs_f64() * 1e3
            ),
            trust_hint,
        )
        .inferred()
        .evidence([hs]),
    };
    f.closed = Some((close.by, close.kind));
    Some(f)
}

/// How the client refused the certificate rdptap presented.
#[derive(Clone, Copy)]
enum Refusal<'a> {
    /// Its handshake with rdptap failed: with this alert, or with this error.
    Handshake(Option<AlertDescription>, &'a str),
    /// It closed this long after the handshake, before sending anything.
    QuickClose(Duration),
}

/// The host's most specific certificate problem that rdptap's certificate mirrored to
/// the client, if it mirrored any.
fn mirrored_problem(seen: &Seen) -> Option<CertProblem> {
    let (_, _, mirrors) = seen.icpt.leaf.as_ref()?;
    effective_problems(&seen.problems)
        .into_iter()
        .find(|p| p.mirrored_as().is_some_and(|m| mirrors.contains(&m)))
}

/// The client refused a certificate that carries the host's own problem: it reacted as
/// it would to the host's certificate, so that problem is the cause.
fn mirrored_refusal(
    top: &CertProblem,
    seen: &Seen,
    how: Refusal<'_>,
    hint: fn(&CertProblem) -> &'static str,
) -> Finding {
    let signer = seen
        .icpt
        .leaf
        .as_ref()
        .map(|l| l.1.to_string())
        .unwrap_or_default();
    let what = format!(
        "{top}; rdptap presented a certificate signed by {signer} that mirrors this problem"
    );
    let f = match how {
        Refusal::Handshake(Some(a), _) => Finding::new(
            Cause::from_id(top.cause_id()).unwrap_or(Cause::CertUntrusted),
            format!(
                "{what}, and the client refused it with the TLS alert {a}, as it would refuse the host's own certificate"
            ),
            hint(top),
        ),
        Refusal::Handshake(None, error) => Finding::new(
            Cause::from_id(top.cause_id()).unwrap_or(Cause::CertUntrusted),
            format!(
                "{what}, and the client gave up during its TLS handshake with rdptap ({error}) (inferred: it did not accept the certificate, as it would not accept the host's own)"
            ),
            hint(top),
        )
        .inferred(),
        Refusal::QuickClose(after) => Finding::new(
            Cause::from_id(top.cause_id()).unwrap_or(Cause::CertUntrusted),
            format!(
                "{what}, and the client closed {:.0} ms after its TLS handshake with rdptap, before sending anything (inferred: it did not accept the certificate, as it would not accept the host's own)",
                after.as_secs_f64() * 1e3
            ),
            hint(top),
        )
        .inferred(),
    };
    f.evidence(
        seen.icpt
            .client_tls
            .into_iter()
            .chain(seen.problems_at)
            .chain(seen.icpt.leaf.as_ref().map(|l| l.0)),
    )
}

/// How the client met the host's certificate problem `p`, for the verdict's warnings:
/// nothing to add in passthrough (the client saw the host's certificate); under
/// interception, whether rdptap's certificate mirrored it.
pub(super) fn shown(seen: &Seen, p: &CertProblem) -> &'static str {
    if !seen.tried_intercept() {
        return "";
    }
    let Some(m) = p.mirrored_as() else {
        // A pin mismatch is rdptap's own check; no client sees pins.
        return "";
    };
    match &seen.icpt.leaf {
        Some((_, _, mirrors)) if mirrors.contains(&m) => {
            " (rdptap's certificate mirrored it to the client)"
        }
        _ => " (hidden from the client by interception)",
    }
}

/// How an intercepted connection ended, from the decrypted phases. The host's
/// certificate problems are warnings: a client that went on had accepted rdptap's
/// certificate, which mirrors them (unless `--no-mirror`).
pub(super) fn intercepted_end(input: &Inputs<'_>, seen: &Seen, close: Option<&Close>) -> Finding {
    super::logon::session_end(input, seen, close).unwrap_or_else(|| super::by_close(seen, close))
}
