//! X.224 (class 0) connection setup PDUs carried in TPKT: Connection Request/Confirm,
//! Disconnect Request, and the optional preconnection PDU that precedes them.

use super::names::Protocols;
use super::names::NegFailureCode;
use serde::Serialize;

/// What the X.224 decoder saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum X224Event {
    /// The preconnection PDU (Hyper-V / VM connect), sent before X.224.
    PreconnectionPdu {
        /// PDU version (1 or 2).
        version: u32,
        /// The preconnection id.
        id: u32,
        /// The version-2 blob (usually a VM id), if present.
        blob: Option<String>,
    },
    /// The client's Connection Request.
    ConnectionRequest {
        /// The `mstshash=` cookie value (a user or host hint).
        cookie: Option<String>,
        /// A routing token line (load balancer / broker), without its CRLF.
        routing_token: Option<String>,
        /// The RDP_NEG_REQ flags, by name.
        neg_flags: Vec<String>,
        /// requestedProtocols; None when the client sent no RDP_NEG_REQ (legacy client).
        requested_protocols: Option<Protocols>,
        /// The correlation id GUID from RDP_NEG_CORRELATION_INFO.
        correlation_id: Option<String>,
    },
    /// The server's Connection Confirm with an RDP_NEG_RSP (or none: a legacy server).
    ConnectionConfirm {
        /// selectedProtocol; None for a CC without negotiation data (standard RDP security).
        selected_protocol: Option<Protocols>,
        /// The RDP_NEG_RSP flags, by name.
        neg_flags: Vec<String>,
    },
    /// The server's Connection Confirm carrying RDP_NEG_FAILURE.
    NegotiationFailure {
        /// failureCode, by name.
        code: NegFailureCode,
    },
    /// An X.224 Disconnect Request.
    DisconnectRequest,
    /// The first bytes are not TPKT/X.224 (nor a preconnection PDU): not RDP.
    NotRdp {
        /// Up to the first 16 bytes, in hex.
        first_bytes: String,
    },
}
