//! One line of the event file as the report holds it: the typed [`EventLine`] the
//! shared reader gave back, with the line's number for links and messages.

use crate::decode::gateway::Inner;
use crate::decode::note::Note;
use crate::decode::DecodeEvent;
use crate::session::event::{rfc3339_micros, Body, EventLine, VerdictRecord};
use crate::session::{Phase, TcpEvent, What};
use crate::vocab::{Dir, Layer};
use serde_json::Value;
use std::fmt;
use time::OffsetDateTime;

/// One event line, read into its typed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Line number in the file, from 1.
    pub line: usize,
    /// The line as the shared reader typed it.
    pub record: EventLine,
}

/// The phase a `phase` event names: one this rdptap knows, or a newer one by its
/// identifier (so a newer file's phases still get their own span).
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseName {
    /// A phase of this rdptap.
    Known(Phase),
    /// A phase identifier this rdptap does not know, as written.
    Unknown(String),
}

impl PhaseName {
    /// The identifier as written in the event file.
    pub fn id(&self) -> &str {
        match self {
            PhaseName::Known(p) => p.id(),
            PhaseName::Unknown(id) => id,
        }
    }
}

impl fmt::Display for PhaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhaseName::Known(p) => p.fmt(f),
            PhaseName::Unknown(id) => f.write_str(id),
        }
    }
}

/// The fields every line carries around its event, which the details column leaves
/// out because the table shows them in columns of their own.
const ENVELOPE: [&str; 7] = ["ts", "conn", "dir", "layer", "kind", "seq", "inner"];

impl Event {
    /// The connection number (0: lines about the whole run).
    pub fn conn(&self) -> u64 {
        self.record.conn
    }

    /// Position in the connection's timeline.
    pub fn seq(&self) -> Option<usize> {
        self.record.event.seq
    }

    /// The direction, or None for connection-wide events.
    pub fn dir(&self) -> Option<Dir> {
        self.record.event.dir
    }

    /// Wall-clock time.
    pub fn ts(&self) -> OffsetDateTime {
        self.record.ts
    }

    /// `ts` as the event file writes it.
    pub fn ts_text(&self) -> String {
        rfc3339_micros(self.record.ts)
    }

    /// What the event says.
    pub fn body(&self) -> &Body {
        &self.record.event.body
    }

    /// The timeline entry, for events that are one.
    pub fn what(&self) -> Option<&What> {
        match self.body() {
            Body::Entry(w) => Some(w),
            _ => None,
        }
    }

    /// The decoded event, unwrapped from [`Inner`] for events inside a gateway tunnel
    /// (see [`Event::inner`]).
    pub fn decoded(&self) -> Option<&DecodeEvent> {
        match self.what()? {
            What::Decoded(DecodeEvent::Inner(Inner(d))) => Some(d),
            What::Decoded(d) => Some(d),
            _ => None,
        }
    }

    /// The relay's note, for events that are one.
    pub fn note(&self) -> Option<&Note> {
        match self.what()? {
            What::Note(n) => Some(n),
            _ => None,
        }
    }

    /// The socket fact, for events that are one.
    pub fn tcp(&self) -> Option<&TcpEvent> {
        match self.what()? {
            What::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The verdict, for verdict lines.
    pub fn verdict(&self) -> Option<&VerdictRecord> {
        match self.body() {
            Body::Verdict(v) => Some(v),
            _ => None,
        }
    }

    /// True for events of the RDP connection inside a gateway tunnel.
    pub fn inner(&self) -> bool {
        matches!(self.what(), Some(What::Decoded(DecodeEvent::Inner(_))))
    }

    /// The layer, when this rdptap knows it (an unknown event's layer is taken as
    /// written, and may be none of ours).
    pub fn layer(&self) -> Option<Layer> {
        match self.body() {
            Body::Unknown { layer, .. } => Layer::from_id(layer),
            b => Some(b.layer()),
        }
    }

    /// The layer's identifier as the file has it.
    pub fn layer_id(&self) -> &str {
        self.body().layer_id()
    }

    /// The layer for people ("X.224"), or the identifier of a layer this rdptap does
    /// not know.
    pub fn layer_text(&self) -> String {
        match self.layer() {
            Some(l) => l.to_string(),
            None => self.layer_id().to_string(),
        }
    }

    /// The phase a `phase` event enters. A phase this rdptap does not know is read
    /// by its identifier: the one place besides the details column where the report
    /// looks into an unknown event's fields, so that a newer file's phase still ends
    /// the one before it.
    pub fn phase(&self) -> Option<PhaseName> {
        match self.body() {
            Body::Entry(What::Phase(p)) => Some(PhaseName::Known(*p)),
            Body::Unknown {
                layer,
                kind,
                fields,
                ..
            } if layer == Layer::Session.id() && kind == "phase" => {
                let id = fields.get("phase").and_then(Value::as_str).unwrap_or("");
                Some(PhaseName::Unknown(id.to_string()))
            }
            _ => None,
        }
    }

    /// The event's `kind`, as written.
    pub fn kind(&self) -> String {
        match self.body() {
            Body::Entry(w) => entry_kind(w),
            Body::Verdict(_) => "verdict".into(),
            Body::ProxyStarted { .. } => "proxy_started".into(),
            Body::AnalyzeStarted { .. } => "analyze_started".into(),
            Body::CaptureDropped { .. } => "capture_dropped".into(),
            Body::CaptureFailed { .. } => "capture_failed".into(),
            Body::EventsCounted { .. } => "events_counted".into(),
            Body::EventsDropped { .. } => "events_dropped".into(),
            Body::ConnectionsRefused { .. } => "connections_refused".into(),
            Body::Unknown { kind, .. } => kind.clone(),
        }
    }

    /// The event's own fields as compact JSON, as the file has them: the typed line
    /// written back, less the fields the table shows in columns of their own.
    pub fn details(&self) -> String {
        let Ok(Value::Object(mut m)) = serde_json::to_value(&self.record) else {
            return String::new();
        };
        m.retain(|k, _| !ENVELOPE.contains(&k.as_str()));
        if m.is_empty() {
            String::new()
        } else {
            Value::Object(m).to_string()
        }
    }
}

/// The `kind` of a timeline entry.
fn entry_kind(w: &What) -> String {
    match w {
        What::Decoded(d) => d.kind(),
        What::Phase(_) => "phase".into(),
        What::CertAssessed(_) => "cert_assessment".into(),
        What::Tcp(t) => match t {
            TcpEvent::Accepted { .. } => "accepted",
            TcpEvent::UpstreamConnected { .. } => "upstream_connected",
            TcpEvent::UpstreamFailed { .. } => "upstream_failed",
            TcpEvent::StreamEnded { .. } => "stream_ended",
        }
        .into(),
        What::Note(n) => n.kind().into(),
    }
}
