//! RDP PDUs carried on the MCS I/O channel once MCS is connected: the security header,
//! Security Exchange and Client Info, licensing, Share Control/Data PDUs (capabilities,
//! finalization, Save Session Info, Set Error Info, Deactivate All) and Server
//! Redirection.
//!
//! These are seen in the clear when rdptap terminates TLS (`--intercept`), or under
//! standard RDP security until encryption starts.

use super::Dir;
use serde::Serialize;

/// What the I/O channel decoder saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RdpEvent {
    /// Placeholder until the decoders land.
    Unknown,
}

/// How the I/O channel's payloads are protected, which decides where the security header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Enhanced RDP security (TLS): only Client Info and licensing PDUs carry a
    /// security header.
    Enhanced,
    /// Standard RDP security with no encryption (ENCRYPTION_LEVEL_NONE): every PDU
    /// carries a basic security header, nothing is encrypted.
    StandardClear,
    /// Standard RDP security with encryption: only Security Exchange is readable.
    StandardEncrypted,
}

/// Decodes the payloads of MCS Send Data Request/Indication PDUs on the I/O channel, in
/// order, per direction. Keeps the little state the sequence needs (Client Info before
/// licensing before capabilities) and counts what it does not report one by one.
#[derive(Debug)]
pub struct IoDecoder {
    protection: Protection,
}

impl IoDecoder {
    /// A decoder for a connection protected as `protection`.
    pub fn new(protection: Protection) -> Self {
        IoDecoder { protection }
    }

    /// The protection in force.
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Decodes one Send Data payload (the MCS userData) travelling in `dir`.
    pub fn feed(&mut self, dir: Dir, payload: &[u8], out: &mut Vec<RdpEvent>) {
        let _ = (dir, payload, out);
    }
}
