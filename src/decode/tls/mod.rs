//! TLS record layer and handshake, observed passively in both directions.

pub mod names;

pub use names::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};

use crate::decode::Dir;
use crate::tls::cert::CertInfo;
use serde::Serialize;

/// What the TLS decoder saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsEvent {
    /// The client's ClientHello.
    ClientHello {
        /// legacy_version from the hello body.
        legacy_version: TlsVersion,
        /// Versions offered (supported_versions, or legacy_version alone without it).
        versions: Vec<TlsVersion>,
        /// Cipher suites offered, in the client's order.
        cipher_suites: Vec<CipherSuite>,
        /// server_name (SNI), if sent.
        sni: Option<String>,
        /// ALPN protocols offered.
        alpn: Vec<String>,
    },
    /// The server's ServerHello (or HelloRetryRequest).
    ServerHello {
        /// The negotiated version (supported_versions wins over legacy_version).
        version: TlsVersion,
        /// The chosen cipher suite.
        cipher_suite: CipherSuite,
        /// True when this is a HelloRetryRequest.
        hello_retry_request: bool,
        /// The downgrade sentinel found in server random, if any: "tls12" or "tls11_or_below".
        downgrade_sentinel: Option<String>,
    },
    /// A Certificate message in the clear (TLS 1.2 and below).
    Certificate {
        /// The chain as sent, leaf first.
        chain: Vec<CertInfo>,
    },
    /// TLS 1.3 was negotiated: the certificate is encrypted and cannot be seen passively.
    CertificateHidden {
        /// The negotiated version.
        version: TlsVersion,
    },
    /// A plaintext alert.
    Alert {
        /// warning or fatal.
        level: AlertLevel,
        /// The alert description, by name.
        description: AlertDescription,
    },
    /// Both sides finished the handshake; application data follows.
    HandshakeDone,
    /// An encrypted record whose type or size says "alert" (most likely close_notify).
    EncryptedAlertLikely {
        /// The record's length field.
        len: u16,
    },
    /// One of the first application-data records after the handshake, with its size.
    ///
    /// Only the first few records per direction are reported; the rest are counted.
    AppRecord {
        /// 1-based index among this direction's application records.
        seq: u32,
        /// The record's length field (ciphertext length).
        len: u16,
    },
}

/// Per-direction record counters kept by the TLS decoder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordStats {
    /// All records seen in this direction.
    pub records: u64,
    /// Application-data records after the handshake.
    pub app_records: u64,
    /// Bytes of record payload (excluding 5-byte headers).
    pub payload_bytes: u64,
}

/// Unused marker so `Dir` stays imported for the decoder implementation.
#[allow(dead_code)]
fn _dir(_: Dir) {}
