//! MS-TSGU status codes: the HRESULTs (and their HRESULT_CODE forms) that gateways put
//! in responses and CLOSE_CHANNEL packets, with their meaning and advice for admins.

use crate::decode::json::{de_name, parse_hex};
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A status from the wire: a full HRESULT (0x8007xxxx) or its HRESULT_CODE form
/// (0x0000xxxx), kept raw so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Status(pub u32);

/// Every status code a gateway is known to send (both forms map to the same kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// S_OK / ERROR_SUCCESS.
    Ok,
    /// ERROR_ACCESS_DENIED.
    AccessDenied,
    /// ERROR_BAD_ARGUMENTS.
    BadArguments,
    /// ERROR_GRACEFUL_DISCONNECT.
    GracefulDisconnect,
    /// E_PROXY_CONNECTIONABORTED.
    ConnectionAborted,
    /// E_PROXY_INTERNALERROR.
    InternalError,
    /// E_PROXY_RAP_ACCESSDENIED.
    RapAccessDenied,
    /// E_PROXY_NAP_ACCESSDENIED.
    NapAccessDenied,
    /// E_PROXY_TS_CONNECTFAILED.
    TsConnectFailed,
    /// E_PROXY_ALREADYDISCONNECTED.
    AlreadyDisconnected,
    /// E_PROXY_MAXCONNECTIONSREACHED.
    MaxConnectionsReached,
    /// E_PROXY_NOTSUPPORTED.
    NotSupported,
    /// E_PROXY_CAPABILITYMISMATCH.
    CapabilityMismatch,
    /// E_PROXY_QUARANTINE_ACCESSDENIED.
    QuarantineAccessDenied,
    /// E_PROXY_NOCERTAVAILABLE.
    NoCertAvailable,
    /// E_PROXY_SESSIONTIMEOUT.
    SessionTimeout,
    /// E_PROXY_COOKIE_BADPACKET.
    CookieBadPacket,
    /// E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED.
    CookieAuthenticationAccessDenied,
    /// E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD.
    UnsupportedAuthenticationMethod,
    /// E_PROXY_REAUTH_AUTHN_FAILED.
    ReauthAuthnFailed,
    /// E_PROXY_REAUTH_CAP_FAILED.
    ReauthCapFailed,
    /// E_PROXY_REAUTH_RAP_FAILED.
    ReauthRapFailed,
    /// E_PROXY_SDR_NOT_SUPPORTED_BY_TS.
    SdrNotSupportedByTs,
    /// E_PROXY_REAUTH_NAP_FAILED.
    ReauthNapFailed,
    /// SEC_E_LOGON_DENIED.
    LogonDenied,
    /// Any other value.
    Other,
}

/// The FACILITY_WIN32 HRESULT prefix that turns a Win32 code into a failure HRESULT.
const WIN32_HRESULT: u32 = 0x8007_0000;
/// SEC_E_LOGON_DENIED, a FACILITY_SECURITY HRESULT with no code form.
const SEC_E_LOGON_DENIED: u32 = 0x8009_030C;

/// (kind, name, 16-bit code) for every kind with a Win32-style code.
const TABLE: [(StatusKind, &str, u16); 24] = [
    (StatusKind::Ok, "S_OK", 0x0000),
    (StatusKind::AccessDenied, "ERROR_ACCESS_DENIED", 0x0005),
    (StatusKind::BadArguments, "ERROR_BAD_ARGUMENTS", 0x00A0),
    (
        StatusKind::GracefulDisconnect,
        "ERROR_GRACEFUL_DISCONNECT",
        0x04CA,
    ),
    (
        StatusKind::ConnectionAborted,
        "E_PROXY_CONNECTIONABORTED",
        0x04D4,
    ),
    (StatusKind::InternalError, "E_PROXY_INTERNALERROR", 0x59D8),
    (
        StatusKind::RapAccessDenied,
        "E_PROXY_RAP_ACCESSDENIED",
        0x59DA,
    ),
    (
        StatusKind::NapAccessDenied,
        "E_PROXY_NAP_ACCESSDENIED",
        0x59DB,
    ),
    (
        StatusKind::TsConnectFailed,
        "E_PROXY_TS_CONNECTFAILED",
        0x59DD,
    ),
    (
        StatusKind::AlreadyDisconnected,
        "E_PROXY_ALREADYDISCONNECTED",
        0x59DF,
    ),
    (
        StatusKind::MaxConnectionsReached,
        "E_PROXY_MAXCONNECTIONSREACHED",
        0x59E6,
    ),
    (StatusKind::NotSupported, "E_PROXY_NOTSUPPORTED", 0x59E8),
    (
        StatusKind::CapabilityMismatch,
        "E_PROXY_CAPABILITYMISMATCH",
        0x59E9,
    ),
    (
        StatusKind::QuarantineAccessDenied,
        "E_PROXY_QUARANTINE_ACCESSDENIED",
        0x59ED,
    ),
    (
        StatusKind::NoCertAvailable,
        "E_PROXY_NOCERTAVAILABLE",
        0x59EE,
    ),
    (StatusKind::SessionTimeout, "E_PROXY_SESSIONTIMEOUT", 0x59F6),
    (
        StatusKind::CookieBadPacket,
        "E_PROXY_COOKIE_BADPACKET",
        0x59F7,
    ),
    (
        StatusKind::CookieAuthenticationAccessDenied,
        "E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED",
        0x59F8,
    ),
    (
        StatusKind::UnsupportedAuthenticationMethod,
        "E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD",
        0x59F9,
    ),
    (
        StatusKind::ReauthAuthnFailed,
        "E_PROXY_REAUTH_AUTHN_FAILED",
        0x59FA,
    ),
    (
        StatusKind::ReauthCapFailed,
        "E_PROXY_REAUTH_CAP_FAILED",
        0x59FB,
    ),
    (
        StatusKind::ReauthRapFailed,
        "E_PROXY_REAUTH_RAP_FAILED",
        0x59FC,
    ),
    (
        StatusKind::SdrNotSupportedByTs,
        "E_PROXY_SDR_NOT_SUPPORTED_BY_TS",
        0x59FD,
    ),
    (
        StatusKind::ReauthNapFailed,
        "E_PROXY_REAUTH_NAP_FAILED",
        0x5A00,
    ),
];

/// The names of the kinds without a Win32-style code.
const OTHER_NAMES: [(StatusKind, &str); 2] = [
    (StatusKind::LogonDenied, "SEC_E_LOGON_DENIED"),
    (StatusKind::Other, "unknown"),
];

impl StatusKind {
    /// The constant's name, e.g. "E_PROXY_RAP_ACCESSDENIED"; "unknown" for Other.
    pub fn name(self) -> &'static str {
        Self::named()
            .find(|(k, _)| *k == self)
            .map_or("unknown", |(_, n)| n)
    }

    /// The kind a [`StatusKind::name`] stands for.
    pub fn from_name(s: &str) -> Option<StatusKind> {
        Self::named().find(|(_, n)| *n == s).map(|(k, _)| k)
    }

    /// Every kind with its name: those of [`TABLE`], then the others.
    fn named() -> impl Iterator<Item = (StatusKind, &'static str)> {
        TABLE.iter().map(|(k, n, _)| (*k, *n)).chain(OTHER_NAMES)
    }

    /// The value to put on the wire: the failure HRESULT for E_PROXY_* and
    /// SEC_E_* codes (clients test the sign bit), the plain code for S_OK and the
    /// Win32 ERROR_* codes; None for Other.
    pub fn wire_value(self) -> Option<u32> {
        match self {
            StatusKind::LogonDenied => Some(SEC_E_LOGON_DENIED),
            StatusKind::Other => None,
            k => {
                let (_, name, code) = TABLE.iter().find(|(t, _, _)| *t == k)?;
                if name.starts_with("E_") {
                    Some(WIN32_HRESULT | u32::from(*code))
                } else {
                    Some(u32::from(*code))
                }
            }
        }
    }

    /// What the code means, in plain English.
    pub fn meaning(self) -> &'static str {
        use StatusKind::*;
        match self {
            Ok => "success",
            AccessDenied => "access denied",
            BadArguments => "bad arguments in the request",
            GracefulDisconnect => "the connection was closed normally",
            ConnectionAborted => "the gateway aborted the connection",
            InternalError => "the gateway hit an unexpected error (often a packet in the wrong state)",
            RapAccessDenied => {
                "the resource authorization policy (RD RAP) does not let this user reach that computer"
            }
            NapAccessDenied => {
                "the connection authorization policy (RD CAP) does not let this user or device use the gateway"
            }
            TsConnectFailed => "the gateway could not connect to the remote computer",
            AlreadyDisconnected => "the tunnel or channel is already disconnected",
            MaxConnectionsReached => "the gateway has reached its connection limit",
            NotSupported => "the gateway does not support this request",
            CapabilityMismatch => {
                "the client and gateway capabilities or authentication methods do not match"
            }
            QuarantineAccessDenied => "the client failed the gateway's health (SoH) check",
            NoCertAvailable => "the gateway has no server certificate configured",
            SessionTimeout => "the gateway session time limit was reached",
            CookieBadPacket => "the pluggable-authentication (PAA) cookie is malformed",
            CookieAuthenticationAccessDenied => {
                "the pluggable-authentication (PAA) cookie was rejected"
            }
            UnsupportedAuthenticationMethod => {
                "the gateway does not accept this authentication method"
            }
            ReauthAuthnFailed => "reauthentication failed at the authentication step",
            ReauthCapFailed => "reauthentication failed the connection authorization policy (RD CAP)",
            ReauthRapFailed => {
                "reauthentication failed the resource authorization policy (RD RAP)"
            }
            SdrNotSupportedByTs => {
                "the gateway requires hosts that support secure device redirection and this one does not"
            }
            ReauthNapFailed => "reauthentication failed the health check",
            LogonDenied => "the logon was denied (bad credentials)",
            Other => "a status code not in MS-TSGU",
        }
    }

    /// Advice for the gateway admin, where there is something to check.
    pub fn hint(self) -> Option<&'static str> {
        use StatusKind::*;
        Some(match self {
            AccessDenied => "the gateway refused the request; check the client name and the gateway's policies",
            InternalError => "check the gateway event log (TerminalServices-Gateway); a client sending packets out of order also causes this",
            RapAccessDenied => "your user may not reach that host through this gateway (check FQDN vs NetBIOS in the RD RAP, and the user's group in the RAP)",
            NapAccessDenied => "the user (or computer) is not in a group allowed by any RD CAP, or a CAP condition such as smart card or device redirection failed",
            TsConnectFailed => "check that the target host name resolves from the gateway, that port 3389 is reachable from it, and that the host is running",
            MaxConnectionsReached => "raise or check the gateway's maximum connections setting (event 203)",
            CapabilityMismatch => "the gateway requires an authentication method (e.g. smart card or PAA) the client did not offer",
            QuarantineAccessDenied => "the client's statement of health failed NAP policy; check the health policy or disable quarantine in the CAP",
            NoCertAvailable => "install and bind an SSL certificate in RD Gateway Manager",
            SessionTimeout => "the CAP session timeout ended the session; reconnect or raise the timeout",
            CookieBadPacket | CookieAuthenticationAccessDenied => "the PAA token was malformed or expired; check the web/broker component that issues it",
            UnsupportedAuthenticationMethod => "the gateway is configured for a different authentication method (e.g. PAA only); check the client's gateway auth settings",
            ReauthAuthnFailed | ReauthCapFailed | ReauthRapFailed | ReauthNapFailed => "the periodic reauthentication failed; check that the user's credentials and policies are still valid",
            SdrNotSupportedByTs => "the CAP requires device redirection enforcement that the target host cannot honour",
            LogonDenied => "check the user name, domain and password the client sends to the gateway",
            Ok | BadArguments | GracefulDisconnect | ConnectionAborted | AlreadyDisconnected
            | NotSupported | Other => return None,
        })
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.meaning())
    }
}

impl Serialize for StatusKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for StatusKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "status kind", Self::from_name)
    }
}

impl Status {
    /// Success (S_OK).
    pub const OK: Status = Status(0);

    /// What the code is, whichever form it came in.
    pub fn kind(self) -> StatusKind {
        let raw = self.0;
        if raw == SEC_E_LOGON_DENIED {
            return StatusKind::LogonDenied;
        }
        let code = if raw & 0xFFFF_0000 == WIN32_HRESULT || raw <= 0xFFFF {
            (raw & 0xFFFF) as u16
        } else {
            return StatusKind::Other;
        };
        TABLE
            .iter()
            .find(|(_, _, c)| *c == code)
            .map_or(StatusKind::Other, |(k, _, _)| *k)
    }

    /// True only for zero: any other value is a failure, whichever form it takes.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The constant's name, or "unknown".
    pub fn name(self) -> &'static str {
        self.kind().name()
    }

    /// Advice for the gateway admin, where there is something to check.
    pub fn hint(self) -> Option<&'static str> {
        self.kind().hint()
    }

    /// What the status means, in plain English.
    pub fn meaning(self) -> &'static str {
        self.kind().meaning()
    }

    /// Parses a constant name (the wire value of [`StatusKind::wire_value`]) or a
    /// `0x…` hex value; None for anything else.
    pub fn from_name(s: &str) -> Option<Status> {
        let s = s.trim();
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            return u32::from_str_radix(hex, 16).ok().map(Status);
        }
        let upper = s.to_ascii_uppercase();
        if upper == "ERROR_SUCCESS" {
            return Some(Status::OK);
        }
        if upper == StatusKind::LogonDenied.name() {
            return Some(Status(SEC_E_LOGON_DENIED));
        }
        TABLE
            .iter()
            .find(|(_, n, _)| *n == upper)
            .and_then(|(k, _, _)| k.wire_value())
            .map(Status)
    }
}

impl From<StatusKind> for Status {
    /// The wire value of a kind; Other (which has none) becomes 0xFFFFFFFF.
    fn from(k: StatusKind) -> Status {
        Status(k.wire_value().unwrap_or(u32::MAX))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            StatusKind::Other => write!(f, "0x{:08X}", self.0),
            k => write!(f, "{} (0x{:08X})", k.name(), self.0),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Status", 2)?;
        st.serialize_field("code", &format!("0x{:08X}", self.0))?;
        st.serialize_field("name", self.name())?;
        st.end()
    }
}

/// A status as written: `{"code": "0x800759DA", "name": "E_PROXY_RAP_ACCESSDENIED"}`.
#[derive(Deserialize)]
struct WrittenStatus {
    code: Option<String>,
    name: Option<String>,
}

/// Reads a status back by its code, or by its name when the code is missing.
impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WrittenStatus::deserialize(d)?;
        let status = match (&w.code, &w.name) {
            (Some(code), _) => parse_hex(code).map(Status),
            (None, Some(name)) => Status::from_name(name),
            (None, None) => None,
        };
        status.ok_or_else(|| {
            D::Error::custom(format!(
                "unknown status (code {:?}, name {:?})",
                w.code, w.name
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_map_to_the_same_kind() {
        assert_eq!(Status(0x8007_59DA).kind(), StatusKind::RapAccessDenied);
        assert_eq!(Status(0x0000_59DA).kind(), StatusKind::RapAccessDenied);
        assert_eq!(Status(0x8007_0005).kind(), StatusKind::AccessDenied);
        assert_eq!(Status(0x0000_04CA).kind(), StatusKind::GracefulDisconnect);
        assert_eq!(Status(0x8009_030C).kind(), StatusKind::LogonDenied);
        assert_eq!(Status(0x1234_5678).kind(), StatusKind::Other);
        assert_eq!(Status(0x8008_59DA).kind(), StatusKind::Other);
        assert!(Status(0).is_ok());
        assert!(!Status(0x59DA).is_ok());
    }

    #[test]
    fn every_kind_has_a_name_and_round_trips_by_name() {
        for (k, name, _) in TABLE {
            assert_eq!(k.name(), name);
            let st = Status::from_name(name).unwrap_or(Status(u32::MAX));
            assert_eq!(st.kind(), k, "{name}");
            assert!(!k.meaning().is_empty());
        }
        assert_eq!(
            Status::from_name("E_PROXY_RAP_ACCESSDENIED"),
            Some(Status(0x8007_59DA))
        );
        assert_eq!(
            Status::from_name("E_PROXY_MAXCONNECTIONSREACHED"),
            Some(Status(0x8007_59E6))
        );
        assert_eq!(
            Status::from_name("ERROR_GRACEFUL_DISCONNECT"),
            Some(Status(0x4CA))
        );
        assert_eq!(Status::from_name("0x800759dd"), Some(Status(0x8007_59DD)));
        assert_eq!(
            Status::from_name("SEC_E_LOGON_DENIED"),
            Some(Status(0x8009_030C))
        );
        assert_eq!(Status::from_name("nonsense"), None);
        assert_eq!(Status::from_name("0xZZ"), None);
    }

    #[test]
    fn display_serialise_and_hints() {
        assert_eq!(
            Status(0x8007_59DA).to_string(),
            "E_PROXY_RAP_ACCESSDENIED (0x800759DA)"
        );
        assert_eq!(Status(0x1234_5678).to_string(), "0x12345678");
        let v = serde_json::to_value(Status(0x8007_59DA)).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"code": "0x800759DA", "name": "E_PROXY_RAP_ACCESSDENIED"})
        );
        assert!(Status(0x8007_59DA)
            .hint()
            .is_some_and(|h| h.contains("FQDN vs NetBIOS")));
        assert_eq!(Status::OK.hint(), None);
        assert!(StatusKind::TsConnectFailed
            .to_string()
            .contains("could not connect"));
    }
}
