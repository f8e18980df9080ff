//! TLS names: versions, cipher suites, alert levels and descriptions.
//!
//! Every type serializes as its `Display` string, so event files carry readable names
//! ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "certificate_expired") instead of numbers,
//! and reads back through the same tables (unknown values from their number).

use crate::decode::json::{de_name, parse_dec, parse_hex};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// True for the GREASE code points of RFC 8701 (0x0A0A, 0x1A1A, .. 0xFAFA).
///
/// Clients sprinkle these into lists to keep servers tolerant of unknown values; they
/// mean nothing, so we show them as "GREASE" rather than as an unknown number.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// How every GREASE value is named.
const GREASE: &str = "GREASE";

/// The GREASE value that "GREASE" reads back as (all of them mean nothing).
const FIRST_GREASE: u16 = 0x0a0a;

/// The value of a written code-point name: a name in `table`, "GREASE", or `0x…`.
fn by_name(s: &str, table: &[(u16, &str)]) -> Option<u16> {
    if s == GREASE {
        return Some(FIRST_GREASE);
    }
    match table.iter().find(|(_, n)| *n == s) {
        Some((v, _)) => Some(*v),
        None => u16::try_from(parse_hex(s)?).ok(),
    }
}

/// Names of the protocol versions.
const VERSIONS: &[(u16, &str)] = &[
    (0x0300, "SSL 3.0"),
    (0x0301, "TLS 1.0"),
    (0x0302, "TLS 1.1"),
    (0x0303, "TLS 1.2"),
    (0x0304, "TLS 1.3"),
];

/// A TLS protocol version as on the wire (0x0303 = TLS 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlsVersion(pub u16);

impl TlsVersion {
    /// SSL 3.0.
    pub const SSL3: TlsVersion = TlsVersion(0x0300);
    /// TLS 1.0.
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    /// TLS 1.1.
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    /// TLS 1.2.
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    /// TLS 1.3.
    pub const TLS13: TlsVersion = TlsVersion(0x0304);

    /// The version's name ("TLS 1.2"), or None for values we do not know.
    pub fn name(&self) -> Option<&'static str> {
        if is_grease(self.0) {
            return Some(GREASE);
        }
        VERSIONS.iter().find(|(v, _)| *v == self.0).map(|(_, n)| *n)
    }

    /// The version a written name stands for: a known name, "GREASE" or `0x…`.
    ///
    /// Every GREASE value is written "GREASE", so it reads back as the first one.
    pub fn from_name(s: &str) -> Option<TlsVersion> {
        by_name(s, VERSIONS).map(TlsVersion)
    }

    /// True for a GREASE placeholder value.
    pub fn is_grease(&self) -> bool {
        is_grease(self.0)
    }

    /// True for SSL 3.0, TLS 1.0 and TLS 1.1, which current clients refuse.
    pub fn is_legacy(&self) -> bool {
        (0x0300..=0x0302).contains(&self.0)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "TLS version", Self::from_name)
    }
}

/// A cipher suite code point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// The IANA name ("TLS_AES_128_GCM_SHA256"), "GREASE", or None when unknown.
    pub fn name(&self) -> Option<&'static str> {
        if is_grease(self.0) {
            return Some(GREASE);
        }
        suite_name(self.0)
    }

    /// The suite a written name stands for: an IANA name, "GREASE" or `0x…`.
    pub fn from_name(s: &str) -> Option<CipherSuite> {
        by_name(s, SUITES).map(CipherSuite)
    }

    /// True for a GREASE placeholder value.
    pub fn is_grease(&self) -> bool {
        is_grease(self.0)
    }

    /// True for signalling values that are not real suites (renegotiation info, fallback).
    pub fn is_scsv(&self) -> bool {
        matches!(self.0, 0x00ff | 0x5600)
    }

    /// True for a TLS 1.3 suite (0x13xx).
    pub fn is_tls13(&self) -> bool {
        self.0 >> 8 == 0x13 && self.0 & 0xff != 0
    }

    /// True for suites no current peer should agree to: NULL, export, anonymous, RC4, DES, 3DES.
    pub fn is_weak(&self) -> bool {
        self.name().is_some_and(|n| {
            [
                "_NULL_", "EXPORT", "_anon_", "RC4", "_DES_", "3DES", "_NULL",
            ]
            .iter()
            .any(|w| n.contains(w))
        })
    }
}

/// IANA names of the suites one meets in practice (TLS Cipher Suites registry).
const SUITES: &[(u16, &str)] = &[
    (0x0000, "TLS_NULL_WITH_NULL_NULL"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"),
    (0x001b, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x003a, "TLS_DH_anon_WITH_AES_256_CBC_SHA"),
    (0x003b, "TLS_RSA_WITH_NULL_SHA256"),
    (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    (0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA"),
    (0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    (0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
    (0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256"),
    (0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384"),
    (0x00ae, "TLS_PSK_WITH_AES_128_CBC_SHA256"),
    (0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0x1304, "TLS_AES_128_CCM_SHA256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256"),
    (0x5600, "TLS_FALLBACK_SCSV"),
    (0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"),
    (0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xc025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xc029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"),
    (0xc02a, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"),
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc02d, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02e, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xc031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"),
    (0xc035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA"),
    (0xc036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA"),
    (0xc09c, "TLS_RSA_WITH_AES_128_CCM"),
    (0xc09d, "TLS_RSA_WITH_AES_256_CCM"),
    (0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    (0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    (0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8"),
    (0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8"),
    (0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    (0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    (0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"),
    (0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"),
    (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xccab, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"),
    (0xccac, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
    (0xccad, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
];

/// The IANA name of a suite in [`SUITES`].
fn suite_name(v: u16) -> Option<&'static str> {
    SUITES.iter().find(|(c, _)| *c == v).map(|(_, n)| *n)
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for CipherSuite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CipherSuite {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "cipher suite", Self::from_name)
    }
}

/// An alert level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertLevel(pub u8);

impl AlertLevel {
    /// Level 1: warning (close_notify and user_canceled are sent at this level).
    pub const WARNING: AlertLevel = AlertLevel(1);
    /// Level 2: fatal.
    pub const FATAL: AlertLevel = AlertLevel(2);

    /// True for level 2 (fatal): the sender is tearing the connection down.
    pub fn is_fatal(&self) -> bool {
        *self == Self::FATAL
    }
}

/// Names of the alert levels.
const LEVELS: [(u8, &str); 2] = [(1, "warning"), (2, "fatal")];

/// How an undefined level is named, before its number.
const UNKNOWN_LEVEL: &str = "level ";

impl AlertLevel {
    /// The level a written name stands for ("warning", "fatal" or "level N").
    pub fn from_name(s: &str) -> Option<AlertLevel> {
        if let Some(n) = s.strip_prefix(UNKNOWN_LEVEL) {
            return parse_dec(n).map(AlertLevel);
        }
        LEVELS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(v, _)| AlertLevel(*v))
    }
}

impl fmt::Display for AlertLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match LEVELS.iter().find(|(v, _)| *v == self.0) {
            Some((_, n)) => f.write_str(n),
            None => write!(f, "{UNKNOWN_LEVEL}{}", self.0),
        }
    }
}

impl Serialize for AlertLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AlertLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "alert level", Self::from_name)
    }
}

/// RFC names of the alert descriptions.
const ALERTS: &[(u8, &str)] = &[
    (0, "close_notify"),
    (10, "unexpected_message"),
    (20, "bad_record_mac"),
    (21, "decryption_failed"),
    (22, "record_overflow"),
    (30, "decompression_failure"),
    (40, "handshake_failure"),
    (41, "no_certificate"),
    (42, "bad_certificate"),
    (43, "unsupported_certificate"),
    (44, "certificate_revoked"),
    (45, "certificate_expired"),
    (46, "certificate_unknown"),
    (47, "illegal_parameter"),
    (48, "unknown_ca"),
    (49, "access_denied"),
    (50, "decode_error"),
    (51, "decrypt_error"),
    (60, "export_restriction"),
    (70, "protocol_version"),
    (71, "insufficient_security"),
    (80, "internal_error"),
    (86, "inappropriate_fallback"),
    (90, "user_canceled"),
    (100, "no_renegotiation"),
    (109, "missing_extension"),
    (110, "unsupported_extension"),
    (111, "certificate_unobtainable"),
    (112, "unrecognized_name"),
    (113, "bad_certificate_status_response"),
    (114, "bad_certificate_hash_value"),
    (115, "unknown_psk_identity"),
    (116, "certificate_required"),
    (120, "no_application_protocol"),
];

/// How an unassigned description is named, before its number.
const UNKNOWN_ALERT: &str = "alert ";

/// An alert description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// close_notify: an orderly shutdown, not an error.
    pub const CLOSE_NOTIFY: AlertDescription = AlertDescription(0);

    /// The RFC name ("handshake_failure"), or None for unassigned values.
    pub fn name(&self) -> Option<&'static str> {
        ALERTS.iter().find(|(v, _)| *v == self.0).map(|(_, n)| *n)
    }

    /// The description a written name stands for (an RFC name or "alert N").
    pub fn from_name(s: &str) -> Option<AlertDescription> {
        if let Some(n) = s.strip_prefix(UNKNOWN_ALERT) {
            return parse_dec(n).map(AlertDescription);
        }
        ALERTS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(v, _)| AlertDescription(*v))
    }

    /// True when this description is an error whatever level it was sent at.
    ///
    /// Only close_notify, user_canceled and no_renegotiation are routinely sent as
    /// warnings; TLS 1.3 treats every other alert as fatal, so a "warning" level on any
    /// other description still means the handshake is failing.
    pub fn is_fatal_hint(&self) -> bool {
        !matches!(self.0, 0 | 90 | 100)
    }

    /// True for an orderly close (close_notify or user_canceled).
    pub fn is_closure(&self) -> bool {
        matches!(self.0, 0 | 90)
    }

    /// True when the alert says a peer rejected the other side's certificate.
    pub fn is_certificate_problem(&self) -> bool {
        matches!(self.0, 42..=46 | 48 | 111 | 113 | 114 | 116)
    }

    /// True when the alert says the two sides could not agree on versions or suites.
    pub fn is_negotiation_problem(&self) -> bool {
        matches!(self.0, 40 | 70 | 71 | 86 | 109 | 110 | 120)
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{UNKNOWN_ALERT}{}", self.0),
        }
    }
}

impl Serialize for AlertDescription {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AlertDescription {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_name(d, "alert description", Self::from_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names() {
        assert_eq!(CipherSuite(0x1301).to_string(), "TLS_AES_128_GCM_SHA256");
        assert_eq!(
            CipherSuite(0xc030).to_string(),
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        );
        assert_eq!(
            CipherSuite(0x00ff).to_string(),
            "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        );
        assert_eq!(CipherSuite(0x5600).to_string(), "TLS_FALLBACK_SCSV");
        assert_eq!(CipherSuite(0x3a3a).to_string(), "GREASE");
        assert_eq!(CipherSuite(0xbeef).to_string(), "0xbeef");
        assert!(CipherSuite(0x0005).is_weak());
        assert!(CipherSuite(0x000a).is_weak());
        assert!(!CipherSuite(0xc02f).is_weak());
        assert!(CipherSuite(0x1303).is_tls13());
        assert!(CipherSuite(0x00ff).is_scsv());
        let json = serde_json::to_string(&CipherSuite(0xcca8)).unwrap();
        assert_eq!(json, "\"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\"");
    }

    #[test]
    fn grease_detection() {
        for hi in 0..16u16 {
            let v = (hi << 12) | 0x0a00 | (hi << 4) | 0x0a;
            assert!(is_grease(v), "{v:04x}");
        }
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x0303));
        assert_eq!(TlsVersion(0x7a7a).to_string(), "GREASE");
    }

    #[test]
    fn alert_names() {
        assert_eq!(AlertDescription(0).to_string(), "close_notify");
        assert_eq!(AlertDescription(48).to_string(), "unknown_ca");
        assert_eq!(AlertDescription(120).to_string(), "no_application_protocol");
        assert_eq!(AlertDescription(7).to_string(), "alert 7");
        assert!(AlertDescription(45).is_certificate_problem());
        assert!(AlertDescription(70).is_negotiation_problem());
        assert!(!AlertDescription(0).is_fatal_hint());
        assert!(AlertDescription(40).is_fatal_hint());
        assert!(AlertLevel(2).is_fatal());
        let json = serde_json::to_string(&AlertDescription(46)).unwrap();
        assert_eq!(json, "\"certificate_unknown\"");
        assert_eq!(TlsVersion(0x0303).to_string(), "TLS 1.2");
        assert_eq!(TlsVersion(0x0305).to_string(), "0x0305");
    }
}
