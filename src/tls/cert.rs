//! What a certificate says, parsed with x509-parser.

use serde::Serialize;

/// The facts about one certificate that matter for diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses from subjectAltName.
    pub sans: Vec<String>,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// notBefore as seconds since the Unix epoch (for comparisons).
    #[serde(skip)]
    pub not_before_unix: i64,
    /// notAfter as seconds since the Unix epoch (for comparisons).
    #[serde(skip)]
    pub not_after_unix: i64,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
    /// Public key type, e.g. "RSA" or "EC P-256".
    pub key_type: String,
    /// Public key size in bits, when known.
    pub key_bits: Option<u32>,
    /// Signature algorithm name, e.g. "sha256WithRSAEncryption".
    pub signature_algorithm: String,
    /// Extended key usages by name; empty when the extension is absent (any usage).
    pub ekus: Vec<String>,
    /// True when the EKU extension is present.
    pub has_eku_extension: bool,
    /// SHA-256 fingerprint of the DER, hex.
    pub sha256: String,
    /// The DER encoding, kept for chain verification (not written to events).
    #[serde(skip)]
    pub der: Vec<u8>,
}
