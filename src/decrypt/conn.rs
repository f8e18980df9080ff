//! The per-connection decryptor: fed each direction's TLS bytes in capture order, it frames
//! records, holds a direction that runs ahead of the other's hello, and stops a direction
//! for good on the first thing it cannot decrypt. What each record means is in `flow.rs`.

use super::event::{DecryptEvent, StopReason, Unexpected};
use super::handshake::HandshakeReader;
use super::hello::HandshakeFacts;
use super::keylog::{KeyLog, Secret};
use super::keys::RecordCipher;
use super::record::{self, Pull, RecordReader};
use super::suite::SuiteInfo;
use crate::decode::tls::{CipherSuite, TlsVersion};
use crate::vocab::Dir;

/// Most bytes one direction may get ahead of the other's hello before it stops. Fed in
/// capture order, a direction only waits for a packet or two; this bound only bites when
/// one direction is fed whole before the other.
pub const MAX_HELD: usize = 256 * 1024;

/// Most records skipped as TLS 1.3 early data before a failure counts as wrong keys.
pub(super) const MAX_EARLY_SKIPS: u32 = 1024;

/// Where a direction is in its key schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Stage {
    /// Before this direction's first key change: records are plaintext.
    #[default]
    Clear,
    /// TLS 1.3, under the handshake traffic secret.
    Hs13,
    /// TLS 1.3, under an application traffic secret.
    App13,
    /// TLS ≤ 1.2, after this direction's ChangeCipherSpec.
    Enc12,
    /// Not decrypting any more.
    Stopped,
}

/// A key change that takes effect after the current record (RFC 8446 §5.1: a change never
/// happens mid-record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    ToHs13,
    ToApp13,
    KeyUpdate,
}

/// The record position an event refers to: (number from 1, stream offset).
pub(super) type Pos = (u64, u64);

/// One direction's state.
#[derive(Default)]
pub(super) struct Side {
    pub reader: RecordReader,
    pub hs: HandshakeReader,
    pub stage: Stage,
    pub cipher: Option<RecordCipher>,
    /// TLS 1.3: the current traffic secret, for KeyUpdate.
    pub secret: Option<Secret>,
    pub seq: u64,
    pub pending: Option<Pending>,
    /// Bytes fed while this direction waits for the other's hello.
    pub held: Vec<u8>,
    pub waiting: bool,
    /// Whether this direction's own hello has gone by.
    pub hello_seen: bool,
    /// Whether a record decrypted under the current stage's keys.
    pub decrypted_in_stage: bool,
    pub early_skips: u32,
    pub renegotiating: bool,
}

/// What the ServerHello settled.
#[derive(Debug, Clone, Copy)]
pub(super) struct Negotiation {
    pub version: TlsVersion,
    pub suite: CipherSuite,
    pub info: Option<&'static SuiteInfo>,
    pub etm: bool,
}

/// Decrypts one TLS connection offline from its two byte streams and a key log.
///
/// Feed each direction's bytes from the first byte of TLS (for RDP, after the X.224
/// Connection Request and Confirm; the caller strips such prefixes), in capture order
/// across directions, in pieces of any size. Keys are looked up in the `KeyLog` given to
/// the `feed` call that first needs them, so secrets added later (a pcapng Decryption
/// Secrets Block) serve any connection whose encrypted records come after.
#[derive(Default)]
pub struct Decryptor {
    pub(super) facts: HandshakeFacts,
    pub(super) sides: [Side; 2],
    pub(super) neg: Option<Negotiation>,
    pub(super) client_session_id: Vec<u8>,
    pub(super) server_hello_done: bool,
    pub(super) announced: bool,
    /// Set when a hello went by, so a waiting direction may continue.
    pub(super) progress: bool,
}

/// The sink events go to inside the decryptor.
pub(super) type Out<'o> = dyn FnMut(DecryptEvent<'_>) + 'o;

impl Decryptor {
    /// A decryptor for one connection, before any bytes.
    pub fn new() -> Decryptor {
        Decryptor::default()
    }

    /// Feeds the next bytes of one direction; events go to `out` as they are learnt.
    pub fn feed(
        &mut self,
        dir: Dir,
        bytes: &[u8],
        keys: &KeyLog,
        out: &mut impl FnMut(DecryptEvent<'_>),
    ) {
        self.feed_dyn(dir, bytes, keys, out);
    }

    fn feed_dyn(&mut self, dir: Dir, bytes: &[u8], keys: &KeyLog, out: &mut Out<'_>) {
        let side = &mut self.sides[dir.idx()];
        if side.stage == Stage::Stopped {
            return;
        }
        if side.waiting {
            if side.held.len() + bytes.len() > MAX_HELD {
                self.stop(dir, StopReason::WaitedTooLong, out);
            } else {
                side.held.extend_from_slice(bytes);
            }
            return;
        }
        self.run(dir, bytes, keys, out);
    }

    /// Ends the connection: reports a direction that ends inside a record, or that still
    /// waits for the other's hello.
    pub fn finish(&mut self, out: &mut impl FnMut(DecryptEvent<'_>)) {
        for dir in [Dir::C2S, Dir::S2C] {
            let side = &self.sides[dir.idx()];
            if side.stage == Stage::Stopped {
                continue;
            }
            if side.waiting {
                let held = side.held.len();
                self.stop(dir, StopReason::PeerHelloMissing { held }, out);
            } else if side.reader.partial() > 0 {
                let reason = StopReason::Truncated {
                    record: side.reader.number(),
                    offset: side.reader.offset(),
                    have: side.reader.partial(),
                };
                self.stop(dir, reason, out);
            }
        }
    }

    /// What the cleartext hellos said so far.
    pub fn facts(&self) -> &HandshakeFacts {
        &self.facts
    }

    /// Whether this direction has stopped decrypting.
    pub fn is_stopped(&self, dir: Dir) -> bool {
        self.sides[dir.idx()].stage == Stage::Stopped
    }

    /// Frames and handles `input`'s records until it is used up, the direction stops, or
    /// it must wait for the other direction's hello.
    fn run(&mut self, dir: Dir, mut input: &[u8], keys: &KeyLog, out: &mut Out<'_>) {
        let d = dir.idx();
        loop {
            if self.sides[d].stage == Stage::Stopped {
                return;
            }
            match self.sides[d].reader.pull(&mut input) {
                Pull::NeedMore => return,
                Pull::Bad(reason) => return self.stop(dir, reason, out),
                Pull::Ready => {}
            }
            let side = &mut self.sides[d];
            let content_type = side.reader.content_type();
            let first = side.reader.completed() == 0;
            if first && !matches!(content_type, record::HANDSHAKE | record::ALERT) {
                let pos = (side.reader.number(), side.reader.offset());
                return self.unexpected(dir, pos, Unexpected::NoHello, out);
            }
            if self.blocked(dir, content_type) {
                let side = &mut self.sides[d];
                let mut held = side.reader.unpull();
                if held.len() + input.len() > MAX_HELD {
                    return self.stop(dir, StopReason::WaitedTooLong, out);
                }
                held.extend_from_slice(input);
                side.held = held;
                side.waiting = true;
                return;
            }
            let side = &mut self.sides[d];
            let pos = (side.reader.number(), side.reader.offset());
            let mut rec = side.reader.take_record();
            self.progress = false;
            self.on_record(dir, &mut rec, pos, keys, out);
            self.apply_pending(dir, out);
            if self.sides[d].stage != Stage::Stopped {
                self.sides[d].reader.give_back(rec);
            }
            if self.progress {
                self.resume(dir.other(), keys, out);
            }
        }
    }

    /// Lets a waiting direction go on with the bytes it held.
    fn resume(&mut self, dir: Dir, keys: &KeyLog, out: &mut Out<'_>) {
        let side = &mut self.sides[dir.idx()];
        if !side.waiting || side.stage == Stage::Stopped {
            return;
        }
        side.waiting = false;
        let held = std::mem::take(&mut side.held);
        self.run(dir, &held, keys, out);
    }

    /// Whether a record of this type must wait for the other direction's hello: the
    /// client's ChangeCipherSpec or encrypted data before the ServerHello says what they
    /// mean, and keys before the ClientHello gave the client random.
    fn blocked(&self, dir: Dir, content_type: u8) -> bool {
        let side = &self.sides[dir.idx()];
        let version = self.neg.map(|n| n.version);
        let needs_keys = match side.stage {
            Stage::Clear => match (content_type, version) {
                (record::CHANGE_CIPHER_SPEC, None) => {
                    return dir == Dir::C2S && !self.facts.hello_retry
                }
                (record::APPLICATION_DATA, None) => return dir == Dir::C2S,
                (record::CHANGE_CIPHER_SPEC, Some(v)) => v != TlsVersion::TLS13,
                (record::APPLICATION_DATA, Some(v)) => v == TlsVersion::TLS13,
                _ => false,
            },
            Stage::Hs13 | Stage::App13 | Stage::Enc12 => side.cipher.is_none(),
            Stage::Stopped => false,
        };
        needs_keys && self.facts.client_random.is_none()
    }

    /// Stops a direction for good (said once) and frees its buffers.
    pub(super) fn stop(&mut self, dir: Dir, reason: StopReason, out: &mut Out<'_>) {
        let side = &mut self.sides[dir.idx()];
        if side.stage == Stage::Stopped {
            return;
        }
        side.stage = Stage::Stopped;
        side.cipher = None;
        side.secret = None;
        side.pending = None;
        side.waiting = false;
        side.held = Vec::new();
        side.reader.release();
        side.hs.reset();
        out(DecryptEvent::Stopped { dir, reason });
    }

    /// Stops a direction at a record that breaks the protocol.
    pub(super) fn unexpected(&mut self, dir: Dir, pos: Pos, what: Unexpected, out: &mut Out<'_>) {
        let (record, offset) = pos;
        let reason = StopReason::Unexpected {
            record,
            offset,
            what,
        };
        self.stop(dir, reason, out);
    }
}
