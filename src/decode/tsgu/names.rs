//! Flag sets carried in MS-TSGU packets: extended authentication, capabilities and
//! device-redirection flags.
//!
//! Each is a newtype over the wire value so unknown bits survive a round trip; they
//! render as `NAME|NAME` and serialise as `{"names": [...], "raw": "0x…"}`, which reads
//! back by `raw` (or by the names when `raw` is missing).

use crate::decode::json::{flags_from_names, parse_hex};
use crate::decode::names::flag_names;
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Serialises a flag set as its names plus the raw value in hex.
fn serialize_flags<S: Serializer>(
    s: S,
    kind: &'static str,
    names: Vec<String>,
    raw: String,
) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct(kind, 2)?;
    st.serialize_field("names", &names)?;
    st.serialize_field("raw", &raw)?;
    st.end()
}

/// A flag set as written by [`serialize_flags`].
#[derive(Deserialize)]
struct WrittenFlags {
    names: Option<Vec<String>>,
    raw: Option<String>,
}

/// Reads a flag set back: `raw` when written, else its names against `table`.
fn deserialize_flags<'de, D: Deserializer<'de>>(
    d: D,
    table: &[(u32, &str)],
) -> Result<u32, D::Error> {
    let w = WrittenFlags::deserialize(d)?;
    match (w.raw, w.names) {
        (Some(raw), _) => {
            parse_hex(&raw).ok_or_else(|| D::Error::custom(format!("bad raw flags '{raw}'")))
        }
        (None, Some(names)) => {
            flags_from_names(&names, table, Some("NONE")).map_err(D::Error::custom)
        }
        (None, None) => Err(D::Error::custom("flags with neither raw value nor names")),
    }
}

/// HTTP_EXTENDED_AUTH: the extra authentication method offered in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtendedAuth(pub u16);

impl ExtendedAuth {
    /// No extended authentication (HTTP-level auth only).
    pub const NONE: ExtendedAuth = ExtendedAuth(0x0);
    /// Smart-card authentication.
    pub const SC: ExtendedAuth = ExtendedAuth(0x1);
    /// Pluggable authentication: the PAA cookie travels in TUNNEL_CREATE.
    pub const PAA: ExtendedAuth = ExtendedAuth(0x2);
    /// NTLM carried in EXTENDED_AUTH_MSG packets.
    pub const SSPI_NTLM: ExtendedAuth = ExtendedAuth(0x4);
    /// Bearer token (FreeRDP's value for Entra/AVD; not in the published spec).
    pub const BEARER: ExtendedAuth = ExtendedAuth(0x8);

    const NAMES: [(u32, &'static str); 4] = [
        (0x1, "SC"),
        (0x2, "PAA"),
        (0x4, "SSPI_NTLM"),
        (0x8, "BEARER"),
    ];

    /// True when every bit of `other` is set here.
    pub fn contains(self, other: ExtendedAuth) -> bool {
        self.0 & other.0 == other.0
    }

    /// The method names, e.g. `["PAA"]`; `["NONE"]` for zero, unknown bits in hex.
    pub fn names(self) -> Vec<String> {
        if self.0 == 0 {
            return vec!["NONE".to_string()];
        }
        flag_names(u32::from(self.0), &Self::NAMES)
    }
}

impl fmt::Display for ExtendedAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("|"))
    }
}

impl Serialize for ExtendedAuth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flags(s, "ExtendedAuth", self.names(), format!("0x{:x}", self.0))
    }
}

impl<'de> Deserialize<'de> for ExtendedAuth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = deserialize_flags(d, &Self::NAMES)?;
        u16::try_from(v)
            .map(ExtendedAuth)
            .map_err(|_| D::Error::custom(format!("extended auth 0x{v:x} is wider than 16 bits")))
    }
}

/// HTTP_CAPABILITY_TYPE flags offered in TUNNEL_CREATE and granted in TUNNEL_RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Caps(pub u32);

impl Caps {
    /// Statement-of-health (NAP quarantine) support.
    pub const QUAR_SOH: Caps = Caps(0x1);
    /// Idle timeout support.
    pub const IDLE_TIMEOUT: Caps = Caps(0x2);
    /// The consent (logon) message the user must accept.
    pub const MESSAGING_CONSENT_SIGN: Caps = Caps(0x4);
    /// Administrative service messages.
    pub const MESSAGING_SERVICE_MSG: Caps = Caps(0x8);
    /// Reauthentication support.
    pub const REAUTH: Caps = Caps(0x10);
    /// The UDP side channel.
    pub const UDP_TRANSPORT: Caps = Caps(0x20);

    const NAMES: [(u32, &'static str); 6] = [
        (0x1, "QUAR_SOH"),
        (0x2, "IDLE_TIMEOUT"),
        (0x4, "MESSAGING_CONSENT_SIGN"),
        (0x8, "MESSAGING_SERVICE_MSG"),
        (0x10, "REAUTH"),
        (0x20, "UDP_TRANSPORT"),
    ];

    /// True when every bit of `other` is set here.
    pub fn contains(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    pub fn union(self, other: Caps) -> Caps {
        Caps(self.0 | other.0)
    }

    /// The capability names; `["NONE"]` for zero, unknown bits in hex.
    pub fn names(self) -> Vec<String> {
        if self.0 == 0 {
            return vec!["NONE".to_string()];
        }
        flag_names(self.0, &Self::NAMES)
    }
}

impl fmt::Display for Caps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("|"))
    }
}

impl Serialize for Caps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flags(s, "Caps", self.names(), format!("0x{:x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Caps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_flags(d, &Self::NAMES).map(Caps)
    }
}

/// HTTP_TUNNEL_REDIR_FLAGS: which device redirections the gateway allows.
///
/// Apart from ENABLE_ALL, each bit *disables* one kind of redirection, so the names
/// carry a `DISABLE_` prefix when rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RedirFlags(pub u32);

impl RedirFlags {
    /// Every redirection is allowed.
    pub const ENABLE_ALL: RedirFlags = RedirFlags(0x8000_0000);
    /// Every redirection is disabled.
    pub const DISABLE_ALL: RedirFlags = RedirFlags(0x4000_0000);
    /// Drive redirection is disabled.
    pub const DRIVE: RedirFlags = RedirFlags(0x1);
    /// Printer redirection is disabled.
    pub const PRINTER: RedirFlags = RedirFlags(0x2);
    /// Serial/parallel port redirection is disabled.
    pub const PORT: RedirFlags = RedirFlags(0x4);
    /// Clipboard redirection is disabled.
    pub const CLIPBOARD: RedirFlags = RedirFlags(0x8);
    /// Plug-and-play device redirection is disabled.
    pub const PNP: RedirFlags = RedirFlags(0x10);

    const NAMES: [(u32, &'static str); 7] = [
        (0x8000_0000, "ENABLE_ALL"),
        (0x4000_0000, "DISABLE_ALL"),
        (0x1, "DISABLE_DRIVE"),
        (0x2, "DISABLE_PRINTER"),
        (0x4, "DISABLE_PORT"),
        (0x8, "DISABLE_CLIPBOARD"),
        (0x10, "DISABLE_PNP"),
    ];

    /// True when every bit of `other` is set here.
    pub fn contains(self, other: RedirFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    pub fn union(self, other: RedirFlags) -> RedirFlags {
        RedirFlags(self.0 | other.0)
    }

    /// The flag names; `["NONE"]` for zero, unknown bits in hex.
    pub fn names(self) -> Vec<String> {
        if self.0 == 0 {
            return vec!["NONE".to_string()];
        }
        flag_names(self.0, &Self::NAMES)
    }
}

impl fmt::Display for RedirFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("|"))
    }
}

impl Serialize for RedirFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flags(s, "RedirFlags", self.names(), format!("0x{:x}", self.0))
    }
}

impl<'de> Deserialize<'de> for RedirFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_flags(d, &Self::NAMES).map(RedirFlags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_unknown_bits() {
        assert_eq!(ExtendedAuth(0).to_string(), "NONE");
        assert_eq!(ExtendedAuth(0x6).to_string(), "PAA|SSPI_NTLM");
        assert_eq!(ExtendedAuth(0x18).to_string(), "BEARER|0x10");
        assert_eq!(
            Caps(0xd).to_string(),
            "QUAR_SOH|MESSAGING_CONSENT_SIGN|MESSAGING_SERVICE_MSG"
        );
        assert_eq!(
            RedirFlags(0x8000_0009).to_string(),
            "ENABLE_ALL|DISABLE_DRIVE|DISABLE_CLIPBOARD"
        );
        assert!(Caps(0x3f).contains(Caps::UDP_TRANSPORT));
        assert_eq!(Caps::QUAR_SOH.union(Caps::REAUTH), Caps(0x11));
    }

    #[test]
    fn serialises_names_and_raw() {
        let v = serde_json::to_value(Caps(0x5 | 0x100)).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"names": ["QUAR_SOH", "MESSAGING_CONSENT_SIGN", "0x100"], "raw": "0x105"})
        );
        let v = serde_json::to_value(ExtendedAuth::NONE).unwrap_or_default();
        assert_eq!(v, serde_json::json!({"names": ["NONE"], "raw": "0x0"}));
    }
}
