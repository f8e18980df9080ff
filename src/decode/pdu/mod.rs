//! RDP PDUs carried on the MCS I/O channel once MCS is connected: the security header,
//! Security Exchange and Client Info, licensing, Share Control/Data PDUs (capabilities,
//! finalization, Save Session Info, Set Error Info, Deactivate All) and Server
//! Redirection.
//!
//! These are seen in the clear when rdptap terminates TLS (`--intercept`), or under
//! standard RDP security until encryption starts. Feed [`IoDecoder`] the userData of
//! each MCS Send Data Request/Indication on the I/O channel (not virtual channels).

#[macro_use]
pub mod names;
pub mod activation;
pub mod data;
pub mod errinfo;
mod event;
pub mod licensing;
pub mod reader;
pub mod redirect;
pub mod sec;
pub mod share;

#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod sec_tests;
#[cfg(test)]
mod share_tests;
#[cfg(test)]
pub(crate) mod test_pdus;

pub use activation::ActivePdu;
pub use data::{LogonError, SaveSessionInfo};
pub use errinfo::ErrorInfo;
pub use event::RdpEvent;
pub use licensing::{License, LicenseError, LicenseOutcome};
pub use names::Flags;
pub use redirect::Redirection;
pub use sec::ClientInfo;

use super::wire::le_u16;
use crate::vocab::Dir;
use names::SEC_FLAGS;
use reader::{ParseError, Parsed, Reader};
use sec::{
    SEC_AUTODETECT_REQ, SEC_AUTODETECT_RSP, SEC_ENCRYPT, SEC_EXCHANGE_PKT, SEC_HEARTBEAT,
    SEC_INFO_PKT, SEC_KNOWN, SEC_LICENSE_PKT, SEC_REDIRECTION_PKT, SEC_TRANSPORT_REQ,
    SEC_TRANSPORT_RSP,
};
use serde::{Deserialize, Serialize};
use share::{is_share_pdu_type, share_pdu, FLOW_MARKER};

/// Most Malformed or Compressed events reported per connection; later ones are counted.
const MAX_REPEATED_EVENTS: u64 = 16;

/// How the I/O channel's payloads are protected, which decides where the security header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Enhanced RDP security (TLS): only Client Info and licensing PDUs carry a
    /// security header.
    Enhanced,
    /// Standard RDP security with no encryption (ENCRYPTION_LEVEL_NONE): Client Info
    /// and licensing carry a basic security header; other PDUs may or may not (the
    /// specification omits it, some servers send flags 0), so the bytes decide.
    StandardClear,
    /// Standard RDP security with encryption: PDUs with SEC_ENCRYPT are only counted
    /// (the first one is announced); PDUs the flags show to be clear (Security
    /// Exchange, licensing, server PDUs at ENCRYPTION_LEVEL_LOW) are still decoded.
    StandardEncrypted,
}

/// Counters of what the decoder does not report one by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoStats {
    /// Payloads fed, indexed by [`Dir::idx`] (client to server first).
    pub payloads: [u64; 2],
    /// Share Data PDUs, indexed by [`Dir::idx`].
    pub data_pdus: [u64; 2],
    /// Slow-path Update PDUs (graphics).
    pub updates: u64,
    /// Slow-path Input PDUs.
    pub inputs: u64,
    /// Pointer update PDUs.
    pub pointers: u64,
    /// Refresh Rect PDUs.
    pub refresh_rects: u64,
    /// Suppress Output PDUs (the client minimized or restored its window).
    pub suppress_outputs: u64,
    /// Set Keyboard Indicators and Set Keyboard IME Status PDUs.
    pub keyboard_status: u64,
    /// Other known Data PDUs (sound, cache error, auto-reconnect status).
    pub other_data_pdus: u64,
    /// Bulk-compressed Data PDUs, which are never decoded.
    pub compressed_pdus: u64,
    /// T.128 flow PDUs.
    pub flow_pdus: u64,
    /// Security-header PDUs decoded elsewhere: auto-detect, heartbeat, multitransport.
    pub other_sec_pdus: u64,
    /// PDUs encrypted under standard RDP security, indexed by [`Dir::idx`].
    pub encrypted_pdus: [u64; 2],
    /// PDUs whose Share Control type or pduType2 is unknown.
    pub unknown_pdus: u64,
    /// Payloads that could not be decoded.
    pub malformed: u64,
    /// Malformed/Compressed events not emitted because their cap was reached.
    pub suppressed_events: u64,
}

/// What the first four bytes of a payload are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// A Share Control Header (or a flow PDU).
    Share,
    /// A basic security header (TS_SECURITY_HEADER).
    Security,
}

/// Decodes the payloads of MCS Send Data Request/Indication PDUs on the I/O channel, in
/// order, per direction. Keeps the little state the sequence needs (Client Info before
/// licensing before capabilities) and counts what it does not report one by one.
#[derive(Debug)]
pub struct IoDecoder {
    protection: Protection,
    /// Licensing ended, or a Share Control PDU showed the server skipped it.
    licensing_done: bool,
    /// The EncryptedFromHere event was emitted.
    encrypted: bool,
    /// MalformedPdu events emitted.
    malformed_events: u64,
    /// CompressedPdu events emitted.
    compressed_events: u64,
    stats: IoStats,
}

impl IoDecoder {
    /// A decoder for a connection protected as `protection`.
    pub fn new(protection: Protection) -> Self {
        IoDecoder {
            protection,
            licensing_done: false,
            encrypted: false,
            malformed_events: 0,
            compressed_events: 0,
            stats: IoStats::default(),
        }
    }

    /// The protection in force.
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Counters of what is not reported one by one.
    pub fn stats(&self) -> IoStats {
        self.stats
    }

    /// True once licensing has ended (or was skipped by the server).
    pub fn licensing_done(&self) -> bool {
        self.licensing_done
    }

    /// Decodes one Send Data payload (the MCS userData) travelling in `dir`.
    pub fn feed(&mut self, dir: Dir, payload: &[u8], out: &mut Vec<RdpEvent>) {
        self.stats.payloads[dir.idx()] += 1;
        match self.decode(dir, payload) {
            Ok(Some(event)) => {
                self.observe(dir, &event);
                self.emit(event, out);
            }
            Ok(None) => {}
            Err(e) => {
                self.stats.malformed += 1;
                let what = if e.what.is_empty() {
                    "I/O channel PDU"
                } else {
                    e.what
                };
                self.emit(
                    RdpEvent::MalformedPdu {
                        what: what.to_string(),
                        reason: e.reason,
                    },
                    out,
                );
            }
        }
    }

    /// Pushes `event`, unless it is of a repetitive kind whose cap is reached.
    fn emit(&mut self, event: RdpEvent, out: &mut Vec<RdpEvent>) {
        let counter = match event {
            RdpEvent::MalformedPdu { .. } => Some(&mut self.malformed_events),
            RdpEvent::CompressedPdu { .. } => Some(&mut self.compressed_events),
            _ => None,
        };
        if let Some(n) = counter {
            if *n >= MAX_REPEATED_EVENTS {
                self.stats.suppressed_events += 1;
                return;
            }
            *n += 1;
        }
        out.push(event);
    }

    /// Updates the sequence state from a decoded event.
    fn observe(&mut self, dir: Dir, event: &RdpEvent) {
        if let RdpEvent::License(l) = event {
            if dir == Dir::S2C && l.outcome != LicenseOutcome::InProgress {
                self.licensing_done = true;
            }
        }
    }

    /// Classifies the payload by its first two u16s and decodes it.
    fn decode(&mut self, dir: Dir, payload: &[u8]) -> Parsed<Option<RdpEvent>> {
        let (Some(first), Some(second)) = (le_u16(payload, 0), le_u16(payload, 2)) else {
            return Err(ParseError::new(format!(
                "{} bytes are too few for any header",
                payload.len()
            )));
        };
        match self.classify(dir, payload.len(), first, second) {
            Some(Header::Share) => self.share(dir, payload),
            Some(Header::Security) => self.secured(dir, first, payload),
            None => Err(ParseError::new(format!(
                "first bytes {first:04x} {second:04x} are neither a security header nor a Share Control Header"
            ))),
        }
    }

    /// Tells a Share Control Header from a basic security header.
    ///
    /// A Share Control pduType always has version 1 in bits 4–15; security flags use a
    /// known set of bits. When both fit (flagsHi is uninitialized unless
    /// SEC_FLAGSHI_VALID, so it can look like a pduType), an exact totalLength decides
    /// for Share Control; otherwise, until licensing ends, the flags of the PDUs that
    /// precede it (Security Exchange, Client Info, licensing, redirection) win.
    fn classify(&self, dir: Dir, len: usize, first: u16, second: u16) -> Option<Header> {
        if first == FLOW_MARKER {
            return Some(Header::Share);
        }
        let share = is_share_pdu_type(second);
        let sec = first & !SEC_KNOWN == 0;
        match (share, sec) {
            (true, false) => Some(Header::Share),
            (false, true) => Some(Header::Security),
            (false, false) => None,
            (true, true) => {
                let early = match dir {
                    Dir::C2S => SEC_EXCHANGE_PKT | SEC_INFO_PKT | SEC_LICENSE_PKT,
                    Dir::S2C => SEC_LICENSE_PKT | SEC_REDIRECTION_PKT,
                };
                if usize::from(first) != len && !self.licensing_done && first & early != 0 {
                    Some(Header::Security)
                } else {
                    Some(Header::Share)
                }
            }
        }
    }

    /// Decodes a Share Control PDU, which also shows licensing is over.
    fn share(&mut self, dir: Dir, payload: &[u8]) -> Parsed<Option<RdpEvent>> {
        let event =
            share_pdu(payload, dir, &mut self.stats).map_err(|e| e.within("Share Control PDU"))?;
        self.licensing_done = true;
        Ok(event)
    }

    /// Decodes a PDU that starts with a basic security header with `flags`.
    fn secured(&mut self, dir: Dir, flags: u16, payload: &[u8]) -> Parsed<Option<RdpEvent>> {
        if flags & SEC_ENCRYPT != 0 {
            return self.encrypted_pdu(dir, flags);
        }
        let mut r = Reader::new(payload);
        r.skip(4)?;
        if flags & SEC_EXCHANGE_PKT != 0 {
            let random_len =
                sec::security_exchange(&mut r).map_err(|e| e.within("Security Exchange"))?;
            return Ok(Some(RdpEvent::SecurityExchange { random_len }));
        }
        if flags & SEC_INFO_PKT != 0 {
            let info = sec::client_info(&mut r).map_err(|e| e.within("Client Info"))?;
            return Ok(Some(RdpEvent::ClientInfo(Box::new(info))));
        }
        if flags & SEC_LICENSE_PKT != 0 {
            let license = licensing::license(&mut r).map_err(|e| e.within("licensing PDU"))?;
            return Ok(Some(RdpEvent::License(license)));
        }
        if flags & SEC_REDIRECTION_PKT != 0 {
            // Under standard security the flags field is the packet's own Flags field.
            let red = redirect::redirection(&mut Reader::new(payload))
                .map_err(|e| e.within("Server Redirection"))?;
            return Ok(Some(RdpEvent::ServerRedirection(Box::new(red))));
        }
        let elsewhere = SEC_AUTODETECT_REQ
            | SEC_AUTODETECT_RSP
            | SEC_HEARTBEAT
            | SEC_TRANSPORT_REQ
            | SEC_TRANSPORT_RSP;
        if flags & elsewhere != 0 {
            self.stats.other_sec_pdus += 1;
            return Ok(None);
        }
        // Flags with no PDU bit: a Share Control PDU behind a basic header, as servers
        // send at ENCRYPTION_LEVEL_LOW, where only client data is encrypted.
        let body = r.rest();
        match le_u16(body, 2) {
            Some(t) if is_share_pdu_type(t) || le_u16(body, 0) == Some(FLOW_MARKER) => {
                self.share(dir, body)
            }
            _ => Err(ParseError::new(format!(
                "security header flags {} announce no PDU we know",
                Flags::new(u32::from(flags), SEC_FLAGS)
            ))
            .within("security header")),
        }
    }

    /// Counts an encrypted PDU, announcing the first one.
    fn encrypted_pdu(&mut self, dir: Dir, flags: u16) -> Parsed<Option<RdpEvent>> {
        self.stats.encrypted_pdus[dir.idx()] += 1;
        if self.protection == Protection::Enhanced {
            return Err(ParseError::new(
                "SEC_ENCRYPT is set although the connection uses enhanced (TLS) security",
            )
            .within("security header"));
        }
        if self.encrypted {
            return Ok(None);
        }
        self.encrypted = true;
        Ok(Some(RdpEvent::EncryptedFromHere {
            flags: Flags::new(u32::from(flags), SEC_FLAGS),
        }))
    }
}
