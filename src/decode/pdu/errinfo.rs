//! The errorInfo codes of the Set Error Info PDU (MS-RDPBCGR 2.2.5.1.1).
//!
//! A server sends one of these just before it disconnects, so the code is usually the
//! best single explanation of a failed session. Names follow the specification's
//! spelling (the protocol range drops underscores there, e.g. ERRINFO_UNKNOWNPDUTYPE2).

use super::names::WrittenCode;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A Set Error Info errorInfo value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorInfo(pub u32);

/// (code, name, meaning) for every code MS-RDPBCGR lists, plus FreeRDP's
/// ERRINFO_PEER_DISCONNECTED which clients report for a lost connection.
#[rustfmt::skip]
const TABLE: &[(u32, &str, &str)] = &[
    (0x0000, "ERRINFO_NONE", "no error"),
    (0x0001, "ERRINFO_RPC_INITIATED_DISCONNECT", "an administrative tool on the server disconnected the session from another session"),
    (0x0002, "ERRINFO_RPC_INITIATED_LOGOFF", "an administrative tool on the server logged the user off from another session"),
    (0x0003, "ERRINFO_IDLE_TIMEOUT", "the server's idle session time limit elapsed"),
    (0x0004, "ERRINFO_LOGON_TIMEOUT", "the server's active session time limit elapsed"),
    (0x0005, "ERRINFO_DISCONNECTED_BY_OTHERCONNECTION", "another connection took over the session"),
    (0x0006, "ERRINFO_OUT_OF_MEMORY", "the server ran out of memory"),
    (0x0007, "ERRINFO_SERVER_DENIED_CONNECTION", "the server denied the connection"),
    (0x0009, "ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES", "the user lacks the rights to connect to this server"),
    (0x000A, "ERRINFO_SERVER_FRESH_CREDENTIALS_REQUIRED", "the server does not accept saved credentials; they must be typed in"),
    (0x000B, "ERRINFO_RPC_INITIATED_DISCONNECT_BYUSER", "an administrative tool in the user's own session disconnected it"),
    (0x000C, "ERRINFO_LOGOFF_BY_USER", "the user logged off"),
    (0x000F, "ERRINFO_CLOSE_STACK_ON_DRIVER_NOT_READY", "the session's display driver did not start in time"),
    (0x0010, "ERRINFO_SERVER_DWM_CRASH", "the Desktop Window Manager in the session crashed"),
    (0x0011, "ERRINFO_CLOSE_STACK_ON_DRIVER_FAILURE", "the session's display driver failed to start"),
    (0x0012, "ERRINFO_CLOSE_STACK_ON_DRIVER_IFACE_FAILURE", "the session's display driver started but cannot be used"),
    (0x0017, "ERRINFO_SERVER_WINLOGON_CRASH", "Winlogon in the session crashed"),
    (0x0018, "ERRINFO_SERVER_CSRSS_CRASH", "CSRSS in the session crashed"),
    (0x0019, "ERRINFO_SERVER_SHUTDOWN", "the server is shutting down"),
    (0x001A, "ERRINFO_SERVER_REBOOT", "the server is restarting"),
    (0x0100, "ERRINFO_LICENSE_INTERNAL", "internal error in the server's licensing component"),
    (0x0101, "ERRINFO_LICENSE_NO_LICENSE_SERVER", "no Remote Desktop license server could be found"),
    (0x0102, "ERRINFO_LICENSE_NO_LICENSE", "no client access licenses are available"),
    (0x0103, "ERRINFO_LICENSE_BAD_CLIENT_MSG", "the server received an invalid licensing message from the client"),
    (0x0104, "ERRINFO_LICENSE_HWID_DOESNT_MATCH_LICENSE", "the client's stored license was modified"),
    (0x0105, "ERRINFO_LICENSE_BAD_CLIENT_LICENSE", "the client's stored license is in an invalid format"),
    (0x0106, "ERRINFO_LICENSE_CANT_FINISH_PROTOCOL", "network problems ended the licensing exchange"),
    (0x0107, "ERRINFO_LICENSE_CLIENT_ENDED_PROTOCOL", "the client ended the licensing exchange early"),
    (0x0108, "ERRINFO_LICENSE_BAD_CLIENT_ENCRYPTION", "a licensing message was wrongly encrypted"),
    (0x0109, "ERRINFO_LICENSE_CANT_UPGRADE_LICENSE", "the client's stored license could not be upgraded or renewed"),
    (0x010A, "ERRINFO_LICENSE_NO_REMOTE_CONNECTIONS", "the server is not licensed to accept remote connections"),
    (0x0400, "ERRINFO_CB_DESTINATION_NOT_FOUND", "the connection broker could not find the target endpoint"),
    (0x0402, "ERRINFO_CB_LOADING_DESTINATION", "the target endpoint is disconnecting from the connection broker"),
    (0x0404, "ERRINFO_CB_REDIRECTING_TO_DESTINATION", "an error occurred while redirecting to the target endpoint"),
    (0x0405, "ERRINFO_CB_SESSION_ONLINE_VM_WAKE", "the target virtual machine could not be woken"),
    (0x0406, "ERRINFO_CB_SESSION_ONLINE_VM_BOOT", "the target virtual machine could not be started"),
    (0x0407, "ERRINFO_CB_SESSION_ONLINE_VM_NO_DNS", "the target virtual machine's IP address could not be found"),
    (0x0408, "ERRINFO_CB_DESTINATION_POOL_NOT_FREE", "no free endpoint is left in the pool"),
    (0x0409, "ERRINFO_CB_CONNECTION_CANCELLED", "the broker cancelled processing of the connection"),
    (0x0410, "ERRINFO_CB_CONNECTION_ERROR_INVALID_SETTINGS", "the settings in the routing token are invalid"),
    (0x0411, "ERRINFO_CB_SESSION_ONLINE_VM_BOOT_TIMEOUT", "the target virtual machine timed out while starting"),
    (0x0412, "ERRINFO_CB_SESSION_ONLINE_VM_SESSMON_FAILED", "session monitoring failed on the target virtual machine"),
    (0x10C9, "ERRINFO_UNKNOWNPDUTYPE2", "the server got a Share Data Header with an unknown pduType2"),
    (0x10CA, "ERRINFO_UNKNOWNPDUTYPE", "the server got a Share Control Header with an unknown pduType"),
    (0x10CB, "ERRINFO_DATAPDUSEQUENCE", "the server got a slow-path data PDU out of sequence"),
    (0x10CD, "ERRINFO_CONTROLPDUSEQUENCE", "the server got a slow-path non-data PDU out of sequence"),
    (0x10CE, "ERRINFO_INVALIDCONTROLPDUACTION", "the server got a Control PDU with an invalid action"),
    (0x10CF, "ERRINFO_INVALIDINPUTPDUTYPE", "the server got an input event of an invalid type"),
    (0x10D0, "ERRINFO_INVALIDINPUTPDUMOUSE", "the server got a mouse event with invalid pointer flags"),
    (0x10D1, "ERRINFO_INVALIDREFRESHRECTPDU", "the server got an invalid Refresh Rect PDU"),
    (0x10D2, "ERRINFO_CREATEUSERDATAFAILED", "the server could not build its GCC Conference Create Response user data"),
    (0x10D3, "ERRINFO_CONNECTFAILED", "the channel connection phase failed"),
    (0x10D4, "ERRINFO_CONFIRMACTIVEWRONGSHAREID", "the client's Confirm Active carried the wrong shareId"),
    (0x10D5, "ERRINFO_CONFIRMACTIVEWRONGORIGINATOR", "the client's Confirm Active carried the wrong originatorId"),
    (0x10DA, "ERRINFO_PERSISTENTKEYPDUBADLENGTH", "a Persistent Key List PDU was too short"),
    (0x10DB, "ERRINFO_PERSISTENTKEYPDUILLEGALFIRST", "a second Persistent Key List PDU was marked as the first"),
    (0x10DC, "ERRINFO_PERSISTENTKEYPDUTOOMANYTOTALKEYS", "a Persistent Key List PDU announced more than 262144 keys"),
    (0x10DD, "ERRINFO_PERSISTENTKEYPDUTOOMANYCACHEKEYS", "a Persistent Key List PDU announced too many keys for a cache"),
    (0x10DE, "ERRINFO_INPUTPDUBADLENGTH", "an input PDU was too short"),
    (0x10DF, "ERRINFO_BITMAPCACHEERRORPDUBADLENGTH", "a Bitmap Cache Error PDU was too short"),
    (0x10E0, "ERRINFO_SECURITYDATATOOSHORT", "a fast-path input PDU's security data was too short"),
    (0x10E1, "ERRINFO_VCHANNELDATATOOSHORT", "virtual channel data or a channel PDU header was too short"),
    (0x10E2, "ERRINFO_SHAREDATATOOSHORT", "a Share Control/Data header or its PDU was too short"),
    (0x10E3, "ERRINFO_BADSUPRESSOUTPUTPDU", "a Suppress Output PDU was too short or invalid"),
    (0x10E5, "ERRINFO_CONFIRMACTIVEPDUTOOSHORT", "the client's Confirm Active PDU was too short"),
    (0x10E7, "ERRINFO_CAPABILITYSETTOOSMALL", "a capability set header was too short"),
    (0x10E8, "ERRINFO_CAPABILITYSETTOOLARGE", "a capability set claimed more bytes than were sent"),
    (0x10E9, "ERRINFO_NOCURSORCACHE", "the client's pointer capability set has no cursor cache"),
    (0x10EA, "ERRINFO_BADCAPABILITIES", "the server rejected the client's capabilities"),
    (0x10EC, "ERRINFO_VIRTUALCHANNELDECOMPRESSIONERR", "a virtual channel PDU could not be decompressed"),
    (0x10ED, "ERRINFO_INVALIDVCCOMPRESSIONTYPE", "a virtual channel PDU named an invalid compression type"),
    (0x10EF, "ERRINFO_INVALIDCHANNELID", "a virtual channel PDU used an invalid MCS channel id"),
    (0x10F0, "ERRINFO_VCHANNELSTOOMANY", "the client asked for more than 31 static virtual channels"),
    (0x10F3, "ERRINFO_REMOTEAPPSNOTENABLED", "the server hosts only RemoteApp programs but the client did not set INFO_RAIL"),
    (0x10F4, "ERRINFO_CACHECAPNOTSET", "a Persistent Key List PDU came without a revision 2 bitmap cache capability set"),
    (0x10F5, "ERRINFO_BITMAPCACHEERRORPDUBADLENGTH2", "a Bitmap Cache Error PDU had a bad length"),
    (0x10F6, "ERRINFO_OFFSCRCACHEERRORPDUBADLENGTH", "an Offscreen Cache Error PDU had a bad length"),
    (0x10F7, "ERRINFO_DNGCACHEERRORPDUBADLENGTH", "a DrawNineGrid Cache Error PDU had a bad length"),
    (0x10F8, "ERRINFO_GDIPLUSPDUBADLENGTH", "a GDI+ Error PDU had a bad length"),
    (0x1111, "ERRINFO_SECURITYDATATOOSHORT2", "the Client Info or security data the client sent was too short (server check 2)"),
    (0x1112, "ERRINFO_SECURITYDATATOOSHORT3", "the Client Info or security data the client sent was too short (server check 3)"),
    (0x1113, "ERRINFO_SECURITYDATATOOSHORT4", "the Client Info or security data the client sent was too short (server check 4)"),
    (0x1114, "ERRINFO_SECURITYDATATOOSHORT5", "the Client Info or security data the client sent was too short (server check 5)"),
    (0x1115, "ERRINFO_SECURITYDATATOOSHORT6", "the Client Info or security data the client sent was too short (server check 6)"),
    (0x1116, "ERRINFO_SECURITYDATATOOSHORT7", "the Client Info or security data the client sent was too short (server check 7)"),
    (0x1117, "ERRINFO_SECURITYDATATOOSHORT8", "the Client Info or security data the client sent was too short (server check 8)"),
    (0x1118, "ERRINFO_SECURITYDATATOOSHORT9", "the Client Info or security data the client sent was too short (server check 9)"),
    (0x1119, "ERRINFO_SECURITYDATATOOSHORT10", "the Client Info or security data the client sent was too short (server check 10)"),
    (0x111A, "ERRINFO_SECURITYDATATOOSHORT11", "the Client Info or security data the client sent was too short (server check 11)"),
    (0x111B, "ERRINFO_SECURITYDATATOOSHORT12", "the Client Info or security data the client sent was too short (server check 12)"),
    (0x111C, "ERRINFO_SECURITYDATATOOSHORT13", "the Client Info or security data the client sent was too short (server check 13)"),
    (0x111D, "ERRINFO_SECURITYDATATOOSHORT14", "the Client Info or security data the client sent was too short (server check 14)"),
    (0x111E, "ERRINFO_SECURITYDATATOOSHORT15", "the Client Info or security data the client sent was too short (server check 15)"),
    (0x111F, "ERRINFO_SECURITYDATATOOSHORT16", "the Client Info or security data the client sent was too short (server check 16)"),
    (0x1120, "ERRINFO_SECURITYDATATOOSHORT17", "the Client Info or security data the client sent was too short (server check 17)"),
    (0x1121, "ERRINFO_SECURITYDATATOOSHORT18", "the Client Info or security data the client sent was too short (server check 18)"),
    (0x1122, "ERRINFO_SECURITYDATATOOSHORT19", "the Client Info or security data the client sent was too short (server check 19)"),
    (0x1123, "ERRINFO_SECURITYDATATOOSHORT20", "the Client Info or security data the client sent was too short (server check 20)"),
    (0x1124, "ERRINFO_SECURITYDATATOOSHORT21", "the Client Info or security data the client sent was too short (server check 21)"),
    (0x1125, "ERRINFO_SECURITYDATATOOSHORT22", "the Client Info or security data the client sent was too short (server check 22)"),
    (0x1126, "ERRINFO_SECURITYDATATOOSHORT23", "the Client Info or security data the client sent was too short (server check 23)"),
    (0x1129, "ERRINFO_BADMONITORDATA", "the client's monitor layout data is invalid"),
    (0x112A, "ERRINFO_VCDECOMPRESSEDREASSEMBLEFAILED", "a decompressed virtual channel message could not be reassembled"),
    (0x112B, "ERRINFO_VCDATATOOLONG", "a virtual channel message was too long"),
    (0x112C, "ERRINFO_BAD_FRAME_ACK_DATA", "a Frame Acknowledge PDU was invalid"),
    (0x112D, "ERRINFO_GRAPHICSMODENOTSUPPORTED", "the server does not support the requested graphics mode"),
    (0x112E, "ERRINFO_GRAPHICSSUBSYSTEMRESETFAILED", "the server's graphics subsystem could not be reset"),
    (0x112F, "ERRINFO_GRAPHICSSUBSYSTEMFAILED", "the server's graphics subsystem failed"),
    (0x1130, "ERRINFO_TIMEZONEKEYNAMELENGTHTOOSHORT", "the client's time zone key name length was too short"),
    (0x1131, "ERRINFO_TIMEZONEKEYNAMELENGTHTOOLONG", "the client's time zone key name length was too long"),
    (0x1132, "ERRINFO_DYNAMICDSTDISABLEDFIELDMISSING", "the client's dynamicDaylightTimeDisabled field is missing"),
    (0x1133, "ERRINFO_VCDECODINGERROR", "a virtual channel message could not be decoded"),
    (0x1134, "ERRINFO_VIRTUALDESKTOPTOOLARGE", "the requested virtual desktop is too large"),
    (0x1135, "ERRINFO_MONITORGEOMETRYVALIDATIONFAILED", "the client's monitor geometry failed validation"),
    (0x1136, "ERRINFO_INVALIDMONITORCOUNT", "the client asked for too many monitors"),
    (0x1191, "ERRINFO_UPDATESESSIONKEYFAILED", "the server could not update its session keys"),
    (0x1192, "ERRINFO_DECRYPTFAILED", "the server could not decrypt a PDU"),
    (0x1193, "ERRINFO_ENCRYPTFAILED", "the server could not encrypt a PDU"),
    (0x1194, "ERRINFO_ENCPKGMISMATCH", "the encryption packages of client and server do not match"),
    (0x1195, "ERRINFO_DECRYPTFAILED2", "the server could not decrypt a PDU (second check)"),
    (0x1196, "ERRINFO_PEER_DISCONNECTED", "the peer connection was lost (a client-side code)"),
];

impl ErrorInfo {
    /// The value that means "no error".
    pub const NONE: ErrorInfo = ErrorInfo(0);

    fn entry(self) -> Option<&'static (u32, &'static str, &'static str)> {
        TABLE.iter().find(|e| e.0 == self.0)
    }

    /// True when the code is in MS-RDPBCGR's list.
    pub fn is_known(self) -> bool {
        self.entry().is_some()
    }

    /// The specification's name, e.g. "ERRINFO_SERVER_DENIED_CONNECTION";
    /// "ERRINFO_UNKNOWN" for values it does not list.
    pub fn name(self) -> &'static str {
        self.entry().map_or("ERRINFO_UNKNOWN", |e| e.1)
    }

    /// The code with this specification name, if MS-RDPBCGR lists it.
    pub fn from_name(name: &str) -> Option<ErrorInfo> {
        TABLE.iter().find(|e| e.1 == name).map(|e| ErrorInfo(e.0))
    }

    /// What the code means, in plain English; unlisted codes are described by range.
    pub fn meaning(self) -> &'static str {
        if let Some(e) = self.entry() {
            return e.2;
        }
        if self.is_licensing() {
            "an unlisted licensing error"
        } else if self.is_broker() {
            "an unlisted connection broker error"
        } else if self.is_protocol() {
            "an unlisted RDP protocol error detected by the server"
        } else {
            "a code not listed in MS-RDPBCGR"
        }
    }

    /// True for ERRINFO_NONE, which servers send to mean "nothing wrong".
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// True for the licensing range (0x100–0x1FF).
    pub fn is_licensing(self) -> bool {
        (0x100..=0x1FF).contains(&self.0)
    }

    /// True for the connection broker range (0x400–0x4FF).
    pub fn is_broker(self) -> bool {
        (0x400..=0x4FF).contains(&self.0)
    }

    /// True for the RDP protocol range (0x1000–0x7FFF): the server found a protocol
    /// error in what the client sent.
    pub fn is_protocol(self) -> bool {
        (0x1000..=0x7FFF).contains(&self.0)
    }

    /// The ExtendedDisconnectReasonCode mstsc would show for this code, when its
    /// numbering matches errorInfo one-to-one (inferred from the published tables:
    /// 1–12, 25, 26, the licensing codes and the protocol range).
    pub fn mstsc_extended(&self) -> Option<u32> {
        let v = self.0;
        let mirrored = (1..=12).contains(&v)
            || v == 25
            || v == 26
            || (0x100..=0x10B).contains(&v)
            || self.is_protocol();
        mirrored.then_some(v)
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:x}): {}", self.name(), self.0, self.meaning())
    }
}

impl Serialize for ErrorInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ErrorInfo", 3)?;
        st.serialize_field("code", &self.0)?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("meaning", self.meaning())?;
        st.end()
    }
}

/// Reads `{code, name, meaning}` back by its code (the meaning follows from it).
impl<'de> Deserialize<'de> for ErrorInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        WrittenCode::<u32>::deserialize(d)?
            .resolve("errorInfo", ErrorInfo, ErrorInfo::from_name)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_codes_that_matter() {
        assert_eq!(ErrorInfo(7).name(), "ERRINFO_SERVER_DENIED_CONNECTION");
        assert_eq!(ErrorInfo(0x101).name(), "ERRINFO_LICENSE_NO_LICENSE_SERVER");
        assert!(ErrorInfo(0x101).is_licensing());
        assert_eq!(ErrorInfo(0x10C9).name(), "ERRINFO_UNKNOWNPDUTYPE2");
        assert!(ErrorInfo(0x10C9).is_protocol());
        assert_eq!(ErrorInfo(0x400).name(), "ERRINFO_CB_DESTINATION_NOT_FOUND");
        assert!(ErrorInfo(0x400).is_broker());
        assert_eq!(ErrorInfo(0x1116).name(), "ERRINFO_SECURITYDATATOOSHORT7");
        assert_eq!(ErrorInfo(0).meaning(), "no error");
        assert!(ErrorInfo::NONE.is_none());
    }

    #[test]
    fn unknown_codes_are_described_by_range() {
        assert_eq!(ErrorInfo(0xBEEF).name(), "ERRINFO_UNKNOWN");
        assert!(!ErrorInfo(0xBEEF).is_known());
        assert_eq!(
            ErrorInfo(0xBEEF).meaning(),
            "a code not listed in MS-RDPBCGR"
        );
        assert!(ErrorInfo(0x10CC).meaning().contains("protocol"));
        assert!(ErrorInfo(0x1FF).meaning().contains("licensing"));
        assert!(ErrorInfo(0x4FF).meaning().contains("broker"));
    }

    #[test]
    fn display_and_json() {
        assert_eq!(
            ErrorInfo(7).to_string(),
            "ERRINFO_SERVER_DENIED_CONNECTION (0x7): the server denied the connection"
        );
        let json = serde_json::to_string(&ErrorInfo(7)).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"code":7,"name":"ERRINFO_SERVER_DENIED_CONNECTION","meaning":"the server denied the connection"}"#
        );
    }

    #[test]
    fn extended_reason_mirrors_only_documented_ranges() {
        assert_eq!(ErrorInfo(7).mstsc_extended(), Some(7));
        assert_eq!(ErrorInfo(0x102).mstsc_extended(), Some(0x102));
        assert_eq!(ErrorInfo(0x10C9).mstsc_extended(), Some(0x10C9));
        assert_eq!(ErrorInfo(0).mstsc_extended(), None);
        assert_eq!(ErrorInfo(0x400).mstsc_extended(), None);
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, a) in TABLE.iter().enumerate() {
            assert!(
                TABLE.iter().skip(i + 1).all(|b| b.0 != a.0 && b.1 != a.1),
                "{}",
                a.1
            );
        }
    }
}
