//! The phases of a direct RDP connection, in the order they happen.

use serde::{Serialize, Serializer};
use std::fmt;

/// How far a connection got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Accepting the client and dialling the host.
    TcpConnect,
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
