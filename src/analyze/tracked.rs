//! A captured connection that carries RDP or an RD Gateway's traffic: its events go to
//! the same tracker the live proxy uses, with times from the capture; its TLS goes to the
//! offline decryptor when a key log can open it.

use super::classify::Kind;
use super::output::Output;
use super::pending::{Held, Opened};
use super::tls_start::{client_prefix, server_prefix, Start};
use crate::decode::note::Note;
use crate::decrypt::{DecryptEvent, Decryptor, KeyLog};
use crate::session::event::{EventLine, Source};
use crate::session::tracker::{Fact, Tracker};
use crate::vocab::{Dir, EndKind, StreamEnd};
use std::time::{Duration, UNIX_EPOCH};
use time::OffsetDateTime;

/// The bytes of a direction kept to find where its TLS starts.
const HEAD: usize = 64 * 1024;

/// How the connection's bytes reach the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// As they crossed the wire (and their TLS to the decryptor, when it can open it).
    Wire,
    /// The capture holds plaintext already: rdptap's own decrypted flows.
    Plain,
}

/// Where one direction's TLS starts, while that is being worked out.
#[derive(Debug)]
enum TlsFrom {
    /// Looking at the X.224 prefix.
    Finding(Vec<u8>),
    /// TLS starts at this stream offset.
    At(u64),
    /// No TLS, or not one to decrypt.
    Never,
}

/// The decryption of a connection's TLS.
struct Decrypting {
    d: Decryptor,
    from: [TlsFrom; 2],
    /// A direction is not fed further (a gap, or the decryptor stopped it).
    stopped: [bool; 2],
    announced: bool,
    /// The key log held something when the decryptor looked: without any key at all, a
    /// connection that cannot be decrypted is not worth a note.
    had_keys: bool,
}

/// A connection being diagnosed.
pub struct Tracked {
    /// Its connection number in the event file and on the console.
    pub id: u64,
    opened: Opened,
    tracker: Box<dyn Tracker>,
    feed: Feed,
    dec: Option<Decrypting>,
    /// Bytes to drop per direction before the first TLS record (its start was missed).
    skip: [u64; 2],
    ended: [bool; 2],
    bytes: [u64; 2],
    /// A trace's decrypted flow feeds this connection's plaintext.
    plain_noted: bool,
}

impl Tracked {
    /// A tracker for a connection of `kind`, with its opening facts recorded.
    pub fn new(
        id: u64,
        opened: Opened,
        kind: &Kind,
        tracker: Box<dyn Tracker>,
        skip: Option<[u64; 2]>,
        out: &mut Output,
    ) -> Tracked {
        let feed = match kind {
            Kind::GatewayHttp | Kind::PlainRdp => Feed::Plain,
            _ => Feed::Wire,
        };
        // A key log opens TLS that is captured whole; a start that was missed took the
        // ClientHello (and its random, which names the keys) with it. The decryptor runs
        // even while the key log is empty: a pcapng's secrets may come later in the file.
        let dec = (feed == Feed::Wire && skip.is_none()).then(|| {
            let from = match kind {
                Kind::Rdp => [TlsFrom::Finding(Vec::new()), TlsFrom::Finding(Vec::new())],
                _ => [TlsFrom::At(0), TlsFrom::At(0)],
            };
            Decrypting {
                d: Decryptor::new(),
                from,
                stopped: [false; 2],
                announced: false,
                had_keys: false,
            }
        });
        let mut t = Tracked {
            id,
            opened,
            tracker,
            feed,
            dec,
            skip: skip.unwrap_or_default(),
            ended: [false; 2],
            bytes: [0; 2],
            plain_noted: false,
        };
        t.fact(
            Duration::ZERO,
            Fact::Accepted {
                client: opened.client.to_string(),
                listen: opened.server.to_string(),
            },
            out,
        );
        if feed == Feed::Plain {
            let plain = Note::Decrypted {
                version: None,
                cipher_suite: None,
            };
            t.fact(Duration::ZERO, Fact::Note(plain), out);
        }
        if let Some(skipped) = skip {
            t.fact(
                Duration::ZERO,
                Fact::Note(Note::CaptureStartMissed { skipped }),
                out,
            );
        }
        t
    }

    /// Time since the connection appeared.
    fn at(&self, ts: Duration) -> Duration {
        ts.saturating_sub(self.opened.ts)
    }

    fn fact(&mut self, at: Duration, fact: Fact, out: &mut Output) {
        self.tracker.fact(at, fact);
        self.drain(out);
    }

    /// Hands the tracker's events to the output, timed on the capture's clock.
    fn drain(&mut self, out: &mut Output) {
        while let Some(ev) = self.tracker.poll_event() {
            let ts = OffsetDateTime::from(UNIX_EPOCH + self.opened.ts + ev.at);
            out.line(&EventLine {
                ts,
                conn: self.id,
                source: Some(Source::Capture),
                event: ev,
            });
        }
    }

    /// One event of the connection, in capture order.
    pub fn event(&mut self, e: Held, keys: &KeyLog, out: &mut Output) {
        match e {
            Held::Established { ts, handshake } => {
                let connect_ms = handshake.map_or(0.0, |h| (h.as_secs_f64() * 1e6).round() / 1e3);
                let fact = Fact::Connected {
                    addr: self.opened.server.to_string(),
                    connect_ms,
                };
                self.fact(self.at(ts), fact, out);
            }
            Held::Data {
                ts,
                dir,
                offset,
                bytes,
            } => self.data(ts, dir, offset, &bytes, keys, out),
            Held::Gap {
                ts,
                dir,
                offset,
                len,
            } => self.gap(ts, dir, offset, len, out),
            Held::Conflict {
                ts,
                dir,
                offset,
                len,
            } => {
                let note = Note::CaptureConflict {
                    direction: dir,
                    offset,
                    len,
                };
                self.fact(self.at(ts), Fact::Note(note), out);
            }
            Held::Fin { ts, dir, bytes } => self.end(ts, dir, EndKind::Fin, bytes, out),
            Held::Reset { ts, dir, bytes } => {
                self.end(ts, dir, EndKind::Rst, bytes, out);
                // A reset ends the other direction too.
                let other = dir.other();
                let n = self.bytes[other.idx()];
                self.end(ts, other, EndKind::Aborted, n, out);
            }
        }
    }

    /// Plaintext of this connection from the decrypted flow of a trace rdptap wrote; left
    /// out when a key log already decrypts the connection's own TLS.
    pub fn plaintext(&mut self, ts: Duration, dir: Dir, bytes: &[u8], out: &mut Output) {
        if self.dec.as_ref().is_some_and(|d| d.announced) {
            return;
        }
        let at = self.at(ts);
        if !self.plain_noted {
            self.plain_noted = true;
            // Drop the decryptor: the trace's own plaintext is the connection's.
            self.dec = None;
            let note = Note::Decrypted {
                version: None,
                cipher_suite: None,
            };
            self.tracker.fact(at, Fact::Note(note));
        }
        self.tracker.plain(at, dir, bytes);
        self.drain(out);
    }

    /// Stream bytes.
    pub fn data(
        &mut self,
        ts: Duration,
        dir: Dir,
        offset: u64,
        bytes: &[u8],
        keys: &KeyLog,
        out: &mut Output,
    ) {
        let at = self.at(ts);
        let i = dir.idx();
        self.bytes[i] = self.bytes[i].max(offset + bytes.len() as u64);
        let skip = self.skip[i].saturating_sub(offset).min(bytes.len() as u64) as usize;
        let (offset, bytes) = (offset + skip as u64, &bytes[skip..]);
        if bytes.is_empty() {
            return;
        }
        match self.feed {
            Feed::Plain => self.tracker.plain(at, dir, bytes),
            Feed::Wire => {
                self.tracker.bytes(at, dir, bytes);
                self.decrypt(at, dir, offset, bytes, keys);
            }
        }
        self.drain(out);
    }

    /// Feeds the decryptor the part of `bytes` that is TLS, and the tracker what comes out.
    fn decrypt(&mut self, at: Duration, dir: Dir, offset: u64, bytes: &[u8], keys: &KeyLog) {
        let Some(dec) = self.dec.as_mut() else { return };
        let i = dir.idx();
        if dec.stopped[i] {
            return;
        }
        if let TlsFrom::Finding(head) = &mut dec.from[i] {
            let room = HEAD.saturating_sub(head.len());
            head.extend_from_slice(&bytes[..bytes.len().min(room)]);
            let start = match dir {
                Dir::C2S => client_prefix(head),
                Dir::S2C => server_prefix(head),
            };
            match start {
                Start::NotYet => return,
                Start::NoTls => {
                    // The server did not select TLS alone (NLA, or standard security):
                    // nothing of this connection is decrypted.
                    if dir == Dir::S2C {
                        self.dec = None;
                    } else {
                        dec.from[i] = TlsFrom::Never;
                    }
                    return;
                }
                Start::TlsAt(n) => dec.from[i] = TlsFrom::At(n),
            }
        }
        let TlsFrom::At(from) = dec.from[i] else {
            return;
        };
        let end = offset + bytes.len() as u64;
        if end <= from {
            return;
        }
        let part = &bytes[from.saturating_sub(offset) as usize..];
        dec.had_keys |= !keys.is_empty();
        let tracker = &mut self.tracker;
        let mut seen = Seen {
            stopped: &mut dec.stopped,
            announced: &mut dec.announced,
            had_keys: dec.had_keys,
        };
        dec.d.feed(dir, part, keys, &mut |ev| {
            decrypted(ev, at, tracker.as_mut(), &mut seen)
        });
    }

    fn gap(&mut self, ts: Duration, dir: Dir, offset: u64, len: u64, out: &mut Output) {
        if let Some(dec) = self.dec.as_mut() {
            // Decryption cannot step over missing bytes.
            dec.stopped[dir.idx()] = true;
        }
        let note = Note::CaptureGap {
            direction: dir,
            offset,
            missing: len,
        };
        self.fact(self.at(ts), Fact::Note(note), out);
    }

    fn end(&mut self, ts: Duration, dir: Dir, kind: EndKind, bytes: u64, out: &mut Output) {
        if std::mem::replace(&mut self.ended[dir.idx()], true) {
            return;
        }
        let after = self.at(ts);
        self.fact(
            after,
            Fact::Ended(dir, StreamEnd { kind, after, bytes }),
            out,
        );
    }

    /// The capture has no more of this connection: what is still open was open when the
    /// capture ended. Returns the connection's verdicts.
    pub fn close(
        mut self,
        ts: Duration,
        bytes: [u64; 2],
        out: &mut Output,
    ) -> crate::session::tracker::Finished {
        let at = self.at(ts);
        if let Some(mut dec) = self.dec.take() {
            let tracker = &mut self.tracker;
            let mut seen = Seen {
                stopped: &mut dec.stopped,
                announced: &mut dec.announced,
                had_keys: dec.had_keys,
            };
            dec.d
                .finish(&mut |ev| decrypted(ev, at, tracker.as_mut(), &mut seen));
        }
        for dir in [Dir::C2S, Dir::S2C] {
            let n = bytes[dir.idx()].max(self.bytes[dir.idx()]);
            self.end(ts, dir, EndKind::CaptureEnded, n, out);
        }
        let done = self.tracker.finish(at);
        self.drain(out);
        done
    }
}

/// What a decryption has said so far, for [`decrypted`].
struct Seen<'a> {
    stopped: &'a mut [bool; 2],
    announced: &'a mut bool,
    had_keys: bool,
}

/// What the decryptor found, as the tracker takes it.
fn decrypted(ev: DecryptEvent<'_>, at: Duration, tracker: &mut dyn Tracker, seen: &mut Seen<'_>) {
    match ev {
        DecryptEvent::Negotiated {
            version,
            suite,
            decryptable: true,
            keys_found: true,
        } if !*seen.announced => {
            *seen.announced = true;
            let note = Note::Decrypted {
                version: Some(version),
                cipher_suite: Some(suite),
            };
            tracker.fact(at, Fact::Note(note));
        }
        DecryptEvent::AppData { dir, data } => tracker.plain(at, dir, data),
        DecryptEvent::Stopped { dir, reason } => {
            seen.stopped[dir.idx()] = true;
            if !seen.had_keys && !*seen.announced {
                // No key log at all: not decrypting is expected, not news.
                return;
            }
            let note = Note::DecryptStopped {
                direction: dir,
                reason: reason.to_string(),
            };
            tracker.fact(at, Fact::Note(note));
        }
        _ => {}
    }
}
