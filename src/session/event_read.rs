//! Reading an event file's lines back into [`EventLine`]s: the report and anything else
//! that reads event files get the same typed events the trackers produced.
//!
//! Each line is read by its `layer` and `kind`, never by trying every type in turn. A
//! line whose event this rdptap does not know (from a newer rdptap, or damaged) comes
//! back as [`Body::Unknown`] with the reason, so one odd line never stops a file from
//! loading; only a line that is not an event object at all is an error.

use super::event::{Body, Event, EventLine, Source, VerdictRecord};
use crate::cert::CertProblem;
use crate::decode::note::Note;
use crate::decode::DecodeEvent;
use crate::session::{Phase, TcpEvent, What};
use crate::vocab::{Dir, Layer};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

impl EventLine {
    /// Reads one line of an event file.
    pub fn from_json(line: &str) -> Result<EventLine, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        EventLine::from_value(&v)
    }

    /// Reads one event object. The event's time since its connection began is not in
    /// the file, so `at` comes back zero: compare the lines' `ts` instead.
    pub fn from_value(v: &Value) -> Result<EventLine, String> {
        let Value::Object(m) = v else {
            return Err("not a JSON object".into());
        };
        // The fields that place an event, checked in the order a person fixing a
        // damaged line would look for them; each message shows the value found.
        let conn = match m.get("conn") {
            Some(c) => c
                .as_u64()
                .ok_or_else(|| format!("\"conn\" is {c}, not a connection number"))?,
            None => return Err("no \"conn\" field".into()),
        };
        match m.get("kind") {
            Some(Value::String(_)) => {}
            Some(k) => return Err(format!("\"kind\" is {k}, not a string")),
            None => return Err("no \"kind\" field".into()),
        }
        let dir = match m.get("dir") {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                Dir::deserialize(d)
                    .map_err(|_| format!("\"dir\" is {d}, not \"c2s\", \"s2c\" or null"))?,
            ),
        };
        let layer = m
            .get("layer")
            .and_then(Value::as_str)
            .ok_or("no \"layer\" field")?;
        let ts = m
            .get("ts")
            .and_then(Value::as_str)
            .ok_or("no \"ts\" field")?;
        let ts = OffsetDateTime::parse(ts, &Rfc3339)
            .map_err(|e| format!("\"ts\" is not an RFC 3339 time ({e})"))?;
        let seq = m.get("seq").and_then(Value::as_u64).map(|s| s as usize);
        let source = m
            .get("source")
            .and_then(Value::as_str)
            .and_then(Source::from_id);
        Ok(EventLine {
            ts,
            conn,
            source,
            event: Event {
                at: Duration::ZERO,
                dir,
                seq,
                body: body_of(layer, m, v),
            },
        })
    }
}

/// The fields the writer puts around every event, which are not the event's own.
const LINE_FIELDS: [&str; 7] = ["ts", "conn", "dir", "layer", "seq", "source", "kind"];

fn body_of(layer_id: &str, m: &Map<String, Value>, v: &Value) -> Body {
    let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
    let read = match Layer::from_id(layer_id) {
        Some(layer) => read(layer, kind, m, v),
        None => Err(format!("unknown layer '{layer_id}'")),
    };
    read.unwrap_or_else(|error| Body::Unknown {
        layer: layer_id.to_string(),
        kind: kind.to_string(),
        error,
        fields: m
            .iter()
            .filter(|(k, _)| !LINE_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

fn field<'a, T: Deserialize<'a>>(m: &'a Map<String, Value>, name: &str) -> Result<T, String> {
    let v = m.get(name).ok_or_else(|| format!("no '{name}' field"))?;
    T::deserialize(v).map_err(|e| format!("'{name}': {e}"))
}

fn read(layer: Layer, kind: &str, m: &Map<String, Value>, v: &Value) -> Result<Body, String> {
    let entry = |w| Ok(Body::Entry(w));
    match (layer, kind) {
        (Layer::Session, "verdict") => VerdictRecord::deserialize(v)
            .map(|r| Body::Verdict(Box::new(r)))
            .map_err(|e| format!("verdict: {e}")),
        (Layer::Session, "phase") => entry(What::Phase(field::<Phase>(m, "phase")?)),
        (Layer::Tls, "cert_assessment") => entry(What::CertAssessed(field::<Vec<CertProblem>>(
            m, "findings",
        )?)),
        (Layer::Session, "proxy_started") => Ok(Body::ProxyStarted {
            version: field(m, "version")?,
            config: m.get("config").cloned().unwrap_or(Value::Null),
        }),
        (Layer::Session, "analyze_started") => Ok(Body::AnalyzeStarted {
            version: field(m, "version")?,
            capture: field(m, "capture")?,
            keys: m.get("keys").and_then(Value::as_str).map(String::from),
        }),
        (Layer::Capture, "capture_dropped") => Ok(Body::CaptureDropped {
            packets: field(m, "packets")?,
            bytes: field(m, "bytes")?,
            policy: field(m, "policy")?,
        }),
        (Layer::Capture, "capture_failed") => Ok(Body::CaptureFailed {
            file: field(m, "file")?,
            error: field(m, "error")?,
        }),
        (Layer::Session, "events_counted") => Ok(Body::EventsCounted {
            counts: field(m, "counts")?,
        }),
        (Layer::Session, "events_dropped") => Ok(Body::EventsDropped {
            events: field(m, "events")?,
            total: field(m, "total")?,
        }),
        (Layer::Session, "connections_refused") => Ok(Body::ConnectionsRefused {
            refused: field(m, "refused")?,
            total: field(m, "total")?,
            limit: field(m, "limit")?,
            client: field(m, "client")?,
        }),
        (Layer::Tcp, _) => TcpEvent::deserialize(v)
            .map(|t| Body::Entry(What::Tcp(t)))
            .map_err(|e| format!("{kind}: {e}")),
        _ => match Note::from_json(layer, v)? {
            Some(n) => entry(What::Note(n)),
            None => DecodeEvent::from_json(layer, v).map(|d| Body::Entry(What::Decoded(d))),
        },
    }
}

#[cfg(test)]
#[path = "event_read_tests.rs"]
mod tests;
