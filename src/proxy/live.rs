//! The live proxy's observer: a thin adapter between the relay and one connection's
//! sans-IO tracker. It turns the relay's monotonic clock into the tracker's `at`, feeds
//! it bytes and facts, and hands what comes out to the sinks: the console log, the event
//! file, and the packet capture (each event as a comment on the packet that caused it).

use crate::decode::note::Note;
use crate::decode::tls::TlsEvent;
use crate::decode::DecodeEvent;
use crate::record::capture::{Close, ConnCapture, Gate};
use crate::record::{console, Recorder};
use crate::relay::{Backpressure, Observer};
use crate::session::event::{Body, Event, EventLine};
use crate::session::tracker::{Fact, Finished, Tracker};
use crate::session::What;
use crate::vocab::{Dir, EndKind, FarEnd, Leg, Legs, StreamEnd};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use time::OffsetDateTime;
use tokio::time::Instant;

/// Comments kept while no packet comes to carry them.
const MAX_WAITING: usize = 256;

/// The capture's queue, as the relay waits on it (lossless policy).
impl Backpressure for Gate {
    fn room(&self) -> Option<Pin<Box<dyn Future<Output = ()> + Send + '_>>> {
        self.is_full()
            .then(|| Box::pin(self.wait_for_room()) as Pin<Box<dyn Future<Output = ()> + Send>>)
    }
}

/// Where one live connection's events go.
pub struct Sinks {
    /// The event file, if any.
    pub recorder: Recorder,
    /// The connection's share of the packet capture, if any.
    pub capture: Option<Arc<ConnCapture>>,
    /// Where the relay waits for room in the capture.
    pub gate: Option<Gate>,
    /// Decrypted bytes are gateway HTTP (for the capture's port numbers).
    pub http: bool,
}

struct State {
    tracker: Box<dyn Tracker>,
    /// Events waiting to go on the next captured packet (`--pcap`).
    comments: Vec<String>,
    /// rdptap's own handshake with the host is done: the next certificate findings are
    /// the host's, which the client meets only if rdptap's certificate mirrors them.
    upstream_seen: bool,
    /// The host's certificate problems, until the client is shown rdptap's certificate.
    host_findings: Vec<String>,
}

/// One live connection: its tracker behind a lock the relay's two directions share.
pub struct LiveConn {
    id: u64,
    started: Instant,
    wall_start: SystemTime,
    sinks: Sinks,
    gate: Option<Arc<dyn Backpressure>>,
    st: Mutex<State>,
}

impl LiveConn {
    /// Wraps `tracker` for connection `id`, accepted at `started` (`wall_start` on the
    /// wall clock).
    pub fn new(
        id: u64,
        started: Instant,
        wall_start: SystemTime,
        tracker: Box<dyn Tracker>,
        sinks: Sinks,
    ) -> Arc<LiveConn> {
        let gate = sinks
            .gate
            .clone()
            .map(|g| Arc::new(g) as Arc<dyn Backpressure>);
        Arc::new(LiveConn {
            id,
            started,
            wall_start,
            sinks,
            gate,
            st: Mutex::new(State {
                tracker,
                comments: Vec::new(),
                upstream_seen: false,
                host_findings: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the relay down with a poisoned lock.
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection's share of the packet capture, if any.
    pub fn capture(&self) -> Option<&Arc<ConnCapture>> {
        self.sinks.capture.as_ref()
    }

    /// A transport fact from the connection's handler.
    pub fn fact(&self, fact: Fact) {
        let mut st = self.lock();
        let at = self.started.elapsed();
        st.tracker.fact(at, fact);
        self.drain(&mut st);
    }

    /// The connection is over: its verdicts, with every event written out.
    pub fn finish(&self) -> Finished {
        let mut st = self.lock();
        let at = self.started.elapsed();
        let done = st.tracker.finish(at);
        self.drain(&mut st);
        drop(st);
        self.capture_finish();
        done
    }

    /// Hands every event the tracker has to the sinks.
    fn drain(&self, st: &mut State) {
        while let Some(ev) = st.tracker.poll_event() {
            self.say(st, &ev);
            if self.sinks.recorder.is_active() {
                self.sinks.recorder.event(EventLine {
                    ts: OffsetDateTime::from(self.wall_start + ev.at),
                    conn: self.id,
                    source: None,
                    event: ev,
                });
            }
        }
    }

    /// The console log and the capture's comments for one event.
    fn say(&self, st: &mut State, ev: &Event) {
        let Body::Entry(what) = &ev.body else { return };
        // Gateway HTTP means the far end is a gateway: its TLS leg is not "the host's".
        let far = if self.sinks.http {
            FarEnd::Gateway
        } else {
            FarEnd::Host
        };
        console::log_entry(self.id, ev.dir, what, far);
        match what {
            What::Note(Note::NlaDowngraded { .. }) => tracing::warn!(
                conn = self.id,
                "NLA DOWNGRADE in force (--nla downgrade, lab use only): {}",
                crate::session::describe::describe(what)
            ),
            What::Note(Note::UpstreamTls { .. }) => st.upstream_seen = true,
            What::CertAssessed(findings) if st.upstream_seen => {
                st.upstream_seen = false;
                st.host_findings = findings
                    .iter()
                    .filter(|f| !f.is_note())
                    .map(|f| f.to_string())
                    .collect();
            }
            What::Note(Note::LeafPresented {
                signed_by, mirrors, ..
            }) => {
                let found = std::mem::take(&mut st.host_findings);
                // Said once per connection: whether the client meets the host's
                // certificate problems through rdptap's certificate, or never sees them.
                if found.is_empty() {
                } else if mirrors.is_empty() {
                    tracing::warn!(
                        conn = self.id,
                        "INTERCEPTION HIDES the {}'s certificate problems from the client: {}",
                        far.name(),
                        found.join("; ")
                    );
                } else {
                    tracing::warn!(
                        conn = self.id,
                        "the {}'s certificate has problems ({}); rdptap's certificate, signed by {signed_by}, mirrors them, so the client warns or refuses as it would without rdptap",
                        far.name(),
                        found.join("; ")
                    );
                }
            }
            _ => {}
        }
        if self.sinks.capture.is_none() || st.comments.len() >= MAX_WAITING {
            return;
        }
        // One comment per TLS record would bury the others.
        if matches!(
            what,
            What::Decoded(DecodeEvent::Tls(TlsEvent::AppRecord { .. }))
        ) {
            return;
        }
        st.comments.push(format!(
            "rdptap: {}",
            crate::session::describe::describe_for(what, far)
        ));
    }

    /// Decodes a relayed chunk, then captures it on `legs`.
    fn data(&self, dir: Dir, chunk: &Bytes, legs: Legs) {
        let mut st = self.lock();
        let at = self.started.elapsed();
        st.tracker.bytes(at, dir, chunk);
        self.drain(&mut st);
        if let Some(c) = &self.sinks.capture {
            let comments = std::mem::take(&mut st.comments);
            c.raw(dir, legs, chunk, comments);
        }
    }

    /// The connection ended: its trace is written out, and what the drop policy left
    /// out is recorded.
    fn capture_finish(&self) {
        let Some(c) = &self.sinks.capture else { return };
        let (packets, bytes) = c.finish();
        if packets == 0 {
            return;
        }
        tracing::warn!(
            conn = self.id,
            "{packets} packets ({bytes} bytes) not captured: the capture queue was full (--capture-overflow drop)"
        );
        let mut line = EventLine::run(
            OffsetDateTime::now_utc(),
            Body::CaptureDropped {
                packets,
                bytes,
                policy: "drop".into(),
            },
        );
        line.conn = self.id;
        self.sinks.recorder.event(line);
    }
}

impl Observer for LiveConn {
    fn on_data(&self, dir: Dir, chunk: &Bytes) {
        self.data(dir, chunk, Legs::Both);
    }

    fn on_decode_only(&self, dir: Dir, chunk: &Bytes) {
        self.data(dir, chunk, Legs::Neither);
    }

    fn on_wire(&self, leg: Leg, dir: Dir, bytes: &[u8]) {
        if let Some(c) = &self.sinks.capture {
            c.wire(leg, dir, bytes);
        }
    }

    fn on_redial(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) {
        if let Some(c) = &self.sinks.capture {
            c.redial(local, peer);
        }
    }

    fn backpressure(&self) -> Option<Arc<dyn Backpressure>> {
        self.gate.clone()
    }

    fn on_end(&self, dir: Dir, end: &StreamEnd) {
        let mut st = self.lock();
        let at = self.started.elapsed();
        st.tracker.fact(at, Fact::Ended(dir, end.clone()));
        self.drain(&mut st);
        if let Some(c) = &self.sinks.capture {
            let comments = std::mem::take(&mut st.comments);
            let how = match &end.kind {
                EndKind::Rst | EndKind::Error { .. } => Close::Rst,
                EndKind::WriteFailed { reset: true, .. } => Close::Rst,
                _ => Close::Fin,
            };
            c.end(dir, how, comments);
        }
    }

    fn on_plain(&self, dir: Dir, chunk: &Bytes) {
        let mut st = self.lock();
        let at = self.started.elapsed();
        st.tracker.plain(at, dir, chunk);
        self.drain(&mut st);
        if let Some(c) = &self.sinks.capture {
            let comments = std::mem::take(&mut st.comments);
            c.plain(dir, chunk, comments, self.sinks.http);
        }
    }

    fn on_note(&self, note: &Note) {
        let mut st = self.lock();
        let at = self.started.elapsed();
        st.tracker.fact(at, Fact::Note(note.clone()));
        self.drain(&mut st);
    }
}
