//! What each record means for the connection: plaintext hellos, ChangeCipherSpec, alerts,
//! encrypted records, and the key changes they cause (RFC 5246 §7, RFC 8446 §4 and §7).

use super::conn::{Decryptor, Negotiation, Out, Pending, Pos, Stage, MAX_EARLY_SKIPS};
use super::event::{DecryptEvent, Notice, StopReason, Unexpected};
use super::handshake::Message;
use super::hello::{self, ServerHello};
use super::hex;
use super::keylog::{KeyLog, SecretLabel};
use super::keys::{self, Tls12Params};
use super::names::{Alert, HandshakeType};
use super::record::{self, HDR};
use super::suite;
use crate::decode::tls::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};
use crate::vocab::Dir;

impl Decryptor {
    /// Handles one whole record (header first), decrypting it in place if it is protected.
    pub(super) fn on_record(
        &mut self,
        dir: Dir,
        rec: &mut [u8],
        pos: Pos,
        keys: &KeyLog,
        out: &mut Out<'_>,
    ) {
        let content_type = rec.first().copied().unwrap_or(0);
        let body = rec.get(HDR..).unwrap_or(&[]);
        match self.sides[dir.idx()].stage {
            Stage::Stopped => {}
            Stage::Clear => match content_type {
                record::CHANGE_CIPHER_SPEC => self.clear_change_cipher_spec(dir, pos, keys, out),
                record::ALERT => self.alerts(dir, body, false, pos, out),
                record::HANDSHAKE => self.handshake(dir, body, false, pos, keys, out),
                record::APPLICATION_DATA => match self.neg.map(|n| n.version) {
                    // The client's first protected TLS 1.3 record: its handshake keys begin.
                    Some(TlsVersion::TLS13) => {
                        self.enter(dir, Stage::Hs13);
                        self.encrypted(dir, rec, pos, keys, out);
                    }
                    Some(_) => self.unexpected(dir, pos, Unexpected::PlaintextAppData, out),
                    None => self.unexpected(dir, pos, Unexpected::BeforeServerHello, out),
                },
                _ => {} // heartbeat: nothing to read
            },
            Stage::Hs13 | Stage::App13 => match content_type {
                // Sent only for middlebox compatibility (RFC 8446 §D.4); it changes nothing.
                record::CHANGE_CIPHER_SPEC => {}
                // A peer unsure whether the other has keys may alert in plaintext.
                record::ALERT => self.alerts(dir, body, false, pos, out),
                record::APPLICATION_DATA => self.encrypted(dir, rec, pos, keys, out),
                record::HANDSHAKE => {
                    self.unexpected(dir, pos, Unexpected::PlaintextHandshakeAfterKeys, out)
                }
                _ => {}
            },
            Stage::Enc12 => self.encrypted(dir, rec, pos, keys, out),
        }
    }

    /// A plaintext ChangeCipherSpec: TLS ≤ 1.2 switches this direction to its keys here.
    fn clear_change_cipher_spec(&mut self, dir: Dir, pos: Pos, keys: &KeyLog, out: &mut Out<'_>) {
        match self.neg {
            // TLS 1.3 compatibility ChangeCipherSpec after a HelloRetryRequest.
            None if self.facts.hello_retry => {}
            None => self.unexpected(dir, pos, Unexpected::BeforeServerHello, out),
            Some(n) if n.version == TlsVersion::TLS13 => {}
            Some(_) => {
                // A server that changes keys without ServerHelloDone skipped the full
                // handshake: an abbreviated (resumed) one, by session id or ticket.
                if dir == Dir::S2C && !self.server_hello_done {
                    self.facts.resumed = true;
                }
                self.enter(dir, Stage::Enc12);
                self.ensure_cipher(dir, pos, keys, out);
            }
        }
    }

    /// Moves a direction to a new stage whose keys are derived when first needed.
    fn enter(&mut self, dir: Dir, stage: Stage) {
        let side = &mut self.sides[dir.idx()];
        side.stage = stage;
        side.cipher = None;
        side.secret = None;
        side.seq = 0;
        side.hs.reset();
        side.decrypted_in_stage = false;
    }

    /// Decrypts a protected record and handles what is inside.
    fn encrypted(&mut self, dir: Dir, rec: &mut [u8], pos: Pos, keys: &KeyLog, out: &mut Out<'_>) {
        if !self.ensure_cipher(dir, pos, keys, out) {
            return;
        }
        let side = &mut self.sides[dir.idx()];
        let Some(cipher) = side.cipher.as_mut() else {
            return;
        };
        match cipher.open(side.seq, rec) {
            Ok((inner_type, range)) => {
                side.seq = side.seq.wrapping_add(1);
                side.decrypted_in_stage = true;
                if let Some(plain) = rec.get(range) {
                    self.dispatch(dir, inner_type, plain, pos, keys, out);
                }
            }
            Err(cause) => {
                // Early data is under keys this decryptor does not derive; the server skips
                // records that fail (RFC 8446 §4.2.10), and so does this, until one opens.
                let early = dir == Dir::C2S
                    && side.stage == Stage::Hs13
                    && !side.decrypted_in_stage
                    && self.facts.offered_early_data
                    && side.early_skips < MAX_EARLY_SKIPS;
                if early {
                    side.early_skips += 1;
                    if side.early_skips == 1 {
                        let notice = Notice::EarlyDataSkipped;
                        out(DecryptEvent::Notice { dir, notice });
                    }
                    return;
                }
                let (record, offset) = pos;
                let reason = StopReason::DecryptFailed {
                    record,
                    offset,
                    cause,
                };
                self.stop(dir, reason, out);
            }
        }
    }

    /// Handles decrypted content by its (inner) content type.
    fn dispatch(
        &mut self,
        dir: Dir,
        content_type: u8,
        plain: &[u8],
        pos: Pos,
        keys: &KeyLog,
        out: &mut Out<'_>,
    ) {
        let tls13 = matches!(self.sides[dir.idx()].stage, Stage::Hs13 | Stage::App13);
        match content_type {
            record::HANDSHAKE => self.handshake(dir, plain, true, pos, keys, out),
            record::ALERT => self.alerts(dir, plain, true, pos, out),
            record::APPLICATION_DATA if !plain.is_empty() => {
                out(DecryptEvent::AppData { dir, data: plain })
            }
            record::APPLICATION_DATA | record::HEARTBEAT => {}
            record::CHANGE_CIPHER_SPEC if tls13 => {
                self.unexpected(dir, pos, Unexpected::EncryptedChangeCipherSpec, out)
            }
            // A protected ChangeCipherSpec in TLS ≤ 1.2 ends a renegotiation.
            record::CHANGE_CIPHER_SPEC => self.stop(dir, StopReason::Renegotiation, out),
            other => self.unexpected(dir, pos, Unexpected::ContentType(other), out),
        }
    }

    /// Reports each two-byte alert in a record.
    fn alerts(&mut self, dir: Dir, data: &[u8], encrypted: bool, pos: Pos, out: &mut Out<'_>) {
        if data.is_empty() || !data.len().is_multiple_of(2) {
            return self.unexpected(dir, pos, Unexpected::MalformedAlert, out);
        }
        for pair in data.chunks_exact(2) {
            let alert = Alert {
                level: AlertLevel(pair[0]),
                description: AlertDescription(pair[1]),
            };
            out(DecryptEvent::Alert {
                dir,
                alert,
                encrypted,
            });
        }
    }

    /// Splits handshake bytes into messages and handles each.
    fn handshake(
        &mut self,
        dir: Dir,
        mut data: &[u8],
        encrypted: bool,
        pos: Pos,
        keys: &KeyLog,
        out: &mut Out<'_>,
    ) {
        while self.sides[dir.idx()].stage != Stage::Stopped {
            let Some(msg) = self.sides[dir.idx()].hs.next(&mut data) else {
                return;
            };
            out(DecryptEvent::Handshake {
                dir,
                kind: HandshakeType(msg.kind),
                len: msg.len,
                encrypted,
            });
            self.on_message(dir, msg, encrypted, pos, keys, out);
        }
    }

    fn on_message(
        &mut self,
        dir: Dir,
        msg: Message,
        encrypted: bool,
        pos: Pos,
        keys: &KeyLog,
        out: &mut Out<'_>,
    ) {
        let side = &mut self.sides[dir.idx()];
        let first = match dir {
            Dir::C2S => HandshakeType::CLIENT_HELLO,
            Dir::S2C => HandshakeType::SERVER_HELLO,
        };
        if !side.hello_seen && (encrypted || msg.kind != first) {
            return self.unexpected(dir, pos, Unexpected::NoHello, out);
        }
        if msg.too_large {
            return self.unexpected(dir, pos, Unexpected::HelloTooLarge, out);
        }
        let stage = side.stage;
        match msg.kind {
            HandshakeType::CLIENT_HELLO
            | HandshakeType::SERVER_HELLO
            | HandshakeType::HELLO_REQUEST
                if encrypted =>
            {
                self.renegotiation_seen(dir, out)
            }
            HandshakeType::CLIENT_HELLO if dir == Dir::C2S => {
                self.client_hello(dir, msg.body, pos, keys, out)
            }
            HandshakeType::SERVER_HELLO if dir == Dir::S2C => {
                self.server_hello(dir, msg.body, pos, keys, out)
            }
            HandshakeType::SERVER_HELLO_DONE if dir == Dir::S2C => self.server_hello_done = true,
            HandshakeType::FINISHED if stage == Stage::Hs13 => {
                side.pending = Some(Pending::ToApp13)
            }
            HandshakeType::KEY_UPDATE if stage == Stage::App13 => {
                side.pending = Some(Pending::KeyUpdate);
                let update_requested = msg.body.as_deref().and_then(<[u8]>::first) == Some(&1);
                out(DecryptEvent::KeyUpdate {
                    dir,
                    update_requested,
                });
            }
            _ => {}
        }
    }

    /// Notes (once) that a TLS ≤ 1.2 peer began renegotiating under the current keys.
    fn renegotiation_seen(&mut self, dir: Dir, out: &mut Out<'_>) {
        let side = &mut self.sides[dir.idx()];
        if !side.renegotiating {
            side.renegotiating = true;
            let notice = Notice::Renegotiation;
            out(DecryptEvent::Notice { dir, notice });
        }
    }

    fn client_hello(
        &mut self,
        dir: Dir,
        body: Option<Vec<u8>>,
        pos: Pos,
        keys: &KeyLog,
        out: &mut Out<'_>,
    ) {
        let parsed = body.and_then(|b| hello::client_hello(&b, &mut self.facts));
        let Some(hello) = parsed else {
            return self.unexpected(dir, pos, Unexpected::MalformedHello, out);
        };
        self.client_session_id = hello.session_id;
        self.sides[dir.idx()].hello_seen = true;
        self.progress = true;
        self.announce(keys, out);
    }

    fn server_hello(
        &mut self,
        dir: Dir,
        body: Option<Vec<u8>>,
        pos: Pos,
        keys: &KeyLog,
        out: &mut Out<'_>,
    ) {
        let parsed = body.and_then(|b| hello::server_hello(&b, &mut self.facts));
        let Some(hello) = parsed else {
            return self.unexpected(dir, pos, Unexpected::MalformedHello, out);
        };
        self.sides[dir.idx()].hello_seen = true;
        self.progress = true;
        match hello {
            ServerHello::Retry(suite) => {
                self.facts.hello_retry = true;
                out(DecryptEvent::HelloRetry { suite });
            }
            ServerHello::Final {
                version,
                suite,
                session_id,
            } => {
                if version != TlsVersion::TLS13
                    && !session_id.is_empty()
                    && session_id == self.client_session_id
                {
                    self.facts.resumed = true;
                }
                let info = suite::find(suite);
                let cbc = info.is_some_and(|i| i.bulk.is_cbc());
                self.neg = Some(Negotiation {
                    version,
                    suite,
                    info,
                    etm: self.facts.encrypt_then_mac && cbc,
                });
                if version == TlsVersion::TLS13 {
                    self.sides[dir.idx()].pending = Some(Pending::ToHs13);
                }
                self.announce(keys, out);
            }
        }
    }

    /// Says what was negotiated, once both hellos are in.
    fn announce(&mut self, keys: &KeyLog, out: &mut Out<'_>) {
        let (Some(neg), Some(random)) = (self.neg, self.facts.client_random) else {
            return;
        };
        if self.announced {
            return;
        }
        self.announced = true;
        let needed: &[SecretLabel] = match neg.version {
            TlsVersion::TLS13 => &SecretLabel::ALL[1..],
            _ => &SecretLabel::ALL[..1],
        };
        out(DecryptEvent::Negotiated {
            version: neg.version,
            suite: neg.suite,
            decryptable: neg.info.is_some_and(|i| suite::usable(i, neg.version)),
            keys_found: needed.iter().all(|&l| keys.secret(&random, l).is_some()),
        });
    }

    /// Derives this direction's cipher for its stage if it has none; false (and the
    /// direction stopped) if the suite, version or key log does not allow it.
    fn ensure_cipher(&mut self, dir: Dir, pos: Pos, keys: &KeyLog, out: &mut Out<'_>) -> bool {
        let d = dir.idx();
        if self.sides[d].cipher.is_some() {
            return true;
        }
        let Some(neg) = self.neg else {
            self.unexpected(dir, pos, Unexpected::BeforeServerHello, out);
            return false;
        };
        if !matches!(
            neg.version,
            TlsVersion::TLS10 | TlsVersion::TLS11 | TlsVersion::TLS12 | TlsVersion::TLS13
        ) {
            self.stop(dir, StopReason::UnsupportedVersion(neg.version), out);
            return false;
        }
        let Some(info) = neg.info.filter(|i| suite::usable(i, neg.version)) else {
            self.stop(dir, StopReason::UnsupportedSuite(neg.suite), out);
            return false;
        };
        let stage = self.sides[d].stage;
        let label = match (stage, dir) {
            (Stage::Enc12, _) => SecretLabel::MasterSecret,
            (Stage::Hs13, Dir::C2S) => SecretLabel::ClientHandshake,
            (Stage::Hs13, Dir::S2C) => SecretLabel::ServerHandshake,
            (Stage::App13, Dir::C2S) => SecretLabel::ClientTraffic0,
            (Stage::App13, Dir::S2C) => SecretLabel::ServerTraffic0,
            (Stage::Clear | Stage::Stopped, _) => return false,
        };
        let random = self.facts.client_random;
        let Some(secret) = random.and_then(|r| keys.secret(&r, label)).copied() else {
            let client_random = match random {
                Some(r) => hex::encode(&r),
                None => String::from("unknown: no ClientHello seen"),
            };
            self.stop(
                dir,
                StopReason::NoKeys {
                    client_random,
                    label,
                },
                out,
            );
            return false;
        };
        let cipher = match (stage, random, self.facts.server_random) {
            (Stage::Enc12, Some(client_random), Some(server_random)) => {
                let params = Tls12Params {
                    version: neg.version,
                    suite: info,
                    etm: neg.etm,
                    client_random: &client_random,
                    server_random: &server_random,
                };
                keys::tls12(&params, secret.as_bytes(), dir)
            }
            (Stage::Enc12, _, _) => None,
            _ => keys::tls13(info, &secret),
        };
        let Some(cipher) = cipher else {
            self.stop(dir, StopReason::UnsupportedSuite(neg.suite), out);
            return false;
        };
        let side = &mut self.sides[d];
        side.cipher = Some(cipher);
        side.secret = (stage != Stage::Enc12).then_some(secret);
        true
    }

    /// Applies a key change that waited for the end of its record.
    pub(super) fn apply_pending(&mut self, dir: Dir, out: &mut Out<'_>) {
        let d = dir.idx();
        let Some(pending) = self.sides[d].pending.take() else {
            return;
        };
        if self.sides[d].stage == Stage::Stopped {
            return;
        }
        match pending {
            Pending::ToHs13 => self.enter(dir, Stage::Hs13),
            Pending::ToApp13 => self.enter(dir, Stage::App13),
            Pending::KeyUpdate => {
                let info = self.neg.and_then(|n| n.info);
                let side = &mut self.sides[d];
                let next = info.zip(side.secret).and_then(|(info, secret)| {
                    let next = keys::next_secret(info, &secret)?;
                    Some((next, keys::tls13(info, &next)?))
                });
                match next {
                    Some((secret, cipher)) => {
                        side.secret = Some(secret);
                        side.cipher = Some(cipher);
                        side.seq = 0;
                        side.hs.reset();
                    }
                    None => {
                        let suite = self.facts.suite.unwrap_or(CipherSuite(0));
                        self.stop(dir, StopReason::UnsupportedSuite(suite), out);
                    }
                }
            }
        }
    }
}
