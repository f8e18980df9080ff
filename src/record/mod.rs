//! Sinks: where events and verdicts go (console, JSON Lines, pcapng), and the report.

pub mod bundle;
pub mod capture;
pub mod console;
pub mod jsonl;
pub mod keylog;
pub mod pcapng;
pub mod redact;
pub mod report;

use crate::vocab::{Dir, Layer};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// One line of the event file.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    /// Wall-clock time, RFC 3339 with microseconds.
    #[serde(serialize_with = "ser_ts")]
    pub ts: OffsetDateTime,
    /// Connection number, from 1.
    pub conn: u64,
    /// Direction, or null for connection-wide events.
    pub dir: Option<Dir>,
    /// Protocol layer.
    pub layer: Layer,
    /// The event body: `kind` and its fields.
    #[serde(flatten)]
    pub body: Value,
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

fn ser_ts<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_micros(*t))
}

/// What the recorder task is asked to do.
#[derive(Debug)]
pub enum SinkMsg {
    /// Write one event.
    Event(Box<EventRecord>),
    /// Flush everything and answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A cheap handle that sends events to the recorder task. Sending never blocks the relay.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: Option<mpsc::UnboundedSender<SinkMsg>>,
}

impl Recorder {
    /// A recorder that drops everything (no sink configured).
    pub fn none() -> Self {
        Recorder { tx: None }
    }

    /// A recorder feeding the given channel.
    pub fn new(tx: mpsc::UnboundedSender<SinkMsg>) -> Self {
        Recorder { tx: Some(tx) }
    }

    /// True when events go somewhere, so callers can skip building them otherwise.
    pub fn is_active(&self) -> bool {
        self.tx.is_some()
    }

    /// Queue an event.
    pub fn event(&self, rec: EventRecord) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(SinkMsg::Event(Box::new(rec)));
        }
    }

    /// Ask the sink to flush, and wait until it has.
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            if tx.send(SinkMsg::Flush(done_tx)).is_ok() {
                let _ = done_rx.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap();
        assert_eq!(rfc3339_micros(t), "2026-09-21T14:13:20.123456Z");
    }
}
