//! Why a connection ended: stable cause identifiers, who closed, and how.

use serde::{Serialize, Serializer};
use std::fmt;

/// The stable cause of a connection's end. Scripts and tests match on [`Cause::id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// The connection got as far as rdptap can see and closed in an orderly way.
    Ok,
    /// The host name did not resolve.
    UpstreamDnsFailed,
    /// The host refused the TCP connection.
    UpstreamRefused,
    /// The host did not answer the TCP connection in time.
    UpstreamTimeout,
    /// The server answered X.224 with RDP_NEG_FAILURE.
    NegotiationFailure,
    /// The server chose a protocol the client did not offer, or a side spoke non-RDP.
    ProtocolMismatch,
    /// A fatal TLS alert ended the handshake.
    TlsAlert,
    /// Client and server share no TLS version.
    TlsVersionMismatch,
    /// The host's certificate has expired.
    CertExpired,
    /// The host's certificate is not valid yet.
    CertNotYetValid,
    /// The host's certificate is self-signed.
    CertSelfSigned,
    /// The host's certificate chain does not lead to a trusted root.
    CertUntrusted,
    /// The host's certificate does not name the host.
    CertNameMismatch,
    /// The host's certificate is not for server authentication.
    CertWrongUsage,
    /// NLA (CredSSP) failed.
    CredsspFailed,
    /// HYBRID_EX Early User Authorization denied the user.
    EarlyAuthDenied,
    /// The server closed the connection.
    ServerClosed,
    /// The server reset the connection.
    ServerReset,
    /// The client closed the connection.
    ClientClosed,
    /// The client reset the connection.
    ClientReset,
    /// Nothing moved for longer than the idle timeout.
    IdleTimeout,
    /// rdptap was stopped while the connection was open.
    ProxyShutdown,
    /// The host's certificate is not the one `--pin` names.
    CertPinMismatch,
    /// The server sent Set Error Info with an error before the connection ended.
    ServerErrorInfo,
    /// Licensing failed (a licensing error alert, or a licensing errorInfo).
    LicensingFailed,
    /// The server closed after logon or capability exchange without giving a reason.
    ServerClosedAfterLogon,
    /// The client refused rdptap's own certificate (the local CA is not trusted).
    ClientRejectedProxyCert,
    /// rdptap could not speak the host's TLS and relayed the client's own TLS instead.
    UpstreamTlsIncompatible,
    /// The gateway's HTTP response was cut short (or never came).
    GwHttpIncomplete,
    /// The gateway answered with an unexpected HTTP status.
    GwHttpStatus,
    /// The gateway's final answer to authentication was 401.
    GwAuthRejected,
    /// Authentication fails only through interception: Extended Protection / channel binding.
    GwAuthBindingSuspected,
    /// An MS-TSGU response carried a failure status.
    GwHresult,
    /// A CLOSE_CHANNEL ended the tunnel.
    GwClosedChannel,
    /// An HTTP-transport IN channel had no OUT channel with its RDG-Connection-Id.
    GwInWithoutOut,
    /// MS-TSGU packets out of order, or unframeable.
    GwProtocolViolation,
    /// A TCP reset ended a gateway connection.
    GwReset,
}

impl Cause {
    /// Every cause, for documentation and tests.
    pub const ALL: [Cause; 37] = [
        Cause::Ok,
        Cause::UpstreamDnsFailed,
        Cause::UpstreamRefused,
        Cause::UpstreamTimeout,
        Cause::NegotiationFailure,
        Cause::ProtocolMismatch,
        Cause::TlsAlert,
        Cause::TlsVersionMismatch,
        Cause::CertExpired,
        Cause::CertNotYetValid,
        Cause::CertSelfSigned,
        Cause::CertUntrusted,
        Cause::CertNameMismatch,
        Cause::CertWrongUsage,
        Cause::CredsspFailed,
        Cause::EarlyAuthDenied,
        Cause::ServerClosed,
        Cause::ServerReset,
        Cause::ClientClosed,
        Cause::ClientReset,
        Cause::IdleTimeout,
        Cause::ProxyShutdown,
        Cause::CertPinMismatch,
        Cause::ServerErrorInfo,
        Cause::LicensingFailed,
        Cause::ServerClosedAfterLogon,
        Cause::ClientRejectedProxyCert,
        Cause::UpstreamTlsIncompatible,
        Cause::GwHttpIncomplete,
        Cause::GwHttpStatus,
        Cause::GwAuthRejected,
        Cause::GwAuthBindingSuspected,
        Cause::GwHresult,
        Cause::GwClosedChannel,
        Cause::GwInWithoutOut,
        Cause::GwProtocolViolation,
        Cause::GwReset,
    ];

    /// The stable identifier, e.g. `negotiation_failure`.
    pub fn id(self) -> &'static str {
        match self {
            Cause::Ok => "ok",
            Cause::UpstreamDnsFailed => "upstream_dns_failed",
            Cause::UpstreamRefused => "upstream_refused",
            Cause::UpstreamTimeout => "upstream_timeout",
            Cause::NegotiationFailure => "negotiation_failure",
            Cause::ProtocolMismatch => "protocol_mismatch",
            Cause::TlsAlert => "tls_alert",
            Cause::TlsVersionMismatch => "tls_version_mismatch",
            Cause::CertExpired => "cert_expired",
            Cause::CertNotYetValid => "cert_not_yet_valid",
            Cause::CertSelfSigned => "cert_self_signed",
            Cause::CertUntrusted => "cert_untrusted",
            Cause::CertNameMismatch => "cert_name_mismatch",
            Cause::CertWrongUsage => "cert_wrong_usage",
            Cause::CredsspFailed => "credssp_failed",
            Cause::EarlyAuthDenied => "early_auth_denied",
            Cause::ServerClosed => "server_closed",
            Cause::ServerReset => "server_reset",
            Cause::ClientClosed => "client_closed",
            Cause::ClientReset => "client_reset",
            Cause::IdleTimeout => "idle_timeout",
            Cause::ProxyShutdown => "proxy_shutdown",
            Cause::CertPinMismatch => "cert_pin_mismatch",
            Cause::ServerErrorInfo => "server_error_info",
            Cause::LicensingFailed => "licensing_failed",
            Cause::ServerClosedAfterLogon => "server_closed_after_logon",
            Cause::ClientRejectedProxyCert => "client_rejected_proxy_cert",
            Cause::UpstreamTlsIncompatible => "upstream_tls_incompatible",
            Cause::GwHttpIncomplete => "gw_http_incomplete",
            Cause::GwHttpStatus => "gw_http_status",
            Cause::GwAuthRejected => "gw_auth_rejected",
            Cause::GwAuthBindingSuspected => "gw_auth_binding_suspected",
            Cause::GwHresult => "gw_hresult",
            Cause::GwClosedChannel => "gw_closed_channel",
            Cause::GwInWithoutOut => "gw_in_without_out",
            Cause::GwProtocolViolation => "gw_protocol_violation",
            Cause::GwReset => "gw_reset",
        }
    }

    /// Look a cause up by its identifier.
    pub fn from_id(id: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.id() == id)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Ok => "the connection worked",
            Cause::UpstreamDnsFailed => "the host name did not resolve",
            Cause::UpstreamRefused => "the host refused the connection",
            Cause::UpstreamTimeout => "the host did not answer",
            Cause::NegotiationFailure => "the server refused the security negotiation",
            Cause::ProtocolMismatch => "client and server do not speak the same protocol",
            Cause::TlsAlert => "a TLS alert ended the handshake",
            Cause::TlsVersionMismatch => "client and server share no TLS version",
            Cause::CertExpired => "the host's certificate has expired",
            Cause::CertNotYetValid => "the host's certificate is not valid yet",
            Cause::CertSelfSigned => "the host's certificate is self-signed",
            Cause::CertUntrusted => "the host's certificate is not trusted",
            Cause::CertNameMismatch => "the host's certificate is for another name",
            Cause::CertWrongUsage => "the host's certificate is not for server authentication",
            Cause::CredsspFailed => "network level authentication (CredSSP) failed",
            Cause::EarlyAuthDenied => "the server denied the user after authentication",
            Cause::ServerClosed => "the server closed the connection",
            Cause::ServerReset => "the server reset the connection",
            Cause::ClientClosed => "the client closed the connection",
            Cause::ClientReset => "the client reset the connection",
            Cause::IdleTimeout => "the connection was idle too long",
            Cause::ProxyShutdown => "rdptap was stopped",
            Cause::CertPinMismatch => "the host's certificate is not the pinned one",
            Cause::ServerErrorInfo => "the server reported an error (Set Error Info)",
            Cause::LicensingFailed => "Remote Desktop licensing failed",
            Cause::ServerClosedAfterLogon => "the server closed the session right after logon",
            Cause::ClientRejectedProxyCert => "the client refused rdptap's certificate",
            Cause::UpstreamTlsIncompatible => "rdptap could not speak the host's TLS",
            Cause::GwHttpIncomplete => "the gateway's HTTP response was cut short",
            Cause::GwHttpStatus => "the gateway answered with an unexpected HTTP status",
            Cause::GwAuthRejected => "the gateway rejected the credentials (final 401)",
            Cause::GwAuthBindingSuspected => {
                "gateway authentication failed only through interception (channel binding?)"
            }
            Cause::GwHresult => "the gateway refused a step of the tunnel (MS-TSGU status)",
            Cause::GwClosedChannel => "the gateway or client closed the tunnel's channel",
            Cause::GwInWithoutOut => "the gateway's IN channel found no OUT channel",
            Cause::GwProtocolViolation => "a side broke the gateway protocol",
            Cause::GwReset => "the gateway connection was reset",
        })
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Who ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBy {
    /// The RDP client.
    Client,
    /// The RDP host.
    Server,
    /// rdptap itself (upstream failure, linger, idle timeout, shutdown).
    Proxy,
    /// Nobody closed (not expected in a finished verdict).
    None,
}

impl fmt::Display for ClosedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClosedBy::Client => "client",
            ClosedBy::Server => "server",
            ClosedBy::Proxy => "proxy",
            ClosedBy::None => "none",
        })
    }
}

/// How the first side closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    /// An orderly TCP close.
    Fin,
    /// A TCP reset.
    Rst,
    /// A timer ran out (connect timeout, linger, idle).
    Timeout,
    /// A fatal TLS alert preceded the close.
    TlsAlert,
    /// A socket or connect error.
    Error,
    /// rdptap shut down.
    Shutdown,
}

impl fmt::Display for CloseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseKind::Fin => "fin",
            CloseKind::Rst => "rst",
            CloseKind::Timeout => "timeout",
            CloseKind::TlsAlert => "tls_alert",
            CloseKind::Error => "error",
            CloseKind::Shutdown => "shutdown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Cause::ALL {
            assert!(seen.insert(c.id()));
            assert_eq!(Cause::from_id(c.id()), Some(c));
        }
    }
}
