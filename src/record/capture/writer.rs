//! The writer thread: turns queued chunks into pcapng blocks. It runs on its own thread
//! so that disk writes never hold up the relay's async workers.

use super::files::{iface_name, Files};
use super::flows::{line_random, WFlow};
use super::hold::Hold;
use super::{micros, CaptureOptions, FlowId, FlowKind, Msg, Shared};
use crate::record::pcapng::block;
use crate::record::pcapng::tcp::{Close, TcpFlow};
use crate::record::Recorder;
use crate::session::event::{Body, EventLine};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

/// Blocks are handed to the OS at least this often.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Key log lines kept while their connection is not yet known.
const MAX_PENDING_KEYS: usize = 512;

pub(super) struct Writer {
    files: Files,
    flows: HashMap<FlowId, WFlow>,
    shared: Arc<Shared>,
    events: Recorder,
    redact: bool,
    redact_users: bool,
    delay: Option<Duration>,
    split: bool,
    /// The connection of each client random seen in a ClientHello.
    randoms: HashMap<[u8; 32], u64>,
    /// Key lines whose connection is not known yet (--pcap-split only).
    pending_keys: Vec<(Option<[u8; 32]>, String)>,
    last_write: Instant,
    failed: bool,
    /// Embed keys (--pcap-keys): raw packets wait for their keys.
    keys: bool,
    holds: HashMap<u64, Hold>,
    /// Connections whose file stays open (--pcap-split) until the tunnel's inner flow,
    /// which the other channel of the session may still feed, has ended.
    closing: std::collections::HashSet<u64>,
}

impl Writer {
    pub fn new(files: Files, shared: Arc<Shared>, events: Recorder, opts: &CaptureOptions) -> Self {
        Writer {
            files,
            flows: HashMap::new(),
            shared,
            events,
            redact: opts.redact,
            redact_users: opts.redact_users,
            delay: opts.write_delay,
            split: opts.split,
            randoms: HashMap::new(),
            pending_keys: Vec::new(),
            last_write: Instant::now(),
            failed: false,
            keys: opts.keys,
            holds: HashMap::new(),
            closing: std::collections::HashSet::new(),
        }
    }

    /// Writes until told to stop or every sender is gone.
    pub fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            let wait = FLUSH_EVERY.saturating_sub(self.last_write.elapsed());
            match rx.recv_timeout(wait) {
                Ok(msg) => {
                    let cost = msg.cost();
                    let stop = self.handle(msg);
                    self.shared.release(cost);
                    if stop {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if !self.holds.is_empty() {
                let overdue: Vec<u64> = self
                    .holds
                    .iter()
                    .filter(|(_, h)| h.overdue())
                    .map(|(c, _)| *c)
                    .collect();
                for c in overdue {
                    self.release(c);
                }
            }
            if self.last_write.elapsed() >= FLUSH_EVERY {
                self.write_out_all();
            }
        }
        self.release_all();
        self.write_out_all();
    }

    /// Writes a connection's held packets after the keys now in the file.
    fn release(&mut self, conn: u64) {
        if let Some(h) = self.holds.remove(&conn) {
            if let Some(out) = self.files.out(conn) {
                out.buf.extend_from_slice(&h.blocks);
            }
        }
    }

    fn release_all(&mut self) {
        let all: Vec<u64> = self.holds.keys().copied().collect();
        for c in all {
            self.release(c);
        }
    }

    /// The file (or file pattern) the writer writes, for messages.
    pub fn describe(&self) -> String {
        self.files.describe()
    }

    /// Handles one message; true when the writer should stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            #[cfg(test)]
            Msg::Panic => panic!("a deliberate panic in the capture writer"),
            Msg::Flush(ack) => {
                self.write_out_all();
                let _ = ack.send(());
                return false;
            }
            Msg::Stop(ack) => {
                self.release_all();
                self.write_out_all();
                let _ = ack.send(());
                return true;
            }
            _ if self.failed => return false,
            Msg::Conn { conn, desc } => {
                let r = self.files.add_conn(conn, &desc);
                if self.split {
                    // One connection's file: only that connection goes uncaptured.
                    self.conn_failed(conn, r);
                } else {
                    self.check(r);
                }
            }
            Msg::Open {
                flow,
                conn,
                kind,
                client,
                server,
                ts,
            } => {
                // Distinct, stable initial sequence numbers per flow.
                let isn = [
                    (flow as u32).wrapping_mul(0x9E37_79B9),
                    (flow as u32).wrapping_mul(0x85EB_CA6B) ^ 0x5bd1_e995,
                ];
                let tcp = TcpFlow::new(client, server, isn);
                let mut wf = WFlow::new(conn, kind, tcp, self.redact, self.redact_users);
                self.emit(&mut wf, ts, |tcp, mut emit| tcp.open(&mut emit));
                self.flows.insert(flow, wf);
            }
            Msg::Data {
                flow,
                from_client,
                data,
                ts,
                comments,
                skipped,
            } => {
                if let Some(d) = self.delay {
                    std::thread::sleep(d);
                }
                self.data(flow, from_client, data, ts, comments, skipped);
            }
            Msg::End {
                flow,
                from_client,
                how,
                ts,
                comments,
                skipped,
            } => self.end(flow, from_client, how, ts, comments, skipped),
            Msg::Keys(line) => self.keys(line),
            Msg::ConnDone { conn } => {
                // Flows of a finished connection get nothing more, except the tunnel's
                // inner flow, which the other channel of the same session may still feed.
                self.flows
                    .retain(|_, f| f.conn != conn || f.kind == FlowKind::Inner);
                self.release(conn);
                let inner_open = self.split
                    && self
                        .flows
                        .values()
                        .any(|f| f.conn == conn && f.kind == FlowKind::Inner && !f.ended());
                let r = if inner_open {
                    self.closing.insert(conn);
                    self.files.write_out_all()
                } else {
                    self.files.conn_done(conn)
                };
                self.check(r);
            }
        }
        self.write_big();
        false
    }

    /// Hands a file's blocks to the OS once enough have gathered.
    fn write_big(&mut self) {
        let r = self
            .files
            .all()
            .into_iter()
            .try_for_each(|o| o.maybe_write());
        self.check(r);
    }

    fn data(
        &mut self,
        flow: FlowId,
        from_client: bool,
        data: Bytes,
        ts: SystemTime,
        comments: Vec<String>,
        skipped: Option<(u64, u64)>,
    ) {
        let Some(mut wf) = self.flows.remove(&flow) else {
            return;
        };
        let side = usize::from(!from_client);
        if !wf.dead && !wf.closed[side] {
            if let Some(r) = wf.watch_hello(from_client, &data) {
                self.randoms.insert(r, wf.conn);
                if self.keys {
                    self.holds
                        .entry(wf.conn)
                        .or_insert_with(Hold::new)
                        .add_random(r);
                }
                self.release_keys(r, wf.conn);
            }
            wf.pending.extend(comments);
            if let Some((packets, bytes)) = skipped {
                wf.tcp.skip(from_client, bytes);
                wf.pending.insert(0, dropped_comment(packets, bytes));
            }
            let pieces = match wf.redactor.as_mut() {
                Some(r) => {
                    let mut out = Vec::new();
                    r.feed(dir_of(from_client), data, &mut out);
                    out
                }
                None => vec![data],
            };
            for p in pieces {
                self.emit(&mut wf, ts, |tcp, mut emit| {
                    tcp.data(from_client, &p, &mut emit)
                });
            }
        }
        self.flows.insert(flow, wf);
    }

    fn end(
        &mut self,
        flow: FlowId,
        from_client: bool,
        how: Close,
        ts: SystemTime,
        comments: Vec<String>,
        skipped: Option<(u64, u64)>,
    ) {
        let Some(mut wf) = self.flows.remove(&flow) else {
            return;
        };
        let side = usize::from(!from_client);
        if !wf.dead && !wf.closed[side] {
            wf.closed[side] = true;
            if let Some((packets, bytes)) = skipped {
                wf.tcp.skip(from_client, bytes);
                wf.pending.insert(0, dropped_comment(packets, bytes));
            }
            let mut held = Vec::new();
            if let Some(r) = wf.redactor.as_mut() {
                r.finish(dir_of(from_client), &mut held);
            }
            for p in held {
                self.emit(&mut wf, ts, |tcp, mut emit| {
                    tcp.data(from_client, &p, &mut emit)
                });
            }
            wf.pending.extend(comments);
            if how == Close::Rst {
                wf.dead = true;
            }
            let close = how;
            self.emit(&mut wf, ts, |tcp, mut emit| {
                tcp.close(from_client, close, &mut emit)
            });
        }
        let (conn, done) = (wf.conn, wf.ended());
        self.flows.insert(flow, wf);
        if done && self.closing.remove(&conn) {
            let r = self.files.conn_done(conn);
            self.check(r);
        }
    }

    /// Runs `f` on the flow's TCP state and writes each packet it makes; the flow's
    /// pending comments go on the first one.
    fn emit<F>(&mut self, wf: &mut WFlow, ts: SystemTime, f: F)
    where
        F: FnOnce(&mut TcpFlow, &mut dyn FnMut(&[u8], &[u8])),
    {
        let Some(out) = self.files.out(wf.conn) else {
            return;
        };
        let Some(iface) = out.iface(wf.conn) else {
            return;
        };
        let t = micros(ts);
        let pending = &mut wf.pending;
        let buf = match self.holds.get_mut(&wf.conn) {
            Some(h) if wf.kind == FlowKind::Raw => &mut h.blocks,
            _ => &mut out.buf,
        };
        let mut emit = |hdr: &[u8], payload: &[u8]| {
            let refs: Vec<&str> = pending.iter().map(String::as_str).collect();
            block::packet(buf, iface, t, &[hdr, payload], &refs);
            pending.clear();
        };
        f(&mut wf.tcp, &mut emit);
    }

    fn keys(&mut self, line: String) {
        let random = line_random(&line);
        let conn = random.and_then(|r| self.randoms.get(&r).copied());
        match conn {
            Some(c) => self.write_keys(Some(c), &line),
            // One file holds every connection: the keys can go in at once.
            None if !self.split => self.write_keys(None, &line),
            None => {
                if self.pending_keys.len() < MAX_PENDING_KEYS {
                    self.pending_keys.push((random, line));
                }
            }
        }
    }

    fn release_keys(&mut self, random: [u8; 32], conn: u64) {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_keys)
            .into_iter()
            .partition(|(r, _)| *r == Some(random));
        self.pending_keys = later;
        for (_, line) in now {
            self.write_keys(Some(conn), &line);
        }
    }

    fn write_keys(&mut self, conn: Option<u64>, line: &str) {
        let name = conn.map(iface_name);
        let out = match conn {
            Some(c) => self.files.out(c),
            None => self.files.out(0),
        };
        if let Some(out) = out {
            block::secrets(&mut out.buf, line.as_bytes(), name.as_deref());
        }
        let (Some(c), Some(r)) = (conn, line_random(line)) else {
            return;
        };
        let label = line.split_whitespace().next().unwrap_or("");
        let done = self.holds.get_mut(&c).map(|h| {
            h.saw_key(label, r);
            h.complete()
        });
        if done == Some(true) {
            self.release(c);
        }
    }

    fn write_out_all(&mut self) {
        self.last_write = Instant::now();
        if self.failed {
            return;
        }
        let r = self.files.write_out_all();
        self.check(r);
    }

    /// Switches capture off at the first write error, loudly; the relay carries on.
    fn check(&mut self, r: std::io::Result<()>) {
        let Err(e) = r else { return };
        if self.failed {
            return;
        }
        self.failed = true;
        switched_off(
            &self.shared,
            &self.events,
            self.files.describe(),
            e.to_string(),
        );
        self.flows.clear();
        for o in self.files.all() {
            o.buf = Vec::new();
        }
    }

    /// With --pcap-split, connection `conn`'s file could not be created: that
    /// connection is not captured (its blocks find no file), the others carry on.
    fn conn_failed(&mut self, conn: u64, r: std::io::Result<()>) {
        let Err(e) = r else { return };
        let file = super::split_path(self.files.pattern(), conn)
            .display()
            .to_string();
        let why = format!("cannot create the capture file {file} ({e}); connection {conn} is not captured, the others are");
        tracing::error!("{why}");
        eprintln!("rdptap: ERROR: {why}");
        let mut line = EventLine::run(
            time::OffsetDateTime::now_utc(),
            Body::CaptureFailed {
                file,
                error: e.to_string(),
            },
        );
        line.conn = conn;
        self.events.event(line);
        self.holds.remove(&conn);
    }
}

/// Capture is off, after `error` writing `file`: said on the console and in the events,
/// and every relay waiting for room in the queue is let go.
pub(super) fn switched_off(shared: &Shared, events: &Recorder, file: String, error: String) {
    let why = format!("writing the capture {file} failed ({error}); packet capture is off from now on, connections carry on");
    if !shared.fail(why.clone()) {
        return;
    }
    tracing::error!("{why}");
    eprintln!("rdptap: ERROR: {why}");
    events.event(EventLine::run(
        time::OffsetDateTime::now_utc(),
        Body::CaptureFailed { file, error },
    ));
}

fn dir_of(from_client: bool) -> crate::vocab::Dir {
    if from_client {
        crate::vocab::Dir::C2S
    } else {
        crate::vocab::Dir::S2C
    }
}

fn dropped_comment(packets: u64, bytes: u64) -> String {
    format!(
        "rdptap: {packets} packet{} ({bytes} bytes) not captured before this one: the capture queue was full (--capture-overflow drop)",
        if packets == 1 { "" } else { "s" }
    )
}
