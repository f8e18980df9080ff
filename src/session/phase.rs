//! The phases of a connection, in the order they happen: through an RD Gateway the
//! gateway's own phases come first, then the inner RDP connection's.

use serde::{Serialize, Serializer};
use std::fmt;

/// How far a connection got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Accepting the client and dialling the host.
    TcpConnect,
    /// The TLS handshake with the RD Gateway (gateway mode).
    GwTls,
    /// The gateway's HTTP requests and their authentication (401 rounds).
    GwHttpAuth,
    /// MS-TSGU HANDSHAKE_REQUEST and its response.
    GwHandshake,
    /// MS-TSGU extended authentication (SSPI_NTLM or PAA), when used.
    GwExtAuth,
    /// MS-TSGU TUNNEL_CREATE and its response (RD CAP, PAA cookie).
    GwTunnelCreate,
    /// MS-TSGU TUNNEL_AUTH and its response (client name, redirection, idle timeout).
    GwTunnelAuth,
    /// MS-TSGU CHANNEL_CREATE and its response (RD RAP, the gateway dials the host).
    GwChannelCreate,
    /// MS-TSGU DATA: the tunnel carries the inner RDP connection.
    GwData,
    /// X.224 negotiation of the security protocol.
    X224,
    /// The TLS handshake.
    TlsHandshake,
    /// Encrypted TLS traffic (CredSSP, MCS and the rest, invisible in passthrough).
    TlsSession,
    /// MCS connect, seen in the clear under standard RDP security or when intercepting.
    Mcs,
    /// MCS Erect Domain, Attach User and the channel joins.
    ChannelJoin,
    /// Security Exchange and the Client Info PDU (the logon credentials).
    SecureSettings,
    /// Remote Desktop licensing.
    Licensing,
    /// Demand Active and Confirm Active: the capability exchange.
    Capabilities,
    /// Synchronize, Control and font PDUs that finish the connection.
    Finalization,
    /// The session is up: screen updates and input flow.
    Active,
}

impl Phase {
    /// The stable identifier written to the event file.
    pub fn id(self) -> &'static str {
        match self {
            Phase::TcpConnect => "tcp_connect",
            Phase::GwTls => "gw_tls",
            Phase::GwHttpAuth => "gw_http_auth",
            Phase::GwHandshake => "gw_handshake",
            Phase::GwExtAuth => "gw_ext_auth",
            Phase::GwTunnelCreate => "gw_tunnel_create",
            Phase::GwTunnelAuth => "gw_tunnel_auth",
            Phase::GwChannelCreate => "gw_channel_create",
            Phase::GwData => "gw_data",
            Phase::X224 => "x224",
            Phase::TlsHandshake => "tls_handshake",
            Phase::TlsSession => "tls_session",
            Phase::Mcs => "mcs",
            Phase::ChannelJoin => "channel_join",
            Phase::SecureSettings => "secure_settings",
            Phase::Licensing => "licensing",
            Phase::Capabilities => "capabilities",
            Phase::Finalization => "finalization",
            Phase::Active => "active",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::TcpConnect => "TCP connect",
            Phase::GwTls => "gateway TLS handshake",
            Phase::GwHttpAuth => "gateway HTTP authentication",
            Phase::GwHandshake => "gateway handshake",
            Phase::GwExtAuth => "gateway extended authentication",
            Phase::GwTunnelCreate => "gateway tunnel create",
            Phase::GwTunnelAuth => "gateway tunnel authorization",
            Phase::GwChannelCreate => "gateway channel create",
            Phase::GwData => "gateway data (tunnel open)",
            Phase::X224 => "X.224 negotiation",
            Phase::TlsHandshake => "TLS handshake",
            Phase::TlsSession => "TLS session",
            Phase::Mcs => "MCS connect",
            Phase::ChannelJoin => "channel join",
            Phase::SecureSettings => "secure settings exchange (Client Info)",
            Phase::Licensing => "licensing",
            Phase::Capabilities => "capability exchange",
            Phase::Finalization => "connection finalization",
            Phase::Active => "active session",
        })
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}
