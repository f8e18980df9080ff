//! Packet capture (`--pcap`): every relayed byte, as Wireshark expects to see it.
//!
//! The relay hands each chunk to a [`ConnCapture`] by reference count (no copy) and a
//! single writer thread turns the chunks into pcapng blocks. Between them sits a queue
//! bounded in bytes (`--capture-queue`). When it is full the relay either waits for the
//! writer ([`Overflow::Lossless`], the default) or drops whole packets and counts them
//! ([`Overflow::Drop`]). A write error switches capture off, loudly, and never stalls
//! the relay.

mod conn;
mod files;
mod flows;
mod hold;
mod writer;

pub use crate::record::pcapng::tcp::Close;
pub use conn::{ConnCapture, InnerFlow};
pub use files::{iface_name, split_path};

use crate::record::Recorder;
use crate::vocab::closed_vocab;
use bytes::Bytes;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

closed_vocab! {
    /// What the relay does when the capture queue is full.
    pub enum Overflow {
        /// Wait for the writer: the trace is complete, the relay slows to the disk's pace.
        Lossless = ("lossless", "lossless"),
        /// Drop whole packets and count them: the relay never waits.
        Drop = ("drop", "drop"),
    }
}

/// The default bound of the capture queue.
pub const DEFAULT_QUEUE: usize = 64 << 20;

/// Capture settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOptions {
    /// The pcapng file; with `split`, the pattern for one file per connection.
    pub path: PathBuf,
    /// One file per connection (`--pcap-split`).
    pub split: bool,
    /// Embed the TLS key log in the file (`--pcap-keys`).
    pub keys: bool,
    /// Scrub secrets from the decrypted flows (on unless `--no-redact`).
    pub redact: bool,
    /// Hide user and domain names too, on every flow (`--redact-users`, with `redact`).
    pub redact_users: bool,
    /// Bytes the queue may hold before the overflow policy applies.
    pub queue_bytes: usize,
    /// What happens when the queue is full.
    pub overflow: Overflow,
    /// A pause before each packet is written: simulates a slow disk in tests.
    pub write_delay: Option<Duration>,
}

/// Identifies one synthetic TCP flow in the trace.
pub(crate) type FlowId = u64;

/// What kind of bytes a flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowKind {
    /// A raw TCP leg, exactly as relayed.
    Raw,
    /// The plaintext of gateway HTTP (server port 80).
    PlainHttp,
    /// The plaintext of intercepted RDP (server port 3389).
    PlainRdp,
    /// The RDP stream inside a gateway tunnel (server port 3389).
    Inner,
}

/// A message from the relay to the writer thread.
pub(crate) enum Msg {
    /// A connection's interface, before its first flow.
    Conn { conn: u64, desc: String },
    /// A flow starts (SYN, SYN-ACK, ACK).
    Open {
        flow: FlowId,
        conn: u64,
        kind: FlowKind,
        client: SocketAddr,
        server: SocketAddr,
        ts: SystemTime,
    },
    /// Bytes one side sent.
    Data {
        flow: FlowId,
        from_client: bool,
        data: Bytes,
        ts: SystemTime,
        comments: Vec<String>,
        /// Packets and bytes dropped on this side just before these bytes.
        skipped: Option<(u64, u64)>,
    },
    /// One side closed.
    End {
        flow: FlowId,
        from_client: bool,
        how: Close,
        ts: SystemTime,
        comments: Vec<String>,
        skipped: Option<(u64, u64)>,
    },
    /// A key log line.
    Keys(String),
    /// A connection ended: write out its blocks (and close its file with --pcap-split).
    ConnDone { conn: u64 },
    /// Write out everything and answer.
    Flush(mpsc::Sender<()>),
    /// Write out everything, answer and stop.
    Stop(mpsc::Sender<()>),
    /// Tests only: the writer panics, as a bug in it would.
    #[cfg(test)]
    Panic,
}

impl Msg {
    /// What the message counts against the queue bound.
    fn cost(&self) -> usize {
        match self {
            Msg::Data { data, .. } => data.len() + MSG_OVERHEAD,
            _ => MSG_OVERHEAD,
        }
    }
}

/// Per-message bookkeeping counted against the queue, so a flood of tiny packets is
/// bounded too.
const MSG_OVERHEAD: usize = 128;

/// State shared by the relay's handles and the writer thread.
pub(crate) struct Shared {
    tx: mpsc::Sender<Msg>,
    used: AtomicUsize,
    cap: usize,
    overflow: Overflow,
    /// Woken when the queue drops below its bound (lossless waiters).
    room: tokio::sync::Notify,
    /// The sink failed: everything is dropped from now on.
    off: AtomicBool,
    failure: Mutex<Option<String>>,
    next_flow: AtomicU64,
    dropped_packets: AtomicU64,
    dropped_bytes: AtomicU64,
    pub(crate) keys: bool,
}

impl Shared {
    /// Queues `msg` unless capture is off; the writer releases its cost once written.
    fn send(&self, msg: Msg) {
        if self.off.load(Ordering::Relaxed) {
            return;
        }
        let cost = msg.cost();
        self.used.fetch_add(cost, Ordering::Relaxed);
        if self.tx.send(msg).is_err() {
            self.release(cost);
        }
    }

    /// Whether `bytes` more may be queued under the drop policy.
    fn admits(&self, bytes: usize) -> bool {
        match self.overflow {
            Overflow::Lossless => true,
            // A packet larger than the whole queue still goes in when the queue is empty.
            Overflow::Drop => {
                let used = self.used.load(Ordering::Relaxed);
                used == 0 || used + bytes <= self.cap
            }
        }
    }

    /// The writer finished with messages costing `cost`.
    fn release(&self, cost: usize) {
        let before = self.used.fetch_sub(cost, Ordering::Relaxed);
        if before >= self.cap && before - cost < self.cap {
            self.room.notify_waiters();
        }
    }

    /// Switches capture off after a write error and lets every waiting relay go; true
    /// the first time only.
    fn fail(&self, why: String) -> bool {
        if self.off.swap(true, Ordering::Relaxed) {
            return false;
        }
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.room.notify_waiters();
        true
    }

    fn new_flow(&self) -> FlowId {
        self.next_flow.fetch_add(1, Ordering::Relaxed)
    }
}

/// The process-wide capture: hands out per-connection handles.
#[derive(Clone)]
pub struct Capture {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

/// The running writer thread.
pub struct CaptureThread(std::thread::JoinHandle<()>);

impl Capture {
    /// Opens the trace (with --pcap-split: checks its directory) and starts the writer.
    /// `events` receives a `capture_failed` event should writing fail later.
    pub fn start(
        opts: CaptureOptions,
        events: Recorder,
    ) -> std::io::Result<(Capture, CaptureThread)> {
        let out = files::Files::open(&opts)?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            tx,
            used: AtomicUsize::new(0),
            cap: opts.queue_bytes.max(1),
            overflow: opts.overflow,
            room: tokio::sync::Notify::new(),
            off: AtomicBool::new(false),
            failure: Mutex::new(None),
            next_flow: AtomicU64::new(1),
            dropped_packets: AtomicU64::new(0),
            dropped_bytes: AtomicU64::new(0),
            keys: opts.keys,
        });
        let w = writer::Writer::new(out, shared.clone(), events.clone(), &opts);
        let failed = shared.clone();
        let h = std::thread::Builder::new()
            .name("rdptap-pcap".into())
            .spawn(move || {
                let file = w.describe();
                // A bug in the writer must not leave relays waiting for it: capture
                // goes off and every waiter is let go.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(rx)));
                if let Err(p) = run {
                    let why = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    writer::switched_off(
                        &failed,
                        &events,
                        file,
                        format!("internal error in the capture writer: {why}"),
                    );
                }
            })?;
        Ok((Capture { shared }, CaptureThread(h)))
    }

    /// A handle for connection `conn`, described for the trace's interface list.
    pub fn conn(&self, conn: u64, desc: String) -> ConnCapture {
        ConnCapture::new(self.shared.clone(), conn, desc)
    }

    /// The relay's wait point, under the lossless policy.
    pub fn gate(&self) -> Option<Gate> {
        (self.shared.overflow == Overflow::Lossless).then(|| Gate(self.shared.clone()))
    }

    /// Queues a key log line for the trace (with --pcap-keys).
    pub fn key_line(&self, line: String) {
        if self.shared.keys {
            self.shared.send(Msg::Keys(line));
        }
    }

    /// Why capture stopped, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Packets and bytes not captured under the drop policy, over all connections.
    pub fn dropped(&self) -> (u64, u64) {
        (
            self.shared.dropped_packets.load(Ordering::Relaxed),
            self.shared.dropped_bytes.load(Ordering::Relaxed),
        )
    }

    /// Writes out everything queued so far and waits until it is with the OS.
    pub async fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        // Sent even when capture is off, so the answer always comes.
        let _ = self.shared.tx.send(Msg::Flush(tx));
        let _ = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30))).await;
    }

    /// Writes out everything queued and stops the writer.
    pub async fn close(self, thread: CaptureThread) {
        let (tx, rx) = mpsc::channel();
        let _ = self.shared.tx.send(Msg::Stop(tx));
        let _ = tokio::task::spawn_blocking(move || {
            let _ = rx.recv_timeout(Duration::from_secs(30));
            thread.0.join()
        })
        .await;
    }
}

/// Where the relay waits for room in the capture queue (lossless policy only).
#[derive(Clone)]
pub struct Gate(Arc<Shared>);

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl Gate {
    /// True when the queue is at its bound and capture is on: the relay must wait.
    pub fn is_full(&self) -> bool {
        let s = &self.0;
        s.used.load(Ordering::Relaxed) >= s.cap && !s.off.load(Ordering::Relaxed)
    }

    /// Returns once the queue is below its bound (or capture is off). A chunk is then
    /// queued whatever its size, so the bound is exceeded by at most one chunk per
    /// relayed direction, and a chunk larger than the whole bound cannot deadlock.
    pub async fn wait_for_room(&self) {
        let s = &self.0;
        if !self.is_full() {
            return;
        }
        loop {
            let notified = s.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if s.used.load(Ordering::Relaxed) < s.cap || s.off.load(Ordering::Relaxed) {
                return;
            }
            notified.await;
        }
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn micros(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod failure_tests;
#[cfg(test)]
mod split_tests;
