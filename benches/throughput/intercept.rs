//! The cost of TLS interception: the same real TLS traffic direct (client to server),
//! through rdptap relaying it untouched (passthrough), and through
//! `rdptap proxy --intercept`, which decrypts and re-encrypts it. It measures bulk
//! throughput each way and the time to set up a connection, paths taken in turn.
//!
//! Builds without `--intercept` skip that path and say so, so the benchmark runs the
//! same before and after the feature lands.

use crate::cpu::{Meter, Spent};
use crate::env::Env;
use crate::peers::{start_rdptap_with, Relay};
use crate::report::{median, verdict};
use crate::tls_peer::{self, TlsClient, TlsServer};
use crate::{Opts, Res};
use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Intercepted throughput against direct, each way.
const THROUGHPUT_TARGET: f64 = 0.65;
/// Median setup time interception may add, ms.
const SETUP_TARGET_MS: f64 = 0.5;
/// Unmeasured setups per path first: the first one through rdptap mints the leaf.
const SETUP_WARMUP: usize = 10;
/// The small message echoed at the end of a setup.
const SETUP_ECHO: usize = 64;
const NOT_AVAILABLE: &str = "interception not available in this build";

/// One way through to the TLS server.
struct Path {
    name: &'static str,
    port: u16,
    /// None for direct.
    relay: Option<Relay>,
}

impl Path {
    /// Adds the relay's last log lines to an error on this path.
    fn explain(&self, e: Box<dyn std::error::Error + Send + Sync>) -> String {
        match &self.relay {
            Some(r) => format!("{}: {e}\nits log ends:\n{}", self.name, r.log_tail()),
            None => format!("{}: {e}", self.name),
        }
    }
}

/// Everything the section measured, per path in table order.
pub(crate) struct Intercept {
    /// False when this rdptap has no `--intercept`; the last path is then missing.
    pub(crate) available: bool,
    names: Vec<&'static str>,
    /// What the client's TLS leg negotiated on each path.
    legs: Vec<String>,
    up_gbps: Vec<Vec<f64>>,
    down_gbps: Vec<Vec<f64>>,
    /// Nanoseconds from TCP connect to the echo's return.
    setup_ns: Vec<Vec<u64>>,
    /// CPU spent per timed run (up and down together).
    spent: Vec<Vec<Spent>>,
}

/// Whether this rdptap build can intercept: its proxy help lists `--intercept`.
pub(crate) fn available(env: &Env) -> bool {
    Command::new(&env.rdptap)
        .args(["proxy", "--help"])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("--intercept"))
        .unwrap_or(false)
}

/// Creates a CA for this run only, in the scratch directory; the sections that need
/// one share it.
pub(crate) fn ca_init(env: &Env) -> Res<std::path::PathBuf> {
    let dir = env.tmp.join("ca");
    if dir.join("rdptap-ca.pem").exists() {
        return Ok(dir);
    }
    let out = Command::new(&env.rdptap)
        .arg("ca")
        .arg("init")
        .arg("--ca-dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() || !dir.join("rdptap-ca.pem").exists() {
        return Err(format!(
            "rdptap ca init --ca-dir {} failed ({}): {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(dir)
}

pub(crate) fn run(env: &Env, opts: &Opts) -> Res<Intercept> {
    let available = available(env);
    if !available {
        eprintln!("  {NOT_AVAILABLE} (rdptap proxy --help has no --intercept); measuring direct and passthrough only");
    }
    let server = TlsServer::start()?;
    let mut paths = vec![
        Path {
            name: "direct",
            port: server.port,
            relay: None,
        },
        relay_path(
            "passthrough",
            start_rdptap_with(env, server.port, "rdptap-passthrough", &[])?,
        ),
    ];
    if available {
        let dir = ca_init(env)?;
        let extra = [
            OsStr::new("--intercept"),
            OsStr::new("--ca-dir"),
            dir.as_os_str(),
        ];
        let relay = start_rdptap_with(env, server.port, "rdptap-intercept", &extra)?;
        paths.push(relay_path("intercept", relay));
    }
    // One thread for the client, as the server has one: the two ends' crypto then
    // competes for the CPUs as two processes' would.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = TlsClient::new()?;
    let mut r = Intercept {
        available,
        names: paths.iter().map(|p| p.name).collect(),
        legs: Vec::new(),
        up_gbps: vec![Vec::new(); paths.len()],
        down_gbps: vec![Vec::new(); paths.len()],
        setup_ns: vec![Vec::new(); paths.len()],
        spent: vec![Vec::new(); paths.len()],
    };
    rt.block_on(async {
        bulk(&client, opts, &paths, &mut r).await?;
        setups(&client, opts, &paths, &mut r).await
    })?;
    drop(paths);
    drop(server);
    Ok(r)
}

fn relay_path(name: &'static str, relay: Relay) -> Path {
    Path {
        name,
        port: relay.port,
        relay: Some(relay),
    }
}

/// One connection's measurements.
struct Bulk {
    up: f64,
    down: f64,
    leg: String,
    spent: Spent,
}

/// One connection: `mib` MiB up, then `mib` MiB down; GB/s each way, the negotiated
/// parameters and the CPU the transfers took.
async fn one_bulk(client: &TlsClient, p: &Path, mib: u64, chunk: &[u8]) -> Res<Bulk> {
    let bytes = mib << 20;
    let mut s = client.open(p.port).await?;
    let leg = tls_peer::negotiated(&s);
    let relays: Vec<u32> = p.relay.iter().map(|r| r.pid() as u32).collect();
    let meter = Meter::start(&relays);
    let up = tls_peer::upload(&mut s, chunk, bytes).await?;
    let mut buf = vec![0u8; chunk.len()];
    let down = tls_peer::download(&mut s, &mut buf, bytes).await?;
    let spent = meter.stop();
    tls_peer::close(s).await;
    let gbps = |d: std::time::Duration| bytes as f64 / d.as_secs_f64() / 1e9;
    Ok(Bulk {
        up: gbps(up),
        down: gbps(down),
        leg,
        spent,
    })
}

async fn bulk(client: &TlsClient, opts: &Opts, paths: &[Path], r: &mut Intercept) -> Res<()> {
    let chunk = tls_peer::pattern(1 << 20);
    // Warm every path (socket buffer autotuning, the leaf mint, the relays' pools) so
    // the first timed run is not an outlier.
    for p in paths {
        let b = one_bulk(client, p, opts.tls_mib.min(64), &chunk)
            .await
            .map_err(|e| p.explain(e))?;
        r.legs.push(b.leg);
    }
    for rep in 0..opts.tls_reps {
        // Interleaved, so drift on a noisy machine hits every path alike.
        for (i, p) in paths.iter().enumerate() {
            let b = one_bulk(client, p, opts.tls_mib, &chunk)
                .await
                .map_err(|e| p.explain(e))?;
            let (up, down) = (b.up, b.down);
            r.spent[i].push(b.spent);
            eprintln!(
                "  tls run {}/{} {:<11} up {up:5.2} GB/s  down {down:5.2} GB/s",
                rep + 1,
                opts.tls_reps,
                p.name
            );
            r.up_gbps[i].push(up);
            r.down_gbps[i].push(down);
        }
    }
    Ok(())
}

/// Nanoseconds from the TCP connect to the echo's return, on a new connection.
async fn one_setup(client: &TlsClient, p: &Path, msg: &[u8]) -> Res<u64> {
    let start = Instant::now();
    let mut s = client.open(p.port).await?;
    tls_peer::echo(&mut s, msg).await?;
    let ns = start.elapsed().as_nanos() as u64;
    // Outside the clock: an orderly close, so no path is left with half-dead
    // connections that slow the next setups.
    tls_peer::close(s).await;
    Ok(ns)
}

async fn setups(client: &TlsClient, opts: &Opts, paths: &[Path], r: &mut Intercept) -> Res<()> {
    let msg = tls_peer::pattern(SETUP_ECHO);
    for n in 0..SETUP_WARMUP + opts.setups {
        for (i, p) in paths.iter().enumerate() {
            let ns = one_setup(client, p, &msg).await.map_err(|e| p.explain(e))?;
            if n >= SETUP_WARMUP {
                r.setup_ns[i].push(ns);
            }
        }
    }
    let p50: Vec<String> = r
        .setup_ns
        .iter()
        .zip(&r.names)
        .map(|(v, n)| format!("{n} {:.3}", pct_ms(v, 50)))
        .collect();
    eprintln!("  setup p50 (ms): {}", p50.join(", "));
    Ok(())
}

/// The p-th percentile of nanosecond samples, in ms.
fn pct_ms(v: &[u64], p: usize) -> f64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s[(s.len() * p / 100).min(s.len() - 1)] as f64 / 1e6
}

// ---------------------------------------------------------------- report

pub(crate) fn print(opts: &Opts, r: &Intercept) {
    println!("Throughput through TLS interception: X.224 CR/CC selecting PROTOCOL_SSL, a real TLS handshake, then bulk application data");
    println!(
        "  {} MiB of payload up, then {} MiB down, on one connection per run; GB/s of payload (10^9 bytes/s), median of {}",
        opts.tls_mib, opts.tls_mib, opts.tls_reps
    );
    println!(
        "  {:<11} {:>8} {:>10} {:>10} {:>10}   runs up / down",
        "path", "up GB/s", "vs direct", "down GB/s", "vs direct"
    );
    let (up0, down0) = (median(&r.up_gbps[0]), median(&r.down_gbps[0]));
    for (i, name) in r.names.iter().enumerate() {
        let (up, down) = (median(&r.up_gbps[i]), median(&r.down_gbps[i]));
        let runs = |v: &[f64]| {
            v.iter()
                .map(|g| format!("{g:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "  {name:<11} {up:>8.2} {:>9.2}× {down:>10.2} {:>9.2}×   {} / {}",
            up / up0,
            down / down0,
            runs(&r.up_gbps[i]),
            runs(&r.down_gbps[i])
        );
    }
    if !r.available {
        println!("  {:<11} {NOT_AVAILABLE}", "intercept");
    }
    for (name, leg) in r.names.iter().zip(&r.legs) {
        println!("  {name:<11} client leg: {leg}");
    }
    println!();
    let gib = 2.0 * opts.tls_mib as f64 / 1024.0;
    crate::cpu::print_table(&r.names, &r.spent, gib, "rdptap s/GiB");

    println!("Connection setup through TLS interception: TCP connect, CR/CC, TLS handshake (no resumption) and a {SETUP_ECHO}-byte echo");
    println!(
        "  {} new connections per path after {SETUP_WARMUP} warm-up, paths taken in turn; ms",
        opts.setups
    );
    println!(
        "  {:<11} {:>8} {:>8} {:>10}",
        "path", "p50", "p90", "added p50"
    );
    let base = pct_ms(&r.setup_ns[0], 50);
    for (i, name) in r.names.iter().enumerate() {
        let p50 = pct_ms(&r.setup_ns[i], 50);
        let added = if i == 0 {
            "-".to_string()
        } else {
            format!("{:+.3}", p50 - base)
        };
        println!(
            "  {name:<11} {p50:>8.3} {:>8.3} {added:>10}",
            pct_ms(&r.setup_ns[i], 90)
        );
    }
    if !r.available {
        println!("  {:<11} {NOT_AVAILABLE}", "intercept");
    }
    println!();
}

/// The interception lines of the targets list.
pub(crate) fn print_targets(r: &Intercept) {
    if !r.available {
        println!("  n/a   interception throughput and setup: {NOT_AVAILABLE}");
        return;
    }
    let last = r.names.len() - 1;
    for (way, v) in [
        ("up (client → server)", &r.up_gbps),
        ("down (server → client)", &r.down_gbps),
    ] {
        let ratio = median(&v[last]) / median(&v[0]);
        println!(
            "  {}  interception throughput {way}: {ratio:.2}× direct, target ≥ {THROUGHPUT_TARGET:.2}× (margin {:+.2}×)",
            verdict(ratio >= THROUGHPUT_TARGET),
            ratio - THROUGHPUT_TARGET
        );
    }
    let added = pct_ms(&r.setup_ns[last], 50) - pct_ms(&r.setup_ns[0], 50);
    println!(
        "  {}  interception setup: {added:+.3} ms added at p50, target ≤ {SETUP_TARGET_MS} ms (margin {:+.3} ms)",
        verdict(added <= SETUP_TARGET_MS),
        SETUP_TARGET_MS - added
    );
}
