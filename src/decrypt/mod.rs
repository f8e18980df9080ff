//! Offline TLS decryption, sans-IO: given each direction's TLS byte stream from a capture and
//! an NSS key log, yields the handshake facts, the negotiated version and suite, alerts and
//! the application-data plaintext, so rdptap's decoders can read the RDP or gateway HTTP
//! inside.
//!
//! Versions, suites and alerts are decode's types (`crate::decode::tls`), named by its tables.
//!
//! Supported (see `suite.rs` for the table):
//! - TLS 1.3: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
//!   with HelloRetryRequest, middlebox-compatibility ChangeCipherSpec, KeyUpdate and PSK
//!   resumption. 0-RTT early data is skipped, not decrypted.
//! - TLS 1.2: AES-GCM and ChaCha20-Poly1305 suites, and AES-CBC suites with HMAC-SHA1,
//!   SHA-256 or SHA-384, for any key exchange (the key log carries the master secret).
//! - TLS 1.0 and 1.1: AES-CBC suites with HMAC-SHA1 (chained IVs in 1.0, the MD5+SHA-1 PRF).
//! - encrypt_then_mac (RFC 7366) for every CBC combination.
//!
//! Not supported: SSL 3.0, RC4, 3DES, CCM, NULL and export suites (named in events),
//! renegotiation (decryption stops at the renegotiating ChangeCipherSpec), DTLS, SSLv2 hellos.
//!
//! Using it: one `Decryptor` per TCP connection and one `KeyLog` for the whole capture.
//! - Feed each direction only from the first byte of TLS. RDP sends TPKT/X.224 Connection
//!   Request and Confirm frames in plaintext first; the caller strips them and starts
//!   feeding at the ClientHello (client) and ServerHello (server) records.
//! - Feed both directions in capture order, in any chunk sizes. A direction that gets ahead
//!   of the other's hello is held (up to `MAX_HELD` bytes), so whole-stream feeding of small
//!   connections also works.
//! - Keys are looked up when a direction first needs them, in the `KeyLog` passed to that
//!   `feed` call: add Decryption Secrets Blocks to the key log as they are read and later
//!   connections find them. Secrets that arrive after a direction needed them do not
//!   restart it (it has reported `StopReason::NoKeys`).
//! - Call `finish` at the end of the connection to hear about truncated records.
//!
//! Memory per connection is bounded: one record per direction (`MAX_RECORD`), one hello
//! (`MAX_HELLO`), and what a direction holds while it waits for the other's hello
//! (`MAX_HELD`). Hostile input never panics; it stops the direction with a `StopReason`.

mod aead;
mod cbc;
mod conn;
mod event;
mod flow;
mod handshake;
mod hello;
mod hex;
mod kdf;
mod keylog;
mod keys;
mod names;
mod record;
mod suite;

pub use conn::{Decryptor, MAX_HELD};
pub use event::{DecryptEvent, FailCause, Notice, StopReason, Unexpected};
pub use handshake::MAX_HELLO;
pub use hello::{HandshakeFacts, MAX_OFFERED};
pub use keylog::{KeyLog, KeyLogStats, Secret, SecretLabel, MAX_LINE, MAX_SECRETS, MAX_SECRET_LEN};
pub use names::{Alert, HandshakeType};
pub use record::MAX_RECORD;
pub use suite::is_decryptable;

#[cfg(test)]
mod errors_tests;
#[cfg(test)]
mod keylog_tests;
#[cfg(test)]
mod openssl_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod rustls_tests;
#[cfg(test)]
mod testkit;
