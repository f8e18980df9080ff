//! The report's model: events grouped per connection, verdicts read back, and what the
//! pages derive from them (phase spans, the failing step, notices).

use crate::session::{Cause, Phase};
use crate::vocab::Dir;
use serde_json::{Map, Value};
use std::fmt;

pub use super::verdict::{text, EvidenceRef, Mstsc, Scope, Verdict, VerdictWarning};

/// The layer of an event line. Unknown layers (from a newer rdptap) are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// TCP and socket state.
    Tcp,
    /// Phases, interception decisions and verdicts.
    Session,
    /// X.224 connection setup.
    X224,
    /// TLS handshakes and records.
    Tls,
    /// MCS/GCC.
    Mcs,
    /// RDP PDUs.
    Rdp,
    /// RD Gateway HTTP.
    Http,
    /// WebSocket frames.
    Ws,
    /// MS-TSGU packets.
    Tsgu,
    /// A decoder that gave up.
    Decoder,
    /// The packet capture (dropped packets, a failed sink).
    Capture,
    /// Any other layer name.
    Other(String),
}

impl Layer {
    /// Reads the `layer` field.
    pub fn parse(s: &str) -> Layer {
        match s {
            "tcp" => Layer::Tcp,
            "session" => Layer::Session,
            "x224" => Layer::X224,
            "tls" => Layer::Tls,
            "mcs" => Layer::Mcs,
            "rdp" => Layer::Rdp,
            "http" => Layer::Http,
            "ws" => Layer::Ws,
            "tsgu" => Layer::Tsgu,
            "decoder" => Layer::Decoder,
            "capture" => Layer::Capture,
            other => Layer::Other(other.to_string()),
        }
    }

    /// The identifier as written in the event file.
    pub fn id(&self) -> &str {
        match self {
            Layer::Tcp => "tcp",
            Layer::Session => "session",
            Layer::X224 => "x224",
            Layer::Tls => "tls",
            Layer::Mcs => "mcs",
            Layer::Rdp => "rdp",
            Layer::Http => "http",
            Layer::Ws => "ws",
            Layer::Tsgu => "tsgu",
            Layer::Decoder => "decoder",
            Layer::Capture => "capture",
            Layer::Other(s) => s,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Tcp => "TCP",
            Layer::Session => "session",
            Layer::X224 => "X.224",
            Layer::Tls => "TLS",
            Layer::Mcs => "MCS",
            Layer::Rdp => "RDP",
            Layer::Http => "HTTP",
            Layer::Ws => "WebSocket",
            Layer::Tsgu => "MS-TSGU",
            Layer::Decoder => "decoder",
            Layer::Capture => "capture",
            Layer::Other(s) => s,
        })
    }
}

/// One line of the event file.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Line number in the file, from 1.
    pub line: usize,
    /// Connection number (0: process-wide lines).
    pub conn: u64,
    /// Position in the connection's timeline.
    pub seq: Option<u64>,
    /// Microseconds since the Unix epoch, when `ts` could be read.
    pub ts: Option<i64>,
    /// `ts` as written.
    pub ts_text: String,
    /// Direction, or None for connection-wide events.
    pub dir: Option<Dir>,
    /// The layer.
    pub layer: Layer,
    /// The event type.
    pub kind: String,
    /// True for events of the RDP connection inside a gateway tunnel.
    pub inner: bool,
    /// The whole object, every field included.
    pub body: Map<String, Value>,
}

/// Fields every line has; the rest are the event's own.
const COMMON: [&str; 7] = ["ts", "conn", "dir", "layer", "kind", "seq", "inner"];

impl Event {
    /// A field of the event.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.body.get(key).filter(|v| !v.is_null())
    }

    /// A string field of the event.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The event's own fields (without the common ones) as compact JSON.
    pub fn details(&self) -> String {
        let own: Map<String, Value> = self
            .body
            .iter()
            .filter(|(k, _)| !COMMON.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if own.is_empty() {
            String::new()
        } else {
            Value::Object(own).to_string()
        }
    }
}

/// An identifier read from the file, with its meaning when this rdptap knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Known<T> {
    /// The identifier as written.
    pub id: String,
    /// What it names, if known.
    pub known: Option<T>,
}

impl<T: fmt::Display> fmt::Display for Known<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.known {
            Some(k) => k.fmt(f),
            None => f.write_str(&self.id),
        }
    }
}

/// Every phase, to read phase identifiers back.
const PHASES: [Phase; 19] = [
    Phase::TcpConnect,
    Phase::GwTls,
    Phase::GwHttpAuth,
    Phase::GwHandshake,
    Phase::GwExtAuth,
    Phase::GwTunnelCreate,
    Phase::GwTunnelAuth,
    Phase::GwChannelCreate,
    Phase::GwData,
    Phase::X224,
    Phase::TlsHandshake,
    Phase::TlsSession,
    Phase::Mcs,
    Phase::ChannelJoin,
    Phase::SecureSettings,
    Phase::Licensing,
    Phase::Capabilities,
    Phase::Finalization,
    Phase::Active,
];

/// Reads a phase identifier such as `tls_session`.
pub fn phase_id(id: &str) -> Known<Phase> {
    Known {
        id: id.to_string(),
        known: PHASES.into_iter().find(|p| p.id() == id),
    }
}

/// Reads a cause identifier such as `credssp_failed`.
pub fn cause_id(id: &str) -> Known<Cause> {
    Known {
        id: id.to_string(),
        known: Cause::from_id(id),
    }
}

/// A phase the connection reached, and how long it stayed there.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    /// The phase.
    pub phase: Known<Phase>,
    /// The `seq` of its `phase` event.
    pub seq: Option<u64>,
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
    /// Its verdicts: the connection's own, then a gateway session's.
    pub verdicts: Vec<Verdict>,
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
            verdicts: Vec::new(),
            label: format!("connection {id}"),
            anchor: format!("c{id}"),
        }
    }

    /// True in RD Gateway mode.
    pub fn is_gateway(&self) -> bool {
        self.verdicts.iter().any(|v| v.scope != Scope::Direct)
            || self.events.iter().any(|e| {
                matches!(e.layer, Layer::Http | Layer::Ws | Layer::Tsgu)
                    || e.str("phase").is_some_and(|p| p.starts_with("gw_"))
            })
    }

    /// In gateway mode, which gateway channel this connection is, from its requests.
    pub fn channel(&self) -> Option<&'static str> {
        let t = self
            .events
            .iter()
            .filter(|e| e.kind == "http_request")
            .find_map(|e| e.str("transport"))?;
        Some(match t {
            "websocket" => "WebSocket transport",
            "http_out" => "HTTP transport, OUT channel (RDG_OUT_DATA)",
            "http_in" => "HTTP transport, IN channel (RDG_IN_DATA)",
            "rpc_in" => "RPC over HTTP (legacy), IN channel",
            "rpc_out" => "RPC over HTTP (legacy), OUT channel",
            _ => "gateway mode",
        })
    }

    /// The connection's own verdict (not a gateway session's).
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|v| v.scope != Scope::GatewaySession)
    }

    /// The gateway session verdict written on this connection, if any.
    pub fn session_verdict(&self) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|v| v.scope == Scope::GatewaySession)
    }

    /// The first timestamp, which the relative times count from.
    pub fn start_us(&self) -> Option<i64> {
        self.events.iter().find_map(|e| e.ts)
    }

    /// Milliseconds from the connection's first event to `e`.
    pub fn rel_ms(&self, e: &Event) -> Option<f64> {
        Some((e.ts? - self.start_us()?) as f64 / 1000.0)
    }

    /// The last timestamp (the verdict's, usually), in ms since the first.
    pub fn end_ms(&self) -> Option<f64> {
        let last = self.events.iter().rev().find_map(|e| e.ts)?;
        Some((last - self.start_us()?) as f64 / 1000.0)
    }

    /// Where the client connected from.
    pub fn client_addr(&self) -> Option<&str> {
        self.first("accepted").and_then(|e| e.str("client"))
    }

    /// Where rdptap dialled.
    pub fn upstream_addr(&self) -> Option<&str> {
        self.first("upstream_connected")
            .and_then(|e| e.str("addr"))
            .or_else(|| {
                self.first("upstream_failed")
                    .and_then(|e| e.get("failure"))
                    .and_then(|f| f.get("addr").or_else(|| f.get("host")))
                    .and_then(Value::as_str)
            })
    }

    /// The first event of a kind.
    pub fn first(&self, kind: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.kind == kind)
    }

    /// The phases, with how long each lasted.
    pub fn phases(&self) -> Vec<PhaseSpan> {
        let end = self.end_ms().unwrap_or(0.0);
        let marks: Vec<(&Event, f64)> = self
            .events
            .iter()
            .filter(|e| e.kind == "phase" && e.layer == Layer::Session)
            .map(|e| (e, self.rel_ms(e).unwrap_or(0.0)))
            .collect();
        marks
            .iter()
            .enumerate()
            .map(|(i, (e, start))| {
                let next = marks.get(i + 1).map(|(_, t)| *t).unwrap_or(end);
                PhaseSpan {
                    phase: phase_id(e.str("phase").unwrap_or("")),
                    seq: e.seq,
                    start_ms: *start,
                    duration_ms: (next - start).max(0.0),
                }
            })
            .collect()
    }

    /// The `seq` numbers of the events that show the failure: the evidence of a verdict
    /// that is not `ok` (a gateway session's evidence numbers another timeline).
    pub fn failing_seqs(&self) -> Vec<u64> {
        match self.verdict() {
            Some(v) if !v.is_ok() => v.evidence.iter().filter_map(|e| e.seq).collect(),
            _ => Vec::new(),
        }
    }
}

/// Something the reader must know before trusting the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Lines that were not JSON were left out.
    SkippedLines {
        /// How many.
        count: usize,
        /// The first one's number.
        first_line: usize,
    },
    /// The capture dropped packets (`--capture-overflow drop`).
    CaptureDropped {
        /// Whose packets ("connection 3").
        conn: String,
        /// Packets not captured.
        packets: u64,
        /// Their bytes.
        bytes: Option<u64>,
    },
    /// The packet capture switched off.
    CaptureFailed {
        /// The connection it happened on, if any.
        conn: Option<String>,
        /// Why.
        error: String,
        /// The file it was writing.
        file: Option<String>,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::SkippedLines { count, first_line } => write!(
                f,
                "{count} line{} of the event file {} not JSON and left out (the first is line {first_line})",
                plural(*count as u64),
                if *count == 1 { "is" } else { "are" }
            ),
            Notice::CaptureDropped {
                conn,
                packets,
                bytes,
            } => {
                write!(f, "{conn}: {packets} packet{} not captured", plural(*packets))?;
                if let Some(b) = bytes {
                    write!(f, " ({b} bytes)")?;
                }
                f.write_str(": the capture queue was full and --capture-overflow drop was set")
            }
            Notice::CaptureFailed { conn, error, file } => {
                if let Some(c) = conn {
                    write!(f, "{c}: ")?;
                }
                f.write_str("the packet capture stopped")?;
                if let Some(p) = file {
                    write!(f, " writing {p}")?;
                }
                write!(f, ": {error}")
            }
        }
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

/// Reads `ts` (RFC 3339 UTC, `2026-11-21T07:52:26.173600Z`) as µs since the Unix epoch.
pub fn parse_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let month = time::Month::try_from(u8::try_from(num(5, 7)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(num(0, 4)? as i32, month, num(8, 10)? as u8).ok()?;
    let clock =
        time::Time::from_hms(num(11, 13)? as u8, num(14, 16)? as u8, num(17, 19)? as u8).ok()?;
    let frac = &s[19..s.len() - 1];
    let micros = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.')?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let six: String = digits.chars().chain("00000".chars()).take(6).collect();
        six.parse::<i64>().ok()?
    };
    let secs = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp();
    Some(secs * 1_000_000 + micros)
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
