//! Why a connection to the host could not be made.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why the upstream connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum ConnectError {
    /// The name did not resolve.
    Dns {
        /// The name.
        host: String,
        /// The resolver's error.
        error: String,
    },
    /// The host actively refused (nothing listening, or a firewall rejecting).
    Refused {
        /// The address that refused.
        addr: String,
    },
    /// The host accepted the connection and reset it at once.
    Reset {
        /// The address that reset.
        addr: String,
    },
    /// No answer within the connect timeout.
    Timeout {
        /// The address(es) tried.
        addr: String,
        /// The timeout in milliseconds.
        timeout_ms: u64,
    },
    /// Any other socket error (unreachable network, permission, ...).
    Other {
        /// The address tried.
        addr: String,
        /// The error text.
        error: String,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Dns { host, error } => {
                write!(f, "the name {host} could not be resolved ({error})")
            }
            ConnectError::Refused { addr } => write!(f, "{addr} refused the connection"),
            ConnectError::Reset { addr } => {
                write!(f, "{addr} accepted the connection and reset it at once")
            }
            ConnectError::Timeout { addr, timeout_ms } => {
                write!(f, "{addr} did not answer within {timeout_ms} ms")
            }
            ConnectError::Other { addr, error } => {
                write!(f, "connecting to {addr} failed: {error}")
            }
        }
    }
}
