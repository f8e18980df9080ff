//! A scripted RDP host whose TLS is TLS 1.0 only, as on an old Windows Server: it
//! answers the X.224 Connection Request itself (selecting PROTOCOL_SSL) and hands the
//! rest of each connection to `openssl s_server -tls1`, which speaks the TLS.

#![allow(dead_code)]

use super::{free_port, loopback, CertFiles, TempDir};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Connection Confirm selecting PROTOCOL_SSL.
const CC_SSL: [u8; 19] = [
    3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
];

/// The running host: stop it by dropping.
pub struct Tls10Host {
    addr: SocketAddr,
    openssl: Child,
    _stdin: ChildStdin,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    log: std::path::PathBuf,
    _dir: TempDir,
    _cert: CertFiles,
}

impl Tls10Host {
    /// Starts `openssl s_server -tls1` and the X.224 front on free loopback ports.
    pub fn start() -> io::Result<Tls10Host> {
        let cert = CertFiles::normal("tls10.test");
        let dir = TempDir::new("tls10")?;
        let log = dir.path().join("s_server.log");
        let tls_port = free_port();
        let mut openssl = Command::new("openssl")
            .args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{tls_port}"))
            // Old hosts speak TLS 1.0 with SHA-1 era suites: allowed only at level 0.
            .args(["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0", "-cert"])
            .arg(&cert.cert)
            .arg("-key")
            .arg(&cert.key)
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::null())
            .spawn()?;
        // s_server stops at end of input: keep its stdin open for its whole life.
        let stdin = openssl
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(loopback(tls_port)).is_err() {
            if Instant::now() > deadline {
                let _ = openssl.kill();
                return Err(io::Error::other("openssl s_server did not listen"));
            }
            thread::sleep(Duration::from_millis(50));
        }
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, c) = (stop.clone(), connections.clone());
        thread::spawn(move || accept_loop(listener, tls_port, s, c));
        Ok(Tls10Host {
            addr,
            openssl,
            _stdin: stdin,
            stop,
            connections,
            log,
            _dir: dir,
            _cert: cert,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections the X.224 front accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// What s_server printed.
    pub fn log(&self) -> String {
        super::read_lossy(&self.log)
    }
}

impl Drop for Tls10Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.openssl.kill();
        let _ = self.openssl.wait();
    }
}

fn accept_loop(l: TcpListener, tls_port: u16, stop: Arc<AtomicBool>, n: Arc<AtomicUsize>) {
    while !stop.load(Ordering::SeqCst) {
        match l.accept() {
            Ok((c, _)) => {
                n.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    let _ = serve(c, tls_port);
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn serve(mut c: TcpStream, tls_port: u16) -> io::Result<()> {
    c.set_nonblocking(false)?;
    c.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = [0u8; 4];
    c.read_exact(&mut head)?;
    let len = u16::from_be_bytes([head[2], head[3]]) as usize;
    let mut rest = vec![0u8; len.saturating_sub(4)];
    c.read_exact(&mut rest)?;
    c.write_all(&CC_SSL)?;
    let up = TcpStream::connect(loopback(tls_port))?;
    c.set_read_timeout(None)?;
    let (c2, up2) = (c.try_clone()?, up.try_clone()?);
    let a = thread::spawn(move || pipe(c2, up2));
    pipe(up, c);
    let _ = a.join();
    Ok(())
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// xfreerdp's arguments for an auth-only TLS session with a TLS 1.0 host at `addr`.
pub fn client_args(addr: SocketAddr) -> Vec<String> {
    vec![
        format!("/v:{addr}"),
        format!("/u:{}", super::USER),
        format!("/p:{}", super::PASS),
        "/cert:ignore".to_string(),
        "/sec:tls".to_string(),
        // OpenSSL 3 allows TLS 1.0 only at security level 0.
        "/tls-seclevel:0".to_string(),
        "+auth-only".to_string(),
    ]
}
