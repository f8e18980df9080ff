//! The disconnect codes mstsc most likely showed for a verdict.
//!
//! mstsc reports failures as a disconnect reason (discReason, e.g. 0x904 "socket
//! closed") and, when the server sent Set Error Info, an extended reason that mirrors
//! the server's errorInfo (e.g. 0x7, server denied the connection). No public source
//! ties every byte-level event to one code, so each mapping here says whether it was
//! seen on the wire or inferred from the code families mstsc uses.

use crate::decode::names::NegFailureCode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A disconnect code mstsc shows, with what the code means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MstscCode {
    /// discReason, e.g. 0x904.
    #[serde(serialize_with = "hex", deserialize_with = "de_hex")]
    pub disc_reason: u32,
    /// The extended disconnect reason, when the server gave one (its errorInfo).
    #[serde(serialize_with = "hex_opt", deserialize_with = "de_hex_opt")]
    pub extended: Option<u32>,
    /// What the codes mean, in plain English.
    pub meaning: String,
    /// True when the mapping rests on mstsc's code families rather than on a source
    /// that ties this event to this code.
    pub inferred: bool,
}

fn hex<S: serde::Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{v:X}"))
}

fn parse_hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim_start_matches("0x").trim_start_matches("0X"), 16).ok()
}

fn de_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    parse_hex(&s).ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a hex code")))
}

fn de_hex_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_hex(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a hex code"))),
    }
}

fn hex_opt<S: serde::Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("0x{v:X}")),
        None => s.serialize_none(),
    }
}

impl fmt::Display for MstscCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mstsc shows 0x{:X}", self.disc_reason)?;
        if let Some(e) = self.extended {
            write!(f, " / extended 0x{e:X}")?;
        }
        write!(f, " ({})", self.meaning)?;
        if self.inferred {
            f.write_str(" (inferred)")?;
        }
        Ok(())
    }
}

/// discReason 0x904: the client saw its socket closed while it still expected data.
pub const SOCKET_CLOSED: u32 = 0x904;
/// discReason 0x204: the TCP connect failed.
pub const CONNECT_FAILED: u32 = 0x204;
/// discReason 0x108: the connect timed out.
pub const CONNECT_TIMEOUT: u32 = 0x108;
/// discReason 0x104: the name did not resolve.
pub const DNS_FAILED: u32 = 0x104;
/// discReason 0x808: licensing failed.
pub const LICENSING_FAILED: u32 = 0x808;

/// A server that closed after Set Error Info: socket closed, extended = errorInfo.
pub fn after_error_info(code: u32, meaning: &str) -> MstscCode {
    MstscCode {
        disc_reason: SOCKET_CLOSED,
        extended: Some(code),
        meaning: format!("socket closed; {meaning}"),
        inferred: true,
    }
}

/// A server (or the path) that closed without giving a reason.
pub fn socket_closed() -> MstscCode {
    MstscCode {
        disc_reason: SOCKET_CLOSED,
        extended: None,
        meaning: "socket closed".into(),
        inferred: true,
    }
}

/// Licensing failed; `errinfo` is the server's licensing errorInfo, if it sent one.
pub fn licensing(errinfo: Option<u32>) -> MstscCode {
    MstscCode {
        disc_reason: LICENSING_FAILED,
        extended: errinfo,
        meaning: "licensing failed".into(),
        inferred: true,
    }
}

/// The host could not be reached.
pub fn connect(code: u32) -> MstscCode {
    let meaning = match code {
        CONNECT_TIMEOUT => "connection timed out",
        DNS_FAILED => "DNS lookup failed",
        _ => "socket connect failed: the computer is off, not reachable, or Remote Desktop is not enabled",
    };
    MstscCode {
        disc_reason: code,
        extended: None,
        // Through rdptap the client's own connect succeeded, so it saw a closed socket
        // instead; the code is the one the user meets without rdptap.
        meaning: format!("{meaning}; when connecting directly"),
        inferred: false,
    }
}

/// An RDP_NEG_FAILURE: mstsc shows a dialog rather than a code for most of these.
pub fn negotiation(code: NegFailureCode) -> Option<MstscCode> {
    match code {
        NegFailureCode::HybridRequiredByServer => Some(MstscCode {
            disc_reason: 0xB09,
            extended: None,
            meaning: "the remote computer requires Network Level Authentication".into(),
            inferred: true,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_mstsc() {
        let c = after_error_info(7, "the server denied the connection");
        assert_eq!(
            c.to_string(),
            "mstsc shows 0x904 / extended 0x7 (socket closed; the server denied the connection) (inferred)"
        );
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["disc_reason"], "0x904");
        assert_eq!(j["extended"], "0x7");
        assert!(!connect(CONNECT_FAILED).inferred);
    }
}
