//! TLS record layer and handshake, observed passively in both directions.
//!
//! [`TlsDecoder`] is fed each direction's stream from the first TLS record byte. It reads
//! what a passive observer can see in the clear (hellos, the TLS 1.2 certificate chain,
//! plaintext alerts), notices when the handshake completes, and then only frames and
//! counts encrypted records. After the handshake it copies nothing and allocates
//! nothing per record, because it then runs on every relayed chunk.

mod handshake;
mod hello;
pub mod names;
mod record;

#[cfg(test)]
mod tests;

pub use handshake::MAX_HANDSHAKE_MSG;
pub use names::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};
pub use record::MAX_RECORD_LEN;

use crate::decode::x509::CertInfo;
use crate::decode::DecodeError;
use crate::vocab::{Dir, Layer};
use handshake::{HandshakeReassembler, HT_CERTIFICATE, HT_CLIENT_HELLO, HT_SERVER_HELLO};
use record::{
    Piece, RecordFramer, RecordHeader, CT_ALERT, CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
};
use serde::{Deserialize, Serialize};

/// What the TLS decoder saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsEvent {
    /// The client's ClientHello.
    ClientHello {
        /// legacy_version from the hello body.
        legacy_version: TlsVersion,
        /// Versions offered (supported_versions, or legacy_version alone without it).
        versions: Vec<TlsVersion>,
        /// Cipher suites offered, in the client's order: the first
        /// [`MAX_LISTED_SUITES`].
        cipher_suites: Vec<CipherSuite>,
        /// Suites offered beyond those listed (0 for every real client seen so far;
        /// None in files from before it was counted).
        cipher_suites_omitted: Option<u32>,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStats {
    /// All records seen in this direction.
    pub records: u64,
    /// Application-data records after the handshake.
    pub app_records: u64,
    /// Bytes of record payload (excluding 5-byte headers).
    pub payload_bytes: u64,
}

/// How many offered cipher suites a ClientHello event lists; the rest are counted. A
/// hello may offer 32767, all of them garbage.
pub const MAX_LISTED_SUITES: usize = 64;

/// How many application records per direction are reported one by one.
pub const APP_RECORDS_REPORTED: u64 = 64;

/// Length of a TLS 1.3 record holding only an encrypted alert: 2 bytes of alert, 1 byte
/// of inner content type and a 16-byte AEAD tag. No handshake message is that short.
const TLS13_ALERT_RECORD_LEN: u16 = 19;

/// What to do with the body of the record being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum BodyUse {
    /// Not needed: skip it without looking.
    #[default]
    Skip,
    /// A plaintext handshake record: feed the message reassembler.
    Handshake,
    /// A plaintext alert: collect its two bytes.
    Alert,
}

/// One direction's decoding state.
#[derive(Debug, Default)]
struct Side {
    framer: RecordFramer,
    hs: HandshakeReassembler,
    /// The decoder gave up on this direction; later bytes are ignored.
    stopped: bool,
    stats: RecordStats,
    /// ChangeCipherSpec sent: up to TLS 1.2, everything after it is encrypted.
    ccs: bool,
    /// An encrypted handshake record (the Finished) was sent.
    finished: bool,
    body: BodyUse,
    alert: [u8; 2],
    alert_len: usize,
}

/// What the hellos negotiated so far.
#[derive(Debug, Default)]
struct Negotiated {
    version: Option<TlsVersion>,
    cipher_suite: Option<CipherSuite>,
    /// The real (non-retry) ServerHello was seen.
    server_hello: bool,
    /// CertificateHidden was already reported.
    cert_hidden: bool,
}

impl Negotiated {
    /// TLS 1.3 was chosen (by a ServerHello or a HelloRetryRequest).
    fn tls13(&self) -> bool {
        self.version == Some(TlsVersion::TLS13)
    }
}

/// Passive, sans-IO decoder for the TLS records of one connection (both directions).
#[derive(Debug, Default)]
pub struct TlsDecoder {
    sides: [Side; 2],
    neg: Negotiated,
    done: bool,
}

impl TlsDecoder {
    /// A decoder expecting the first record in each direction.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream is picked up after its handshake (a capture that missed the start):
    /// every record from here is taken as encrypted, and counted, not parsed.
    pub fn resume(&mut self) {
        for side in &mut self.sides {
            side.ccs = true;
            side.finished = true;
        }
        self.done = true;
    }

    /// The version chosen by the server, once its hello was seen.
    pub fn version(&self) -> Option<TlsVersion> {
        self.neg.version
    }

    /// The cipher suite chosen by the server, once its hello was seen.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.neg.cipher_suite
    }

    /// True once both sides have finished the handshake.
    pub fn handshake_done(&self) -> bool {
        self.done
    }

    /// Record counters for one direction.
    pub fn stats(&self, dir: Dir) -> RecordStats {
        self.sides[dir.idx()].stats
    }

    /// Bytes of this direction's stream consumed so far.
    pub fn offset(&self, dir: Dir) -> u64 {
        self.sides[dir.idx()].framer.offset()
    }

    /// Bytes held for this direction while waiting for the rest of a handshake message.
    pub fn buffered(&self, dir: Dir) -> usize {
        self.sides[dir.idx()].hs.buffered()
    }

    /// The bytes read of the record this direction is in the middle of, and its
    /// whole length (a cut header counts as a 5-byte record); None between records or
    /// once decoding stopped.
    pub fn mid_record(&self, dir: Dir) -> Option<(u64, u64)> {
        let side = &self.sides[dir.idx()];
        if side.stopped {
            return None;
        }
        side.framer.mid_record()
    }

    /// True when decoding of this direction stopped after an error.
    pub fn stopped(&self, dir: Dir) -> bool {
        self.sides[dir.idx()].stopped
    }

    /// Feeds the next in-order chunk of one direction, appending what it shows to `out`.
    ///
    /// On an error that direction stops: this and later feeds for it return without
    /// decoding (later ones with `Ok`), while the other direction carries on.
    pub fn feed(
        &mut self,
        dir: Dir,
        mut data: &[u8],
        out: &mut Vec<TlsEvent>,
    ) -> Result<(), DecodeError> {
        let i = dir.idx();
        if self.sides[i].stopped {
            return Ok(());
        }
        loop {
            let res = match self.sides[i].framer.next(&mut data) {
                Piece::NeedMore => return Ok(()),
                Piece::Header(h) => {
                    self.on_header(dir, h, out);
                    Ok(())
                }
                Piece::Body(b) => self.on_body(dir, b, out),
                Piece::End(h) => {
                    self.on_end(dir, h, out);
                    Ok(())
                }
                Piece::Invalid { offset, reason } => Err(DecodeError {
                    layer: Layer::Tls,
                    offset,
                    reason,
                }),
            };
            if let Err(e) = res {
                let side = &mut self.sides[i];
                side.stopped = true;
                side.hs.clear();
                return Err(e);
            }
        }
    }

    /// Classifies a record as it starts; decides whether its body is needed.
    fn on_header(&mut self, dir: Dir, h: RecordHeader, out: &mut Vec<TlsEvent>) {
        let tls13 = self.neg.tls13();
        let side = &mut self.sides[dir.idx()];
        side.stats.records += 1;
        side.stats.payload_bytes += u64::from(h.len);
        side.body = BodyUse::Skip;
        // TLS 1.3 hides every encrypted record as application_data and keeps a
        // ChangeCipherSpec only for middlebox compatibility, so there the outer type
        // alone says what is plaintext. Up to TLS 1.2, a side's ChangeCipherSpec is the
        // switch to encryption.
        let encrypted = if tls13 {
            h.content_type == CT_APPLICATION_DATA
        } else {
            side.ccs
        };
        match h.content_type {
            CT_CHANGE_CIPHER_SPEC if !tls13 => side.ccs = true,
            CT_HANDSHAKE if !encrypted => side.body = BodyUse::Handshake,
            // The first encrypted handshake record after ChangeCipherSpec is Finished.
            CT_HANDSHAKE if !side.finished => {
                side.finished = true;
                self.check_done_tls12(out);
            }
            // A plaintext alert is exactly level + description; anything else under
            // type 21 is an alert we cannot read.
            CT_ALERT if !encrypted && h.len == 2 => {
                side.body = BodyUse::Alert;
                side.alert_len = 0;
            }
            CT_ALERT => out.push(TlsEvent::EncryptedAlertLikely { len: h.len }),
            CT_APPLICATION_DATA => self.on_app_data(dir, h.len, out),
            _ => {}
        }
    }

    /// Reports HandshakeDone for TLS 1.2 and below: both sides sent ChangeCipherSpec and
    /// then an encrypted handshake record (their Finished). Checking both sides makes it
    /// independent of who finishes first (client in a full handshake, server in a resumed one).
    fn check_done_tls12(&mut self, out: &mut Vec<TlsEvent>) {
        if !self.done && self.sides.iter().all(|s| s.ccs && s.finished) {
            self.done = true;
            out.push(TlsEvent::HandshakeDone);
        }
    }

    /// Handles an application_data record: handshake completion, alerts, counting.
    fn on_app_data(&mut self, dir: Dir, len: u16, out: &mut Vec<TlsEvent>) {
        if self.neg.tls13() {
            // Before the real ServerHello, type 23 can only be early data; not ours to judge.
            if !self.neg.server_hello {
                return;
            }
            if len == TLS13_ALERT_RECORD_LEN {
                // Too short for any handshake message, so before completion this is an
                // alert too, e.g. a client refusing the server's certificate.
                out.push(TlsEvent::EncryptedAlertLikely { len });
                if self.done {
                    self.sides[dir.idx()].stats.app_records += 1;
                }
                return;
            }
            if !self.done {
                // The server's encrypted flight comes first; the client's first
                // encrypted record is its Finished, which completes the handshake.
                if dir == Dir::C2S {
                    self.done = true;
                    out.push(TlsEvent::HandshakeDone);
                }
                return;
            }
        } else if !self.done {
            return;
        }
        let stats = &mut self.sides[dir.idx()].stats;
        stats.app_records += 1;
        if stats.app_records <= APP_RECORDS_REPORTED {
            out.push(TlsEvent::AppRecord {
                seq: stats.app_records as u32,
                len,
            });
        }
    }

    /// Handles a piece of a record body that [`Self::on_header`] asked to see.
    fn on_body(&mut self, dir: Dir, b: &[u8], out: &mut Vec<TlsEvent>) -> Result<(), DecodeError> {
        let Self { sides, neg, .. } = self;
        let side = &mut sides[dir.idx()];
        match side.body {
            BodyUse::Skip => Ok(()),
            BodyUse::Alert => {
                for &byte in b {
                    if let Some(slot) = side.alert.get_mut(side.alert_len) {
                        *slot = byte;
                        side.alert_len += 1;
                    }
                }
                Ok(())
            }
            BodyUse::Handshake => {
                let offset = side.framer.current().map_or(0, |h| h.offset);
                side.hs
                    .push(b, |ty, body| on_message(neg, dir, ty, body, out))
                    .map_err(|reason: String| DecodeError {
                        layer: Layer::Tls,
                        offset,
                        reason,
                    })
            }
        }
    }

    /// Finishes a record: a collected plaintext alert is reported here.
    fn on_end(&mut self, dir: Dir, _h: RecordHeader, out: &mut Vec<TlsEvent>) {
        let side = &mut self.sides[dir.idx()];
        if side.body == BodyUse::Alert && side.alert_len == 2 {
            out.push(TlsEvent::Alert {
                level: AlertLevel(side.alert[0]),
                description: AlertDescription(side.alert[1]),
            });
        }
        side.body = BodyUse::Skip;
    }
}

/// Decodes one whole plaintext handshake message.
fn on_message(
    neg: &mut Negotiated,
    dir: Dir,
    ty: u8,
    body: &[u8],
    out: &mut Vec<TlsEvent>,
) -> Result<(), String> {
    match (dir, ty) {
        (Dir::C2S, HT_CLIENT_HELLO) => out.push(hello::client_hello(body)?),
        (Dir::S2C, HT_SERVER_HELLO) => {
            let (event, info) = hello::server_hello(body)?;
            out.push(event);
            neg.version = Some(info.version);
            neg.cipher_suite = Some(info.cipher_suite);
            if !info.hello_retry_request {
                neg.server_hello = true;
                if info.version == TlsVersion::TLS13 && !neg.cert_hidden {
                    neg.cert_hidden = true;
                    out.push(TlsEvent::CertificateHidden {
                        version: info.version,
                    });
                }
            }
        }
        // Only the server's chain matters for diagnosis; a TLS 1.3 Certificate is never
        // in the clear, and its layout differs, so it is not parsed as 1.2.
        (Dir::S2C, HT_CERTIFICATE) if !neg.tls13() => out.push(hello::certificate(body)?),
        _ => {}
    }
    Ok(())
}
