//! A captured connection before rdptap knows what it carries: its first events are held
//! (bounded) until its first bytes say RDP, an RD Gateway, or something else.

use super::classify::{classify, Decision, Kind, LOOK};
use super::tls_start::{record_boundary, Boundary};
use crate::decrypt::{DecryptEvent, Decryptor, KeyLog};
use crate::vocab::Dir;
use std::net::SocketAddr;
use std::time::Duration;

/// The most bytes held for a connection while it is being told apart.
const MAX_HELD: usize = 4 * LOOK;

/// How a connection appeared in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// When its first packet was captured.
    pub ts: Duration,
    /// The side that sent the SYN (or was guessed to be the client).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// The SYN or SYN-ACK was captured.
    pub start_seen: bool,
    /// Client and server were guessed from the ports.
    pub roles_guessed: bool,
    /// In a trace rdptap wrote, the rdptap connection the flow belongs to.
    pub trace_conn: Option<u64>,
}

/// An event held until the connection is classified, in capture order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The server answered the SYN, `handshake` after it.
    Established {
        /// When.
        ts: Duration,
        /// SYN to SYN-ACK, when both were captured.
        handshake: Option<Duration>,
    },
    /// Stream bytes.
    Data {
        /// When.
        ts: Duration,
        /// Which way.
        dir: Dir,
        /// Their stream offset.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Bytes the capture lacks.
    Gap {
        /// When.
        ts: Duration,
        /// Which way.
        dir: Dir,
        /// From where.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// A retransmission that differed.
    Conflict {
        /// When.
        ts: Duration,
        /// Which way.
        dir: Dir,
        /// Where.
        offset: u64,
        /// How long.
        len: u64,
    },
    /// A FIN.
    Fin {
        /// When.
        ts: Duration,
        /// Which way.
        dir: Dir,
        /// The direction's length.
        bytes: u64,
    },
    /// A RST.
    Reset {
        /// When.
        ts: Duration,
        /// Which way.
        dir: Dir,
        /// The direction's length.
        bytes: u64,
    },
}

impl Held {
    /// The same event with client and server swapped.
    pub fn swapped(self) -> Held {
        match self {
            Held::Data {
                ts,
                dir,
                offset,
                bytes,
            } => Held::Data {
                ts,
                dir: dir.other(),
                offset,
                bytes,
            },
            Held::Gap {
                ts,
                dir,
                offset,
                len,
            } => Held::Gap {
                ts,
                dir: dir.other(),
                offset,
                len,
            },
            Held::Conflict {
                ts,
                dir,
                offset,
                len,
            } => Held::Conflict {
                ts,
                dir: dir.other(),
                offset,
                len,
            },
            Held::Fin { ts, dir, bytes } => Held::Fin {
                ts,
                dir: dir.other(),
                bytes,
            },
            Held::Reset { ts, dir, bytes } => Held::Reset {
                ts,
                dir: dir.other(),
                bytes,
            },
            e @ Held::Established { .. } => e,
        }
    }
}

/// What rdptap decided a connection carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep holding.
    NotYet,
    /// Track it, as `kind`; `swap` when the guessed roles were the wrong way round;
    /// `skip` [c2s, s2c] bytes before the first TLS record when its start was missed.
    Track {
        /// What it carries.
        kind: Kind,
        /// Swap client and server.
        swap: bool,
        /// Bytes to skip per direction (a start that was not captured).
        skip: Option<[u64; 2]>,
    },
    /// Not RDP.
    Other,
}

/// What helps tell connections apart besides their bytes.
pub struct Hints<'a> {
    /// `--target`: a host or gateway name or address the user says is RDP.
    pub target: Option<&'a str>,
    /// The key log, to look inside TLS.
    pub keys: &'a KeyLog,
}

/// A connection being told apart.
#[derive(Debug)]
pub struct Pending {
    /// How it appeared.
    pub opened: Opened,
    /// Its events so far.
    pub held: Vec<Held>,
    /// The first bytes of each direction (by the current guess of the roles).
    head: [Vec<u8>; 2],
    /// A direction ended (FIN, RST, or the capture).
    ended: [bool; 2],
    held_bytes: usize,
}

impl Pending {
    /// A connection that just appeared.
    pub fn new(opened: Opened) -> Pending {
        Pending {
            opened,
            held: Vec::new(),
            head: [Vec::new(), Vec::new()],
            ended: [false; 2],
            held_bytes: 0,
        }
    }

    /// Holds one event.
    pub fn hold(&mut self, e: Held) {
        match &e {
            Held::Data { dir, bytes, .. } => {
                let head = &mut self.head[dir.idx()];
                let room = LOOK.saturating_sub(head.len());
                head.extend_from_slice(&bytes[..bytes.len().min(room)]);
                self.held_bytes += bytes.len();
            }
            Held::Fin { dir, .. } | Held::Reset { dir, .. } => self.ended[dir.idx()] = true,
            _ => {}
        }
        self.held.push(e);
    }

    /// Says the capture has no more of this connection.
    pub fn end(&mut self) {
        self.ended = [true, true];
    }

    /// Decides, if the bytes so far allow it.
    pub fn decide(&self, hints: &Hints<'_>) -> Verdict {
        let full = self.held_bytes >= MAX_HELD;
        let ended = if full { [true, true] } else { self.ended };
        let head = [self.head[0].as_slice(), self.head[1].as_slice()];
        match classify(head, ended) {
            Decision::NotYet => Verdict::NotYet,
            Decision::Is { swap, .. } if swap && !self.opened.roles_guessed => Verdict::Other,
            Decision::Is {
                kind: Kind::Tls { sni },
                swap,
            } => self.tls(sni, swap, hints, full),
            Decision::Is {
                kind: Kind::Other, ..
            } => self.midway(hints),
            Decision::Is { kind, swap } => Verdict::Track {
                kind,
                swap,
                skip: None,
            },
        }
    }

    /// True when `--target` names this connection's server.
    fn targeted(&self, hints: &Hints<'_>, sni: Option<&str>) -> bool {
        let Some(t) = hints.target else { return false };
        let host = t.rsplit_once(':').map(|(h, _)| h).unwrap_or(t);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        sni.is_some_and(|s| s.eq_ignore_ascii_case(host))
            || host.parse::<std::net::IpAddr>().ok() == Some(self.opened.server.ip())
    }

    /// A connection that starts with TLS is an RD Gateway's when `--target` names it, or
    /// when its decrypted first request is a gateway's; anything else is other HTTPS.
    fn tls(&self, sni: Option<String>, swap: bool, hints: &Hints<'_>, full: bool) -> Verdict {
        let track = Verdict::Track {
            kind: Kind::Tls { sni: sni.clone() },
            swap,
            skip: None,
        };
        if self.targeted(hints, sni.as_deref()) {
            return track;
        }
        if hints.keys.is_empty() {
            return Verdict::Other;
        }
        match self.first_request(swap, hints.keys) {
            Some(true) => track,
            Some(false) => Verdict::Other,
            None if full || self.ended.iter().any(|e| *e) => Verdict::Other,
            None => Verdict::NotYet,
        }
    }

    /// Decrypts the held bytes to see whether the client's first request is an RD
    /// Gateway's: `None` while there is no answer yet.
    fn first_request(&self, swap: bool, keys: &KeyLog) -> Option<bool> {
        let mut d = Decryptor::new();
        let mut answer = None;
        let mut stopped = false;
        for e in &self.held {
            let Held::Data { dir, bytes, .. } = e else {
                continue;
            };
            let dir = if swap { dir.other() } else { *dir };
            d.feed(dir, bytes, keys, &mut |ev| match ev {
                DecryptEvent::AppData {
                    dir: Dir::C2S,
                    data,
                } if answer.is_none() => {
                    answer = Some([&b"RDG_"[..], b"RPC_"].iter().any(|m| data.starts_with(m)))
                }
                DecryptEvent::Stopped { dir: Dir::C2S, .. } => stopped = true,
                _ => {}
            });
            if answer.is_some() {
                break;
            }
        }
        answer.or(stopped.then_some(false))
    }

    /// A connection whose start was not captured can still be followed from a TLS
    /// record boundary, when its port or `--target` says it is RDP (3389) or a gateway.
    fn midway(&self, hints: &Hints<'_>) -> Verdict {
        if self.opened.start_seen {
            return Verdict::Other;
        }
        let port = self.opened.server.port();
        let kind = if port == 3389 || (self.targeted(hints, None) && port != 443) {
            Kind::Rdp
        } else if self.targeted(hints, None) {
            Kind::Tls { sni: None }
        } else {
            return Verdict::Other;
        };
        // Each direction is followed from its first record boundary; a boundary that more
        // bytes would confirm is waited for, unless no more can come.
        let mut skip = [0u64; 2];
        for (i, head) in self.head.iter().enumerate() {
            if head.is_empty() {
                continue;
            }
            let settled = self.ended[i] || head.len() >= LOOK;
            skip[i] = match record_boundary(head) {
                Boundary::At(b) => b as u64,
                Boundary::Maybe(b) if settled => b as u64,
                Boundary::Maybe(_) => return Verdict::NotYet,
                Boundary::None if settled => return Verdict::Other,
                Boundary::None => return Verdict::NotYet,
            };
        }
        if self.head.iter().all(Vec::is_empty) {
            return if self.ended.iter().all(|e| *e) {
                Verdict::Other
            } else {
                Verdict::NotYet
            };
        }
        Verdict::Track {
            kind,
            swap: false,
            skip: Some(skip),
        }
    }
}
