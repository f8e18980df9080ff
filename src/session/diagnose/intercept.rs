//! Causes that only exist when rdptap terminates TLS itself: the client refusing
//! rdptap's certificate, `--strict-upstream` refusing the host's, and a fallback that
//! could not be opened.

use super::close::Close;
use super::seen::Seen;
use super::{cert_hint, effective_problems, Finding, Inputs};
use crate::session::{Cause, CloseKind, ClosedBy, Phase};
use crate::vocab::{Dir, FarEnd};
use std::time::Duration;

/// How long after its TLS handshake a client that closes without sending anything is
/// taken to have refused the certificate (FreeRDP checks it after the handshake).
const REJECT_WINDOW: Duration = Duration::from_secs(2);

/// What to do about a client that does not trust rdptap's CA.
pub const TRUST_CA_HINT: &str = "make the client trust rdptap's local CA: `rdptap ca show` prints the commands (Windows: certutil -user -addstore Root <file>; Debian: update-ca-certificates; FreeRDP: /cert:ignore or /cert:tofu), or run without --intercept";
/// The same, in gateway mode, where the way out is relaying the gateway's own TLS.
pub const TRUST_CA_HINT_GATEWAY: &str = "make the client trust rdptap's local CA: `rdptap ca show` prints the commands (Windows: certutil -user -addstore Root <file>; Debian: update-ca-certificates; FreeRDP: /cert:ignore or /cert:tofu), or run with --gateway-passthrough";

/// The interception-specific cause, if one applies.
pub(super) fn intercept_failure(
    input: &Inputs<'_>,
    seen: &Seen,
    close: Option<&Close>,
    far: FarEnd,
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
            cert_hint(top),
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
        let mut f = match alert {
            Some(a) if a.is_certificate_problem() || a.0 == 49 => Finding::new(
                Cause::ClientRejectedProxyCert,
                format!(
                    "the client refused rdptap's certificate with the TLS alert {a}: it does not trust rdptap's local CA"
                ),
                trust_hint,
            ),
            Some(a) => Finding::new(
                Cause::TlsAlert,
                format!("the client sent the TLS alert {a} during its TLS handshake with rdptap"),
                &format!("compare the TLS versions and cipher suites the client allows with TLS 1.2/1.3 and modern suites, or {without}"),
            ),
            None => Finding::new(
                Cause::ClientRejectedProxyCert,
                format!(
                    "the client gave up during its TLS handshake with rdptap ({error}) (inferred: it did not accept rdptap's certificate)"
                ),
                trust_hint,
            )
            .inferred(),
        };
        f = f.evidence(i.upstream.into_iter().chain([*at]));
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
    if close.at.at.saturating_sub(hs.at) > REJECT_WINDOW {
        return None;
    }
    let mut f = Finding::new(
        Cause::ClientRejectedProxyCert,
        format!(
            "the client closed {:.0} ms after its TLS handshake with rdptap, before sending anything (inferred: it checked rdptap's certificate and refused it)",
            close.at.at.saturating_sub(hs.at).as_secs_f64() * 1e3
        ),
        trust_hint,
    )
    .inferred()
    .evidence([hs]);
    f.closed = Some((close.by, close.kind));
    Some(f)
}

/// How an intercepted connection ended, from the decrypted phases.
///
/// The client saw rdptap's certificate, so the host's certificate problems never
/// reached it: when the session otherwise worked, the verdict names the problem the
/// client would have met without rdptap.
pub(super) fn intercepted_end(input: &Inputs<'_>, seen: &Seen, close: Option<&Close>) -> Finding {
    let f = super::logon::session_end(input, seen, close)
        .unwrap_or_else(|| super::by_close(seen, close));
    if f.cause != Cause::Ok {
        return f;
    }
    let problems = effective_problems(&seen.problems);
    let Some(top) = problems.first() else {
        return f;
    };
    let phase = seen.phase.unwrap_or(Phase::TcpConnect);
    Finding::new(
        Cause::from_id(top.cause_id()).unwrap_or(Cause::CertUntrusted),
        format!(
            "{top}; the client did not see this because rdptap presented its own certificate, and the session went on to the {phase} phase through rdptap; without rdptap the client would warn about or refuse the host's certificate"
        ),
        cert_hint(top),
    )
    .evidence(seen.problems_at)
}
