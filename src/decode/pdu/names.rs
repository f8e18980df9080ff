//! Named codes and flag sets of the I/O channel PDUs (MS-RDPBCGR 2.2.1–2.2.13).
//!
//! Codes are newtypes over the wire value: `name()` gives the specification's constant,
//! `Display` reads "NAME (meaning)", and JSON carries `{"code": n, "name": "NAME"}` so the
//! raw number survives next to its name. Flag sets keep the raw value and its table.
//! Both read back by their raw value; the name is only needed when the value is missing.

use crate::decode::names::flag_names;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A code as written: `{"code": n, "name": "NAME"}` (other keys, such as a meaning,
/// are ignored).
#[derive(Deserialize)]
pub(crate) struct WrittenCode<T> {
    code: Option<T>,
    name: Option<String>,
}

impl<T> WrittenCode<T> {
    /// The code: the raw value when written, else the value `by_name` finds for the name.
    pub(crate) fn resolve<C>(
        self,
        what: &str,
        raw: impl FnOnce(T) -> C,
        by_name: impl FnOnce(&str) -> Option<C>,
    ) -> Result<C, String> {
        match (self.code, self.name) {
            (Some(code), _) => Ok(raw(code)),
            (None, Some(name)) => by_name(&name).ok_or(format!("unknown {what} '{name}'")),
            (None, None) => Err(format!("a {what} with neither code nor name")),
        }
    }
}

/// Defines a code newtype from a table of (value, NAME, meaning).
macro_rules! code_type {
    (
        $(#[$doc:meta])*
        $ty:ident($int:ty) {
            $($val:literal => $name:literal, $meaning:literal;)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $ty(pub $int);

        impl $ty {
            /// The specification's name for the value, if it is one we know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($name),)*
                    _ => None,
                }
            }

            /// What the value means, in plain English, if it is one we know.
            pub fn meaning(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($meaning),)*
                    _ => None,
                }
            }

            /// The name, or "unknown" for values outside the table.
            pub fn name_or_unknown(self) -> &'static str {
                self.name().unwrap_or("unknown")
            }

            /// The value with this specification name, if it is one we know.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty($val)),)*
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match (self.name(), self.meaning()) {
                    (Some(n), Some(m)) if !m.is_empty() => write!(f, "{n} ({m})"),
                    (Some(n), _) => f.write_str(n),
                    (None, _) => write!(f, "unknown value 0x{:x}", self.0),
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeStruct as _;
                let mut st = s.serialize_struct(stringify!($ty), 2)?;
                st.serialize_field("code", &self.0)?;
                st.serialize_field("name", self.name_or_unknown())?;
                st.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::decode::pdu::names::WrittenCode::<$int>::deserialize(d)?
                    .resolve(stringify!($ty), $ty, Self::from_name)
                    .map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// A flag word as sent, rendered with the names of its bits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// The raw value.
    pub value: u32,
    table: &'static [(u32, &'static str)],
}

impl Flags {
    /// `value` read against `table`.
    pub fn new(value: u32, table: &'static [(u32, &'static str)]) -> Self {
        Flags { value, table }
    }

    /// True when every bit of `bits` is set.
    pub fn contains(self, bits: u32) -> bool {
        self.value & bits == bits
    }

    /// The names of the set bits; unknown bits come last, in hex.
    pub fn names(self) -> Vec<String> {
        flag_names(self.value, self.table)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value == 0 {
            return f.write_str("none");
        }
        f.write_str(&self.names().join("|"))
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags(0x{:x} {})", self.value, self)
    }
}

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Flags", 2)?;
        st.serialize_field("value", &self.value)?;
        st.serialize_field("names", &self.names())?;
        st.end()
    }
}

/// Flags as written: the raw value and the names of its bits.
#[derive(Deserialize)]
struct WrittenFlags {
    value: u32,
    names: Option<Vec<String>>,
}

/// Every table a [`Flags`] is made with, for reading one back without knowing its field.
const FLAG_TABLES: [&[(u32, &str)]; 8] = [
    SEC_FLAGS,
    INFO_FLAGS,
    PERF_FLAGS,
    LB_FLAGS,
    GENERAL_EXTRA_FLAGS,
    COMPRESSION_FLAGS,
    PERSIST_FLAGS,
    LOGON_EX_FLAGS,
];

/// Reads flags back without knowing their table: the first table that names the value
/// as written (with no table, every bit shows in hex).
///
/// A value whose names do not tell (zero, or only unknown bits) may get another table
/// than it was made with; it renders the same. Fields whose table is known use the
/// exact readers below instead.
impl<'de> Deserialize<'de> for Flags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WrittenFlags::deserialize(d)?;
        let table = FLAG_TABLES
            .into_iter()
            .find(|t| w.names.as_ref() == Some(&flag_names(w.value, t)))
            .unwrap_or(&[]);
        Ok(Flags::new(w.value, table))
    }
}

/// Defines the reader of one field's flags, which knows the table they were made with.
macro_rules! flags_reader {
    ($(#[$doc:meta])* $read:ident: $table:ident) => {
        $(#[$doc])*
        pub fn $read<'de, D: Deserializer<'de>>(d: D) -> Result<Flags, D::Error> {
            WrittenFlags::deserialize(d).map(|w| Flags::new(w.value, $table))
        }
    };
    ($(#[$doc:meta])* Option $read:ident: $table:ident) => {
        $(#[$doc])*
        pub fn $read<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Flags>, D::Error> {
            Option::<WrittenFlags>::deserialize(d).map(|w| w.map(|w| Flags::new(w.value, $table)))
        }
    };
}

/// Readers of flag fields, for `#[serde(deserialize_with = "..")]`.
pub mod read_flags {
    use super::*;

    flags_reader!(
        /// Security header flags ([`SEC_FLAGS`]).
        sec: SEC_FLAGS
    );
    flags_reader!(
        /// Client Info flags ([`INFO_FLAGS`]).
        info: INFO_FLAGS
    );
    flags_reader!(
        /// Client Info performance flags ([`PERF_FLAGS`]), when present.
        Option perf: PERF_FLAGS
    );
    flags_reader!(
        /// Server Redirection RedirFlags ([`LB_FLAGS`]).
        lb: LB_FLAGS
    );
    flags_reader!(
        /// General capability extraFlags ([`GENERAL_EXTRA_FLAGS`]), when present.
        Option general_extra: GENERAL_EXTRA_FLAGS
    );
    flags_reader!(
        /// Share Data Header compression flags ([`COMPRESSION_FLAGS`]).
        compression: COMPRESSION_FLAGS
    );
    flags_reader!(
        /// Persistent Key List flags ([`PERSIST_FLAGS`]).
        persist: PERSIST_FLAGS
    );
    flags_reader!(
        /// Save Session Info FieldsPresent ([`LOGON_EX_FLAGS`]), when present.
        Option logon_ex: LOGON_EX_FLAGS
    );
}

/// Basic security header flags (TS_SECURITY_HEADER, MS-RDPBCGR 2.2.8.1.1.2.1).
pub const SEC_FLAGS: &[(u32, &str)] = &[
    (0x0001, "SEC_EXCHANGE_PKT"),
    (0x0002, "SEC_TRANSPORT_REQ"),
    (0x0004, "RDP_SEC_TRANSPORT_RSP"),
    (0x0008, "SEC_ENCRYPT"),
    (0x0010, "SEC_RESET_SEQNO"),
    (0x0020, "SEC_IGNORE_SEQNO"),
    (0x0040, "SEC_INFO_PKT"),
    (0x0080, "SEC_LICENSE_PKT"),
    (0x0200, "SEC_LICENSE_ENCRYPT"),
    (0x0400, "SEC_REDIRECTION_PKT"),
    (0x0800, "SEC_SECURE_CHECKSUM"),
    (0x1000, "SEC_AUTODETECT_REQ"),
    (0x2000, "SEC_AUTODETECT_RSP"),
    (0x4000, "SEC_HEARTBEAT"),
    (0x8000, "SEC_FLAGSHI_VALID"),
];

/// TS_INFO_PACKET flags (MS-RDPBCGR 2.2.1.11.1.1), without the compression type bits.
pub const INFO_FLAGS: &[(u32, &str)] = &[
    (0x0000_0001, "INFO_MOUSE"),
    (0x0000_0002, "INFO_DISABLECTRLALTDEL"),
    (0x0000_0008, "INFO_AUTOLOGON"),
    (0x0000_0010, "INFO_UNICODE"),
    (0x0000_0020, "INFO_MAXIMIZESHELL"),
    (0x0000_0040, "INFO_LOGONNOTIFY"),
    (0x0000_0080, "INFO_COMPRESSION"),
    (0x0000_0100, "INFO_ENABLEWINDOWSKEY"),
    (0x0000_2000, "INFO_REMOTECONSOLEAUDIO"),
    (0x0000_4000, "INFO_FORCE_ENCRYPTED_CS_PDU"),
    (0x0000_8000, "INFO_RAIL"),
    (0x0001_0000, "INFO_LOGONERRORS"),
    (0x0002_0000, "INFO_MOUSE_HAS_WHEEL"),
    (0x0004_0000, "INFO_PASSWORD_IS_SC_PIN"),
    (0x0008_0000, "INFO_NOAUDIOPLAYBACK"),
    (0x0010_0000, "INFO_USING_SAVED_CREDS"),
    (0x0020_0000, "INFO_AUDIOCAPTURE"),
    (0x0040_0000, "INFO_VIDEO_DISABLE"),
    (0x0080_0000, "INFO_RESERVED1"),
    (0x0100_0000, "INFO_RESERVED2"),
    (0x0200_0000, "INFO_HIDEF_RAIL_SUPPORTED"),
];

/// TS_EXTENDED_INFO_PACKET performanceFlags (MS-RDPBCGR 2.2.1.11.1.1.1).
pub const PERF_FLAGS: &[(u32, &str)] = &[
    (0x0000_0001, "PERF_DISABLE_WALLPAPER"),
    (0x0000_0002, "PERF_DISABLE_FULLWINDOWDRAG"),
    (0x0000_0004, "PERF_DISABLE_MENUANIMATIONS"),
    (0x0000_0008, "PERF_DISABLE_THEMING"),
    (0x0000_0010, "PERF_RESERVED1"),
    (0x0000_0020, "PERF_DISABLE_CURSOR_SHADOW"),
    (0x0000_0040, "PERF_DISABLE_CURSORSETTINGS"),
    (0x0000_0080, "PERF_ENABLE_FONT_SMOOTHING"),
    (0x0000_0100, "PERF_ENABLE_DESKTOP_COMPOSITION"),
    (0x8000_0000, "PERF_RESERVED2"),
];

/// RDP_SERVER_REDIRECTION_PACKET RedirFlags (MS-RDPBCGR 2.2.13.1).
pub const LB_FLAGS: &[(u32, &str)] = &[
    (0x0000_0001, "LB_TARGET_NET_ADDRESS"),
    (0x0000_0002, "LB_LOAD_BALANCE_INFO"),
    (0x0000_0004, "LB_USERNAME"),
    (0x0000_0008, "LB_DOMAIN"),
    (0x0000_0010, "LB_PASSWORD"),
    (0x0000_0020, "LB_DONTSTOREUSERNAME"),
    (0x0000_0040, "LB_SMARTCARD_LOGON"),
    (0x0000_0080, "LB_NOREDIRECT"),
    (0x0000_0100, "LB_TARGET_FQDN"),
    (0x0000_0200, "LB_TARGET_NETBIOS_NAME"),
    (0x0000_0800, "LB_TARGET_NET_ADDRESSES"),
    (0x0000_1000, "LB_CLIENT_TSV_URL"),
    (0x0000_2000, "LB_SERVER_TSV_CAPABLE"),
    (0x0000_4000, "LB_PASSWORD_IS_PK_ENCRYPTED"),
    (0x0000_8000, "LB_REDIRECTION_GUID"),
    (0x0001_0000, "LB_TARGET_CERTIFICATE"),
];

/// General capability set extraFlags (MS-RDPBCGR 2.2.7.1.1).
pub const GENERAL_EXTRA_FLAGS: &[(u32, &str)] = &[
    (0x0001, "FASTPATH_OUTPUT_SUPPORTED"),
    (0x0004, "LONG_CREDENTIALS_SUPPORTED"),
    (0x0008, "AUTORECONNECT_SUPPORTED"),
    (0x0010, "ENC_SALTED_CHECKSUM"),
    (0x0400, "NO_BITMAP_COMPRESSION_HDR"),
];

/// Share Data Header compressedType flag bits (MS-RDPBCGR 2.2.8.1.1.1.2).
pub const COMPRESSION_FLAGS: &[(u32, &str)] = &[
    (0x20, "PACKET_COMPRESSED"),
    (0x40, "PACKET_AT_FRONT"),
    (0x80, "PACKET_FLUSHED"),
];

/// Persistent Key List bBitMask (MS-RDPBCGR 2.2.1.17.1).
pub const PERSIST_FLAGS: &[(u32, &str)] =
    &[(0x01, "PERSIST_FIRST_PDU"), (0x02, "PERSIST_LAST_PDU")];

/// Save Session Info extended FieldsPresent (MS-RDPBCGR 2.2.10.1.1.4).
pub const LOGON_EX_FLAGS: &[(u32, &str)] = &[
    (0x01, "LOGON_EX_AUTORECONNECTCOOKIE"),
    (0x02, "LOGON_EX_LOGONERRORS"),
];

code_type! {
    /// Bulk compression type of the Client Info flags or a Share Data Header.
    CompressionType(u8) {
        0 => "PACKET_COMPR_TYPE_8K", "RDP 4.0 bulk compression";
        1 => "PACKET_COMPR_TYPE_64K", "RDP 5.0 bulk compression";
        2 => "PACKET_COMPR_TYPE_RDP6", "RDP 6.0 bulk compression";
        3 => "PACKET_COMPR_TYPE_RDP61", "RDP 6.1 bulk compression";
    }
}

code_type! {
    /// TS_EXTENDED_INFO_PACKET clientAddressFamily.
    AddressFamily(u16) {
        0x0002 => "AF_INET", "IPv4";
        0x0017 => "AF_INET6", "IPv6";
    }
}

code_type! {
    /// Share Control Header PDU type (the low four bits of pduType).
    ShareControlType(u8) {
        0x1 => "PDUTYPE_DEMANDACTIVEPDU", "Demand Active";
        0x3 => "PDUTYPE_CONFIRMACTIVEPDU", "Confirm Active";
        0x6 => "PDUTYPE_DEACTIVATEALLPDU", "Deactivate All";
        0x7 => "PDUTYPE_DATAPDU", "Data PDU";
        0xA => "PDUTYPE_SERVER_REDIR_PKT", "Server Redirection";
    }
}

code_type! {
    /// Share Data Header pduType2.
    DataPduType(u8) {
        0x02 => "PDUTYPE2_UPDATE", "graphics update";
        0x14 => "PDUTYPE2_CONTROL", "control";
        0x1B => "PDUTYPE2_POINTER", "pointer update";
        0x1C => "PDUTYPE2_INPUT", "input events";
        0x1F => "PDUTYPE2_SYNCHRONIZE", "synchronize";
        0x21 => "PDUTYPE2_REFRESH_RECT", "refresh rectangle";
        0x22 => "PDUTYPE2_PLAY_SOUND", "play sound";
        0x23 => "PDUTYPE2_SUPPRESS_OUTPUT", "suppress output";
        0x24 => "PDUTYPE2_SHUTDOWN_REQUEST", "shutdown request";
        0x25 => "PDUTYPE2_SHUTDOWN_DENIED", "shutdown denied";
        0x26 => "PDUTYPE2_SAVE_SESSION_INFO", "save session info";
        0x27 => "PDUTYPE2_FONTLIST", "font list";
        0x28 => "PDUTYPE2_FONTMAP", "font map";
        0x29 => "PDUTYPE2_SET_KEYBOARD_INDICATORS", "keyboard indicators";
        0x2B => "PDUTYPE2_BITMAPCACHE_PERSISTENT_LIST", "persistent bitmap cache key list";
        0x2C => "PDUTYPE2_BITMAPCACHE_ERROR_PDU", "bitmap cache error";
        0x2D => "PDUTYPE2_SET_KEYBOARD_IME_STATUS", "IME status";
        0x2E => "PDUTYPE2_OFFSCRCACHE_ERROR_PDU", "offscreen cache error";
        0x2F => "PDUTYPE2_SET_ERROR_INFO_PDU", "set error info";
        0x30 => "PDUTYPE2_DRAWNINEGRID_ERROR_PDU", "DrawNineGrid cache error";
        0x31 => "PDUTYPE2_DRAWGDIPLUS_ERROR_PDU", "GDI+ error";
        0x32 => "PDUTYPE2_ARC_STATUS_PDU", "auto-reconnect status";
        0x36 => "PDUTYPE2_STATUS_INFO_PDU", "status info";
        0x37 => "PDUTYPE2_MONITOR_LAYOUT_PDU", "monitor layout";
    }
}

code_type! {
    /// Capability set type (capabilitySetType, MS-RDPBCGR 2.2.1.13.1.1.1).
    CapabilitySetType(u16) {
        1 => "CAPSTYPE_GENERAL", "general";
        2 => "CAPSTYPE_BITMAP", "bitmap";
        3 => "CAPSTYPE_ORDER", "drawing orders";
        4 => "CAPSTYPE_BITMAPCACHE", "bitmap cache";
        5 => "CAPSTYPE_CONTROL", "control";
        7 => "CAPSTYPE_ACTIVATION", "window activation";
        8 => "CAPSTYPE_POINTER", "pointer";
        9 => "CAPSTYPE_SHARE", "share";
        10 => "CAPSTYPE_COLORCACHE", "color table cache";
        12 => "CAPSTYPE_SOUND", "sound";
        13 => "CAPSTYPE_INPUT", "input";
        14 => "CAPSTYPE_FONT", "font";
        15 => "CAPSTYPE_BRUSH", "brush";
        16 => "CAPSTYPE_GLYPHCACHE", "glyph cache";
        17 => "CAPSTYPE_OFFSCREENCACHE", "offscreen bitmap cache";
        18 => "CAPSTYPE_BITMAPCACHE_HOSTSUPPORT", "bitmap cache host support";
        19 => "CAPSTYPE_BITMAPCACHE_REV2", "bitmap cache revision 2";
        20 => "CAPSTYPE_VIRTUALCHANNEL", "virtual channels";
        21 => "CAPSTYPE_DRAWNINEGRIDCACHE", "DrawNineGrid cache";
        22 => "CAPSTYPE_DRAWGDIPLUS", "GDI+ drawing";
        23 => "CAPSTYPE_RAIL", "RemoteApp";
        24 => "CAPSTYPE_WINDOW", "RemoteApp windows";
        25 => "CAPSETTYPE_COMPDESK", "desktop composition";
        26 => "CAPSETTYPE_MULTIFRAGMENTUPDATE", "multifragment update";
        27 => "CAPSETTYPE_LARGE_POINTER", "large pointer";
        28 => "CAPSETTYPE_SURFACE_COMMANDS", "surface commands";
        29 => "CAPSETTYPE_BITMAP_CODECS", "bitmap codecs";
        30 => "CAPSSETTYPE_FRAME_ACKNOWLEDGE", "frame acknowledge";
    }
}

code_type! {
    /// General capability set osMajorType.
    OsMajorType(u16) {
        0 => "OSMAJORTYPE_UNSPECIFIED", "unspecified platform";
        1 => "OSMAJORTYPE_WINDOWS", "Windows";
        2 => "OSMAJORTYPE_OS2", "OS/2";
        3 => "OSMAJORTYPE_MACINTOSH", "Macintosh";
        4 => "OSMAJORTYPE_UNIX", "UNIX";
        5 => "OSMAJORTYPE_IOS", "iOS";
        6 => "OSMAJORTYPE_OSX", "macOS";
        7 => "OSMAJORTYPE_ANDROID", "Android";
        8 => "OSMAJORTYPE_CHROME_OS", "Chrome OS";
    }
}

code_type! {
    /// General capability set osMinorType.
    OsMinorType(u16) {
        0 => "OSMINORTYPE_UNSPECIFIED", "unspecified version";
        1 => "OSMINORTYPE_WINDOWS_31X", "Windows 3.1x";
        2 => "OSMINORTYPE_WINDOWS_95", "Windows 95";
        3 => "OSMINORTYPE_WINDOWS_NT", "Windows NT";
        4 => "OSMINORTYPE_OS2_V21", "OS/2 2.1";
        5 => "OSMINORTYPE_POWER_PC", "PowerPC";
        6 => "OSMINORTYPE_MACINTOSH", "Macintosh";
        7 => "OSMINORTYPE_NATIVE_XSERVER", "native X server";
        8 => "OSMINORTYPE_PSEUDO_XSERVER", "pseudo X server";
        9 => "OSMINORTYPE_WINDOWS_RT", "Windows RT";
    }
}

code_type! {
    /// Control PDU action.
    ControlAction(u16) {
        1 => "CTRLACTION_REQUEST_CONTROL", "request control";
        2 => "CTRLACTION_GRANTED_CONTROL", "granted control";
        3 => "CTRLACTION_DETACH", "detach";
        4 => "CTRLACTION_COOPERATE", "cooperate";
    }
}

code_type! {
    /// Server Status Info PDU statusCode (MS-RDPBCGR 2.2.5.2).
    StatusCode(u32) {
        0x401 => "TS_STATUS_FINDING_DESTINATION", "the broker is looking for the target host";
        0x402 => "TS_STATUS_LOADING_DESTINATION", "the target host is being loaded";
        0x403 => "TS_STATUS_BRINGING_SESSION_ONLINE", "the session is being brought online";
        0x404 => "TS_STATUS_REDIRECTING_TO_DESTINATION", "the client is being redirected to the target host";
        0x501 => "TS_STATUS_VM_LOADING", "the virtual machine is loading";
        0x502 => "TS_STATUS_VM_WAKING", "the virtual machine is waking up";
        0x503 => "TS_STATUS_VM_STARTING", "the virtual machine is starting";
        0x504 => "TS_STATUS_VM_STARTING_MONITORING", "the virtual machine's session monitoring is starting";
        0x505 => "TS_STATUS_VM_RETRYING_MONITORING", "session monitoring on the virtual machine is being retried";
    }
}

code_type! {
    /// Save Session Info infoType (MS-RDPBCGR 2.2.10.1.1).
    SessionInfoType(u32) {
        0 => "INFOTYPE_LOGON", "the user logged on";
        1 => "INFOTYPE_LOGON_LONG", "the user logged on";
        2 => "INFOTYPE_LOGON_PLAINNOTIFY", "the user logged on (no details)";
        3 => "INFOTYPE_LOGON_EXTENDED_INFO", "extended logon information";
    }
}

code_type! {
    /// TS_LOGON_ERRORS_INFO ErrorNotificationType: a LOGON_MSG_* code or an NTSTATUS.
    LogonErrorType(u32) {
        0xFFFF_FFF8 => "LOGON_MSG_SESSION_BUSY_OPTIONS", "Winlogon shows the \"session is busy\" dialog";
        0xFFFF_FFF9 => "LOGON_MSG_DISCONNECT_REFUSED", "Winlogon shows the \"disconnection refused\" dialog";
        0xFFFF_FFFA => "LOGON_MSG_NO_PERMISSION", "Winlogon shows the \"no permission\" dialog";
        0xFFFF_FFFB => "LOGON_MSG_BUMP_OPTIONS", "Winlogon shows the session contention dialog";
        0xFFFF_FFFC => "LOGON_MSG_RECONNECT_OPTIONS", "Winlogon shows the session reconnection dialog";
        0xFFFF_FFFD => "LOGON_MSG_SESSION_TERMINATE", "the session is being terminated";
        0xFFFF_FFFE => "LOGON_MSG_SESSION_CONTINUE", "the logon process is continuing";
        0xFFFF_FFFF => "ERROR_CODE_ACCESS_DENIED", "the logon failed and cannot proceed";
        0xC000_006D => "STATUS_LOGON_FAILURE", "unknown user name or bad password";
        0xC000_006E => "STATUS_ACCOUNT_RESTRICTION", "an account restriction prevents this logon";
        0xC000_006F => "STATUS_INVALID_LOGON_HOURS", "the account may not log on at this time";
        0xC000_0070 => "STATUS_INVALID_WORKSTATION", "the account may not log on from this computer";
        0xC000_0071 => "STATUS_PASSWORD_EXPIRED", "the password has expired";
        0xC000_0072 => "STATUS_ACCOUNT_DISABLED", "the account is disabled";
        0xC000_0193 => "STATUS_ACCOUNT_EXPIRED", "the account has expired";
        0xC000_0224 => "STATUS_PASSWORD_MUST_CHANGE", "the password must be changed before logging on";
        0xC000_0234 => "STATUS_ACCOUNT_LOCKED_OUT", "the account is locked out";
    }
}

impl LogonErrorType {
    /// True for the LOGON_MSG_* values, whose data field carries a session id.
    pub fn is_logon_msg(self) -> bool {
        (0xFFFF_FFF8..=0xFFFF_FFFE).contains(&self.0)
    }
}

code_type! {
    /// TS_LOGON_ERRORS_INFO ErrorNotificationData when it is a failure code.
    LogonFailure(u32) {
        0 => "LOGON_FAILED_BAD_PASSWORD", "the credentials are not valid";
        1 => "LOGON_FAILED_UPDATE_PASSWORD", "the password has expired and must be updated";
        2 => "LOGON_FAILED_OTHER", "another logon error occurred";
        3 => "LOGON_WARNING", "the client shows a warning to the user";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_render_name_meaning_and_raw_value() {
        assert_eq!(ControlAction(4).name(), Some("CTRLACTION_COOPERATE"));
        assert_eq!(
            ControlAction(4).to_string(),
            "CTRLACTION_COOPERATE (cooperate)"
        );
        assert_eq!(ControlAction(9).to_string(), "unknown value 0x9");
        let json = serde_json::to_string(&DataPduType(0x2f)).unwrap_or_default();
        assert_eq!(json, r#"{"code":47,"name":"PDUTYPE2_SET_ERROR_INFO_PDU"}"#);
        let json = serde_json::to_string(&OsMajorType(99)).unwrap_or_default();
        assert_eq!(json, r#"{"code":99,"name":"unknown"}"#);
        assert!(LogonErrorType(0xFFFF_FFF8).is_logon_msg());
        assert!(!LogonErrorType(0xFFFF_FFFF).is_logon_msg());
    }

    #[test]
    fn flags_keep_value_and_names() {
        let f = Flags::new(0x0048, SEC_FLAGS);
        assert!(f.contains(0x0008));
        assert_eq!(f.to_string(), "SEC_ENCRYPT|SEC_INFO_PKT");
        assert_eq!(Flags::new(0x100, SEC_FLAGS).to_string(), "0x100");
        assert_eq!(Flags::new(0, SEC_FLAGS).to_string(), "none");
        let json = serde_json::to_string(&f).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"value":72,"names":["SEC_ENCRYPT","SEC_INFO_PKT"]}"#
        );
    }
}
