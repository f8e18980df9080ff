//! Named values carried by MCS events: T.125 results, RDP encryption levels and methods,
//! and channel names.
//!
//! Each type keeps the raw wire value (so nothing is lost on an unknown value) and
//! renders a name for the event file and plain English for people.

use crate::decode::json::{de_flag_names, de_name, parse_dec};
use crate::decode::names;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A T.125 `Result` (Connect-Response, Attach User Confirm, Channel Join Confirm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct McsResult(pub u8);

impl McsResult {
    /// rt-successful, the only value that lets a connection go on.
    pub const SUCCESSFUL: McsResult = McsResult(0);

    /// The raw wire value.
    pub fn code(self) -> u8 {
        self.0
    }

    /// True for rt-successful.
    pub fn is_success(self) -> bool {
        self.0 == 0
    }

    /// The T.125 name, e.g. "rt-no-such-channel".
    pub fn name(self) -> String {
        names::mcs_result_name(self.0)
    }

    /// The result a [`McsResult::name`] stands for.
    pub fn from_name(s: &str) -> Option<McsResult> {
        names::mcs_result_from_name(s).map(McsResult)
    }

    /// What the result means, in plain English.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            0 => "the request succeeded",
            1 => "the domain is being merged",
            2 => "the domain is not hierarchical",
            3 => "no such channel",
            4 => "no such domain",
            5 => "no such user",
            6 => "not admitted to the domain",
            7 => "the user id belongs to another user",
            8 => "the domain parameters are unacceptable",
            9 => "the token is not available",
            10 => "the token is not possessed",
            11 => "too many channels",
            12 => "too many tokens",
            13 => "too many users",
            14 => "unspecified failure",
            15 => "the user was rejected",
            _ => "a result not defined by T.125",
        }
    }
}

impl fmt::Display for McsResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.meaning())
    }
}

impl Serialize for McsResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for McsResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "MCS result", Self::from_name)
    }
}

/// Server security data encryptionLevel (MS-RDPBCGR 2.2.1.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptionLevel(pub u32);

impl EncryptionLevel {
    /// ENCRYPTION_LEVEL_NONE: nothing is encrypted (also what TLS-based connections say).
    pub const NONE: EncryptionLevel = EncryptionLevel(0);
    /// ENCRYPTION_LEVEL_LOW: only client-to-server data is encrypted.
    pub const LOW: EncryptionLevel = EncryptionLevel(1);
    /// ENCRYPTION_LEVEL_CLIENT_COMPATIBLE: both ways, with the client's strongest method.
    pub const CLIENT_COMPATIBLE: EncryptionLevel = EncryptionLevel(2);
    /// ENCRYPTION_LEVEL_HIGH: both ways, with the server's strongest method.
    pub const HIGH: EncryptionLevel = EncryptionLevel(3);
    /// ENCRYPTION_LEVEL_FIPS: both ways, with FIPS 140-1 validated methods.
    pub const FIPS: EncryptionLevel = EncryptionLevel(4);

    /// The raw wire value.
    pub fn code(self) -> u32 {
        self.0
    }

    /// This level's row of [`LEVELS`], if it is a defined one.
    fn row(self) -> Option<&'static (u32, &'static str, &'static str)> {
        LEVELS.iter().find(|l| l.0 == self.0)
    }

    /// The constant's name without its prefix, e.g. "HIGH".
    pub fn name(self) -> String {
        match self.row() {
            Some(l) => l.1.to_string(),
            None => format!("{UNKNOWN_LEVEL}{}", self.0),
        }
    }

    /// The level an [`EncryptionLevel::name`] stands for.
    pub fn from_name(s: &str) -> Option<EncryptionLevel> {
        if let Some(n) = s.strip_prefix(UNKNOWN_LEVEL) {
            return parse_dec(n).map(EncryptionLevel);
        }
        LEVELS
            .iter()
            .find(|l| l.1 == s)
            .map(|l| EncryptionLevel(l.0))
    }

    /// What the level means, in plain English.
    pub fn meaning(self) -> &'static str {
        self.row()
            .map_or("a level not defined by MS-RDPBCGR", |l| l.2)
    }
}

/// (encryptionLevel, name, meaning) of every level MS-RDPBCGR defines.
const LEVELS: [(u32, &str, &str); 5] = [
    (0, "NONE", "no encryption"),
    (1, "LOW", "only client-to-server data is encrypted"),
    (
        2,
        "CLIENT_COMPATIBLE",
        "encrypted both ways with the strongest method the client supports",
    ),
    (
        3,
        "HIGH",
        "encrypted both ways with the server's strongest method",
    ),
    (
        4,
        "FIPS",
        "encrypted both ways with FIPS 140-1 validated methods",
    ),
];

/// How an undefined encryptionLevel is named, before its number.
const UNKNOWN_LEVEL: &str = "unknown encryption level ";

impl fmt::Display for EncryptionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.meaning())
    }
}

impl Serialize for EncryptionLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for EncryptionLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "encryption level", Self::from_name)
    }
}

/// RDP encryption methods: a set in client security data, one value in the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptionMethods(pub u32);

impl EncryptionMethods {
    /// No encryption (the value 0).
    pub const NONE: EncryptionMethods = EncryptionMethods(0);
    /// 40-bit RC4 with a salted key.
    pub const BIT40: EncryptionMethods = EncryptionMethods(0x01);
    /// 128-bit RC4.
    pub const BIT128: EncryptionMethods = EncryptionMethods(0x02);
    /// 56-bit RC4 with a salted key.
    pub const BIT56: EncryptionMethods = EncryptionMethods(0x08);
    /// Triple DES with SHA-1 MACs (FIPS 140-1).
    pub const FIPS: EncryptionMethods = EncryptionMethods(0x10);

    const NAMES: &'static [(u32, &'static str)] = &[
        (0x01, "40BIT"),
        (0x02, "128BIT"),
        (0x08, "56BIT"),
        (0x10, "FIPS"),
    ];

    /// The raw wire value.
    pub fn code(self) -> u32 {
        self.0
    }

    /// The method names, e.g. `["128BIT", "FIPS"]`; `["NONE"]` for zero.
    pub fn names(self) -> Vec<String> {
        if self.0 == 0 {
            return vec!["NONE".to_string()];
        }
        names::flag_names(self.0, Self::NAMES)
    }
}

impl fmt::Display for EncryptionMethods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("|"))
    }
}

impl Serialize for EncryptionMethods {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EncryptionMethods {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_flag_names(d, Self::NAMES, Some("NONE")).map(EncryptionMethods)
    }
}

/// What an MCS channel is for, as the connect PDUs and the attach set it up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelName {
    /// The I/O (global) channel, which carries the RDP PDUs.
    Io,
    /// The user's own channel, from Attach User Confirm.
    User,
    /// The message channel (auto-detect and multitransport PDUs).
    Message,
    /// A static virtual channel, by the name the client gave it, e.g. "rdpdr".
    Virtual(String),
}

/// The names of the channels that are not virtual channels.
const FIXED_CHANNELS: [(ChannelName, &str); 3] = [
    (ChannelName::Io, "I/O"),
    (ChannelName::User, "user"),
    (ChannelName::Message, "message"),
];

impl ChannelName {
    /// The channel a written name stands for: a fixed channel's, or a virtual one.
    ///
    /// A virtual channel the client named "user", "message" or "I/O" reads back as
    /// that fixed channel: the written name alone cannot tell them apart.
    pub fn from_name(s: &str) -> ChannelName {
        FIXED_CHANNELS
            .iter()
            .find(|(_, n)| *n == s)
            .map_or_else(|| ChannelName::Virtual(s.to_string()), |(c, _)| c.clone())
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelName::Virtual(n) => f.write_str(n),
            fixed => f.write_str(
                FIXED_CHANNELS
                    .iter()
                    .find(|(c, _)| c == fixed)
                    .map_or("", |(_, n)| n),
            ),
        }
    }
}

impl Serialize for ChannelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| ChannelName::from_name(&s))
    }
}

/// A channel id with its name when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The MCS channel id.
    pub id: u16,
    /// What the channel is for; None for an id no connect PDU set up.
    pub name: Option<ChannelName>,
}

/// A channel whose join the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChannel {
    /// The MCS channel id the client asked for.
    pub id: u16,
    /// What the channel is for, when known.
    pub name: Option<ChannelName>,
    /// The T.125 result name.
    pub result: McsResult,
    /// The raw result value.
    pub result_code: u8,
}

/// One CHANNEL_DEF from the client network data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelDef {
    /// The channel name, e.g. "cliprdr".
    pub name: String,
    /// The option flags, by name (CHANNEL_OPTION_ prefix dropped).
    pub options: Vec<String>,
    /// The raw option flags.
    pub options_code: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(
            McsResult(0).to_string(),
            "rt-successful (the request succeeded)"
        );
        assert_eq!(McsResult(3).name(), "rt-no-such-channel");
        assert!(McsResult::SUCCESSFUL.is_success() && !McsResult(14).is_success());
        assert_eq!(McsResult(99).name(), "rt-unknown-99");
        assert_eq!(EncryptionLevel::FIPS.name(), "FIPS");
        assert_eq!(EncryptionLevel(2).name(), "CLIENT_COMPATIBLE");
        assert_eq!(EncryptionLevel(9).name(), "unknown encryption level 9");
        assert_eq!(EncryptionLevel::NONE.to_string(), "NONE (no encryption)");
        assert_eq!(
            EncryptionMethods(0x1b).to_string(),
            "40BIT|128BIT|56BIT|FIPS"
        );
        assert_eq!(EncryptionMethods::NONE.names(), vec!["NONE"]);
        assert_eq!(EncryptionMethods(0x102).names(), vec!["128BIT", "0x100"]);
        assert_eq!(ChannelName::Io.to_string(), "I/O");
        assert_eq!(ChannelName::Virtual("rdpdr".into()).to_string(), "rdpdr");
    }

    #[test]
    fn serialized_forms() {
        let r = RefusedChannel {
            id: 1004,
            name: Some(ChannelName::Virtual("cliprdr".into())),
            result: McsResult(3),
            result_code: 3,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"id":1004,"name":"cliprdr","result":"rt-no-such-channel","result_code":3}"#
        );
        assert_eq!(
            serde_json::to_string(&EncryptionMethods(0x12)).unwrap(),
            r#"["128BIT","FIPS"]"#
        );
        assert_eq!(
            serde_json::to_string(&EncryptionLevel::HIGH).unwrap(),
            r#""HIGH""#
        );
        let c = ChannelRef {
            id: 1003,
            name: Some(ChannelName::Io),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"id":1003,"name":"I/O"}"#
        );
    }
}
