//! WebSocket close status codes (RFC 6455 7.4).

use serde::{Serialize, Serializer};
use std::fmt;

/// A close frame's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000.
    NormalClosure,
    /// 1001: an endpoint is going away (server shutdown, browser navigating).
    GoingAway,
    /// 1002.
    ProtocolError,
    /// 1003.
    UnsupportedData,
    /// 1005: no status code (must never be sent).
    NoStatus,
    /// 1006: closed without a close frame (must never be sent).
    Abnormal,
    /// 1007: payload not consistent with the message type (e.g. bad UTF-8).
    InvalidPayload,
    /// 1008.
    PolicyViolation,
    /// 1009.
    MessageTooBig,
    /// 1010: the client needed an extension the server did not negotiate.
    MandatoryExtension,
    /// 1011: the server hit an unexpected condition.
    InternalError,
    /// Any other code.
    Other(u16),
}

impl CloseCode {
    /// Decodes the wire value.
    pub fn from_u16(v: u16) -> CloseCode {
        match v {
            1000 => CloseCode::NormalClosure,
            1001 => CloseCode::GoingAway,
            1002 => CloseCode::ProtocolError,
            1003 => CloseCode::UnsupportedData,
            1005 => CloseCode::NoStatus,
            1006 => CloseCode::Abnormal,
            1007 => CloseCode::InvalidPayload,
            1008 => CloseCode::PolicyViolation,
            1009 => CloseCode::MessageTooBig,
            1010 => CloseCode::MandatoryExtension,
            1011 => CloseCode::InternalError,
            o => CloseCode::Other(o),
        }
    }

    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::NormalClosure => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::UnsupportedData => 1003,
            CloseCode::NoStatus => 1005,
            CloseCode::Abnormal => 1006,
            CloseCode::InvalidPayload => 1007,
            CloseCode::PolicyViolation => 1008,
            CloseCode::MessageTooBig => 1009,
            CloseCode::MandatoryExtension => 1010,
            CloseCode::InternalError => 1011,
            CloseCode::Other(o) => o,
        }
    }

    /// True for codes RFC 6455 forbids in a close frame (below 1000, 1004–1006, 1015).
    pub fn forbidden_on_wire(self) -> bool {
        matches!(self.code(), 0..=999 | 1004..=1006 | 1015)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseCode::NormalClosure => f.write_str("normal closure"),
            CloseCode::GoingAway => f.write_str("going away"),
            CloseCode::ProtocolError => f.write_str("protocol error"),
            CloseCode::UnsupportedData => f.write_str("unsupported data"),
            CloseCode::NoStatus => f.write_str("no status code"),
            CloseCode::Abnormal => f.write_str("abnormal closure"),
            CloseCode::InvalidPayload => f.write_str("invalid payload data"),
            CloseCode::PolicyViolation => f.write_str("policy violation"),
            CloseCode::MessageTooBig => f.write_str("message too big"),
            CloseCode::MandatoryExtension => f.write_str("missing mandatory extension"),
            CloseCode::InternalError => f.write_str("server error"),
            CloseCode::Other(o) => write!(f, "close code {o}"),
        }
    }
}

impl Serialize for CloseCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_render() {
        for c in [
            1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 4000,
        ] {
            assert_eq!(CloseCode::from_u16(c).code(), c);
        }
        assert_eq!(CloseCode::from_u16(1011).to_string(), "server error");
        assert_eq!(CloseCode::from_u16(4321).to_string(), "close code 4321");
        assert!(CloseCode::Abnormal.forbidden_on_wire());
        assert!(!CloseCode::NormalClosure.forbidden_on_wire());
        assert_eq!(
            serde_json::to_value(CloseCode::GoingAway).unwrap_or_default(),
            "going away"
        );
    }
}
