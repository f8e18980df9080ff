//! Follows rdptap's event file while the soak runs: which connection came from which
//! client address, when each one's streams ended, and when its verdict line appeared in
//! the file (the moment this reader saw it, every few milliseconds).
//!
//! Sessions find their connections by the client address: the k-th claim on an address
//! is the k-th connection rdptap accepted from it since the run began (a client port is
//! only reused after the earlier connection on it closed).

use crate::Res;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use tokio::sync::watch;

/// How often the file is read.
const POLL: Duration = Duration::from_millis(10);

/// The fields of an event line the soak uses; the rest are skipped.
#[derive(Deserialize)]
struct Line {
    ts: String,
    conn: u64,
    kind: String,
    /// A string in `accepted`; an object in a verdict.
    client: Option<serde_json::Value>,
    how: Option<String>,
    cause: Option<String>,
    scope: Option<String>,
}

/// What the file says about one connection.
#[derive(Debug, Default, Clone)]
pub(crate) struct ConnRec {
    /// The dial's outcome is known (`upstream_connected` or `upstream_failed`).
    pub(crate) dialled: bool,
    /// The latest end of the connection: a `stream_ended` or `upstream_failed`, in
    /// seconds since the epoch.
    pub(crate) end_ts: Option<f64>,
    /// How its directions ended (`fin`, `rst`, `linger`…).
    pub(crate) ends: Vec<String>,
    /// The connection verdict: its own timestamp, when it was seen in the file, cause.
    pub(crate) verdict: Option<(f64, f64, String)>,
    /// Gateway mode: the session verdict written with this connection, its cause.
    pub(crate) session_cause: Option<String>,
}

#[derive(Default)]
pub(crate) struct Index {
    pub(crate) conns: HashMap<u64, ConnRec>,
    /// Connections by client address, in order of acceptance.
    by_addr: HashMap<String, Vec<u64>>,
    /// Claims made on each address.
    claims: HashMap<String, usize>,
    /// Connections accepted before the run started (readiness probes).
    pub(crate) before_run: Vec<u64>,
    pub(crate) lines: u64,
    pub(crate) unreadable: u64,
    /// Lines whose kind says events were dropped (a bounded sink), and their count.
    pub(crate) drop_notes: u64,
}

/// The reader thread and what it learned.
pub(crate) struct Events {
    index: Arc<Mutex<Index>>,
    changed: watch::Receiver<u64>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A session's claim on the connection rdptap accepted from one of its sockets.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    addr: String,
    nth: usize,
}

fn parse_ts(s: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

impl Events {
    /// Follows `path`, which rdptap creates.
    pub(crate) fn follow(path: &Path) -> Res<Events> {
        let index = Arc::new(Mutex::new(Index::default()));
        let (tx, changed) = watch::channel(0u64);
        let stop = Arc::new(AtomicBool::new(false));
        let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (idx, st) = (index.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut buf = Vec::with_capacity(1 << 20);
            let mut gen = 0u64;
            loop {
                // Read the stop flag first, so the last read after it sees everything
                // written before it was set.
                let last = st.load(Ordering::SeqCst);
                let start = buf.len();
                if file.read_to_end(&mut buf).is_ok() && buf.len() > start {
                    let seen = crate::soak::upstream::now_secs();
                    let cut = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                    if cut > 0 {
                        let mut ix = idx.lock().unwrap();
                        for line in buf[..cut].split(|&b| b == b'\n') {
                            if !line.is_empty() {
                                ix.absorb(line, seen);
                            }
                        }
                        drop(ix);
                        buf.drain(..cut);
                        gen += 1;
                        let _ = tx.send(gen);
                    }
                }
                if last {
                    return;
                }
                thread::sleep(POLL);
            }
        });
        Ok(Events {
            index,
            changed,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Marks every connection seen so far as not part of the run.
    pub(crate) fn begin_run(&self) {
        let mut ix = self.index.lock().unwrap();
        let mut ids: Vec<u64> = ix.conns.keys().copied().collect();
        ids.sort_unstable();
        ix.before_run = ids;
        ix.claims = ix
            .by_addr
            .iter()
            .map(|(a, v)| (a.clone(), v.len()))
            .collect();
    }

    pub(crate) fn claim(&self, addr: SocketAddr) -> Claim {
        let addr = addr.to_string();
        let mut ix = self.index.lock().unwrap();
        let n = ix.claims.entry(addr.clone()).or_insert(0);
        let nth = *n;
        *n += 1;
        Claim { addr, nth }
    }

    /// Waits until rdptap knows how its dial for the claimed connection went (or its
    /// verdict is out), at most `limit`.
    pub(crate) async fn dialled(&self, c: &Claim, limit: Duration) -> Option<u64> {
        let mut rx = self.changed.clone();
        let wait = async {
            loop {
                {
                    let ix = self.index.lock().unwrap();
                    if let Some(id) = ix.by_addr.get(&c.addr).and_then(|v| v.get(c.nth)) {
                        let r = &ix.conns[id];
                        if r.dialled || r.verdict.is_some() {
                            return Some(*id);
                        }
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.ok().flatten()
    }

    /// Runs `f` on the index.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Index) -> T) -> T {
        f(&self.index.lock().unwrap())
    }

    /// Stops following after one last read.
    pub(crate) fn finish(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.lock().unwrap().take() {
            let _ = t.join();
        }
    }

    /// Everything read, taken out of the reader.
    pub(crate) fn take_index(&self) -> Index {
        std::mem::take(&mut self.index.lock().unwrap())
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The later of two optional times.
fn later(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Index {
    /// The connection a claim names, if rdptap accepted it.
    pub(crate) fn resolve(&self, c: &Claim) -> Option<u64> {
        self.by_addr.get(&c.addr)?.get(c.nth).copied()
    }

    fn absorb(&mut self, line: &[u8], seen: f64) {
        self.lines += 1;
        let Ok(l) = serde_json::from_slice::<Line>(line) else {
            self.unreadable += 1;
            return;
        };
        if l.kind.contains("dropped") {
            self.drop_notes += 1;
        }
        if l.conn == 0 {
            return;
        }
        let ts = parse_ts(&l.ts);
        let rec = self.conns.entry(l.conn).or_default();
        match l.kind.as_str() {
            "accepted" => {
                if let Some(serde_json::Value::String(c)) = l.client {
                    self.by_addr.entry(c).or_default().push(l.conn);
                }
            }
            "upstream_connected" => rec.dialled = true,
            "upstream_failed" => {
                rec.dialled = true;
                rec.end_ts = later(rec.end_ts, ts);
            }
            "stream_ended" => {
                rec.end_ts = later(rec.end_ts, ts);
                rec.ends.push(l.how.unwrap_or_default());
            }
            "verdict" => {
                let cause = l.cause.unwrap_or_default();
                if l.scope.as_deref() == Some("gateway_session") {
                    rec.session_cause = Some(cause);
                } else if rec.verdict.is_none() {
                    rec.verdict = Some((ts.unwrap_or(seen), seen, cause));
                }
            }
            _ => {}
        }
    }

    /// Connections accepted during the run, in order.
    pub(crate) fn run_conns(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .conns
            .keys()
            .filter(|id| self.before_run.binary_search(id).is_err())
            .copied()
            .collect();
        v.sort_unstable();
        v
    }
}
