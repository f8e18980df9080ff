//! Sinks: where events and verdicts go (console, JSON Lines, pcapng), and the report.

pub mod bundle;
pub mod capture;
pub mod console;
pub mod jsonl;
pub mod pcapng;
pub mod redact;
pub mod report;

use crate::session::event::EventLine;
use tokio::sync::mpsc;

/// What the recorder task is asked to do.
#[derive(Debug)]
pub enum SinkMsg {
    /// Write one event.
    Event(Box<EventLine>),
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
    pub fn event(&self, rec: EventLine) {
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
