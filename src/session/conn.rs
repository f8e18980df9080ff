//! The per-connection session: feeds relayed bytes to the decoders, keeps the timeline,
//! moves through the phases, and produces the verdict when the connection ends.

use crate::cert::{self, CertProblem};
use crate::decode::mcs::McsEvent;
use crate::decode::note::Note;
use crate::decode::rdp::RdpDecoder;
use crate::decode::tls::TlsEvent;
use crate::decode::x224::X224Event;
use crate::decode::{DecodeEvent, Decoded};
use crate::record::capture::Gate;
use crate::record::{EventRecord, Recorder};
use crate::relay::Observer;
use crate::session::diagnose::{self, Inputs};
use crate::session::{Phase, TcpEvent, Timeline, Verdict, What};
use crate::vocab::StreamEnd;
use crate::vocab::{Dir, Layer};
use crate::vocab::{Leg, Legs};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::time::Instant;

mod capture;
mod gateway;

/// Fixed facts about one connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Connection number, from 1.
    pub id: u64,
    /// The host's name, as certificates should carry it.
    pub target_name: String,
    /// How to show the host in messages (name and address).
    pub target_desc: String,
    /// The linger time in force.
    pub linger: Duration,
    /// Hide user and domain names (and the mstshash cookie) in every output.
    pub redact_users: bool,
}

struct State {
    decoder: RdpDecoder,
    timeline: Timeline,
    phase: Phase,
    scratch: Vec<Decoded>,
    /// A decoder panicked: decoding is off for this connection.
    broken: bool,
    /// Plaintext seen per direction when intercepting: bytes, and when the first came.
    plain: [PlainSeen; 2],
    /// rdptap terminates TLS on both legs: the decoders get plaintext.
    intercepted: bool,
    /// Gateway mode: the gateway decoders instead of the direct-RDP ones.
    gw: Option<Box<gateway::GwParts>>,
    /// Events waiting to go on the next captured packet (`--pcap`).
    comments: Vec<String>,
}

/// Plaintext one side sent through an intercepted connection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlainSeen {
    /// Bytes of plaintext.
    pub bytes: u64,
    /// When the first plaintext byte came, since the client connected.
    pub first_at: Option<Duration>,
}

/// One connection's session. It is the relay's [`Observer`].
pub struct Session {
    info: ConnInfo,
    started: Instant,
    recorder: Recorder,
    roots: Arc<rustls::RootCertStore>,
    state: Mutex<State>,
    /// The packet capture, when `--pcap` is on.
    capture: std::sync::OnceLock<capture::Attached>,
}

impl Session {
    /// A session for a connection accepted at `started`.
    pub fn new(
        info: ConnInfo,
        started: Instant,
        recorder: Recorder,
        roots: Arc<rustls::RootCertStore>,
    ) -> Arc<Session> {
        Arc::new(Session {
            info,
            started,
            recorder,
            roots,
            state: Mutex::new(State {
                decoder: RdpDecoder::new(),
                timeline: Timeline::default(),
                phase: Phase::TcpConnect,
                scratch: Vec::new(),
                broken: false,
                plain: [PlainSeen::default(); 2],
                intercepted: false,
                gw: None,
                comments: Vec::new(),
            }),
            capture: std::sync::OnceLock::new(),
        })
    }

    /// The connection number.
    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// Record a socket-level fact.
    pub fn tcp(&self, dir: Option<Dir>, ev: TcpEvent) {
        let mut st = self.lock();
        if matches!(ev, TcpEvent::Accepted { .. }) {
            self.push(&mut st, None, What::Phase(Phase::TcpConnect));
        }
        self.push(&mut st, dir, What::Tcp(ev));
    }

    /// Diagnose the finished connection, record the verdict and return it.
    pub fn finish(&self) -> Verdict {
        let v = self.verdict();
        self.capture_finish();
        v
    }

    fn verdict(&self) -> Verdict {
        let st = self.lock();
        if let Some(gw) = st.gw.as_deref() {
            return self.gw_finish(&st, gw);
        }
        let tls = st.decoder.tls();
        let verdict = diagnose::diagnose(&Inputs {
            timeline: &st.timeline,
            tls_stats: [tls.stats(Dir::C2S), tls.stats(Dir::S2C)],
            target: &self.info.target_desc,
            linger: self.info.linger,
            duration: self.started.elapsed(),
            plain: st.plain,
        });
        let body = match serde_json::to_value(&verdict) {
            Ok(Value::Object(mut m)) => {
                m.insert("kind".into(), Value::String("verdict".into()));
                m.insert("seq".into(), json!(st.timeline.entries.len()));
                Value::Object(m)
            }
            _ => json!({"kind": "verdict"}),
        };
        self.recorder.event(EventRecord {
            ts: OffsetDateTime::now_utc(),
            conn: self.info.id,
            dir: None,
            layer: Layer::Session,
            body,
        });
        verdict
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere must not take the relay down with a poisoned lock.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Append to the timeline, send to the sinks and log notable entries.
    fn push(&self, st: &mut State, dir: Option<Dir>, what: What) {
        let at = self.started.elapsed();
        let layer = what.layer();
        let body = self.recorder.is_active().then(|| body_of(&what));
        self.comment(st, &what);
        let seq = st.timeline.push(at, dir, what);
        log_entry(self.info.id, dir, &st.timeline.entries[seq].what);
        if let Some(mut body) = body {
            if let Value::Object(m) = &mut body {
                m.insert("seq".into(), json!(seq));
            }
            self.recorder.event(EventRecord {
                ts: OffsetDateTime::now_utc(),
                conn: self.info.id,
                dir,
                layer,
                body,
            });
        }
    }

    fn enter(&self, st: &mut State, p: Phase) {
        if p > st.phase {
            st.phase = p;
            self.push(st, None, What::Phase(p));
        }
    }

    fn on_decoded(&self, st: &mut State, mut d: Decoded) {
        if self.info.redact_users {
            super::redact::users(&mut d.event);
        }
        let phase = match &d.event {
            ev if st.gw.is_some() => gateway::gw_phase(ev),
            DecodeEvent::X224(X224Event::ConnectionRequest { .. })
            | DecodeEvent::X224(X224Event::PreconnectionPdu { .. }) => Some(Phase::X224),
            DecodeEvent::Tls(TlsEvent::ClientHello { .. }) => Some(Phase::TlsHandshake),
            DecodeEvent::Tls(TlsEvent::HandshakeDone) => Some(Phase::TlsSession),
            DecodeEvent::Mcs(McsEvent::ConnectInitial { .. }) => Some(Phase::Mcs),
            other => super::phases::phase_of(other),
        };
        if let Some(p) = phase {
            self.enter(st, p);
        }
        let chain = match &d.event {
            DecodeEvent::Tls(TlsEvent::Certificate { chain }) if d.dir == Dir::S2C => {
                Some(chain.clone())
            }
            _ => None,
        };
        self.push(st, Some(d.dir), What::Decoded(d.event));
        if let Some(chain) = chain {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let problems = cert::assess(&chain, &self.info.target_name, now, &self.roots);
            self.push(st, Some(Dir::S2C), What::CertAssessed(problems));
        }
    }
}

impl Session {
    /// Decodes a relayed chunk, then captures it on `legs`.
    fn data(&self, dir: Dir, chunk: &Bytes, legs: Legs) {
        let mut st = self.lock();
        self.decode_raw(&mut st, dir, chunk);
        self.capture_raw(&mut st, dir, chunk, legs);
    }

    fn decode_raw(&self, st: &mut State, dir: Dir, chunk: &Bytes) {
        if st.gw.is_some() {
            if !st.broken {
                self.gw_on_data(st, dir, chunk);
            }
            return;
        }
        if st.broken || st.decoder.finished() {
            return;
        }
        let mut out = std::mem::take(&mut st.scratch);
        // The relay must never fail because of rdptap: should a decoder ever panic, its
        // connection keeps flowing and only decoding stops.
        let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            st.decoder.feed(dir, chunk, &mut out);
        }));
        if fed.is_err() {
            st.broken = true;
            out.clear();
            out.push(panic_event(dir));
        }
        for d in out.drain(..) {
            self.on_decoded(st, d);
        }
        st.scratch = out;
        // The handshake has begun with its first byte, even if no whole message came yet
        // (a client that leaves mid-ClientHello left during the handshake).
        if st.phase < Phase::TlsHandshake && st.decoder.tls().offset(Dir::C2S) > 0 {
            self.enter(st, Phase::TlsHandshake);
        }
    }

    fn decode_plain(&self, st: &mut State, dir: Dir, chunk: &Bytes) {
        let at = self.started.elapsed();
        let p = &mut st.plain[dir.idx()];
        p.bytes += chunk.len() as u64;
        p.first_at.get_or_insert(at);
        if st.broken || !st.intercepted {
            return;
        }
        if st.gw.is_some() {
            self.gw_on_plain(st, dir, chunk, false);
            return;
        }
        let mut out = std::mem::take(&mut st.scratch);
        let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            st.decoder.feed_plain(dir, chunk, &mut out);
        }));
        if fed.is_err() {
            st.broken = true;
            out.clear();
            out.push(panic_event(dir));
        }
        for d in out.drain(..) {
            self.on_decoded(st, d);
        }
        st.scratch = out;
    }
}

impl Observer for Session {
    fn on_data(&self, dir: Dir, chunk: &Bytes) {
        self.data(dir, chunk, Legs::Both);
    }

    fn on_decode_only(&self, dir: Dir, chunk: &Bytes) {
        self.data(dir, chunk, Legs::Neither);
    }

    fn on_wire(&self, leg: Leg, dir: Dir, bytes: &[u8]) {
        if let Some(c) = self.capture.get() {
            c.conn.wire(leg, dir, bytes);
        }
    }

    fn on_redial(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) {
        if let Some(c) = self.capture.get() {
            c.conn.redial(local, peer);
        }
    }

    fn gate(&self) -> Option<Gate> {
        self.capture.get().and_then(|c| c.gate.clone())
    }

    fn on_end(&self, dir: Dir, end: &StreamEnd) {
        let mut st = self.lock();
        if st.gw.is_some() && st.intercepted && !st.broken {
            self.gw_on_plain(&mut st, dir, &[], true);
        }
        self.push(
            &mut st,
            Some(dir),
            What::Tcp(TcpEvent::StreamEnded { end: end.clone() }),
        );
        self.capture_end(&mut st, dir, end);
    }

    fn on_plain(&self, dir: Dir, chunk: &Bytes) {
        let mut st = self.lock();
        self.decode_plain(&mut st, dir, chunk);
        self.capture_plain(&mut st, dir, chunk);
    }

    fn on_note(&self, note: &Note) {
        let mut st = self.lock();
        if matches!(note, Note::ClientTls { .. }) {
            // Both handshakes are done: from here the decoders read plaintext.
            st.intercepted = true;
            if st.gw.is_none() {
                st.decoder.tls_intercepted();
                self.enter(&mut st, Phase::TlsSession);
            }
        }
        if matches!(note, Note::NlaDowngraded { .. }) {
            tracing::warn!(
                conn = self.info.id,
                "NLA DOWNGRADE in force (--nla downgrade, lab use only): {}",
                note.describe()
            );
        }
        self.push(&mut st, None, What::Note(note.clone()));
        if let Note::UpstreamTls {
            chain, pin_matched, ..
        } = note
        {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let findings = cert::judge(
                chain,
                &self.info.target_name,
                now,
                &self.roots,
                *pin_matched,
            );
            if !findings.is_empty() {
                let v: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
                // Said once per connection, and loudly: the client was shown rdptap's
                // certificate, so it never saw these problems itself.
                tracing::warn!(
                    conn = self.info.id,
                    "INTERCEPTION HIDES the host's certificate problems from the client: {}",
                    v.join("; ")
                );
            }
            self.push(&mut st, Some(Dir::S2C), What::CertAssessed(findings));
        }
    }
}

fn panic_event(dir: Dir) -> Decoded {
    Decoded {
        dir,
        event: DecodeEvent::Error(crate::decode::DecodeError {
            layer: Layer::Decoder,
            offset: 0,
            reason:
                "internal decoder error; decoding stopped for this connection, relaying continues"
                    .into(),
        }),
    }
}

fn body_of(what: &What) -> Value {
    match what {
        What::Decoded(d) => serde_json::to_value(d).unwrap_or(Value::Null),
        What::Tcp(t) => serde_json::to_value(t).unwrap_or(Value::Null),
        What::Phase(p) => json!({"kind": "phase", "phase": p}),
        What::CertAssessed(p) => json!({"kind": "cert_assessment", "findings": p}),
        What::Note(n) => serde_json::to_value(n).unwrap_or(Value::Null),
    }
}

fn log_entry(conn: u64, dir: Option<Dir>, what: &What) {
    let d = dir.map(|d| d.to_string()).unwrap_or_else(|| "---".into());
    match what {
        What::Decoded(DecodeEvent::Tls(TlsEvent::AppRecord { .. })) => {
            tracing::trace!(conn, "{d} {}", describe(what))
        }
        What::Decoded(DecodeEvent::Error(_)) => tracing::warn!(conn, "{d} {}", describe(what)),
        What::Note(Note::NotIntercepted { .. }) => {
            tracing::warn!(conn, "{d} {}", describe(what))
        }
        What::CertAssessed(p) if !p.is_empty() => {
            tracing::warn!(conn, "{d} {}", describe(what))
        }
        What::Phase(_) => tracing::debug!(conn, "{d} {}", describe(what)),
        _ => tracing::info!(conn, "{d} {}", describe(what)),
    }
}

fn describe(what: &What) -> String {
    match what {
        What::Decoded(d) => diagnose::describe(d),
        What::Phase(p) => format!("phase: {p}"),
        What::Note(n) => n.describe(),
        What::CertAssessed(p) if p.is_empty() => "certificate: no problems found".into(),
        What::CertAssessed(p) => {
            let v: Vec<String> = p.iter().map(CertProblem::to_string).collect();
            format!("certificate: {}", v.join("; "))
        }
        What::Tcp(TcpEvent::Accepted { client, .. }) => format!("client {client} connected"),
        What::Tcp(TcpEvent::UpstreamConnected { addr, connect_ms }) => {
            format!("connected to {addr} in {connect_ms:.1} ms")
        }
        What::Tcp(TcpEvent::UpstreamFailed { error }) => format!("upstream: {error}"),
        What::Tcp(TcpEvent::StreamEnded { end }) => {
            format!("stream {} after {} bytes", end.kind, end.bytes)
        }
    }
}
