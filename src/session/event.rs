//! The events a tracker gives out, and the event file's line that carries one.
//!
//! One typed [`Body`] serves both sides of the JSON boundary: the JSON Lines sink writes
//! it, and the report and `analyze` read it back (see [`EventLine`]).

use crate::cert::CertProblem;
use crate::session::kind::Counted;
use crate::session::{Verdict, What};
use crate::vocab::{closed_vocab, Dir, Layer};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use std::time::Duration;
use time::OffsetDateTime;

/// One event from a tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Time since the connection began.
    pub at: Duration,
    /// The direction, where the event has one.
    pub dir: Option<Dir>,
    /// Position in the connection's timeline (for a verdict: the timeline's length).
    pub seq: Option<usize>,
    /// What happened.
    pub body: Body,
}

impl Event {
    /// The layer the event belongs to.
    pub fn layer(&self) -> Layer {
        self.body.layer()
    }
}

closed_vocab! {
    /// What a verdict covers.
    pub enum Scope {
        /// One TCP connection.
        Connection = ("connection", "one connection"),
        /// Every connection of one gateway session (one `RDG-Connection-Id`).
        GatewaySession = ("gateway_session", "a gateway session"),
    }
}

/// A verdict as the event file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// What it covers; absent for a direct connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The gateway session's `RDG-Connection-Id`, in gateway mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw_connection_id: Option<String>,
}

/// What one event says.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A timeline entry: a decoded event, a socket fact, a phase, a certificate
    /// judgement or a relay note.
    Entry(What),
    /// A verdict.
    Verdict(Box<VerdictRecord>),
    /// The first line of a proxy run: rdptap's version and the settings in force.
    ProxyStarted {
        /// rdptap's version.
        version: String,
        /// The settings (paths, addresses, policies; nothing secret).
        config: serde_json::Value,
    },
    /// The first line of an `analyze` run.
    AnalyzeStarted {
        /// rdptap's version.
        version: String,
        /// The capture file.
        capture: String,
        /// Where keys came from, if anywhere.
        keys: Option<String>,
    },
    /// Packets the capture left out under `--capture-overflow drop`.
    CaptureDropped {
        /// Packets.
        packets: u64,
        /// Bytes.
        bytes: u64,
        /// The policy in force.
        policy: String,
    },
    /// The capture failed and was switched off.
    CaptureFailed {
        /// The file that could not be written.
        file: String,
        /// Why.
        error: String,
    },
    /// Events of this connection past their kind's limit, counted and not written.
    EventsCounted {
        /// Per kind and direction: how many were written, how many only counted.
        counts: Vec<Counted>,
    },
    /// The queue to the event file was full, so events were dropped, not written
    /// (a line of connection 0).
    EventsDropped {
        /// Events dropped since the previous such line.
        events: u64,
        /// Events dropped since rdptap started.
        total: u64,
    },
    /// `--max-connections` were open, so new connections were refused (a line of
    /// connection 0, at most one a second).
    ConnectionsRefused {
        /// Connections refused since the previous such line.
        refused: u64,
        /// Connections refused since rdptap started.
        total: u64,
        /// The limit in force.
        limit: u64,
        /// The last refused client's address.
        client: String,
    },
    /// A line this rdptap does not understand (written by a newer one, or damaged),
    /// kept as written so that the rest of the file still loads.
    Unknown {
        /// The line's `layer`, as written.
        layer: String,
        /// The line's `kind`, as written.
        kind: String,
        /// Why it could not be read.
        error: String,
        /// The event's own fields, as written.
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

impl Body {
    /// The layer the body belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Body::Entry(w) => w.layer(),
            Body::Verdict(_)
            | Body::ProxyStarted { .. }
            | Body::AnalyzeStarted { .. }
            | Body::EventsCounted { .. }
            | Body::EventsDropped { .. }
            | Body::ConnectionsRefused { .. } => Layer::Session,
            Body::CaptureDropped { .. } | Body::CaptureFailed { .. } => Layer::Capture,
            Body::Unknown { layer, .. } => Layer::from_id(layer).unwrap_or(Layer::Session),
        }
    }

    /// The layer's identifier as the file has it (an unknown layer stays as written).
    pub fn layer_id(&self) -> &str {
        match self {
            Body::Unknown { layer, .. } => layer,
            b => b.layer().id(),
        }
    }
}

impl Serialize for What {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            What::Decoded(d) => d.serialize(s),
            What::Tcp(t) => t.serialize(s),
            What::Note(n) => n.serialize(s),
            What::Phase(p) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("kind", "phase")?;
                m.serialize_entry("phase", p)?;
                m.end()
            }
            What::CertAssessed(findings) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("kind", "cert_assessment")?;
                m.serialize_entry::<_, Vec<CertProblem>>("findings", findings)?;
                m.end()
            }
        }
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Tagged<'a> {
            Verdict(&'a VerdictRecord),
            ProxyStarted {
                version: &'a str,
                config: &'a serde_json::Value,
            },
            AnalyzeStarted {
                version: &'a str,
                capture: &'a str,
                keys: &'a Option<String>,
            },
            CaptureDropped {
                packets: u64,
                bytes: u64,
                policy: &'a str,
            },
            CaptureFailed {
                file: &'a str,
                error: &'a str,
            },
            EventsCounted {
                counts: &'a [Counted],
            },
            EventsDropped {
                events: u64,
                total: u64,
            },
            ConnectionsRefused {
                refused: u64,
                total: u64,
                limit: u64,
                client: &'a str,
            },
        }
        let t = match self {
            Body::Entry(w) => return w.serialize(s),
            Body::Unknown { kind, fields, .. } => {
                let mut m = s.serialize_map(Some(fields.len() + 1))?;
                m.serialize_entry("kind", kind)?;
                for (k, v) in fields.iter().filter(|(k, _)| *k != "kind") {
                    m.serialize_entry(k, v)?;
                }
                return m.end();
            }
            Body::Verdict(v) => Tagged::Verdict(v),
            Body::ProxyStarted { version, config } => Tagged::ProxyStarted { version, config },
            Body::AnalyzeStarted {
                version,
                capture,
                keys,
            } => Tagged::AnalyzeStarted {
                version,
                capture,
                keys,
            },
            Body::CaptureDropped {
                packets,
                bytes,
                policy,
            } => Tagged::CaptureDropped {
                packets: *packets,
                bytes: *bytes,
                policy,
            },
            Body::CaptureFailed { file, error } => Tagged::CaptureFailed { file, error },
            Body::EventsCounted { counts } => Tagged::EventsCounted { counts },
            Body::EventsDropped { events, total } => Tagged::EventsDropped {
                events: *events,
                total: *total,
            },
            Body::ConnectionsRefused {
                refused,
                total,
                limit,
                client,
            } => Tagged::ConnectionsRefused {
                refused: *refused,
                total: *total,
                limit: *limit,
                client,
            },
        };
        t.serialize(s)
    }
}

closed_vocab! {
    /// Where an event line's traffic came from.
    pub enum Source {
        /// Relayed live by the proxy.
        Proxy = ("proxy", "relayed live"),
        /// Read from a capture file by `analyze`.
        Capture = ("capture", "read from a capture"),
    }
}

/// One line of the event file.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    /// Wall-clock time.
    pub ts: OffsetDateTime,
    /// Connection number, from 1 (0: lines about the whole run).
    pub conn: u64,
    /// Where the traffic came from; absent (live) for the proxy.
    pub source: Option<Source>,
    /// The event.
    pub event: Event,
}

impl EventLine {
    /// A line about the whole run (connection 0).
    pub fn run(ts: OffsetDateTime, body: Body) -> Self {
        EventLine {
            ts,
            conn: 0,
            source: None,
            event: Event {
                at: Duration::ZERO,
                dir: None,
                seq: None,
                body,
            },
        }
    }
}

impl Serialize for EventLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Line<'a> {
            #[serde(serialize_with = "ser_ts")]
            ts: &'a OffsetDateTime,
            conn: u64,
            dir: Option<Dir>,
            layer: &'a str,
            #[serde(flatten)]
            body: &'a Body,
            #[serde(skip_serializing_if = "Option::is_none")]
            seq: Option<usize>,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<Source>,
        }
        Line {
            ts: &self.ts,
            conn: self.conn,
            dir: self.event.dir,
            layer: self.event.body.layer_id(),
            body: &self.event.body,
            seq: self.event.seq,
            source: self.source,
        }
        .serialize(s)
    }
}

fn ser_ts<S: Serializer>(t: &&OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_micros(**t))
}

/// Formats a timestamp as RFC 3339 UTC with exactly six fractional digits.
pub fn rfc3339_micros(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Phase, TcpEvent};

    #[test]
    fn timestamps_have_microseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap();
        assert_eq!(rfc3339_micros(t), "2026-09-21T14:13:20.123456Z");
    }

    #[test]
    fn a_line_writes_the_event_between_its_place_and_its_seq() {
        let t = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let line = EventLine {
            ts: t,
            conn: 3,
            source: None,
            event: Event {
                at: Duration::ZERO,
                dir: None,
                seq: Some(1),
                body: Body::Entry(What::Phase(Phase::X224)),
            },
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"ts":"2026-09-21T14:13:20.000000Z","conn":3,"dir":null,"layer":"session","kind":"phase","phase":"x224","seq":1}"#
        );
        let tcp = EventLine {
            source: Some(Source::Capture),
            event: Event {
                dir: Some(Dir::C2S),
                body: Body::Entry(What::Tcp(TcpEvent::Accepted {
                    client: "1.2.3.4:5".into(),
                    listen: "127.0.0.1:13389".into(),
                })),
                ..line.event.clone()
            },
            ..line
        };
        let j = serde_json::to_string(&tcp).unwrap();
        assert!(
            j.contains(r#""layer":"tcp","kind":"accepted","client":"1.2.3.4:5""#),
            "{j}"
        );
        assert!(j.ends_with(r#""seq":1,"source":"capture"}"#), "{j}");
    }
}
