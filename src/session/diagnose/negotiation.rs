//! Causes decided before TLS: the upstream connect and the X.224 negotiation.

use super::close::Close;
use super::seen::Seen;
use super::Finding;
use crate::decode::names::{NegFailureCode, Protocols};
use crate::session::mstsc;
use crate::session::{Cause, CloseKind, ClosedBy};
use crate::vocab::{ConnectError, FarEnd};

/// The host (or, in gateway mode, the gateway) could not be reached at all.
pub(super) fn upstream(seen: &Seen, far: FarEnd) -> Option<Finding> {
    let (at, err) = seen.upstream_failed.as_ref()?;
    let gw = far == FarEnd::Gateway;
    let (cause, hint) = match err {
        ConnectError::Dns { .. } if gw => (
            Cause::UpstreamDnsFailed,
            "check the gateway's name, or give its address with --connect IP while keeping --gateway NAME",
        ),
        ConnectError::Dns { .. } => (
            Cause::UpstreamDnsFailed,
            "check the host name, or give the address with --connect IP while keeping --target NAME",
        ),
        ConnectError::Refused { .. } if gw => (
            Cause::UpstreamRefused,
            "check that the gateway's HTTPS site (IIS) is running and listening on that port, and that no firewall rejects it",
        ),
        ConnectError::Refused { .. } => (
            Cause::UpstreamRefused,
            "check that Remote Desktop is enabled on the host and listening on that port, and that no firewall rejects it",
        ),
        ConnectError::Timeout { .. } => (
            Cause::UpstreamTimeout,
            if gw {
                "check that the gateway is up and reachable, and that no firewall silently drops the port"
            } else {
                "check that the host is up and reachable, and that no firewall silently drops the port"
            },
        ),
        ConnectError::Reset { .. } => (
            Cause::ServerReset,
            if gw {
                "the gateway (or a device in front of it) accepted and dropped the connection: check its connection limits, and any firewall or load balancer in front of it"
            } else {
                "the host (or a device in front of it) accepted and dropped the connection: check its connection limits, and any firewall or load balancer that resets RDP"
            },
        ),
        ConnectError::Other { .. } => (
            Cause::UpstreamRefused,
            if gw {
                "check the network path to the gateway (route, VPN, firewall)"
            } else {
                "check the network path to the host (route, VPN, firewall)"
            },
        ),
    };
    // mstsc's codes for an unreachable gateway are its own; these are the host's.
    let code = match cause {
        _ if gw => None,
        Cause::UpstreamDnsFailed => Some(mstsc::connect(mstsc::DNS_FAILED)),
        Cause::UpstreamTimeout => Some(mstsc::connect(mstsc::CONNECT_TIMEOUT)),
        Cause::UpstreamRefused => Some(mstsc::connect(mstsc::CONNECT_FAILED)),
        _ => None,
    };
    let mut f = Finding::new(
        cause,
        format!(
            "rdptap could not reach the {}: {err}; the client's connection was closed",
            far.name()
        ),
        hint,
    )
    .evidence([*at])
    .mstsc(code);
    f.closed = Some(match cause {
        Cause::UpstreamTimeout => (ClosedBy::Proxy, CloseKind::Timeout),
        Cause::ServerReset => (ClosedBy::Server, CloseKind::Rst),
        _ => (ClosedBy::Proxy, CloseKind::Error),
    });
    Some(f)
}

pub(super) fn negotiation_hint(code: crate::decode::names::NegFailureCode) -> &'static str {
    match code {
        NegFailureCode::SslNotAllowedByServer => "the server's Security Layer is 'RDP'; set it to 'Negotiate' or 'SSL', or let the client use standard RDP security",
        NegFailureCode::SslRequiredByServer => "the server demands TLS; allow TLS on the client (mstsc: do not force RDP security; xfreerdp: /sec:tls)",
        NegFailureCode::HybridRequiredByServer => "the server requires NLA; enable CredSSP on the client, or turn off 'Require NLA' on the host",
        NegFailureCode::SslCertNotOnServer => "the host has no usable certificate for Remote Desktop; check its certificate store and the Remote Desktop certificate setting",
        NegFailureCode::SslWithUserAuthRequiredByServer => "the server requires client certificates (smart card); use a client that supports it",
        _ => "compare the client's requested protocols with the host's Security Layer setting",
    }
}

/// Negotiation failures without RDP_NEG_FAILURE: some servers (xrdp among them) answer a
/// TLS-only client by selecting standard RDP security, or a legacy client with an MCS
/// Disconnect Provider Ultimatum; the client then gives up at once.
pub(super) fn implied_negotiation_failure(seen: &Seen, close: Option<&Close>) -> Option<Finding> {
    let (rat, req) = seen.request?;
    let (cat, sel) = seen.confirm?;
    let close = close?;
    // The client moved on (TLS or MCS) after the confirm: negotiation worked.
    let client_moved_on =
        seen.client_hello.is_some() || seen.mcs_initial.is_some_and(|m| m.seq > cat.seq);
    if sel == Protocols::RDP
        && req != Protocols::RDP
        && !client_moved_on
        && close.by == ClosedBy::Client
    {
        let code = NegFailureCode::SslNotAllowedByServer;
        let mut f = Finding::new(
            Cause::NegotiationFailure,
            format!(
                "the server selected standard RDP security although the client requested only {req}, instead of sending RDP_NEG_FAILURE; this amounts to {code}; the client then closed (inferred)"
            ),
            negotiation_hint(code),
        )
        .inferred()
        .evidence([rat, cat]);
        f.closed = Some((close.by, close.kind));
        return Some(f);
    }
    if sel != Protocols::RDP
        && req.0 & !sel.0 != 0
        && !client_moved_on
        && close.by == ClosedBy::Client
    {
        let mut f = Finding::new(
            Cause::NegotiationFailure,
            format!(
                "the client requested {req}, the server selected {sel}, and the client closed without starting TLS (inferred: the client insists on a protocol the server did not choose{})",
                if req.is_nla() && !sel.is_nla() { ", such as NLA, which this host does not offer" } else { "" }
            ),
            "make the client's security setting match the host's: enable NLA on the host, or allow TLS without NLA on the client",
        )
        .inferred()
        .evidence([rat, cat]);
        f.closed = Some((close.by, close.kind));
        return Some(f);
    }
    if sel == Protocols::RDP && seen.dpu_from_server.is_some() && seen.mcs_response.is_none() {
        let (dat, reason) = seen.dpu_from_server.clone()?;
        let code = NegFailureCode::SslRequiredByServer;
        let mut f = Finding::new(
            Cause::NegotiationFailure,
            format!(
                "the client offered only standard RDP security and the server answered its MCS Connect Initial with a Disconnect Provider Ultimatum ({reason}); this amounts to {code} (inferred: the host requires TLS or NLA)"
            ),
            negotiation_hint(code),
        )
        .inferred()
        .evidence([rat, cat, dat]);
        f.closed = Some((ClosedBy::Server, close.kind));
        return Some(f);
    }
    None
}
