//! The server every path ends at: a sink for bulk runs, an echo for round trips, or a
//! holder of idle connections.

use crate::script::{expect, Script, PING};
use crate::{Res, IO_TIMEOUT};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
pub(crate) enum Role {
    /// Counts bytes until EOF (after the RDP opening when `rdp`).
    Sink { rdp: bool },
    /// RDP opening, then echoes PING-sized messages.
    Echo,
    /// Answers the CR with the CC, then holds the connection open, idle.
    Hold,
}

/// What a sink saw: bytes after the opening, and when the sender's EOF arrived.
pub(crate) type SinkReport = Result<(u64, Instant), String>;

/// The server every path ends at, on its own loopback port.
pub(crate) struct Upstream {
    pub(crate) port: u16,
    stop: Arc<AtomicBool>,
    pub(crate) reports: mpsc::Receiver<SinkReport>,
    pub(crate) held: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    pub(crate) fn start(role: Role, script: &Arc<Script>) -> Res<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (tx, reports) = mpsc::channel();
        let (stop2, held2, script) = (stop.clone(), held.clone(), script.clone());
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else {
                    // Out of descriptors: back off rather than spin.
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                let _ = s.set_nodelay(true);
                let script = script.clone();
                match role {
                    // One at a time on this thread: 2,000 threads would cost more
                    // than the connections being measured, and the client opens
                    // them one at a time anyway.
                    Role::Hold => {
                        if let Ok(s) = hold(s, &script) {
                            held2.lock().unwrap().push(s);
                        }
                    }
                    Role::Sink { rdp } => {
                        let tx = tx.clone();
                        thread::spawn(move || {
                            if let Some(r) = sink(s, &script, rdp) {
                                let _ = tx.send(r);
                            }
                        });
                    }
                    Role::Echo => {
                        thread::spawn(move || echo(s, &script));
                    }
                }
            }
        });
        Ok(Upstream {
            port,
            stop,
            reports,
            held,
            thread: Some(thread),
        })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.held.lock().unwrap().clear();
    }
}

/// True when the peer closed without sending anything: the readiness probes the
/// relays' ports get, which are not part of any measurement.
fn is_probe(s: &TcpStream) -> bool {
    !matches!(s.peek(&mut [0u8; 1]), Ok(n) if n > 0)
}

fn sink(mut s: TcpStream, script: &Script, rdp: bool) -> Option<SinkReport> {
    if is_probe(&s) {
        return None;
    }
    let mut run = || -> io::Result<(u64, Instant)> {
        if rdp {
            script.server_handshake(&mut s)?;
        }
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok((got, Instant::now())),
                n => got += n as u64,
            }
        }
    };
    Some(run().map_err(|e| format!("sink: {e}")))
}

fn echo(mut s: TcpStream, script: &Script) {
    if is_probe(&s) || script.server_handshake(&mut s).is_err() {
        return;
    }
    let mut buf = [0u8; PING];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            return;
        }
    }
}

fn hold(mut s: TcpStream, script: &Script) -> io::Result<TcpStream> {
    if is_probe(&s) {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    expect(&mut s, &script.cr)?;
    s.write_all(&script.cc)?;
    Ok(s)
}

pub(crate) fn connect(port: u16) -> Res<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // As RDP clients do; it also keeps the small ping-pongs free of Nagle delays.
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

pub(crate) fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
