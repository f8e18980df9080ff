//! Protocol versions and cipher suites: their names, and for the suites this module can
//! decrypt, the bulk cipher, MAC and key-derivation hash.

use std::fmt;

/// A TLS protocol version as carried on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsVersion {
    /// SSL 3.0 (0x0300); not decrypted.
    Ssl3,
    /// TLS 1.0 (0x0301).
    Tls10,
    /// TLS 1.1 (0x0302).
    Tls11,
    /// TLS 1.2 (0x0303).
    Tls12,
    /// TLS 1.3 (0x0304).
    Tls13,
    /// Anything else (including GREASE values in `supported_versions`).
    Other(u16),
}

impl TlsVersion {
    /// The version for its wire value.
    pub fn from_wire(v: u16) -> TlsVersion {
        match v {
            0x0300 => TlsVersion::Ssl3,
            0x0301 => TlsVersion::Tls10,
            0x0302 => TlsVersion::Tls11,
            0x0303 => TlsVersion::Tls12,
            0x0304 => TlsVersion::Tls13,
            other => TlsVersion::Other(other),
        }
    }

    /// The wire value.
    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Ssl3 => 0x0300,
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
            TlsVersion::Other(v) => v,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsVersion::Ssl3 => f.write_str("SSL 3.0"),
            TlsVersion::Tls10 => f.write_str("TLS 1.0"),
            TlsVersion::Tls11 => f.write_str("TLS 1.1"),
            TlsVersion::Tls12 => f.write_str("TLS 1.2"),
            TlsVersion::Tls13 => f.write_str("TLS 1.3"),
            TlsVersion::Other(v) => write!(f, "unknown version 0x{v:04x}"),
        }
    }
}

/// A cipher suite by its wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// The IANA name, if the suite is one this module knows.
    pub fn name(self) -> Option<&'static str> {
        find(self.0).map(|s| s.name)
    }

    /// Whether this module can decrypt records protected with this suite (in a version
    /// the suite is defined for).
    pub fn is_decryptable(self) -> bool {
        find(self.0).is_some_and(|s| s.bulk.is_some())
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:04x})", self.0),
            None => write!(f, "unknown cipher suite 0x{:04x}", self.0),
        }
    }
}

/// The record cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
}

impl Bulk {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::Aes256Cbc | Bulk::Chacha20Poly1305 => 32,
        }
    }

    /// Whether this is an AES-CBC (MAC-then-encrypt or encrypt-then-MAC) cipher.
    pub fn is_cbc(self) -> bool {
        matches!(self, Bulk::Aes128Cbc | Bulk::Aes256Cbc)
    }
}

/// A hash used for a CBC suite's HMAC or for key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hash {
    Sha1,
    Sha256,
    Sha384,
}

impl Hash {
    /// Output length in bytes.
    pub fn len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// What decrypting a suite takes; `bulk` is `None` for suites known only by name.
#[derive(Debug, Clone, Copy)]
pub(super) struct SuiteInfo {
    pub id: u16,
    pub name: &'static str,
    pub bulk: Option<Bulk>,
    /// The HMAC of a CBC suite (unused for AEAD suites).
    pub mac: Hash,
    /// The TLS 1.2 PRF hash, or the TLS 1.3 HKDF hash.
    pub prf: Hash,
    pub tls13: bool,
}

const fn s(id: u16, name: &'static str, bulk: Bulk, mac: Hash, prf: Hash) -> SuiteInfo {
    SuiteInfo {
        id,
        name,
        bulk: Some(bulk),
        mac,
        prf,
        tls13: (id >> 8) == 0x13,
    }
}

const fn named(id: u16, name: &'static str) -> SuiteInfo {
    SuiteInfo {
        id,
        name,
        bulk: None,
        mac: Hash::Sha256,
        prf: Hash::Sha256,
        tls13: (id >> 8) == 0x13,
    }
}

use Bulk::Chacha20Poly1305 as CHACHA;
use Bulk::{Aes128Cbc as C128, Aes128Gcm as G128, Aes256Cbc as C256, Aes256Gcm as G256};
use Hash::{Sha1 as SHA1, Sha256 as SHA256, Sha384 as SHA384};

/// Every suite this module knows. Old Windows hosts and middleboxes still pick the RC4 and
/// 3DES suites, so those are named even though they are not decrypted.
static SUITES: &[SuiteInfo] = &[
    s(0x1301, "TLS_AES_128_GCM_SHA256", G128, SHA256, SHA256),
    s(0x1302, "TLS_AES_256_GCM_SHA384", G256, SHA384, SHA384),
    s(
        0x1303,
        "TLS_CHACHA20_POLY1305_SHA256",
        CHACHA,
        SHA256,
        SHA256,
    ),
    named(0x1304, "TLS_AES_128_CCM_SHA256"),
    named(0x1305, "TLS_AES_128_CCM_8_SHA256"),
    s(
        0xc02b,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        G128,
        SHA256,
        SHA256,
    ),
    s(
        0xc02c,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        G256,
        SHA384,
        SHA384,
    ),
    s(
        0xc02f,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        G128,
        SHA256,
        SHA256,
    ),
    s(
        0xc030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        G256,
        SHA384,
        SHA384,
    ),
    s(
        0x009c,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        G128,
        SHA256,
        SHA256,
    ),
    s(
        0x009d,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        G256,
        SHA384,
        SHA384,
    ),
    s(
        0x009e,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        G128,
        SHA256,
        SHA256,
    ),
    s(
        0x009f,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        G256,
        SHA384,
        SHA384,
    ),
    s(
        0xcca8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CHACHA,
        SHA256,
        SHA256,
    ),
    s(
        0xcca9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CHACHA,
        SHA256,
        SHA256,
    ),
    s(
        0xccaa,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CHACHA,
        SHA256,
        SHA256,
    ),
    s(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", C128, SHA1, SHA256),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", C256, SHA1, SHA256),
    s(
        0x003c,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        C128,
        SHA256,
        SHA256,
    ),
    s(
        0x003d,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        C256,
        SHA256,
        SHA256,
    ),
    s(
        0x0033,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        C128,
        SHA1,
        SHA256,
    ),
    s(
        0x0039,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        C256,
        SHA1,
        SHA256,
    ),
    s(
        0x0067,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        C128,
        SHA256,
        SHA256,
    ),
    s(
        0x006b,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        C256,
        SHA256,
        SHA256,
    ),
    s(
        0xc009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        C128,
        SHA1,
        SHA256,
    ),
    s(
        0xc00a,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        C256,
        SHA1,
        SHA256,
    ),
    s(
        0xc013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        C128,
        SHA1,
        SHA256,
    ),
    s(
        0xc014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        C256,
        SHA1,
        SHA256,
    ),
    s(
        0xc023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        C128,
        SHA256,
        SHA256,
    ),
    s(
        0xc024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        C256,
        SHA384,
        SHA384,
    ),
    s(
        0xc027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        C128,
        SHA256,
        SHA256,
    ),
    s(
        0xc028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        C256,
        SHA384,
        SHA384,
    ),
    named(0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    named(0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    named(0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    named(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    named(0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    named(0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    named(0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
    named(0x5600, "TLS_FALLBACK_SCSV"),
];

/// The table entry for a suite.
pub(super) fn find(id: u16) -> Option<&'static SuiteInfo> {
    SUITES.iter().find(|s| s.id == id)
}

/// Whether `suite` can protect records in `version`: TLS 1.3 suites only in TLS 1.3, AEAD
/// suites from TLS 1.2, CBC suites from TLS 1.0 (those with SHA-256/384 HMACs from 1.2).
pub(super) fn usable(suite: &SuiteInfo, version: TlsVersion) -> bool {
    let Some(bulk) = suite.bulk else {
        return false;
    };
    match version {
        TlsVersion::Tls13 => suite.tls13,
        TlsVersion::Tls12 => !suite.tls13,
        TlsVersion::Tls10 | TlsVersion::Tls11 => bulk.is_cbc() && suite.mac == Hash::Sha1,
        TlsVersion::Ssl3 | TlsVersion::Other(_) => false,
    }
}
