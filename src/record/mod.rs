//! Sinks: where events and verdicts go (console, JSON Lines, pcapng), and the report.

pub mod bundle;
pub mod capture;
pub mod console;
pub mod jsonl;
pub mod pcapng;
pub mod redact;
pub mod report;

use crate::session::event::EventLine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events the queue to the event file holds before further ones are dropped (and
/// counted): a disk or a reader of standard output that cannot keep up must never
/// slow the relay, nor grow rdptap's memory without end.
pub const EVENT_QUEUE: usize = 16 * 1024;

/// What the recorder task is asked to do.
#[derive(Debug)]
pub enum SinkMsg {
    /// Write one event.
    Event(Box<EventLine>),
    /// Flush everything and answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A cheap handle that sends events to the recorder task. Sending never blocks the
/// relay: when the queue is full the event is dropped and counted.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: Option<mpsc::Sender<SinkMsg>>,
    dropped: Arc<AtomicU64>,
}

/// The writer's end of a [`Recorder`]'s queue.
#[derive(Debug)]
pub struct SinkRx {
    rx: mpsc::Receiver<SinkMsg>,
    dropped: Arc<AtomicU64>,
}

impl SinkRx {
    /// The next message, waiting for it (on a blocking thread); None once every
    /// recorder is gone.
    pub fn blocking_recv(&mut self) -> Option<SinkMsg> {
        self.rx.blocking_recv()
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<SinkMsg> {
        self.rx.try_recv().ok()
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Recorder {
    /// A recorder that drops everything (no sink configured).
    pub fn none() -> Self {
        Recorder {
            tx: None,
            dropped: Arc::default(),
        }
    }

    /// A recorder and the writer's end of its queue, which holds `cap` events.
    pub fn channel(cap: usize) -> (Recorder, SinkRx) {
        let (tx, rx) = mpsc::channel(cap.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        (
            Recorder {
                tx: Some(tx),
                dropped: dropped.clone(),
            },
            SinkRx { rx, dropped },
        )
    }

    /// True when events go somewhere, so callers can skip building them otherwise.
    pub fn is_active(&self) -> bool {
        self.tx.is_some()
    }

    /// Queue an event, or drop and count it when the queue is full.
    pub fn event(&self, rec: EventLine) {
        if let Some(tx) = &self.tx {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                tx.try_send(SinkMsg::Event(Box::new(rec)))
            {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Ask the sink to flush, and wait until it has (and for room to ask).
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            if tx.send(SinkMsg::Flush(done_tx)).await.is_ok() {
                let _ = done_rx.await;
            }
        }
    }
}
