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
    /// MCS connect, seen in the clear under standard RDP security.
    Mcs,
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
        })
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}
