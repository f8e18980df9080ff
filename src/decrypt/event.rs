//! What the decryptor reports: typed events with borrowed plaintext, and the reasons a
//! direction stops decrypting, each in plain English.

use super::keylog::SecretLabel;
use super::names::{Alert, HandshakeType};
use crate::decode::tls::{CipherSuite, TlsVersion};
use crate::vocab::Dir;
use std::fmt;

/// One thing learnt from the byte streams, in the order the bytes were fed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecryptEvent<'a> {
    /// The ServerHello settled the version and suite (said once, when both hellos are in);
    /// `keys_found` if the key log then held every secret the connection needs.
    Negotiated {
        /// The negotiated version.
        version: TlsVersion,
        /// The negotiated suite.
        suite: CipherSuite,
        /// Whether this module can decrypt that suite in that version.
        decryptable: bool,
        /// Whether the key log held all the secrets this connection needs.
        keys_found: bool,
    },
    /// The server answered with a TLS 1.3 HelloRetryRequest (it wants another key share).
    HelloRetry {
        /// The suite the server picked.
        suite: CipherSuite,
    },
    /// A handshake message went by (plaintext, or decrypted when `encrypted`).
    Handshake {
        /// Who sent it.
        dir: Dir,
        /// Its type.
        kind: HandshakeType,
        /// Its body length in bytes.
        len: u32,
        /// Whether it came under record protection.
        encrypted: bool,
    },
    /// Application data, decrypted, in order within its direction.
    AppData {
        /// Who sent it.
        dir: Dir,
        /// The plaintext, borrowed for the duration of the callback.
        data: &'a [u8],
    },
    /// An alert, decrypted when `encrypted`.
    Alert {
        /// Who sent it.
        dir: Dir,
        /// Level and description.
        alert: Alert,
        /// Whether it came under record protection.
        encrypted: bool,
    },
    /// The sender switched to the next TLS 1.3 application traffic secret (KeyUpdate).
    KeyUpdate {
        /// Who updated their keys.
        dir: Dir,
        /// Whether the sender asked the peer to update its keys too.
        update_requested: bool,
    },
    /// Something worth knowing that does not stop decryption.
    Notice {
        /// The direction it concerns.
        dir: Dir,
        /// What happened.
        notice: Notice,
    },
    /// This direction is not decrypted any further; said at most once per direction.
    Stopped {
        /// The direction that stopped.
        dir: Dir,
        /// Why.
        reason: StopReason,
    },
}

impl fmt::Display for DecryptEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptEvent::Negotiated {
                version,
                suite,
                decryptable,
                keys_found,
            } => {
                // Decode writes an unknown code as bare hex, so the words say what it is.
                write!(f, "negotiated version {version} with cipher suite {suite}")?;
                if !decryptable {
                    f.write_str(", which this decryptor does not support")?;
                }
                f.write_str(match keys_found {
                    true => "; keys found in the key log",
                    false => "; the key log does not have all its keys",
                })
            }
            DecryptEvent::HelloRetry { suite } => {
                write!(f, "server sent a HelloRetryRequest (cipher suite {suite})")
            }
            DecryptEvent::Handshake {
                dir,
                kind,
                len,
                encrypted,
            } => {
                let how = if *encrypted { "encrypted" } else { "plaintext" };
                write!(f, "{dir}: {how} handshake message {kind} ({len} bytes)")
            }
            DecryptEvent::AppData { dir, data } => {
                write!(f, "{dir}: {} bytes of application data", data.len())
            }
            DecryptEvent::Alert {
                dir,
                alert,
                encrypted,
            } => {
                let how = if *encrypted { "encrypted" } else { "plaintext" };
                write!(f, "{dir}: {how} {alert}")
            }
            DecryptEvent::KeyUpdate {
                dir,
                update_requested,
            } => {
                write!(f, "{dir}: sender moved to new traffic keys (KeyUpdate)")?;
                if *update_requested {
                    f.write_str(" and asked the peer to do the same")?;
                }
                Ok(())
            }
            DecryptEvent::Notice { dir, notice } => write!(f, "{dir}: {notice}"),
            DecryptEvent::Stopped { dir, reason } => {
                write!(
                    f,
                    "{dir}: {reason}; the rest of this direction is not decrypted"
                )
            }
        }
    }
}

/// Something that does not stop decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// TLS 1.3 0-RTT early data: its records are skipped, not decrypted.
    EarlyDataSkipped,
    /// The peer started a TLS ≤ 1.2 renegotiation; decryption stops at its ChangeCipherSpec.
    Renegotiation,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Notice::EarlyDataSkipped => {
                "skipping TLS 1.3 early data (0-RTT), which this decryptor does not decrypt"
            }
            Notice::Renegotiation => {
                "the peer started a renegotiation, which this decryptor does not follow; \
                 decryption stops at its ChangeCipherSpec"
            }
        })
    }
}

/// Why a record could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCause {
    /// The AEAD tag did not verify (wrong keys or corrupt bytes).
    Tag,
    /// The HMAC did not verify (wrong keys or corrupt bytes).
    Mac,
    /// The CBC padding was malformed (wrong keys or corrupt bytes).
    Padding,
    /// The record is too short, or not whole blocks, for its cipher.
    Length,
    /// A TLS 1.3 record decrypted to nothing but padding (no content type).
    NoContentType,
}

impl fmt::Display for FailCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailCause::Tag => "the authentication tag does not match (wrong keys or corrupt bytes)",
            FailCause::Mac => "the MAC does not match (wrong keys or corrupt bytes)",
            FailCause::Padding => "the CBC padding is malformed (wrong keys or corrupt bytes)",
            FailCause::Length => "the record is too short or misaligned for its cipher",
            FailCause::NoContentType => "the TLS 1.3 record has no content type",
        })
    }
}

/// A record that breaks the protocol at this point in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unexpected {
    /// The first record is not a hello: the capture starts mid-connection.
    NoHello,
    /// A ChangeCipherSpec or application data came before the ServerHello.
    BeforeServerHello,
    /// Application data in plaintext in TLS ≤ 1.2.
    PlaintextAppData,
    /// A plaintext handshake record after TLS 1.3 protection began.
    PlaintextHandshakeAfterKeys,
    /// A ChangeCipherSpec inside TLS 1.3 record protection.
    EncryptedChangeCipherSpec,
    /// A content type that is not defined.
    ContentType(u8),
    /// A ClientHello or ServerHello that does not parse.
    MalformedHello,
    /// A hello larger than this decryptor buffers (`MAX_HELLO` bytes).
    HelloTooLarge,
    /// An alert record whose length is not a multiple of two.
    MalformedAlert,
}

impl fmt::Display for Unexpected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unexpected::NoHello => f.write_str(
                "the stream does not start with a TLS hello (capture started mid-connection?)",
            ),
            Unexpected::BeforeServerHello => {
                f.write_str("a ChangeCipherSpec or application data came before the ServerHello")
            }
            Unexpected::PlaintextAppData => f.write_str("application data was sent in plaintext"),
            Unexpected::PlaintextHandshakeAfterKeys => {
                f.write_str("a plaintext handshake record came after TLS 1.3 encryption began")
            }
            Unexpected::EncryptedChangeCipherSpec => {
                f.write_str("a ChangeCipherSpec came inside TLS 1.3 encryption")
            }
            Unexpected::ContentType(t) => write!(f, "record content type {t} is not defined"),
            Unexpected::MalformedHello => f.write_str("a hello message does not parse"),
            Unexpected::HelloTooLarge => f.write_str("a hello message is too large to buffer"),
            Unexpected::MalformedAlert => f.write_str("an alert record has an odd length"),
        }
    }
}

/// Why a direction stopped decrypting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The key log has no secret of this label for the connection.
    NoKeys {
        /// The connection's client random, in hex.
        client_random: String,
        /// The secret that was needed.
        label: SecretLabel,
    },
    /// The negotiated version is not decrypted here (SSL 3.0, unknown values).
    UnsupportedVersion(TlsVersion),
    /// The negotiated suite is not decrypted here, or not defined for the version.
    UnsupportedSuite(CipherSuite),
    /// A record failed to decrypt.
    DecryptFailed {
        /// The record's number in this direction, counting from 1.
        record: u64,
        /// The byte offset of its header from the start of TLS in this direction.
        offset: u64,
        /// What check failed.
        cause: FailCause,
    },
    /// The bytes at `offset` are not a TLS record header.
    NotTls {
        /// Stream offset of the bad header.
        offset: u64,
        /// The first byte (the content type).
        content_type: u8,
        /// The version field.
        version: u16,
    },
    /// A record header claims more than `MAX_RECORD` bytes.
    RecordTooLarge {
        /// The record's number, counting from 1.
        record: u64,
        /// Stream offset of its header.
        offset: u64,
        /// The claimed length.
        len: u16,
    },
    /// A record breaks the protocol.
    Unexpected {
        /// The record's number, counting from 1.
        record: u64,
        /// Stream offset of its header.
        offset: u64,
        /// How.
        what: Unexpected,
    },
    /// The peer renegotiated (TLS ≤ 1.2), which this decryptor does not follow.
    Renegotiation,
    /// This direction got more than `MAX_HELD` bytes ahead of the other's hello.
    WaitedTooLong,
    /// The connection ended while this direction still waited for the other's hello.
    PeerHelloMissing {
        /// Bytes of this direction that were never decrypted.
        held: usize,
    },
    /// The stream ends inside a record.
    Truncated {
        /// The record's number, counting from 1.
        record: u64,
        /// Stream offset of its header.
        offset: u64,
        /// Bytes of it present (header included).
        have: usize,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::NoKeys {
                client_random,
                label,
            } => write!(
                f,
                "no {label} secret in the key log for this connection (client random {client_random})"
            ),
            StopReason::UnsupportedVersion(v) => {
                write!(f, "version {v} is not supported for decryption")
            }
            StopReason::UnsupportedSuite(s) => {
                write!(f, "cipher suite {s} is not supported for decryption")
            }
            StopReason::DecryptFailed {
                record,
                offset,
                cause,
            } => write!(
                f,
                "decryption failed at record {record} (stream offset {offset}): {cause}"
            ),
            StopReason::NotTls {
                offset,
                content_type,
                version,
            } => write!(
                f,
                "the bytes at stream offset {offset} are not a TLS record \
                 (content type {content_type}, version 0x{version:04x})"
            ),
            StopReason::RecordTooLarge {
                record,
                offset,
                len,
            } => write!(
                f,
                "record {record} (stream offset {offset}) claims {len} bytes, more than TLS allows"
            ),
            StopReason::Unexpected {
                record,
                offset,
                what,
            } => write!(f, "record {record} (stream offset {offset}): {what}"),
            StopReason::Renegotiation => f.write_str("the peer renegotiated, which is not supported"),
            StopReason::WaitedTooLong => f.write_str(
                "too many bytes arrived before the other direction's hello \
                 (feed both directions in capture order)",
            ),
            StopReason::PeerHelloMissing { held } => write!(
                f,
                "the other direction's hello never came, so {held} bytes were left undecrypted"
            ),
            StopReason::Truncated {
                record,
                offset,
                have,
            } => write!(
                f,
                "the stream ends inside record {record} (stream offset {offset}, {have} bytes of it present)"
            ),
        }
    }
}
