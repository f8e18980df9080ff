//! What decrypting each cipher suite takes: the bulk cipher, the MAC and the key-derivation
//! hash, keyed by the suite's code. Suites and versions are named by decode's tables
//! (`crate::decode::tls::names`); this table only says what this module can decrypt.

use crate::decode::tls::{CipherSuite, TlsVersion};

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

/// What decrypting a suite takes.
#[derive(Debug, Clone, Copy)]
pub(super) struct SuiteInfo {
    /// The suite's code, as the ServerHello carries it.
    pub suite: CipherSuite,
    /// The record cipher.
    pub bulk: Bulk,
    /// The HMAC of a CBC suite (unused for AEAD suites).
    pub mac: Hash,
    /// The TLS 1.2 PRF hash, or the TLS 1.3 HKDF hash.
    pub prf: Hash,
}

const fn s(code: u16, bulk: Bulk, mac: Hash, prf: Hash) -> SuiteInfo {
    SuiteInfo {
        suite: CipherSuite(code),
        bulk,
        mac,
        prf,
    }
}

use Bulk::Chacha20Poly1305 as CHACHA;
use Bulk::{Aes128Cbc as C128, Aes128Gcm as G128, Aes256Cbc as C256, Aes256Gcm as G256};
use Hash::{Sha1 as SHA1, Sha256 as SHA256, Sha384 as SHA384};

/// Every suite this module decrypts, by code. Suites missing here (RC4, 3DES, CCM, NULL,
/// export, ...) still get their names from decode and stop with `UnsupportedSuite`.
static SUITES: &[SuiteInfo] = &[
    // TLS 1.3.
    s(0x1301, G128, SHA256, SHA256),
    s(0x1302, G256, SHA384, SHA384),
    s(0x1303, CHACHA, SHA256, SHA256),
    // TLS 1.2 AES-GCM: ECDHE_ECDSA, ECDHE_RSA, RSA and DHE_RSA key exchange.
    s(0xc02b, G128, SHA256, SHA256),
    s(0xc02c, G256, SHA384, SHA384),
    s(0xc02f, G128, SHA256, SHA256),
    s(0xc030, G256, SHA384, SHA384),
    s(0x009c, G128, SHA256, SHA256),
    s(0x009d, G256, SHA384, SHA384),
    s(0x009e, G128, SHA256, SHA256),
    s(0x009f, G256, SHA384, SHA384),
    // TLS 1.2 ChaCha20-Poly1305: ECDHE_RSA, ECDHE_ECDSA, DHE_RSA.
    s(0xcca8, CHACHA, SHA256, SHA256),
    s(0xcca9, CHACHA, SHA256, SHA256),
    s(0xccaa, CHACHA, SHA256, SHA256),
    // AES-CBC, RSA and DHE_RSA key exchange: HMAC-SHA1 (TLS 1.0 to 1.2), SHA-256 (1.2).
    s(0x002f, C128, SHA1, SHA256),
    s(0x0035, C256, SHA1, SHA256),
    s(0x003c, C128, SHA256, SHA256),
    s(0x003d, C256, SHA256, SHA256),
    s(0x0033, C128, SHA1, SHA256),
    s(0x0039, C256, SHA1, SHA256),
    s(0x0067, C128, SHA256, SHA256),
    s(0x006b, C256, SHA256, SHA256),
    // AES-CBC, ECDHE key exchange: HMAC-SHA1 (TLS 1.0 to 1.2), SHA-256/384 (1.2).
    s(0xc009, C128, SHA1, SHA256),
    s(0xc00a, C256, SHA1, SHA256),
    s(0xc013, C128, SHA1, SHA256),
    s(0xc014, C256, SHA1, SHA256),
    s(0xc023, C128, SHA256, SHA256),
    s(0xc024, C256, SHA384, SHA384),
    s(0xc027, C128, SHA256, SHA256),
    s(0xc028, C256, SHA384, SHA384),
];

/// The table entry for a suite this module decrypts.
pub(super) fn find(suite: CipherSuite) -> Option<&'static SuiteInfo> {
    SUITES.iter().find(|s| s.suite == suite)
}

/// Whether this module can decrypt records protected with `suite` (in a version the suite
/// is defined for).
pub fn is_decryptable(suite: CipherSuite) -> bool {
    find(suite).is_some()
}

/// Whether a suite can protect records in `version`: TLS 1.3 suites only in TLS 1.3, AEAD
/// suites from TLS 1.2, CBC suites from TLS 1.0 (those with SHA-256/384 HMACs from 1.2).
pub(super) fn usable(info: &SuiteInfo, version: TlsVersion) -> bool {
    let tls13 = info.suite.is_tls13();
    match version {
        TlsVersion::TLS13 => tls13,
        TlsVersion::TLS12 => !tls13,
        TlsVersion::TLS10 | TlsVersion::TLS11 => info.bulk.is_cbc() && info.mac == Hash::Sha1,
        // SSL 3.0, GREASE and unknown values.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names come from decode, so every suite decrypted here must be in decode's table.
    #[test]
    fn every_decryptable_suite_is_named_by_decode() {
        for info in SUITES {
            assert!(info.suite.name().is_some(), "{:?} has no name", info.suite);
            assert!(is_decryptable(info.suite));
        }
        assert_eq!(SUITES.iter().filter(|s| s.suite.is_tls13()).count(), 3);
    }

    #[test]
    fn suites_are_usable_only_in_their_versions() {
        let gcm13 = find(CipherSuite(0x1301)).unwrap();
        let gcm12 = find(CipherSuite(0xc02f)).unwrap();
        let cbc_sha1 = find(CipherSuite(0x002f)).unwrap();
        let cbc_sha256 = find(CipherSuite(0x003c)).unwrap();
        assert!(usable(gcm13, TlsVersion::TLS13) && !usable(gcm13, TlsVersion::TLS12));
        assert!(usable(gcm12, TlsVersion::TLS12) && !usable(gcm12, TlsVersion::TLS11));
        assert!(usable(cbc_sha1, TlsVersion::TLS10) && !usable(cbc_sha1, TlsVersion::SSL3));
        assert!(usable(cbc_sha256, TlsVersion::TLS12) && !usable(cbc_sha256, TlsVersion::TLS11));
        assert!(!usable(gcm12, TlsVersion(0x7a7a)));
        assert!(!is_decryptable(CipherSuite(0x0005)));
    }
}
