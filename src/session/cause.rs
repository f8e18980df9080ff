//! Why a connection ended: stable cause identifiers, who closed, and how.

use crate::vocab::closed_vocab;

closed_vocab! {
    /// The stable cause of a connection's end. Scripts and tests match on [`Cause::id`].
    pub enum Cause {
        /// The connection got as far as rdptap can see and closed in an orderly way.
        Ok = ("ok", "the connection worked"),
        /// The host name did not resolve.
        UpstreamDnsFailed = ("upstream_dns_failed", "the host name did not resolve"),
        /// The host refused the TCP connection.
        UpstreamRefused = ("upstream_refused", "the host refused the connection"),
        /// The host did not answer the TCP connection in time.
        UpstreamTimeout = ("upstream_timeout", "the host did not answer"),
        /// The server answered X.224 with RDP_NEG_FAILURE.
        NegotiationFailure = ("negotiation_failure", "the server refused the security negotiation"),
        /// The server chose a protocol the client did not offer, or a side spoke non-RDP.
        ProtocolMismatch = ("protocol_mismatch", "client and server do not speak the same protocol"),
        /// A fatal TLS alert ended the handshake.
        TlsAlert = ("tls_alert", "a TLS alert ended the handshake"),
        /// Client and server share no TLS version.
        TlsVersionMismatch = ("tls_version_mismatch", "client and server share no TLS version"),
        /// The host's certificate has expired.
        CertExpired = ("cert_expired", "the host's certificate has expired"),
        /// The host's certificate is not valid yet.
        CertNotYetValid = ("cert_not_yet_valid", "the host's certificate is not valid yet"),
        /// The host's certificate is self-signed.
        CertSelfSigned = ("cert_self_signed", "the host's certificate is self-signed"),
        /// The host's certificate chain does not lead to a trusted root.
        CertUntrusted = ("cert_untrusted", "the host's certificate is not trusted"),
        /// The host's certificate does not name the host.
        CertNameMismatch = ("cert_name_mismatch", "the host's certificate is for another name"),
        /// The host's certificate is not for server authentication.
        CertWrongUsage = ("cert_wrong_usage", "the host's certificate is not for server authentication"),
        /// NLA (CredSSP) failed.
        CredsspFailed = ("credssp_failed", "network level authentication (CredSSP) failed"),
        /// HYBRID_EX Early User Authorization denied the user.
        EarlyAuthDenied = ("early_auth_denied", "the server denied the user after authentication"),
        /// The server closed the connection.
        ServerClosed = ("server_closed", "the server closed the connection"),
        /// The server reset the connection.
        ServerReset = ("server_reset", "the server reset the connection"),
        /// The client closed the connection.
        ClientClosed = ("client_closed", "the client closed the connection"),
        /// The client reset the connection.
        ClientReset = ("client_reset", "the client reset the connection"),
        /// Nothing moved for longer than the idle timeout.
        IdleTimeout = ("idle_timeout", "the connection was idle too long"),
        /// The client connected and sent nothing within the first-byte timeout.
        ClientSilent = ("client_silent", "the client connected but sent nothing"),
        /// rdptap was stopped while the connection was open.
        ProxyShutdown = ("proxy_shutdown", "rdptap was stopped"),
        /// The host's certificate is not the one `--pin` names.
        CertPinMismatch = ("cert_pin_mismatch", "the host's certificate is not the pinned one"),
        /// The server sent Set Error Info with an error before the connection ended.
        ServerErrorInfo = ("server_error_info", "the server reported an error (Set Error Info)"),
        /// Licensing failed (a licensing error alert, or a licensing errorInfo).
        LicensingFailed = ("licensing_failed", "Remote Desktop licensing failed"),
        /// The server closed after logon or capability exchange without giving a reason.
        ServerClosedAfterLogon = ("server_closed_after_logon", "the server closed the session right after logon"),
        /// The client refused rdptap's own certificate (the local CA is not trusted).
        ClientRejectedProxyCert = ("client_rejected_proxy_cert", "the client refused rdptap's certificate"),
        /// rdptap could not speak the host's TLS and relayed the client's own TLS instead.
        UpstreamTlsIncompatible = ("upstream_tls_incompatible", "rdptap could not speak the host's TLS"),
        /// The gateway's HTTP response was cut short (or never came).
        GwHttpIncomplete = ("gw_http_incomplete", "the gateway's HTTP response was cut short"),
        /// The gateway answered with an unexpected HTTP status.
        GwHttpStatus = ("gw_http_status", "the gateway answered with an unexpected HTTP status"),
        /// The gateway's final answer to authentication was 401.
        GwAuthRejected = ("gw_auth_rejected", "the gateway rejected the credentials (final 401)"),
        /// Authentication fails only through interception: Extended Protection / channel binding.
        GwAuthBindingSuspected = ("gw_auth_binding_suspected", "gateway authentication failed only through interception (channel binding?)"),
        /// An MS-TSGU response carried a failure status.
        GwHresult = ("gw_hresult", "the gateway refused a step of the tunnel (MS-TSGU status)"),
        /// A CLOSE_CHANNEL ended the tunnel.
        GwClosedChannel = ("gw_closed_channel", "the gateway or client closed the tunnel's channel"),
        /// An HTTP-transport IN channel had no OUT channel with its RDG-Connection-Id.
        GwInWithoutOut = ("gw_in_without_out", "the gateway's IN channel found no OUT channel"),
        /// MS-TSGU packets out of order, or unframeable.
        GwProtocolViolation = ("gw_protocol_violation", "a side broke the gateway protocol"),
        /// A TCP reset ended a gateway connection.
        GwReset = ("gw_reset", "the gateway connection was reset"),
        /// The capture `analyze` read ended while the connection was still open.
        CaptureEnded = ("capture_ended", "the capture ended while the connection was open"),
    }
}

closed_vocab! {
    /// Who ended the connection.
    pub enum ClosedBy {
        /// The RDP client.
        Client = ("client", "client"),
        /// The RDP host.
        Server = ("server", "server"),
        /// rdptap itself (upstream failure, linger, idle timeout, shutdown).
        Proxy = ("proxy", "proxy"),
        /// Nobody closed (not expected in a finished verdict).
        None = ("none", "none"),
    }
}

closed_vocab! {
    /// How the first side closed.
    pub enum CloseKind {
        /// An orderly TCP close.
        Fin = ("fin", "fin"),
        /// A TCP reset.
        Rst = ("rst", "rst"),
        /// A timer ran out (connect timeout, linger, idle).
        Timeout = ("timeout", "timeout"),
        /// A fatal TLS alert preceded the close.
        TlsAlert = ("tls_alert", "tls_alert"),
        /// A socket or connect error.
        Error = ("error", "error"),
        /// rdptap shut down.
        Shutdown = ("shutdown", "shutdown"),
        /// Nobody closed: the capture ended first.
        CaptureEnd = ("capture_end", "capture_end"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &c in Cause::ALL {
            assert!(seen.insert(c.id()));
            assert_eq!(Cause::from_id(c.id()), Some(c));
        }
    }
}
