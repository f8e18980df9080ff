//! The report's model: events grouped per connection, and what the pages derive from
//! them (verdicts, addresses, phase spans, the failing step).

use super::event::{Event, PhaseName};
use crate::decode::http::{HttpEvent, Transport};
use crate::decode::DecodeEvent;
use crate::session::event::{Scope, VerdictRecord};
use crate::session::TcpEvent;
use crate::vocab::{ConnectError, Layer};

/// A phase the connection reached, and how long it stayed there.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    /// The phase.
    pub phase: PhaseName,
    /// The `seq` of its `phase` event.
    pub seq: Option<usize>,
    /// When it was entered, in ms since the connection's first event.
    pub start_ms: f64,
    /// Until the next phase, or the connection's end.
    pub duration_ms: f64,
}

/// One TCP connection (or, in gateway mode, one gateway channel).
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Which rdptap run wrote it (an appended event file holds several), from 1.
    pub run: usize,
    /// The connection number.
    pub id: u64,
    /// Its events, in file order (verdicts included).
    pub events: Vec<Event>,
    /// "connection 3", or "connection 3 (run 2)" in a file with several runs.
    pub label: String,
    /// A name for HTML anchors: `c3` or `r2c3`.
    pub anchor: String,
}

impl Connection {
    /// A new, empty connection.
    pub fn new(run: usize, id: u64) -> Connection {
        Connection {
            run,
            id,
            events: Vec::new(),
            label: format!("connection {id}"),
            anchor: format!("c{id}"),
        }
    }

    /// Its verdicts in file order: the connection's own, and a gateway session's.
    pub fn verdicts(&self) -> impl Iterator<Item = &VerdictRecord> {
        self.events.iter().filter_map(Event::verdict)
    }

    /// True in RD Gateway mode.
    pub fn is_gateway(&self) -> bool {
        self.verdicts().any(|v| v.scope.is_some())
            || self.events.iter().any(|e| {
                matches!(e.layer(), Some(Layer::Http | Layer::Ws | Layer::Tsgu))
                    || e.phase().is_some_and(|p| p.id().starts_with("gw_"))
            })
    }

    /// In gateway mode, which gateway channel this connection is, from its requests.
    pub fn channel(&self) -> Option<&'static str> {
        let t = self.events.iter().find_map(|e| match e.decoded() {
            Some(DecodeEvent::Http(h)) => match h.as_ref() {
                HttpEvent::Request { transport, .. } => Some(*transport),
                _ => None,
            },
            _ => None,
        })?;
        Some(match t {
            Transport::WebSocket => "WebSocket transport",
            Transport::HttpOut => "HTTP transport, OUT channel (RDG_OUT_DATA)",
            Transport::HttpIn => "HTTP transport, IN channel (RDG_IN_DATA)",
            Transport::RpcIn => "RPC over HTTP (legacy), IN channel",
            Transport::RpcOut => "RPC over HTTP (legacy), OUT channel",
            Transport::Other => "gateway mode",
        })
    }

    /// The connection's own verdict (not a gateway session's).
    pub fn verdict(&self) -> Option<&VerdictRecord> {
        self.verdicts()
            .find(|v| v.scope != Some(Scope::GatewaySession))
    }

    /// The gateway session verdict written on this connection, if any.
    pub fn session_verdict(&self) -> Option<&VerdictRecord> {
        self.verdicts()
            .find(|v| v.scope == Some(Scope::GatewaySession))
    }

    /// Milliseconds from the connection's first event to `e`.
    pub fn rel_ms(&self, e: &Event) -> Option<f64> {
        let start = self.events.first()?.ts();
        Some((e.ts() - start).whole_microseconds() as f64 / 1000.0)
    }

    /// The last timestamp (the verdict's, usually), in ms since the first.
    pub fn end_ms(&self) -> Option<f64> {
        self.rel_ms(self.events.last()?)
    }

    /// Where the client connected from.
    pub fn client_addr(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e.tcp()? {
            TcpEvent::Accepted { client, .. } => Some(client.as_str()),
            _ => None,
        })
    }

    /// Where rdptap dialled: the address it connected to, else the one it failed to.
    pub fn upstream_addr(&self) -> Option<&str> {
        let connected = self.events.iter().find_map(|e| match e.tcp()? {
            TcpEvent::UpstreamConnected { addr, .. } => Some(addr.as_str()),
            _ => None,
        });
        connected.or_else(|| {
            self.events.iter().find_map(|e| match e.tcp()? {
                TcpEvent::UpstreamFailed { error } => Some(dialled(error)),
                _ => None,
            })
        })
    }

    /// The phases, with how long each lasted.
    pub fn phases(&self) -> Vec<PhaseSpan> {
        let end = self.end_ms().unwrap_or(0.0);
        let marks: Vec<(PhaseName, Option<usize>, f64)> = self
            .events
            .iter()
            .filter_map(|e| Some((e.phase()?, e.seq(), self.rel_ms(e).unwrap_or(0.0))))
            .collect();
        let mut spans = Vec::with_capacity(marks.len());
        for (i, (phase, seq, start)) in marks.iter().enumerate() {
            let next = marks.get(i + 1).map_or(end, |m| m.2);
            spans.push(PhaseSpan {
                phase: phase.clone(),
                seq: *seq,
                start_ms: *start,
                duration_ms: (next - start).max(0.0),
            });
        }
        spans
    }

    /// The `seq` numbers of the events that show the failure: the evidence of a verdict
    /// that is not `ok` (a gateway session's evidence numbers another timeline).
    pub fn failing_seqs(&self) -> Vec<usize> {
        match self.verdict() {
            Some(v) if !super::verdict::is_ok(v) => {
                v.verdict.evidence.iter().map(|e| e.seq).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The address (or name) a failed connect was for.
fn dialled(e: &ConnectError) -> &str {
    match e {
        ConnectError::Dns { host, .. } => host,
        ConnectError::Refused { addr }
        | ConnectError::Reset { addr }
        | ConnectError::Timeout { addr, .. }
        | ConnectError::Other { addr, .. } => addr,
    }
}

/// "s" for any count but one.
pub fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A duration for people: `0.37 ms`, `18.9 ms`, `1.160 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.3} s", ms / 1000.0)
    }
}
