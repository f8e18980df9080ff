//! Gateway mode: bulk payload in MS-TSGU DATA packets, over the WebSocket and the HTTP
//! transport, through `rdptap lab gateway` alone and through `rdptap proxy --gateway`
//! in front of it, against direct TLS measured in the same run.
//!
//! The RDP host is a TCP server in this process. It plays the server's side of the
//! relay benchmark's RDP opening (the X.224 Connection Request answered with a
//! Connection Confirm selecting PROTOCOL_SSL, then a replayed TLS 1.2 handshake), then
//! sinks or sources bulk bytes when the benchmark tells it to. The bulk bytes are TLS
//! application-data records, as the RDP inside a real tunnel would be, so rdptap's
//! inner decoder follows the session to its TLS stage and keeps counting records.

use crate::cpu::{Meter, Spent};
use crate::env::Env;
use crate::gateway_client::{timed, GwClient, Transport, Tunnel};
use crate::intercept::ca_init;
use crate::peers::Relay;
use crate::report::{median, verdict};
use crate::script::Script;
use crate::tls_peer::{self, TlsClient, TlsServer};
use crate::upstream::free_port;
use crate::{Opts, Res};
use std::io;
use std::process::Command;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Throughput through rdptap in gateway mode against direct TLS, each way.
const TARGET: f64 = 0.60;
/// Bytes per bulk write, the same as the direct TLS client's.
const CHUNK: usize = 1 << 20;
/// Bytes per TLS record in the bulk stream, header included: 64 fill 1 MiB exactly.
const RECORD: usize = 16 * 1024;

// ---------------------------------------------------------------- the RDP host

/// What the host does next on the tunnel's connection.
enum HostCmd {
    /// Read this many bytes, then say when the last one arrived.
    Sink(u64, oneshot::Sender<Instant>),
    /// Write this many bytes.
    Source(u64),
}

type HostHandle = mpsc::UnboundedSender<HostCmd>;

/// The RDP host, on its own thread with a single-threaded runtime, like the TLS
/// server of the direct path. Each connection, once past the CR/CC, hands the
/// benchmark a handle to command it.
struct Host {
    port: u16,
    conns: mpsc::UnboundedReceiver<HostHandle>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Host {
    fn start(script: Arc<Script>) -> Res<Host> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _in_rt = rt.enter();
            TcpListener::from_std(std_listener)?
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (tx, conns) = mpsc::unbounded_channel();
        let thread = thread::spawn(move || {
            rt.block_on(async move {
                let chunk = Arc::new(bulk_chunk());
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        conn = listener.accept() => {
                            let Ok((s, _)) = conn else {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            };
                            let (chunk, tx, script) = (chunk.clone(), tx.clone(), script.clone());
                            tokio::spawn(async move {
                                if let Err(e) = host_conn(s, &script, &chunk, tx).await {
                                    eprintln!("  rdp host: {e}");
                                }
                            });
                        }
                    }
                }
            });
        });
        Ok(Host {
            port,
            conns,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The handle of the connection the tunnel just opened.
    async fn next_conn(&mut self) -> Res<HostHandle> {
        let got = tokio::time::timeout(Duration::from_secs(10), self.conns.recv()).await;
        match got {
            Ok(Some(h)) => Ok(h),
            _ => Err("the RDP host got no connection from the gateway".into()),
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads exactly `want`; anything else is an error.
async fn expect(s: &mut TcpStream, want: &[u8]) -> io::Result<()> {
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).await?;
    if got != want {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the client's opening arrived altered",
        ));
    }
    Ok(())
}

async fn host_conn(
    mut s: TcpStream,
    script: &Script,
    chunk: &[u8],
    conns: mpsc::UnboundedSender<HostHandle>,
) -> io::Result<()> {
    s.set_nodelay(true)?;
    expect(&mut s, &script.cr).await?;
    s.write_all(&script.cc).await?;
    expect(&mut s, &script.client[0]).await?;
    s.write_all(&script.server[0]).await?;
    expect(&mut s, &script.client[1]).await?;
    s.write_all(&script.server[1]).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    if conns.send(tx).is_err() {
        return Ok(());
    }
    let mut buf = vec![0u8; CHUNK];
    // Ends when the benchmark drops the handle; the connection closes with it.
    while let Some(cmd) = rx.recv().await {
        match cmd {
            HostCmd::Sink(total, done) => {
                let mut left = total;
                while left > 0 {
                    let want = left.min(buf.len() as u64) as usize;
                    match s.read(&mut buf[..want]).await? {
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => left -= n as u64,
                    }
                }
                let _ = done.send(Instant::now());
            }
            HostCmd::Source(total) => {
                let mut left = total;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    s.write_all(&chunk[..n]).await?;
                    left -= n as u64;
                }
            }
        }
    }
    Ok(())
}

/// 1 MiB of TLS application-data records (`17 03 03` and a length, then fill).
fn bulk_chunk() -> Vec<u8> {
    let fill = tls_peer::pattern(RECORD - 5);
    let mut v = Vec::with_capacity(CHUNK);
    while v.len() < CHUNK {
        v.extend_from_slice(&[0x17, 0x03, 0x03]);
        v.extend_from_slice(&((RECORD - 5) as u16).to_be_bytes());
        v.extend_from_slice(&fill);
    }
    v
}

// ---------------------------------------------------------------- paths

/// One way to the host: direct TLS (the baseline) or a tunnel through a gateway.
struct Path {
    name: &'static str,
    port: u16,
    transport: Option<Transport>,
    /// The logs that explain a failure here: 0 the lab gateway's, 1 rdptap's too.
    log: Option<usize>,
}

/// Everything the section measured, per path in table order.
pub(crate) struct Gateway {
    names: Vec<&'static str>,
    up_gbps: Vec<Vec<f64>>,
    down_gbps: Vec<Vec<f64>>,
    /// CPU spent per timed run (up and down together).
    spent: Vec<Vec<Spent>>,
}

fn spawn(env: &Env, name: &'static str, port: u16, args: &[String]) -> Res<Relay> {
    let mut cmd = Command::new(&env.rdptap);
    cmd.args(args);
    Relay::spawn(name, cmd, port, env)
}

pub(crate) fn run(env: &Env, opts: &Opts) -> Res<Gateway> {
    let ca = ca_init(env)?;
    let ca_s = ca.display().to_string();
    let pem = ca.join("rdptap-ca.pem");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let script = Arc::new(Script::from_fixture()?);
    // The host's listener belongs to its own runtime; the handles it sends work in any.
    let mut host = Host::start(script.clone())?;
    let server = TlsServer::start()?;
    let lab_port = free_port()?;
    let lab = spawn(
        env,
        "rdptap-lab-gateway",
        lab_port,
        &[
            "lab".into(),
            "gateway".into(),
            "--listen".into(),
            format!("127.0.0.1:{lab_port}"),
            "--target".into(),
            format!("127.0.0.1:{}", host.port),
            "--ca-dir".into(),
            ca_s.clone(),
            "--auth".into(),
            "none".into(),
        ],
    )?;
    let proxy_port = free_port()?;
    let proxy = spawn(
        env,
        "rdptap-gateway-proxy",
        proxy_port,
        &[
            "proxy".into(),
            "--gateway".into(),
            format!("127.0.0.1:{lab_port}"),
            "--listen".into(),
            format!("127.0.0.1:{proxy_port}"),
            "--ca-dir".into(),
            ca_s,
            "--trust".into(),
            pem.display().to_string(),
            "-q".into(),
        ],
    )?;
    let logs = [&lab, &proxy];
    let paths = [
        ("direct TLS", server.port, None, None),
        (
            "lab WebSocket",
            lab_port,
            Some(Transport::WebSocket),
            Some(0),
        ),
        ("lab HTTP", lab_port, Some(Transport::Http), Some(0)),
        (
            "rdptap WebSocket",
            proxy_port,
            Some(Transport::WebSocket),
            Some(1),
        ),
        ("rdptap HTTP", proxy_port, Some(Transport::Http), Some(1)),
    ]
    .map(|(name, port, transport, log)| Path {
        name,
        port,
        transport,
        log,
    });
    let client = GwClient::new(&pem)?;
    let tls = TlsClient::new()?;
    let mut r = Gateway {
        names: paths.iter().map(|p| p.name).collect(),
        up_gbps: vec![Vec::new(); paths.len()],
        down_gbps: vec![Vec::new(); paths.len()],
        spent: vec![Vec::new(); paths.len()],
    };
    // The processes each path crosses besides the benchmark's own.
    let relays = |p: &Path| -> Vec<u32> {
        match p.log {
            None => Vec::new(),
            Some(0) => vec![lab.pid() as u32],
            Some(_) => vec![lab.pid() as u32, proxy.pid() as u32],
        }
    };
    let explain = |p: &Path, e: Box<dyn std::error::Error + Send + Sync>| -> String {
        match p.log {
            Some(i) => {
                let mut s = format!("{}: {e}", p.name);
                for (j, l) in logs.iter().enumerate().take(i + 1) {
                    let who = if j == 0 { "lab gateway" } else { "rdptap" };
                    s.push_str(&format!("\n{who}'s log ends:\n{}", l.log_tail()));
                }
                s
            }
            None => format!("{}: {e}", p.name),
        }
    };
    rt.block_on(async {
        let pattern = tls_peer::pattern(CHUNK);
        let chunk = bulk_chunk();
        let mut one = Ctx {
            client: &client,
            tls: &tls,
            host: &mut host,
            pattern: &pattern,
            chunk: &chunk,
            script: &script,
        };
        for p in &paths {
            one.run(p, opts.gw_mib.min(64))
                .await
                .map_err(|e| explain(p, e))?;
        }
        for rep in 0..opts.gw_reps {
            for (i, p) in paths.iter().enumerate() {
                let meter = Meter::start(&relays(p));
                let (up, down) = one.run(p, opts.gw_mib).await.map_err(|e| explain(p, e))?;
                r.spent[i].push(meter.stop());
                eprintln!(
                    "  gateway run {}/{} {:<16} up {up:5.2} GB/s  down {down:5.2} GB/s",
                    rep + 1,
                    opts.gw_reps,
                    p.name
                );
                r.up_gbps[i].push(up);
                r.down_gbps[i].push(down);
            }
        }
        Ok::<(), String>(())
    })?;
    drop(proxy);
    drop(lab);
    Ok(r)
}

/// What one run needs.
struct Ctx<'a> {
    client: &'a GwClient,
    tls: &'a TlsClient,
    host: &'a mut Host,
    /// The direct client's 1 MiB write.
    pattern: &'a [u8],
    /// The tunnel client's 1 MiB write: TLS records.
    chunk: &'a [u8],
    script: &'a Script,
}

impl Ctx<'_> {
    /// One run on path `p`: GB/s up and down.
    async fn run(&mut self, p: &Path, mib: u64) -> Res<(f64, f64)> {
        match p.transport {
            None => direct(self.tls, p.port, mib, self.pattern).await,
            Some(t) => tunnel(self, p.port, t, mib).await,
        }
    }
}

fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e9
}

/// The baseline: the same client and server as the interception section.
async fn direct(tls: &TlsClient, port: u16, mib: u64, chunk: &[u8]) -> Res<(f64, f64)> {
    let bytes = mib << 20;
    let mut s = tls.open(port).await?;
    let up = tls_peer::upload(&mut s, chunk, bytes).await?;
    let mut buf = vec![0u8; chunk.len()];
    let down = tls_peer::download(&mut s, &mut buf, bytes).await?;
    tls_peer::close(s).await;
    Ok((gbps(bytes, up), gbps(bytes, down)))
}

/// One tunnel: `mib` MiB up, then `mib` MiB down; GB/s each way.
async fn tunnel(c: &mut Ctx<'_>, port: u16, t: Transport, mib: u64) -> Res<(f64, f64)> {
    let (host, chunk) = (&mut *c.host, c.chunk);
    let bytes = mib << 20;
    // A connection left from an earlier tunnel must not be taken for this one's.
    while host.conns.try_recv().is_ok() {}
    let mut tun: Tunnel = c.client.open(port, t, c.script).await?;
    let h = host.next_conn().await?;
    let (done_tx, done) = oneshot::channel();
    let start = Instant::now();
    h.send(HostCmd::Sink(bytes, done_tx))
        .map_err(|_| "the RDP host's connection ended")?;
    tun.upload(chunk, bytes).await?;
    let end = timed(
        async { Ok(done.await.map_err(|_| "the RDP host stopped reading")?) },
        "the host's last byte",
    )
    .await?;
    let up = end.saturating_duration_since(start);
    let start = Instant::now();
    h.send(HostCmd::Source(bytes))
        .map_err(|_| "the RDP host's connection ended")?;
    tun.download(bytes).await?;
    let down = start.elapsed();
    tun.close().await;
    drop(h);
    Ok((gbps(bytes, up), gbps(bytes, down)))
}

// ---------------------------------------------------------------- report

pub(crate) fn print(opts: &Opts, r: &Gateway) {
    println!("Throughput in gateway mode: MS-TSGU DATA packets over TLS (WebSocket or HTTP transport) to an RDP host, against direct TLS");
    println!(
        "  {} MiB of payload up, then {} MiB down, one tunnel (or TLS connection) per run; GB/s of payload (10^9 bytes/s), median of {}",
        opts.gw_mib, opts.gw_mib, opts.gw_reps
    );
    println!(
        "  {:<16} {:>8} {:>10} {:>10} {:>10}   runs up / down",
        "path", "up GB/s", "vs direct", "down GB/s", "vs direct"
    );
    let (up0, down0) = (median(&r.up_gbps[0]), median(&r.down_gbps[0]));
    let runs = |v: &[f64]| {
        v.iter()
            .map(|g| format!("{g:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (i, name) in r.names.iter().enumerate() {
        let (up, down) = (median(&r.up_gbps[i]), median(&r.down_gbps[i]));
        println!(
            "  {name:<16} {up:>8.2} {:>9.2}× {down:>10.2} {:>9.2}×   {} / {}",
            up / up0,
            down / down0,
            runs(&r.up_gbps[i]),
            runs(&r.down_gbps[i])
        );
    }
    // Paths 1 and 2 are the lab gateway alone; 3 and 4 the same through rdptap.
    for (lab, via) in [(1, 3), (2, 4)] {
        println!(
            "  rdptap's own cost, {}: {:.2}× up and {:.2}× down of the lab gateway alone",
            r.names[lab].trim_start_matches("lab "),
            median(&r.up_gbps[via]) / median(&r.up_gbps[lab]),
            median(&r.down_gbps[via]) / median(&r.down_gbps[lab]),
        );
    }
    for (via, way, ratio) in ratios(r) {
        println!(
            "  {} {way}: {ratio:.2}× direct TLS; target ≥ {TARGET:.2}×: {}",
            r.names[via],
            if ratio >= TARGET { "met" } else { "missed" }
        );
    }
    println!();
    let gib = 2.0 * opts.gw_mib as f64 / 1024.0;
    crate::cpu::print_table(&r.names, &r.spent, gib, "gateways s/GiB");
}

/// (path, direction, ratio to direct) for the paths through rdptap.
fn ratios(r: &Gateway) -> Vec<(usize, &'static str, f64)> {
    let mut v = Vec::new();
    for via in [3, 4] {
        for (way, g) in [("up", &r.up_gbps), ("down", &r.down_gbps)] {
            v.push((via, way, median(&g[via]) / median(&g[0])));
        }
    }
    v
}

/// The gateway lines of the targets list.
pub(crate) fn print_targets(r: &Gateway) {
    for (via, way, ratio) in ratios(r) {
        println!(
            "  {}  gateway throughput, {} {way}: {ratio:.2}× direct TLS, target ≥ {TARGET:.2}× (margin {:+.2}×)",
            verdict(ratio >= TARGET),
            r.names[via],
            ratio - TARGET
        );
    }
}
