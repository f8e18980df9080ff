//! What both trackers share: the timeline, the phase, the queue of events going out,
//! and judging the host's certificate when a chain comes by.

use super::{ConnInfo, Fact, PlainSeen};
use crate::decode::limits;
use crate::decode::note::Note;
use crate::decode::tls::{RecordStats, TlsEvent, APP_RECORDS_REPORTED};
use crate::decode::{DecodeError, DecodeEvent, Decoded};
use crate::session::event::{Body, Event, Scope, VerdictRecord};
use crate::session::kind::{Counted, KindKey, KindName};
use crate::session::{Phase, TcpEvent, Timeline, Verdict, What};
use crate::vocab::{Dir, Layer};
use std::collections::VecDeque;
use std::time::{Duration, UNIX_EPOCH};

/// The state every tracker keeps.
pub(super) struct Core {
    pub info: ConnInfo,
    pub timeline: Timeline,
    pub phase: Phase,
    /// A decoder panicked: decoding is off for this connection.
    pub broken: bool,
    /// Plaintext seen per direction when intercepting: bytes, and when the first came.
    pub plain: [PlainSeen; 2],
    /// rdptap terminates TLS on both legs (or decrypts it): the decoders get plaintext.
    pub intercepted: bool,
    /// Per direction: bytes are missing from the capture, so nothing more is decoded.
    pub stopped: [bool; 2],
    /// Events not yet polled.
    queue: VecDeque<Event>,
    /// Reused between feeds, so decoding allocates no output vector per chunk.
    scratch: Vec<Decoded>,
    /// The limited kinds seen (see [`crate::decode::limits`]): written and counted.
    limited: Vec<(KindKey, Counted)>,
}

impl Core {
    pub fn new(info: ConnInfo) -> Self {
        Core {
            info,
            timeline: Timeline::default(),
            phase: Phase::TcpConnect,
            broken: false,
            plain: [PlainSeen::default(); 2],
            intercepted: false,
            stopped: [false; 2],
            queue: VecDeque::new(),
            scratch: Vec::new(),
            limited: Vec::new(),
        }
    }

    pub fn poll(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }

    /// Appends to the timeline and queues the same entry as an event.
    pub fn push(&mut self, at: Duration, dir: Option<Dir>, what: What) {
        let seq = self.timeline.push(at, dir, what.clone());
        self.queue.push_back(Event {
            at,
            dir,
            seq: Some(seq),
            body: Body::Entry(what),
        });
    }

    /// Moves to a later phase (never back).
    pub fn enter(&mut self, at: Duration, p: Phase) {
        if p > self.phase {
            self.phase = p;
            self.push(at, None, What::Phase(p));
        }
    }

    /// The facts both trackers record the same way; the others come back.
    pub fn common_fact(&mut self, at: Duration, fact: Fact) -> Option<Fact> {
        let tcp = match fact {
            Fact::Accepted { client, listen } => {
                self.push(at, None, What::Phase(Phase::TcpConnect));
                TcpEvent::Accepted { client, listen }
            }
            Fact::Connected { addr, connect_ms } => {
                TcpEvent::UpstreamConnected { addr, connect_ms }
            }
            Fact::ConnectFailed(error) => TcpEvent::UpstreamFailed { error },
            Fact::Ended(dir, end) => {
                self.push(at, Some(dir), What::Tcp(TcpEvent::StreamEnded { end }));
                return None;
            }
            other => return Some(other),
        };
        self.push(at, None, What::Tcp(tcp));
        None
    }

    /// Records a relay note; the host's chain in it is judged as a certificate the
    /// decoders read would be.
    pub fn note(&mut self, at: Duration, note: Note) {
        match &note {
            // Decoding on past a hole would read the next bytes as if they followed.
            Note::CaptureGap { direction, .. } => self.stopped[direction.idx()] = true,
            // The key log opened the TLS: the decoders read its plaintext from here.
            Note::Decrypted { .. } => self.intercepted = true,
            _ => {}
        }
        let judged = match &note {
            Note::UpstreamTls {
                chain, pin_matched, ..
            } => Some(crate::cert::judge(
                chain,
                &self.info.target_name,
                self.unix_time(at),
                &self.info.roots,
                *pin_matched,
            )),
            _ => None,
        };
        self.push(at, None, What::Note(note));
        if let Some(findings) = judged {
            self.push(at, Some(Dir::S2C), What::CertAssessed(findings));
        }
    }

    /// Counts plaintext; says whether the decoders should read it.
    pub fn count_plain(&mut self, at: Duration, dir: Dir, len: usize) -> bool {
        let p = &mut self.plain[dir.idx()];
        p.bytes += len as u64;
        p.first_at.get_or_insert(at);
        self.intercepted && !self.broken && !self.stopped[dir.idx()]
    }

    /// Runs one decoder feed. The relay must never fail because of rdptap: should a
    /// decoder ever panic, its connection keeps flowing and only decoding stops.
    pub fn guarded(&mut self, dir: Dir, feed: impl FnOnce(&mut Vec<Decoded>)) -> Vec<Decoded> {
        let mut out = std::mem::take(&mut self.scratch);
        let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| feed(&mut out)));
        if fed.is_err() {
            self.broken = true;
            out.clear();
            out.push(Decoded {
                dir,
                event: DecodeEvent::Error(DecodeError {
                    layer: Layer::Decoder,
                    offset: 0,
                    reason: "internal decoder error; decoding stopped for this connection, relaying continues".into(),
                }),
            });
        }
        out
    }

    /// Gives the vector back to be reused.
    pub fn recycle(&mut self, mut out: Vec<Decoded>) {
        out.clear();
        self.scratch = out;
    }

    /// Records decoded events, moving the phase by `phase_of` and judging any chain the
    /// server presented.
    pub fn decoded(
        &mut self,
        at: Duration,
        out: &mut Vec<Decoded>,
        phase_of: fn(&DecodeEvent) -> Option<Phase>,
    ) {
        for mut d in out.drain(..) {
            if limits::limited(&d.event) && self.over_limit(d.dir, &d.event) {
                continue;
            }
            if self.info.redact_users {
                crate::session::redact::users(&mut d.event);
            }
            if let Some(p) = phase_of(&d.event) {
                self.enter(at, p);
            }
            let chain = match &d.event {
                DecodeEvent::Tls(TlsEvent::Certificate { chain }) if d.dir == Dir::S2C => {
                    Some(chain.clone())
                }
                _ => None,
            };
            self.push(at, Some(d.dir), What::Decoded(d.event));
            if let Some(chain) = chain {
                let now = self.unix_time(at);
                let problems =
                    crate::cert::assess(&chain, &self.info.target_name, now, &self.info.roots);
                self.push(at, Some(Dir::S2C), What::CertAssessed(problems));
            }
        }
    }

    /// True when `ev` is past its kind's limit: it is then counted, in the timeline too,
    /// and neither kept nor written.
    fn over_limit(&mut self, dir: Dir, ev: &DecodeEvent) -> bool {
        let key = KindKey::of_decoded(Some(dir), ev);
        let i = match self.limited.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let name = KindName::of(Some(dir), ev);
                self.limited.push((
                    key,
                    Counted {
                        name,
                        written: 0,
                        only_counted: 0,
                    },
                ));
                self.limited.len() - 1
            }
        };
        let c = &mut self.limited[i].1;
        if c.written < limits::PER_KIND {
            c.written += 1;
            return false;
        }
        c.only_counted += 1;
        self.timeline.count_only(key);
        true
    }

    /// Queues, when anything was only counted, the `events_counted` line that says how
    /// much, with `more` (counts a decoder kept itself, such as TLS records).
    pub fn counted_event(&mut self, at: Duration, more: Vec<Counted>) {
        let counts: Vec<Counted> = self
            .limited
            .iter()
            .map(|(_, c)| c.clone())
            .chain(more)
            .filter(|c| c.only_counted > 0)
            .collect();
        if counts.is_empty() {
            return;
        }
        self.queue.push_back(Event {
            at,
            dir: None,
            seq: None,
            body: Body::EventsCounted { counts },
        });
    }

    /// The TLS records a decoder reported one by one and those it only counted, per
    /// direction, as `events_counted` items (`inner`: of the RDP inside a tunnel).
    pub fn records_counted(stats: [RecordStats; 2], inner: bool) -> Vec<Counted> {
        [Dir::C2S, Dir::S2C]
            .into_iter()
            .filter(|d| stats[d.idx()].app_records > APP_RECORDS_REPORTED)
            .map(|d| Counted {
                name: KindName {
                    layer: Layer::Tls,
                    kind: "app_record".into(),
                    packet: None,
                    inner,
                    dir: Some(d),
                },
                written: APP_RECORDS_REPORTED,
                only_counted: stats[d.idx()].app_records - APP_RECORDS_REPORTED,
            })
            .collect()
    }

    /// Queues a verdict as an event.
    pub fn verdict_event(
        &mut self,
        at: Duration,
        verdict: &Verdict,
        seq: usize,
        scope: Option<Scope>,
        key: Option<String>,
    ) {
        self.queue.push_back(Event {
            at,
            dir: None,
            seq: Some(seq),
            body: Body::Verdict(Box::new(VerdictRecord {
                verdict: verdict.clone(),
                scope,
                gw_connection_id: key,
            })),
        });
    }

    /// Seconds since the Unix epoch at `at`.
    fn unix_time(&self, at: Duration) -> i64 {
        (self.info.wall_start + at)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
