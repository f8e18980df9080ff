//! MCS/GCC (T.125/T.124) Connect Initial and Connect Response, as seen in the clear under
//! standard RDP security.

use super::names::Protocols;
use serde::Serialize;

/// What the MCS decoder saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum McsEvent {
    /// MCS Connect Initial with the client's GCC user data.
    ConnectInitial {
        /// The client core data RDP version, e.g. "RDP 10.7" (raw value if unknown).
        client_version: Option<String>,
        /// The client core data's desktop size.
        desktop_width: Option<u16>,
        /// The client core data's desktop size.
        desktop_height: Option<u16>,
        /// The client's computer name.
        client_name: Option<String>,
        /// serverSelectedProtocol echoed in the client core data.
        server_selected_protocol: Option<Protocols>,
        /// Static virtual channel names from the client network data.
        channels: Vec<String>,
    },
    /// MCS Connect Response with the server's GCC user data.
    ConnectResponse {
        /// The T.125 result name, e.g. "rt-successful".
        result: String,
        /// The raw result value (0 is success).
        result_code: u8,
        /// The server core data RDP version.
        server_version: Option<String>,
        /// clientRequestedProtocols echoed in the server core data.
        client_requested_protocols: Option<Protocols>,
    },
    /// An MCS Disconnect Provider Ultimatum.
    DisconnectProviderUltimatum {
        /// The reason name, e.g. "rn-user-requested".
        reason: String,
    },
}
