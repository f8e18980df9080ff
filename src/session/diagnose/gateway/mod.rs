//! The verdict on an RD Gateway connection, or on a whole gateway session (both
//! channels of the HTTP transport): the gateway's TLS and certificate, its HTTP rounds
//! and authentication, the MS-TSGU steps, and then the RDP connection inside.

pub mod describe;
mod inner;
mod own_end;
pub mod seen;

use super::close::Close;
use super::seen::Seen;
use super::{assemble, Finding, Inputs};
use crate::decode::http::{AuthScheme, Transport};
use crate::decode::tls::RecordStats;
use crate::session::{Cause, CloseKind, ClosedBy, Verdict};
use crate::vocab::{Dir, FarEnd};
pub use seen::GwSeen;

/// What the gateway verdict needs beyond the common inputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct GwInputs {
    /// TLS record counters of the inner RDP connection, [c2s, s2c].
    pub inner_stats: [RecordStats; 2],
    /// Where the inner RDP connection's TLS stream stopped in the middle of a record,
    /// [c2s, s2c]: bytes of the record relayed, and its length.
    pub inner_cut: [Option<(u64, u64)>; 2],
    /// The outer TLS was relayed untouched (`--gateway-passthrough`).
    pub passthrough: bool,
    /// The timeline covers the whole gateway session (every channel), not one TCP
    /// connection.
    pub session: bool,
}

/// The verdict on a gateway connection or session.
pub fn diagnose(input: &Inputs<'_>, gw: &GwInputs) -> Verdict {
    let seen = Seen::scan(input.timeline);
    let g = GwSeen::scan(input.timeline);
    let close = super::close::first_close(&seen);
    let f = find(input, gw, &seen, &g, close.as_ref());
    assemble(input, &seen, close, f, FarEnd::Gateway)
}

fn transport_name(t: Option<Transport>) -> &'static str {
    match t {
        Some(Transport::WebSocket) => "WebSocket transport",
        Some(Transport::HttpOut | Transport::HttpIn) => "HTTP transport (two channels)",
        Some(Transport::RpcIn | Transport::RpcOut) => "legacy RPC-over-HTTP transport",
        _ => "no gateway transport",
    }
}

fn find(
    input: &Inputs<'_>,
    gw: &GwInputs,
    seen: &Seen,
    g: &GwSeen,
    close: Option<&Close>,
) -> Finding {
    if let Some(f) = super::negotiation::upstream(seen, FarEnd::Gateway) {
        return f;
    }
    if let Some(f) = super::ending::client_silent(seen) {
        return f;
    }
    // A client that sent an HTTP request accepted rdptap's certificate, whatever the
    // plaintext counters of one channel say.
    let mut with_requests = *input;
    if !g.transports.is_empty() {
        with_requests.plain[0].bytes = with_requests.plain[0].bytes.max(1);
    }
    if let Some(f) = super::intercept::intercept_failure(
        &with_requests,
        seen,
        close,
        FarEnd::Gateway,
        gateway_cert_hint,
    ) {
        return f;
    }
    if let Some(f) = super::tls_failure(seen, close) {
        return f;
    }
    if gw.passthrough {
        // The client saw the gateway's own certificate: a client that left right after
        // the handshake refused it, as in passthrough.
        if let Some(f) = super::cert_rejected(seen, close, gateway_cert_hint) {
            return f;
        }
    }
    let transport = g.transport();
    let during = seen
        .phase
        .map(|p| p.to_string())
        .unwrap_or_else(|| "TCP connect".into());
    if let (Some((at, cred)), Some(c)) = (&g.unanswered, close) {
        // The field symptom of Extended Protection through a proxy: the gateway drops
        // the connection right after the client's channel-bound NTLM AUTHENTICATE.
        let nothing_sent = g.incomplete.is_none() || g.no_response;
        if c.by == ClosedBy::Server && nothing_sent && input_is_intercepted(seen) && !gw.passthrough
        {
            let user = cred
                .user
                .as_ref()
                .map(|u| format!(" for user {u}"))
                .unwrap_or_default();
            let bound = if cred.channel_bound {
                ", bound to the TLS channel the client saw, which is rdptap's"
            } else {
                ""
            };
            let mut f = Finding::new(
                Cause::GwAuthBindingSuspected,
                format!(
                    "the gateway {} the connection without answering the client's {} credentials{user}{bound} (inferred: the gateway enforces Extended Protection, so authentication fails only through interception)",
                    if c.kind == CloseKind::Rst { "reset" } else { "closed" },
                    cred.scheme
                ),
                "run rdptap with --gateway-passthrough for this gateway (the outer TLS stays the gateway's own, so channel binding holds); the gateway's httperr log shows Request_Cancelled for these requests",
            )
            .inferred()
            .evidence([*at, c.at]);
            f.closed = Some((c.by, c.kind));
            return f;
        }
    }
    if let Some(f) = own_end::cut_at_deadline(seen, g, close, &during, transport_name(transport)) {
        return f;
    }
    // A body rdptap's own deadline cut (after someone else's close) is not the
    // gateway's cut either: the rules below say who closed.
    if let Some((at, dir, what)) = g
        .incomplete
        .as_ref()
        .filter(|(_, dir, _)| !own_end::cut_by_rdptap(seen, *dir))
    {
        let who = if *dir == Dir::S2C {
            "gateway"
        } else {
            "client"
        };
        let mut f = Finding::new(
            Cause::GwHttpIncomplete,
            format!("the {who} {what} during the {during} ({})", transport_name(transport)),
            "the gateway (or a load balancer or WAF in front of it) cut its answer short: check its HTTP error log (httperr) and the TerminalServices-Gateway event log at this time, and any device that inspects HTTPS on the way",
        )
        .evidence([*at]);
        if *dir == Dir::S2C {
            f.closed = Some((ClosedBy::Server, close.map_or(CloseKind::Fin, |c| c.kind)));
        }
        return f;
    }
    if let Some((at, dir, what)) = &g.http_broken {
        return Finding::new(
            Cause::GwProtocolViolation,
            format!("the {} {what}", if *dir == Dir::S2C { "gateway" } else { "client" }),
            "something on the path does not speak HTTP/1.1 as an RD Gateway expects: check for a proxy or WAF rewriting the traffic",
        )
        .evidence([*at]);
    }
    if let Some((at, cred)) = &g.rejected {
        let user = cred
            .user
            .as_ref()
            .map(|u| format!(" for user {u}"))
            .unwrap_or_default();
        let binding = !gw.passthrough
            && matches!(
                cred.scheme,
                AuthScheme::Ntlm | AuthScheme::Negotiate | AuthScheme::Kerberos
            );
        let hint = if binding {
            "check the user name, password and domain, and that the user is in the RD CAP's user groups; if the same credentials work without rdptap, the gateway enforces Extended Protection (channel binding): run rdptap with --gateway-passthrough"
        } else {
            "check the user name, password and domain, and that the user is in the RD CAP's user groups"
        };
        return Finding::new(
            Cause::GwAuthRejected,
            format!(
                "the gateway rejected the {} credentials{user} with a final HTTP 401 ({})",
                cred.scheme,
                transport_name(transport)
            ),
            hint,
        )
        .evidence([*at]);
    }
    if let Some((at, status, reason, answered)) = &g.bad_status {
        let snippet = g
            .snippet
            .as_ref()
            .map(|s| format!(": \"{s}\""))
            .unwrap_or_default();
        let rpc = if matches!(status, 403 | 404 | 410)
            && matches!(
                answered,
                Some(Transport::HttpOut | Transport::HttpIn | Transport::WebSocket)
            ) {
            "; clients take this as \"the HTTP transport is not supported\" and fall back to the legacy RPC-over-HTTP transport"
        } else {
            ""
        };
        let legacy = if matches!(answered, Some(Transport::RpcIn | Transport::RpcOut)) {
            format!(
                " to the client's {} request; the client used the {} (clients fall back to it when the HTTP transport is refused with 403/404/410 or fails); rdptap relays it without decoding the RPC",
                if *answered == Some(Transport::RpcIn) { "RPC_IN_DATA" } else { "RPC_OUT_DATA" },
                transport_name(*answered)
            )
        } else {
            String::new()
        };
        return Finding::new(
            Cause::GwHttpStatus,
            format!("the gateway answered HTTP {status} {reason}{snippet}{legacy}{rpc}"),
            "check the gateway's IIS site (the /remoteDesktopGateway/ application and its app pool) and its event log; a 503 usually means the RD Gateway service or its app pool is stopped",
        )
        .evidence([*at]);
    }
    if let Some((at, ptype, status)) = &g.failed {
        let hint = status.hint().unwrap_or(
            "look the status up in the gateway's TerminalServices-Gateway event log at this time",
        );
        return Finding::new(
            Cause::GwHresult,
            format!("{ptype} {}: {}", status.name(), status.kind()),
            hint,
        )
        .evidence([*at]);
    }
    if let Some((at, dir, reason)) = &g.violation {
        return Finding::new(
            Cause::GwProtocolViolation,
            format!(
                "the {} broke the gateway protocol: {reason}",
                if *dir == Dir::S2C {
                    "gateway"
                } else {
                    "client"
                }
            ),
            "compare client and gateway versions; a proxy rewriting the tunnel also causes this",
        )
        .evidence([*at]);
    }
    if gw.session
        && g.transports.iter().any(|t| t.1 == Transport::HttpIn)
        && !g.transports.iter().any(|t| t.1 == Transport::HttpOut)
    {
        return Finding::new(
            Cause::GwInWithoutOut,
            "the client's IN channel (RDG_IN_DATA) found no OUT channel (RDG_OUT_DATA) with its RDG-Connection-Id".into(),
            "a load balancer sent the two channels to different gateway servers: enable source-IP or cookie affinity (the gateway logs event 210)",
        )
        .evidence(g.transports.first().map(|t| t.0));
    }
    if let Some(f) = channel_end(gw, seen, g, close) {
        return f;
    }
    if let Some(f) = inner::inner_finding(input, gw, g) {
        return f;
    }
    if let Some(f) = reset(close, &during) {
        return f;
    }
    if let Some(f) = passthrough_end(input, gw, seen, close) {
        return f;
    }
    let f = super::by_close(seen, close);
    Finding {
        summary: format!("{} ({})", f.summary, transport_name(transport)),
        ..f
    }
}

fn input_is_intercepted(seen: &Seen) -> bool {
    seen.icpt.client_tls.is_some()
}

fn reset(close: Option<&Close>, during: &str) -> Option<Finding> {
    let c = close?;
    if c.kind != CloseKind::Rst {
        return None;
    }
    let who = match c.by {
        ClosedBy::Server => "gateway",
        ClosedBy::Client => "client",
        _ => return None,
    };
    Some(
        Finding::new(
            Cause::GwReset,
            format!("the {who} reset the gateway connection during the {during}"),
            "a reset right after NTLM or Kerberos usually means the gateway's HTTP.sys cancelled the request (httperr: Request_Cancelled): try --gateway-passthrough (Extended Protection) and check the gateway's httperr log",
        )
        .evidence([c.at]),
    )
}

/// What to do about the gateway's certificate problem `p`.
fn gateway_cert_hint(p: &crate::cert::CertProblem) -> &'static str {
    use crate::cert::CertProblem;
    match p {
        CertProblem::Expired { .. } => "renew the gateway's SSL certificate (RD Gateway Manager → Properties → SSL Certificate) and bind the new one in IIS",
        CertProblem::NameMismatch { .. } => "give clients the gateway name the certificate carries, or reissue the certificate with the name clients use",
        _ => super::cert_hint(p),
    }
}

/// With the outer TLS relayed untouched, the TLS facts and the closes are all there is.
fn passthrough_end(
    input: &Inputs<'_>,
    gw: &GwInputs,
    seen: &Seen,
    close: Option<&Close>,
) -> Option<Finding> {
    let c = close?;
    if !gw.passthrough || c.kind != CloseKind::Fin {
        return None;
    }
    let hs = seen.handshake_done?;
    let version = seen
        .tls_version()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "TLS".into());
    let closer = match c.by {
        ClosedBy::Client => "client",
        ClosedBy::Server => "gateway",
        _ => return None,
    };
    Some(
        Finding::new(
            Cause::Ok,
            format!(
                "the gateway's {version} was {}: {} encrypted records from the client and {} from the gateway; then the {closer} closed in an orderly way (FIN). HTTP and MS-TSGU are inside that TLS and were not decoded",
                if input.capture {
                    "captured without its keys"
                } else {
                    "relayed untouched (--gateway-passthrough)"
                },
                input.tls_stats[0].app_records,
                input.tls_stats[1].app_records
            ),
            if input.capture {
                "nothing to fix on the path rdptap can see; give analyze the gateway's or the client's TLS key log (--keylog) to decode the gateway conversation"
            } else {
                "nothing to fix on the path rdptap can see; without --gateway-passthrough rdptap decodes the gateway conversation"
            },
        )
        .evidence([hs, c.at]),
    )
}

#[cfg(test)]
mod framing_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;

/// One channel of the two-channel HTTP transport carries one direction of the tunnel
/// only, so its own verdict says how the channel ended and leaves the tunnel and the
/// inner connection to the gateway session's verdict.
fn channel_end(gw: &GwInputs, seen: &Seen, g: &GwSeen, close: Option<&Close>) -> Option<Finding> {
    let t = g.transport()?;
    if gw.session || !matches!(t, Transport::HttpIn | Transport::HttpOut) {
        return None;
    }
    let c = close?;
    if c.kind != CloseKind::Fin
        || g.handshake.is_none() && g.reached_data.is_none() && g.packets == 0
    {
        return None;
    }
    let name = if t == Transport::HttpIn {
        "IN (client to gateway)"
    } else {
        "OUT (gateway to client)"
    };
    let closer = match c.by {
        ClosedBy::Client => "client",
        ClosedBy::Server => "gateway",
        _ => return None,
    };
    let phase = seen.phase.map(|p| p.to_string()).unwrap_or_default();
    Some(
        Finding::new(
            Cause::Ok,
            format!(
                "the {name} channel of the HTTP transport carried {} MS-TSGU packets; the {closer} closed it in an orderly way (FIN) with the tunnel at the {phase} phase. The gateway_session verdict covers both channels and the RDP inside",
                g.packets
            ),
            "see the gateway_session verdict for this RDG-Connection-Id",
        )
        .evidence([c.at]),
    )
}
