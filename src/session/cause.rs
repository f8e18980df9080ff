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
        /// A note, never a cause: the host's certificate says CA:TRUE.
        CertIsCa = ("cert_is_ca", "the host's certificate is a CA certificate (a note)"),
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

impl Cause {
    /// What to check next when a rule has no more specific advice. Every cause has one:
    /// the match is exhaustive, so a new cause cannot be added without its hint, and the
    /// verdict falls back to it whenever a rule left its hint empty.
    pub fn fallback_hint(self) -> &'static str {
        match self {
            Cause::Ok => "nothing to fix on the path rdptap can see; if the user still saw an error, run with --intercept to see inside TLS",
            Cause::UpstreamDnsFailed => "check the name, or give the address with --connect IP while keeping the name",
            Cause::UpstreamRefused => "check that the far end listens on that port, and that no firewall rejects it",
            Cause::UpstreamTimeout => "check that the far end is up and reachable, and that no firewall silently drops the port",
            Cause::NegotiationFailure => "compare the security layers the client offers with the ones the host requires (TLS, NLA, standard RDP security)",
            Cause::ProtocolMismatch => "check that the client is an RDP client pointed at an RDP port, and that both sides allow a common security protocol",
            Cause::TlsAlert => "the alert names the problem: compare the TLS versions, cipher suites and certificates both sides accept",
            Cause::TlsVersionMismatch => "enable a TLS version both sides support (TLS 1.2 on old hosts needs its update)",
            Cause::CertExpired => "renew the certificate (on a host: Remote Desktop's certificate in the certificate store, or let it regenerate its self-signed one)",
            Cause::CertNotYetValid => "check the clocks of the host and the client, or wait until the certificate becomes valid",
            Cause::CertSelfSigned => "install a certificate from a CA the clients trust, or make the clients trust this one",
            Cause::CertUntrusted => "make the clients trust the issuing CA, or install a certificate from a CA they trust",
            Cause::CertNameMismatch => "connect by the name the certificate carries, or install a certificate for the name clients use",
            Cause::CertIsCa => "nothing to do: clients accept it; to tidy up, issue the host a certificate with CA:FALSE",
            Cause::CertWrongUsage => "install a certificate with the Server Authentication usage (EKU 1.3.6.1.5.5.7.3.1)",
            Cause::CredsspFailed => "check the user name, password and domain, and the account's logon rights on the host",
            Cause::EarlyAuthDenied => "check that the user may log on through Remote Desktop (Remote Desktop Users group, the host's logon rights policy)",
            Cause::ServerClosed | Cause::ServerReset => "check the host's event log (TerminalServices-RemoteConnectionManager, Security) at this time",
            Cause::ClientClosed | Cause::ClientReset => "check what the client reported to the user",
            Cause::IdleTimeout => "raise --idle-timeout, or check why neither side sent anything",
            Cause::ClientSilent => "check that an RDP client is pointed at this port (RDP and RD Gateway clients speak first), or raise --first-byte-timeout for a slow client",
            Cause::ProxyShutdown => "nothing was wrong on the wire; the connection was cut by stopping rdptap",
            Cause::CertPinMismatch => "check that --pin names the certificate the host presents now (it changes when the host renews it)",
            Cause::ServerErrorInfo => "look the error up in the host's event log (TerminalServices-LocalSessionManager, RemoteConnectionManager) at this time",
            Cause::LicensingFailed => "check the host's Remote Desktop licensing: the licensing mode, the license server and its CALs",
            Cause::ServerClosedAfterLogon => "check the host's event log for the logon (Winlogon, User Profile Service, Group Policy) at this time",
            Cause::ClientRejectedProxyCert => "make the client trust rdptap's local CA: `rdptap ca show` prints the commands",
            Cause::UpstreamTlsIncompatible => "run without --intercept for this host, and check that it still accepts connections",
            Cause::GwHttpIncomplete => "check the gateway's HTTP error log (httperr) and any load balancer or WAF in front of it",
            Cause::GwHttpStatus => "check the gateway's IIS site (the /remoteDesktopGateway/ application and its app pool) and its event log",
            Cause::GwAuthRejected => "check the user name, password and domain, and that the user is in the RD CAP's user groups",
            Cause::GwAuthBindingSuspected => "run rdptap with --gateway-passthrough for this gateway (its outer TLS stays the gateway's own, so channel binding holds)",
            Cause::GwHresult => "look the status up in the gateway's TerminalServices-Gateway event log at this time",
            Cause::GwClosedChannel => "check the gateway's TerminalServices-Gateway event log at this time (session time limits and idle timeouts end channels)",
            Cause::GwInWithoutOut => "a load balancer sent the two channels to different gateway servers: enable source-IP or cookie affinity",
            Cause::GwProtocolViolation => "compare client and gateway versions, and check for a proxy or WAF rewriting the traffic",
            Cause::GwReset => "check the gateway's event log and any firewall or load balancer in front of it at this time",
            Cause::CaptureEnded => "nothing failed in what was captured; capture longer (until the error shows) to see how the connection ends",
        }
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

    #[test]
    fn every_cause_has_a_hint() {
        for &c in Cause::ALL {
            let h = c.fallback_hint();
            assert!(h.len() > 20, "{}: {h:?}", c.id());
        }
    }
}
