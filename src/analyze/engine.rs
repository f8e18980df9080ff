//! The analysis loop: records from the capture file, TCP reassembly, then each
//! connection told apart and, when it carries RDP or an RD Gateway's traffic, run through
//! its tracker.

use super::classify::Kind;
use super::output::{Conversation, Output};
use super::pending::{Held, Hints, Opened, Pending, Verdict};
use super::tracked::Tracked;
use crate::capfile::tcp::{ConnId, FlowEvent, FlowEventKind, Reassembler};
use crate::capfile::{CaptureError, CaptureReader, Record, SecretsKind};
use crate::decrypt::KeyLog;
use crate::proxy::tunnels::Registry;
use crate::session::event::Source;
use crate::session::tracker::{ConnInfo, DirectTracker, GatewayTracker, Tracker};
use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// What the run knows besides the capture.
pub struct Settings {
    /// `--target`: the host or gateway the user says the capture is about.
    pub target: Option<String>,
    /// Roots for judging certificates.
    pub roots: Arc<rustls::RootCertStore>,
    /// The linger the verdicts assume (a capture has none; the proxy's default).
    pub linger: Duration,
}

/// One connection of the capture.
enum Conn {
    Pending(Box<Pending>),
    Tracked(Box<Tracked>),
    /// Not RDP: only its size is kept, for the list of conversations.
    Other(Conversation),
    /// In a trace rdptap wrote: the decrypted flow of the connection tracked as this
    /// one (its first flow, the client's leg), whose tracker reads it as plaintext.
    Plaintext(ConnId),
    /// In a trace rdptap wrote: another leg of a connection already tracked.
    OtherLeg,
}

/// Everything but the reassembler, so that its events can borrow this mutably.
struct State<'a> {
    settings: &'a Settings,
    keys: KeyLog,
    conns: HashMap<ConnId, Conn>,
    tunnels: Arc<Registry>,
    /// In a trace rdptap wrote: each rdptap connection's first flow, which stands for it.
    traces: HashMap<u64, ConnId>,
    first_ts: Option<Duration>,
    next_id: u64,
    out: &'a mut Output,
}

/// Why the reading of a capture stopped early.
#[derive(Debug)]
pub enum Stop {
    /// The file could not be read further.
    Unreadable(CaptureError),
    /// Ctrl-C or SIGTERM, at this byte offset.
    Interrupted(u64),
}

/// Reads the whole capture (or until `stop` turns true); returns what stopped the
/// reading, after everything read before it was analysed.
pub fn run<R: Read>(
    mut reader: CaptureReader<R>,
    keys: KeyLog,
    settings: &Settings,
    out: &mut Output,
    stop: &AtomicBool,
) -> Option<Stop> {
    let mut reasm = Reassembler::default();
    let mut st = State {
        settings,
        keys,
        conns: HashMap::new(),
        tunnels: Arc::new(Registry::new()),
        traces: HashMap::new(),
        first_ts: None,
        next_id: 1,
        out,
    };
    let mut failed = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            failed = Some(Stop::Interrupted(reader.stats().bytes));
            break;
        }
        let Some(rec) = reader.next_record() else {
            break;
        };
        match rec {
            Ok(Record::Tcp(seg)) => {
                st.first_ts.get_or_insert(seg.ts);
                reasm.segment(&seg, |e| st.flow(e));
            }
            Ok(Record::Secrets(s)) => {
                if s.kind == SecretsKind::TlsKeyLog {
                    st.keys.add_bytes(s.data);
                }
            }
            Err(e) => {
                failed = Some(Stop::Unreadable(e));
                break;
            }
        }
    }
    reasm.finish(|e| st.flow(e));
    failed
}

impl State<'_> {
    fn flow(&mut self, e: FlowEvent<'_>) {
        let FlowEvent { conn, ts, kind, .. } = e;
        let held = match kind {
            FlowEventKind::Opened {
                client,
                server,
                start_seen,
                roles_guessed,
                trace_conn,
            } => {
                let opened = Opened {
                    ts,
                    client,
                    server,
                    start_seen,
                    roles_guessed,
                    trace_conn,
                };
                self.conns
                    .insert(conn, Conn::Pending(Box::new(Pending::new(opened))));
                return;
            }
            FlowEventKind::Established { handshake } => Held::Established { ts, handshake },
            FlowEventKind::Data { dir, offset, bytes } => {
                // The common case, bytes of a connection already tracked, goes straight
                // through without a copy.
                match self.conns.get_mut(&conn) {
                    Some(Conn::Tracked(t)) => {
                        t.data(ts, dir, offset, bytes, &self.keys, self.out);
                        return;
                    }
                    Some(Conn::Other(c)) => {
                        c.bytes += bytes.len() as u64;
                        return;
                    }
                    Some(Conn::Plaintext(first)) => {
                        let first = *first;
                        if let Some(Conn::Tracked(t)) = self.conns.get_mut(&first) {
                            t.plaintext(ts, dir, bytes, self.out);
                        }
                        return;
                    }
                    Some(Conn::OtherLeg) => return,
                    _ => Held::Data {
                        ts,
                        dir,
                        offset,
                        bytes: bytes.to_vec(),
                    },
                }
            }
            FlowEventKind::Gap {
                dir, offset, len, ..
            } => Held::Gap {
                ts,
                dir,
                offset,
                len,
            },
            FlowEventKind::Conflict { dir, offset, len } => Held::Conflict {
                ts,
                dir,
                offset,
                len,
            },
            FlowEventKind::Fin { dir, bytes } => Held::Fin { ts, dir, bytes },
            FlowEventKind::Reset { dir, bytes } => Held::Reset { ts, dir, bytes },
            FlowEventKind::Ended { bytes, .. } => {
                self.ended(conn, ts, bytes);
                return;
            }
        };
        self.held(conn, held);
    }

    /// An event of a connection that is pending or tracked.
    fn held(&mut self, conn: ConnId, e: Held) {
        match self.conns.get_mut(&conn) {
            Some(Conn::Tracked(t)) => t.event(e, &self.keys, self.out),
            // The flow's ends are its connection's, told by its first flow.
            Some(Conn::Plaintext(_) | Conn::OtherLeg) => {}
            Some(Conn::Pending(p)) => {
                p.hold(e);
                self.decide(conn);
            }
            _ => {}
        }
    }

    /// Tells a pending connection apart, if its events so far allow it.
    fn decide(&mut self, conn: ConnId) {
        let Some(Conn::Pending(p)) = self.conns.get(&conn) else {
            return;
        };
        let hints = Hints {
            target: self.settings.target.as_deref(),
            keys: &self.keys,
        };
        let verdict = p.decide(&hints);
        let next = match verdict {
            Verdict::NotYet => return,
            Verdict::Other => {
                let Some(Conn::Pending(p)) = self.conns.remove(&conn) else {
                    return;
                };
                let bytes = p
                    .held
                    .iter()
                    .map(|e| match e {
                        Held::Data { bytes, .. } => bytes.len() as u64,
                        _ => 0,
                    })
                    .sum();
                Conn::Other(Conversation {
                    client: p.opened.client,
                    server: p.opened.server,
                    bytes,
                })
            }
            Verdict::Track { kind, swap, skip } => {
                let Some(Conn::Pending(p)) = self.conns.remove(&conn) else {
                    return;
                };
                if let Some(next) = self.in_trace(conn, &p, &kind) {
                    self.conns.insert(conn, next);
                    return;
                }
                let mut opened = p.opened;
                if swap {
                    std::mem::swap(&mut opened.client, &mut opened.server);
                }
                let id = self.next_id;
                self.next_id += 1;
                self.out.sessions += 1;
                let tracker = self.tracker(id, &opened, &kind);
                let mut t = Tracked::new(id, opened, &kind, tracker, skip, self.out);
                for e in p.held {
                    let e = if swap { e.swapped() } else { e };
                    t.event(e, &self.keys, self.out);
                }
                Conn::Tracked(Box::new(t))
            }
        };
        self.conns.insert(conn, next);
    }

    /// A flow of a trace rdptap wrote whose connection is already tracked by its first
    /// flow: the decrypted flow feeds that tracker its plaintext (what interception
    /// decoded live); another leg is left out, so one rdptap connection gets one verdict.
    fn in_trace(&mut self, conn: ConnId, p: &Pending, kind: &Kind) -> Option<Conn> {
        let trace = p.opened.trace_conn?;
        let first = *self.traces.entry(trace).or_insert(conn);
        if first == conn {
            return None;
        }
        if !matches!(kind, Kind::PlainRdp | Kind::GatewayHttp) {
            return Some(Conn::OtherLeg);
        }
        if let Some(Conn::Tracked(t)) = self.conns.get_mut(&first) {
            for e in &p.held {
                if let Held::Data { ts, dir, bytes, .. } = e {
                    t.plaintext(*ts, *dir, bytes, self.out);
                }
            }
        }
        Some(Conn::Plaintext(first))
    }

    /// The tracker for a connection: gateway for TLS-first and gateway HTTP, direct
    /// otherwise.
    fn tracker(&self, id: u64, opened: &Opened, kind: &Kind) -> Box<dyn Tracker> {
        let target_name = match kind {
            Kind::Tls { sni: Some(s) } => s.clone(),
            _ => self
                .settings
                .target
                .clone()
                .map(|t| t.rsplit_once(':').map_or(t.clone(), |(h, _)| h.to_string()))
                .unwrap_or_else(|| opened.server.ip().to_string()),
        };
        let info = ConnInfo {
            id,
            target_desc: format!("{target_name} ({})", opened.server),
            target_name,
            linger: self.settings.linger,
            redact_users: false,
            roots: self.settings.roots.clone(),
            wall_start: UNIX_EPOCH + opened.ts,
            source: Source::Capture,
            start_offset: opened.ts.saturating_sub(self.first_ts.unwrap_or(opened.ts)),
        };
        match kind {
            Kind::Tls { .. } | Kind::GatewayHttp => {
                let passthrough = matches!(kind, Kind::Tls { .. }) && self.keys.is_empty();
                Box::new(GatewayTracker::new(
                    info,
                    // Paired by id alone: a capture taken behind a load balancer can
                    // show one client's two channels from two source-NAT addresses, and
                    // splitting them would report an IN channel without its OUT.
                    Box::new(self.tunnels.link(id, None, None)),
                    passthrough,
                ))
            }
            _ => Box::new(DirectTracker::new(info)),
        }
    }

    /// The capture has no more of a connection.
    fn ended(&mut self, conn: ConnId, ts: Duration, bytes: [u64; 2]) {
        if let Some(Conn::Pending(p)) = self.conns.get_mut(&conn) {
            p.end();
            self.decide(conn);
        }
        match self.conns.remove(&conn) {
            Some(Conn::Tracked(t)) => {
                let id = t.id;
                let done = t.close(ts, bytes, self.out);
                self.out.finished(id, &done);
            }
            Some(Conn::Other(c)) => self.out.other(c),
            Some(Conn::Pending(p)) => self.out.other(Conversation {
                client: p.opened.client,
                server: p.opened.server,
                bytes: bytes[0] + bytes[1],
            }),
            Some(Conn::Plaintext(_) | Conn::OtherLeg) | None => {}
        }
    }
}
