//! Named constants of RDP connection setup (MS-RDPBCGR 2.2.1.1–2.2.1.2).

use super::json::{de_flag_names, de_name, parse_dec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A set of RDP security protocols (requestedProtocols), or one selectedProtocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Protocols(pub u32);

impl Protocols {
    /// Standard RDP security (no TLS); the value 0.
    pub const RDP: Protocols = Protocols(0);
    /// TLS.
    pub const SSL: Protocols = Protocols(0x1);
    /// CredSSP (NLA) over TLS.
    pub const HYBRID: Protocols = Protocols(0x2);
    /// RDSTLS over TLS.
    pub const RDSTLS: Protocols = Protocols(0x4);
    /// CredSSP plus the Early User Authorization Result PDU.
    pub const HYBRID_EX: Protocols = Protocols(0x8);
    /// Entra ID (Azure AD) authentication over TLS.
    pub const RDSAAD: Protocols = Protocols(0x10);

    const NAMES: [(u32, &'static str); 5] = [
        (0x1, "SSL"),
        (0x2, "HYBRID"),
        (0x4, "RDSTLS"),
        (0x8, "HYBRID_EX"),
        (0x10, "RDSAAD"),
    ];

    /// True when every bit of `other` is set here (RDP, the empty set, is always contained).
    pub fn contains(self, other: Protocols) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when the protocol runs CredSSP (NLA): HYBRID or HYBRID_EX.
    pub fn is_nla(self) -> bool {
        self.0 & (Self::HYBRID.0 | Self::HYBRID_EX.0) != 0
    }

    /// True when the protocol starts TLS right after the X.224 exchange.
    pub fn uses_tls(self) -> bool {
        self.0 != 0
    }

    /// The protocol names, e.g. `["SSL", "HYBRID"]`; `["RDP"]` for zero.
    pub fn names(self) -> Vec<String> {
        if self.0 == 0 {
            return vec!["RDP".to_string()];
        }
        let mut out = Vec::new();
        let mut known = 0;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                out.push(name.to_string());
                known |= bit;
            }
        }
        if self.0 & !known != 0 {
            out.push(format!("0x{:x}", self.0 & !known));
        }
        out
    }
}

impl fmt::Display for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("|"))
    }
}

impl Serialize for Protocols {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Protocols {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_flag_names(d, &Self::NAMES, Some("RDP")).map(Protocols)
    }
}

/// RDP_NEG_FAILURE failureCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NegFailureCode {
    /// 1: the client offered only standard RDP security; the server demands TLS.
    SslRequiredByServer,
    /// 2: the server allows only standard RDP security.
    SslNotAllowedByServer,
    /// 3: the server has no usable TLS certificate.
    SslCertNotOnServer,
    /// 4: the requestedProtocols combination is invalid.
    InconsistentFlags,
    /// 5: the server requires NLA (CredSSP) and the client did not offer it.
    HybridRequiredByServer,
    /// 6: the server requires TLS with client-certificate authentication.
    SslWithUserAuthRequiredByServer,
    /// Any other value.
    Other(u32),
}

/// (code, name, meaning) of every failureCode MS-RDPBCGR defines, in code order.
#[rustfmt::skip]
const NEG_FAILURES: [(NegFailureCode, u32, &str, &str); 6] = [
    (NegFailureCode::SslRequiredByServer, 1, "SSL_REQUIRED_BY_SERVER",
        "the server demands TLS but the client offered only standard RDP security"),
    (NegFailureCode::SslNotAllowedByServer, 2, "SSL_NOT_ALLOWED_BY_SERVER",
        "the server allows only standard RDP security but the client demanded TLS or NLA"),
    (NegFailureCode::SslCertNotOnServer, 3, "SSL_CERT_NOT_ON_SERVER",
        "the server has no usable TLS certificate"),
    (NegFailureCode::InconsistentFlags, 4, "INCONSISTENT_FLAGS",
        "the client's requested protocols are an invalid combination"),
    (NegFailureCode::HybridRequiredByServer, 5, "HYBRID_REQUIRED_BY_SERVER",
        "the server requires NLA (CredSSP) but the client did not offer it"),
    (NegFailureCode::SslWithUserAuthRequiredByServer, 6, "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
        "the server requires TLS with client-certificate authentication"),
];

/// How an undefined failureCode is named, before its number.
const UNKNOWN_FAILURE: &str = "unknown failure code ";

impl NegFailureCode {
    /// Decode the wire value.
    pub fn from_u32(v: u32) -> Self {
        NEG_FAILURES
            .iter()
            .find(|f| f.1 == v)
            .map_or(Self::Other(v), |f| f.0)
    }

    /// This code's row of the table; None for Other.
    fn row(self) -> Option<&'static (NegFailureCode, u32, &'static str, &'static str)> {
        NEG_FAILURES.iter().find(|f| f.0 == self)
    }

    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            Self::Other(o) => o,
            // Every named variant has a row; the table test checks it.
            named => named.row().map_or(0, |f| f.1),
        }
    }

    /// The constant's name from MS-RDPBCGR.
    pub fn name(self) -> String {
        match self.row() {
            Some(f) => f.2.to_string(),
            None => format!("{UNKNOWN_FAILURE}{}", self.code()),
        }
    }

    /// The code a [`NegFailureCode::name`] stands for.
    pub fn from_name(s: &str) -> Option<Self> {
        if let Some(n) = s.strip_prefix(UNKNOWN_FAILURE) {
            // Written only for Other; kept as Other so the name reads back the same.
            return parse_dec(n).map(Self::Other);
        }
        NEG_FAILURES.iter().find(|f| f.2 == s).map(|f| f.0)
    }

    /// What the code means, in plain English.
    pub fn meaning(self) -> &'static str {
        self.row()
            .map_or("a failure code not defined by MS-RDPBCGR", |f| f.3)
    }
}

impl fmt::Display for NegFailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.meaning())
    }
}

impl Serialize for NegFailureCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for NegFailureCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "failure code", Self::from_name)
    }
}

/// Renders a flags byte as names, with unknown bits in hex.
pub fn flag_names(value: u32, table: &[(u32, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut known = 0;
    for &(bit, name) in table {
        if value & bit != 0 {
            out.push(name.to_string());
            known |= bit;
        }
    }
    if value & !known != 0 {
        out.push(format!("0x{:x}", value & !known));
    }
    out
}

/// RDP_NEG_REQ flags.
pub const NEG_REQ_FLAGS: &[(u32, &str)] = &[
    (0x01, "RESTRICTED_ADMIN_MODE_REQUIRED"),
    (0x02, "REDIRECTED_AUTHENTICATION_MODE_REQUIRED"),
    (0x08, "CORRELATION_INFO_PRESENT"),
];

/// RDP_NEG_RSP flags.
pub const NEG_RSP_FLAGS: &[(u32, &str)] = &[
    (0x01, "EXTENDED_CLIENT_DATA_SUPPORTED"),
    (0x02, "DYNVC_GFX_PROTOCOL_SUPPORTED"),
    (0x04, "NEGRSP_FLAG_RESERVED"),
    (0x08, "RESTRICTED_ADMIN_MODE_SUPPORTED"),
    (0x10, "REDIRECTED_AUTHENTICATION_MODE_SUPPORTED"),
];

/// The RDP version number carried in client/server core data (TS_UD_CS_CORE/SC_CORE),
/// e.g. "RDP 10.7"; unknown values are shown in hex.
pub fn rdp_version_name(v: u32) -> String {
    let name = match v {
        0x0008_0001 => "RDP 4.0",
        // One value covers every release from 5.0 to 8.1, so keep the raw value visible.
        0x0008_0004 => "RDP 5.0+ (0x00080004)",
        0x0008_0005 => "RDP 10.0",
        0x0008_0006 => "RDP 10.1",
        0x0008_0007 => "RDP 10.2",
        0x0008_0008 => "RDP 10.3",
        0x0008_0009 => "RDP 10.4",
        0x0008_000A => "RDP 10.5",
        0x0008_000B => "RDP 10.6",
        0x0008_000C => "RDP 10.7",
        0x0008_000D => "RDP 10.8",
        0x0008_000E => "RDP 10.9",
        0x0008_000F => "RDP 10.10",
        0x0008_0010 => "RDP 10.11",
        0x0008_0011 => "RDP 10.12",
        _ => return format!("unknown RDP version 0x{v:08x}"),
    };
    name.to_string()
}

/// T.125 Connect-Response `Result` names, indexed by value.
pub const MCS_RESULTS: [&str; 16] = [
    "rt-successful",
    "rt-domain-merging",
    "rt-domain-not-hierarchical",
    "rt-no-such-channel",
    "rt-no-such-domain",
    "rt-no-such-user",
    "rt-not-admitted",
    "rt-other-user-id",
    "rt-parameters-unacceptable",
    "rt-token-not-available",
    "rt-token-not-possessed",
    "rt-too-many-channels",
    "rt-too-many-tokens",
    "rt-too-many-users",
    "rt-unspecified-failure",
    "rt-user-rejected",
];

/// How a result T.125 does not define is named, before its number.
const MCS_RESULT_UNKNOWN: &str = "rt-unknown-";

/// The T.125 name of a Connect-Response result, e.g. "rt-successful".
pub fn mcs_result_name(v: u8) -> String {
    match MCS_RESULTS.get(usize::from(v)) {
        Some(n) => (*n).to_string(),
        None => format!("{MCS_RESULT_UNKNOWN}{v}"),
    }
}

/// The result value an [`mcs_result_name`] stands for.
pub fn mcs_result_from_name(s: &str) -> Option<u8> {
    if let Some(n) = s.strip_prefix(MCS_RESULT_UNKNOWN) {
        return parse_dec(n);
    }
    let i = MCS_RESULTS.iter().position(|n| *n == s)?;
    u8::try_from(i).ok()
}

/// T.125 Disconnect Provider Ultimatum `Reason` names, indexed by value.
pub const MCS_REASONS: [&str; 5] = [
    "rn-domain-disconnected",
    "rn-provider-initiated",
    "rn-token-purged",
    "rn-user-requested",
    "rn-channel-purged",
];

/// The T.125 name of a Disconnect Provider Ultimatum reason, e.g. "rn-user-requested".
pub fn mcs_reason_name(v: u8) -> String {
    match MCS_REASONS.get(usize::from(v)) {
        Some(n) => (*n).to_string(),
        None => format!("rn-unknown-{v}"),
    }
}

/// Client core data earlyCapabilityFlags (MS-RDPBCGR 2.2.1.3.2).
pub const EARLY_CAPABILITY_FLAGS: &[(u32, &str)] = &[
    (0x0001, "SUPPORT_ERRINFO_PDU"),
    (0x0002, "WANT_32BPP_SESSION"),
    (0x0004, "SUPPORT_STATUSINFO_PDU"),
    (0x0008, "STRONG_ASYMMETRIC_KEYS"),
    (0x0020, "VALID_CONNECTION_TYPE"),
    (0x0040, "SUPPORT_MONITOR_LAYOUT_PDU"),
    (0x0080, "SUPPORT_NETCHAR_AUTODETECT"),
    (0x0100, "SUPPORT_DYNVC_GFX_PROTOCOL"),
    (0x0200, "SUPPORT_DYNAMIC_TIME_ZONE"),
    (0x0400, "SUPPORT_HEARTBEAT_PDU"),
    (0x0800, "SUPPORT_SKIP_CHANNELJOIN"),
];

/// Renders wire bytes that should be ASCII/ANSI text, keeping at most `max_chars`.
///
/// Invalid UTF-8 becomes U+FFFD and control characters are escaped, so a hostile peer
/// cannot smuggle terminal escapes or newlines into our output.
pub fn wire_text(bytes: &[u8], max_chars: usize) -> String {
    // Look at no more bytes than `max_chars` characters can need (UTF-8 is <= 4 bytes).
    let window = bytes.get(..max_chars.saturating_mul(4)).unwrap_or(bytes);
    escape_chars(String::from_utf8_lossy(window).chars(), max_chars)
}

/// Renders UTF-16LE wire text up to its first NUL, keeping at most `max_chars`.
pub fn utf16_text(bytes: &[u8], max_chars: usize) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|&u| u != 0);
    let chars = char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER));
    escape_chars(chars, max_chars)
}

/// Collects up to `max_chars` characters, escaping control characters.
fn escape_chars(chars: impl Iterator<Item = char>, max_chars: usize) -> String {
    let mut out = String::new();
    for c in chars.take(max_chars) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `max` bytes as space-separated lowercase hex, e.g. "16 03 01".
pub fn hex_prefix(bytes: &[u8], max: usize) -> String {
    let head = bytes.get(..max).unwrap_or(bytes);
    head.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(Protocols(0xb).to_string(), "SSL|HYBRID|HYBRID_EX");
        assert_eq!(Protocols(0).to_string(), "RDP");
        assert_eq!(Protocols(0x41).to_string(), "SSL|0x40");
        assert!(Protocols(0x3).contains(Protocols::HYBRID));
        assert!(Protocols(0x1).contains(Protocols::RDP));
    }

    #[test]
    fn failure_code_names() {
        assert_eq!(
            NegFailureCode::from_u32(2).name(),
            "SSL_NOT_ALLOWED_BY_SERVER"
        );
        assert_eq!(NegFailureCode::from_u32(99).code(), 99);
        for (f, code, name, _) in NEG_FAILURES {
            assert_eq!((f.code(), f.name()), (code, name.to_string()));
            assert_eq!(NegFailureCode::from_u32(code), f);
        }
    }

    #[test]
    fn version_names() {
        assert_eq!(rdp_version_name(0x0008_000C), "RDP 10.7");
        assert_eq!(rdp_version_name(0x0008_0011), "RDP 10.12");
        assert_eq!(rdp_version_name(0x0008_0004), "RDP 5.0+ (0x00080004)");
        assert_eq!(
            rdp_version_name(0x0008_0099),
            "unknown RDP version 0x00080099"
        );
    }

    #[test]
    fn mcs_names() {
        assert_eq!(mcs_result_name(0), "rt-successful");
        assert_eq!(mcs_result_name(15), "rt-user-rejected");
        assert_eq!(mcs_result_name(16), "rt-unknown-16");
        for v in [0, 3, 15, 16, 255] {
            assert_eq!(mcs_result_from_name(&mcs_result_name(v)), Some(v));
        }
        assert_eq!(mcs_result_from_name("rt-unknown-256"), None);
        assert_eq!(mcs_reason_name(3), "rn-user-requested");
        assert_eq!(mcs_reason_name(7), "rn-unknown-7");
    }

    #[test]
    fn text_rendering_is_bounded_and_escaped() {
        assert_eq!(wire_text(b"labuser", 255), "labuser");
        assert_eq!(wire_text(b"a\x1b[2Jb\n", 255), "a\\u{1b}[2Jb\\n");
        assert_eq!(wire_text(&[b'x'; 1000], 255).len(), 255);
        assert_eq!(wire_text(&[0xff, b'a'], 10), "\u{fffd}a");
        let name: Vec<u8> = "PC\u{e9}1"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut padded = name.clone();
        padded.resize(32, 0);
        assert_eq!(utf16_text(&padded, 16), "PC\u{e9}1");
        assert_eq!(utf16_text(&[0x41, 0x00, 0x00, 0xd8], 16), "A\u{fffd}");
        assert_eq!(utf16_text(&[0x41, 0x00, 0x00, 0x00, 0x42, 0x00], 16), "A");
        assert_eq!(utf16_text(&[0x00, 0xd8, 0x41], 16), "\u{fffd}");
        assert_eq!(hex_prefix(&[0x16, 0x03, 0x01], 16), "16 03 01");
        assert_eq!(hex_prefix(&[0u8; 40], 16).len(), 16 * 3 - 1);
    }
}
