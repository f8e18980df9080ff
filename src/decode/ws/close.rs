//! WebSocket close status codes (RFC 6455 7.4).

use crate::decode::json::{de_name, parse_dec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

/// (code, value, plain English) of every code RFC 6455 names.
const CODES: [(CloseCode, u16, &str); 11] = [
    (CloseCode::NormalClosure, 1000, "normal closure"),
    (CloseCode::GoingAway, 1001, "going away"),
    (CloseCode::ProtocolError, 1002, "protocol error"),
    (CloseCode::UnsupportedData, 1003, "unsupported data"),
    (CloseCode::NoStatus, 1005, "no status code"),
    (CloseCode::Abnormal, 1006, "abnormal closure"),
    (CloseCode::InvalidPayload, 1007, "invalid payload data"),
    (CloseCode::PolicyViolation, 1008, "policy violation"),
    (CloseCode::MessageTooBig, 1009, "message too big"),
    (
        CloseCode::MandatoryExtension,
        1010,
        "missing mandatory extension",
    ),
    (CloseCode::InternalError, 1011, "server error"),
];

/// How any other code is written, before its number.
const OTHER_CODE: &str = "close code ";

impl CloseCode {
    /// Decodes the wire value.
    pub fn from_u16(v: u16) -> CloseCode {
        CODES
            .iter()
            .find(|c| c.1 == v)
            .map_or(CloseCode::Other(v), |c| c.0)
    }

    /// This code's row of [`CODES`]; None for Other.
    fn row(self) -> Option<&'static (CloseCode, u16, &'static str)> {
        CODES.iter().find(|c| c.0 == self)
    }

    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::Other(o) => o,
            // Every named variant has a row in CODES.
            named => named.row().map_or(0, |c| c.1),
        }
    }

    /// True for codes RFC 6455 forbids in a close frame (below 1000, 1004–1006, 1015).
    pub fn forbidden_on_wire(self) -> bool {
        matches!(self.code(), 0..=999 | 1004..=1006 | 1015)
    }

    /// The code a written description stands for (see `Display`).
    pub fn from_text(s: &str) -> Option<CloseCode> {
        if let Some(n) = s.strip_prefix(OTHER_CODE) {
            // Kept as Other, as written, even for a number that has a name.
            return parse_dec(n).map(CloseCode::Other);
        }
        CODES.iter().find(|c| c.2 == s).map(|c| c.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row() {
            Some(c) => f.write_str(c.2),
            None => write!(f, "{OTHER_CODE}{}", self.code()),
        }
    }
}

impl Serialize for CloseCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CloseCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "close code", Self::from_text)
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
