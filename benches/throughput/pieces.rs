//! Frames in 1-byte pieces: what holding an incomplete frame costs rdptap.
//!
//! A 64 KiB frame is sent to rdptap one piece at a time, each piece waiting until the
//! far end has read the one before, so rdptap reads, decodes and relays every piece on
//! its own. The same number of pieces of bytes rdptap does not decode (relay only) is
//! sent the same way in the same run, and the section prints rdptap's CPU for the frame
//! over its CPU for the relay-only bytes. With reassembly that copies the held bytes
//! again for every piece, the frame costs quadratic time; with linear reassembly the
//! ratio stays near 1.
//!
//! - Direct mode (`rdptap proxy --target`): a 65,535-byte TPKT frame (the largest) as
//!   the connection's first bytes, in 1-byte TCP segments, against 65,535 1-byte
//!   segments of a stream that is not RDP (rdptap stops decoding at its first bytes).
//! - Gateway mode (`rdptap proxy --gateway`, TLS intercepted): a 65,536-byte MS-TSGU
//!   DATA packet in 1-byte WebSocket frames (after `RDG_OUT_DATA` and a `101`), or in
//!   1-byte HTTP chunks (an `RDG_IN_DATA` body), one TLS record each, against as many
//!   records of the same size in an `RPC_IN_DATA` body (the legacy transport, whose
//!   body rdptap only counts).
//!
//! The far end is a sink in this process that tells the sender, through a channel,
//! how many bytes it has read; in gateway mode it is a TLS server standing in for the
//! gateway (self-signed; rdptap records the certificate problem and goes on).

use crate::cpu;
use crate::env::Env;
use crate::intercept::ca_init;
use crate::peers::Relay;
use crate::report::{median, verdict};
use crate::upstream::free_port;
use crate::{Opts, Res, IO_TIMEOUT};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// rdptap's CPU for the frame over its CPU for as many relay-only pieces.
const TARGET: f64 = 1.5;
/// The direct frame: the largest TPKT.
const TPKT_LEN: usize = 65_535;
/// The gateway frame: an MS-TSGU DATA packet of 64 KiB, header included.
const DATA_LEN: usize = 65_536;
/// WebSocket mask of every client frame (masking costs the same whatever the key).
const MASK: [u8; 4] = [0x3c, 0xa5, 0x17, 0x6e];

/// One comparison: a frame in pieces against relay-only pieces of the same sizes.
struct Case {
    mode: &'static str,
    what: &'static str,
    /// Where rdptap listens, and whether it speaks TLS there (gateway mode).
    tls: bool,
    /// The request head that opens the decoded stream, and the relay-only one.
    heads: [Option<String>; 2],
    /// The pieces of the frame, and the relay-only pieces.
    pieces: [Vec<Vec<u8>>; 2],
}

/// What the section measured: per case, rdptap's CPU seconds per run, frame and
/// relay-only, and the wall time of each.
pub(crate) struct Pieces {
    names: Vec<(&'static str, &'static str, usize)>,
    cpu: Vec<[Vec<f64>; 2]>,
    wall: Vec<[Vec<f64>; 2]>,
}

// ---------------------------------------------------------------- the far end

/// The far end: a TCP (or TLS) server on its own threads that reports, after every
/// read, how many body bytes its current connection has read.
struct Sink {
    port: u16,
    acks: mpsc::Receiver<u64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    fn start(tls: Option<Arc<ServerConfig>>) -> Res<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, acks) = mpsc::channel();
        let stop2 = stop.clone();
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else { continue };
                let (tx, tls) = (tx.clone(), tls.clone());
                thread::spawn(move || {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                    // Readiness probes and finished runs end here; nothing to report.
                    let _ = match tls {
                        Some(cfg) => serve_tls(s, cfg, &tx),
                        None => count(s, 0, &tx),
                    };
                });
            }
        });
        Ok(Sink {
            port,
            acks,
            stop,
            thread: Some(thread),
        })
    }

    /// Waits until the far end has read `n` body bytes.
    fn wait(&self, n: u64) -> Res<()> {
        loop {
            match self.acks.recv_timeout(IO_TIMEOUT) {
                Ok(got) if got >= n => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(format!("the far end has not read byte {n}").into()),
            }
        }
    }

    /// Forgets what earlier connections reported.
    fn drain(&self) {
        while self.acks.try_recv().is_ok() {}
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads to the end, reporting the running total after each read.
fn count(mut s: impl Read, mut total: u64, tx: &mpsc::Sender<u64>) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(()),
            n => {
                total += n as u64;
                let _ = tx.send(total);
            }
        }
    }
}

/// The stand-in gateway: reads the request head, answers a WebSocket upgrade with a
/// `101`, reports 0 (ready), then counts the body.
fn serve_tls(s: TcpStream, cfg: Arc<ServerConfig>, tx: &mpsc::Sender<u64>) -> io::Result<()> {
    let conn = ServerConnection::new(cfg).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, s);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tls.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    if String::from_utf8_lossy(&head).contains("Upgrade: websocket") {
        tls.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )?;
        tls.flush()?;
    }
    let _ = tx.send(0);
    count(tls, 0, tx)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// The stand-in gateway's TLS: a self-signed certificate for 127.0.0.1.
fn gateway_tls() -> Res<Arc<ServerConfig>> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])?.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)?;
    Ok(Arc::new(cfg))
}

/// The client's TLS towards rdptap, which presents a leaf from the run's CA.
fn client_tls(ca_pem: &std::path::Path) -> Res<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem)? {
        roots.add(c?)?;
    }
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

// ---------------------------------------------------------------- the cases

/// A fixed payload that is not all zeros.
fn fill(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

fn head(method: &str, extra: &str) -> String {
    format!(
        "{method} /remoteDesktopGateway/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         RDG-Connection-Id: {{B3C4C0DE-0000-4000-8000-000000000001}}\r\n{extra}\r\n"
    )
}

/// A DATA packet of `DATA_LEN` bytes whose payload starts like a TPKT.
fn data_packet() -> Vec<u8> {
    let payload = DATA_LEN - 10;
    let mut p = vec![0x0A, 0, 0, 0];
    p.extend_from_slice(&(DATA_LEN as u32).to_le_bytes());
    p.extend_from_slice(&(payload as u16).to_le_bytes());
    let mut inner = fill(payload, 0x11);
    inner[..4].copy_from_slice(&[3, 0, 0xFF, 0xF6]);
    p.extend_from_slice(&inner);
    p
}

/// Relay-only pieces as long as `pieces`, in an RPC_IN_DATA body.
fn relay_only(pieces: &[Vec<u8>]) -> Vec<Vec<u8>> {
    pieces.iter().map(|p| fill(p.len(), 0x5A)).collect()
}

fn cases() -> Vec<Case> {
    let mut tpkt = fill(TPKT_LEN, 0x33);
    tpkt[..4].copy_from_slice(&[3, 0, 0xFF, 0xFF]);
    // Not RDP from its first byte: 0x5A is neither TPKT nor a preconnection PDU.
    let not_rdp = vec![vec![0x5Au8]; TPKT_LEN];
    let direct = Case {
        mode: "direct",
        what: "TPKT frame, 1-byte TCP segments",
        tls: false,
        heads: [None, None],
        pieces: [tpkt.chunks(1).map(<[u8]>::to_vec).collect(), not_rdp],
    };
    let ws: Vec<Vec<u8>> = data_packet()
        .iter()
        .map(|&b| vec![0x82, 0x81, MASK[0], MASK[1], MASK[2], MASK[3], b ^ MASK[0]])
        .collect();
    let chunks: Vec<Vec<u8>> = data_packet()
        .iter()
        .map(|&b| vec![b'1', b'\r', b'\n', b, b'\r', b'\n'])
        .collect();
    let rpc = Some(head("RPC_IN_DATA", "Content-Length: 1073741824\r\n"));
    let ws_head = head(
        "RDG_OUT_DATA",
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    vec![
        direct,
        Case {
            mode: "gateway",
            what: "DATA packet, 1-byte WebSocket frames",
            tls: true,
            heads: [Some(ws_head), rpc.clone()],
            pieces: [ws.clone(), relay_only(&ws)],
        },
        Case {
            mode: "gateway",
            what: "DATA packet, 1-byte HTTP chunks",
            tls: true,
            heads: [
                Some(head("RDG_IN_DATA", "Transfer-Encoding: chunked\r\n")),
                rpc,
            ],
            pieces: [chunks.clone(), relay_only(&chunks)],
        },
    ]
}

// ---------------------------------------------------------------- a run

/// A connection to rdptap, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    fn open(port: u16, tls: Option<&Arc<ClientConfig>>) -> Res<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(match tls {
            None => Conn::Plain(s),
            Some(cfg) => {
                let name = ServerName::try_from("127.0.0.1")?;
                let c = ClientConnection::new(cfg.clone(), name)?;
                Conn::Tls(Box::new(rustls::StreamOwned::new(c, s)))
            }
        })
    }

    /// Sends `b` as one segment (one TLS record).
    fn send(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(b),
            Conn::Tls(t) => {
                t.write_all(b)?;
                t.flush()
            }
        }
    }

    /// Reads a response head (the `101`), if one is due.
    fn read_head(&mut self) -> io::Result<()> {
        let Conn::Tls(t) = self else { return Ok(()) };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if t.read(&mut byte)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            head.push(byte[0]);
        }
        Ok(())
    }

    fn close(self) {
        match self {
            Conn::Plain(s) => drop(s),
            Conn::Tls(mut t) => {
                t.conn.send_close_notify();
                let _ = t.flush();
            }
        }
    }
}

/// One run: the head, then every piece once the one before has arrived; rdptap's CPU
/// seconds and the wall seconds of the pieces.
fn run_one(
    rdptap: &Relay,
    sink: &Sink,
    tls: Option<&Arc<ClientConfig>>,
    head: Option<&str>,
    pieces: &[Vec<u8>],
) -> Res<(f64, f64)> {
    sink.drain();
    let mut c = Conn::open(rdptap.port, tls)?;
    if let Some(h) = head {
        c.send(h.as_bytes())?;
        sink.wait(0)?;
        if h.contains("Upgrade: websocket") {
            c.read_head()?;
        }
    }
    let pid = Some(rdptap.pid() as u32);
    let cpu0 = cpu::seconds(pid).unwrap_or(0.0);
    let t0 = Instant::now();
    let mut sent = 0u64;
    for p in pieces {
        c.send(p)?;
        sent += p.len() as u64;
        sink.wait(sent)?;
    }
    let wall = t0.elapsed().as_secs_f64();
    let spent = cpu::seconds(pid).unwrap_or(0.0) - cpu0;
    c.close();
    Ok((spent, wall))
}

pub(crate) fn run(env: &Env, opts: &Opts) -> Res<Pieces> {
    let ca = ca_init(env)?;
    let client = client_tls(&ca.join("rdptap-ca.pem"))?;
    let plain_sink = Sink::start(None)?;
    let gw_sink = Sink::start(Some(gateway_tls()?))?;
    let direct = spawn(
        env,
        "rdptap-pieces-direct",
        &["--target".into(), format!("127.0.0.1:{}", plain_sink.port)],
    )?;
    let gateway = spawn(
        env,
        "rdptap-pieces-gateway",
        &[
            "--gateway".into(),
            format!("127.0.0.1:{}", gw_sink.port),
            "--ca-dir".into(),
            ca.display().to_string(),
        ],
    )?;
    let cases = cases();
    let mut r = Pieces {
        names: cases
            .iter()
            .map(|c| (c.mode, c.what, c.pieces[0].len()))
            .collect(),
        cpu: vec![[Vec::new(), Vec::new()]; cases.len()],
        wall: vec![[Vec::new(), Vec::new()]; cases.len()],
    };
    for rep in 0..opts.pieces_reps {
        for (i, c) in cases.iter().enumerate() {
            let (relay, sink, tls) = if c.tls {
                (&gateway, &gw_sink, Some(&client))
            } else {
                (&direct, &plain_sink, None)
            };
            // Frame and relay-only alternate, so drift on a busy machine hits both.
            for k in 0..2 {
                let (cpu, wall) = run_one(relay, sink, tls, c.heads[k].as_deref(), &c.pieces[k])
                    .map_err(|e| {
                        format!(
                            "{} {}: {e}\nrdptap's log ends:\n{}",
                            c.mode,
                            c.what,
                            relay.log_tail()
                        )
                    })?;
                r.cpu[i][k].push(cpu);
                r.wall[i][k].push(wall);
            }
            eprintln!(
                "  pieces run {}/{} {:<8} {:<38} frame {:.3} s  relay-only {:.3} s of rdptap CPU",
                rep + 1,
                opts.pieces_reps,
                c.mode,
                c.what,
                r.cpu[i][0].last().copied().unwrap_or(0.0),
                r.cpu[i][1].last().copied().unwrap_or(0.0),
            );
        }
    }
    // The frame must have been decoded, or the ratio compares relaying with relaying.
    drop((direct, gateway));
    decoded(
        env,
        "rdptap-pieces-direct",
        DIRECT_DECODED,
        opts.pieces_reps,
    )?;
    decoded(
        env,
        "rdptap-pieces-gateway",
        GATEWAY_DECODED,
        2 * opts.pieces_reps,
    )?;
    Ok(r)
}

/// The event that says rdptap decoded the direct frame once it was whole: X.224 read
/// its TPDU code (the payload is filler, so it is a decode error at offset 0).
const DIRECT_DECODED: &str = r#""layer":"x224","kind":"decode_error","layer":"x224","offset":0"#;
/// The event that says rdptap decoded the gateway frame: the whole DATA packet.
const GATEWAY_DECODED: &str = r#""packet":"DATA","data_len":65526,"len":65536"#;

/// Checks that rdptap's events name the decoded frame `want` times.
fn decoded(env: &Env, name: &str, needle: &str, want: usize) -> Res<()> {
    let path = env.tmp.join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path)?;
    let got = text.lines().filter(|l| l.contains(needle)).count();
    if got != want {
        return Err(format!(
            "{name}: {} shows {got} decoded frames, expected {want} ({needle})",
            path.display()
        )
        .into());
    }
    Ok(())
}

fn spawn(env: &Env, name: &'static str, extra: &[String]) -> Res<Relay> {
    let port = free_port()?;
    let mut cmd = Command::new(&env.rdptap);
    let events = env.tmp.join(format!("{name}.jsonl"));
    cmd.args([
        "proxy",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "-q",
        "--events",
    ]);
    cmd.arg(&events);
    cmd.args(extra);
    Relay::spawn(name, cmd, port, env)
}

// ---------------------------------------------------------------- report

fn ratio(r: &Pieces, i: usize) -> f64 {
    median(&r.cpu[i][0]) / median(&r.cpu[i][1])
}

pub(crate) fn print(opts: &Opts, r: &Pieces) {
    println!("Frames in 1-byte pieces: rdptap's CPU for a 64 KiB frame against as many relay-only pieces");
    println!(
        "  each piece sent once the far end has the one before; rdptap's CPU (user + system from /proc), median of {}",
        opts.pieces_reps
    );
    println!(
        "  {:<8} {:<38} {:>7} {:>9} {:>12} {:>7} {:>10} {:>10}",
        "mode", "frame", "pieces", "frame s", "relay-only s", "ratio", "µs/piece", "wall s"
    );
    for (i, (mode, what, n)) in r.names.iter().enumerate() {
        let (f, b) = (median(&r.cpu[i][0]), median(&r.cpu[i][1]));
        println!(
            "  {mode:<8} {what:<38} {n:>7} {f:>9.3} {b:>12.3} {:>6.2}× {:>10.2} {:>10.1}",
            f / b,
            f / *n as f64 * 1e6,
            median(&r.wall[i][0]),
        );
    }
    println!("  relay-only: direct, a stream that is not RDP; gateway, an RPC_IN_DATA body in records of the same sizes");
    println!();
}

/// The section's lines of the targets list.
pub(crate) fn print_targets(r: &Pieces) {
    for (i, (mode, what, _)) in r.names.iter().enumerate() {
        let x = ratio(r, i);
        println!(
            "  {}  frame in 1-byte pieces, {mode}, {what}: {x:.2}× relay-only CPU, target ≤ {TARGET:.2}× (margin {:+.2}×)",
            verdict(x <= TARGET),
            TARGET - x
        );
    }
}
