//! Compares rdptap's relay with no relay, socat and haproxy on loopback, in one run:
//! bulk throughput (raw bytes and an RDP-shaped stream that keeps rdptap's decoders
//! busy), added round-trip latency of small messages, and memory per idle connection.
//! A second section measures TLS interception: real TLS traffic direct, through
//! rdptap untouched, and through `rdptap proxy --intercept`. A third measures gateway
//! mode: MS-TSGU DATA packets over the WebSocket and HTTP transports through
//! `rdptap lab gateway`, alone and behind `rdptap proxy --gateway`, against direct TLS.
//! A fifth runs `rdptap analyze` on a generated capture of RDP over TLS, without and with
//! its key log, against `tshark -q -z conv,tcp` on the same file. A sixth (`pieces`)
//! sends a 64 KiB frame to rdptap in 1-byte pieces, in direct and gateway mode, against
//! as many pieces of bytes rdptap only relays, and prints rdptap's CPU ratio.
//!
//! Two load sections run only when named: `idle` holds as many idle connections through
//! one rdptap as the open-file limit allows (10,000 asked) and reports memory and
//! descriptors per connection; `soak` keeps N RDP-shaped sessions open through rdptap
//! for a while, a third against faulty peers, and checks that no healthy session is lost
//! or corrupted, that every verdict is written within 1 s of its connection's end, that
//! VmRSS stays flat and that no descriptor leaks. `soak` runs three variants (`plain`,
//! `--intercept`, gateway mode); `soak-plain`, `soak-intercept` and `soak-gateway` pick
//! one. They print figures and targets, and fail only on harness errors.
//!
//! It prints ratios against the direct path measured in the same run, because the
//! absolute numbers depend on the machine. Run it with `benches/run.sh`, or
//! `cargo build --release && cargo bench --bench throughput`. Arguments go after `--`:
//! - `relay`, `intercept` or `gateway` runs only the sections named (all run by
//!   default);
//! - `--mib N` (bulk size per run, default 1024), `--reps N` (runs per path, default 3),
//!   `--rtts N` (timed round trips per path, default 20000), `--conns N` (idle
//!   connections, default 2000): the relay section;
//! - `--tls-mib N` (bulk size each way per run, default 1024), `--tls-reps N` (runs per
//!   path, default 5), `--setups N` (connection setups per path, default 200): the
//!   interception section;
//! - `--gw-mib N` (bulk size each way per run, default 512), `--gw-reps N` (runs per
//!   path, default 5): the gateway section;
//! - `--cap-mib N` (bulk size per run, default 512), `--cap-reps N` (runs per path,
//!   default 5): the packet-capture section (`capture`);
//! - `--analyze-mib N` (capture size, default 1024), `--analyze-reps N` (rounds, default
//!   3), `--analyze-dir DIR` (where the capture is written, default the temp directory),
//!   `--keep` (keep the capture and its key log): the offline-analysis section
//!   (`analyze`);
//! - `--pieces-reps N` (runs per case, default 3): the 1-byte-pieces section (`pieces`).
//! - `--idle-conns N` (default 10000): the `idle` section;
//! - `--soak-secs N` (default 600), `--soak-conns N` (default 1000, plain variant),
//!   `--soak-tls-conns N` (default 200, `--intercept`), `--soak-gw-conns N` (default 200,
//!   gateway mode), `--soak-retry-ms N` (a faulty client's pause before its next
//!   session, default 1000, ±50%; 0: at once), `--soak-arg ARG` (repeatable: one more `rdptap proxy` argument
//!   for every soak variant, e.g. `--soak-arg=--first-byte-timeout=10s`): the soak.
//!
//! Layout: `env` (binaries, scratch directory, header), `script` (the RDP opening cut
//! from the fixture), `upstream` (the servers every relay path ends at), `peers` (the
//! relay processes), `traffic`, `latency` and `memory` (the relay measurements),
//! `report` (their tables and targets), `tls_peer` (the real RDP-over-TLS server and
//! client), `cpu` (CPU time per process, from /proc), `intercept` (the interception
//! measurements and tables), `gateway_client`
//! (an MS-TSGU client over both transports) and `gateway` (the gateway-mode
//! measurements, their RDP host and tables), `pcap_write` (pcap frames and TCP segments),
//! `capture_gen` (the RDP-over-TLS capture and its key log), `analyze` (the offline
//! analysis measurements and tables), `pieces` (frames in 1-byte pieces), `idle` (idle
//! connections at scale) and `soak` (sessions under load with faults; see its own layout).

fn main() {
    // `cargo test --all-targets` also runs harness = false benches, but without
    // `--bench`; only `cargo bench` passes it. Anything else must return at once so
    // the test suite never pushes gigabytes or spawns relays.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // The idle section runs this binary again as the holder of the upstream ends.
    #[cfg(target_os = "linux")]
    if let Some(port) = std::env::args().skip_while(|a| a != "--idle-holder").nth(1) {
        if let Err(e) = idle::holder(&port) {
            eprintln!("idle holder failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
    #[cfg(not(target_os = "linux"))]
    eprintln!("this benchmark needs Linux (/proc, socat, haproxy); skipped");
}

// Every module below uses /proc, libc or Linux-only socket behaviour.
#[cfg(target_os = "linux")]
mod analyze;
#[cfg(target_os = "linux")]
mod capture;
#[cfg(target_os = "linux")]
mod capture_gen;
#[cfg(target_os = "linux")]
mod cpu;
#[cfg(target_os = "linux")]
mod env;
#[cfg(target_os = "linux")]
mod gateway;
#[cfg(target_os = "linux")]
mod gateway_client;
#[cfg(target_os = "linux")]
mod idle;
#[cfg(target_os = "linux")]
mod intercept;
#[cfg(target_os = "linux")]
mod latency;
#[cfg(target_os = "linux")]
mod memory;
#[cfg(target_os = "linux")]
mod pcap_write;
#[cfg(target_os = "linux")]
mod peers;
#[cfg(target_os = "linux")]
mod pieces;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod script;
#[cfg(target_os = "linux")]
mod soak;
#[cfg(target_os = "linux")]
mod tls_peer;
#[cfg(target_os = "linux")]
mod traffic;
#[cfg(target_os = "linux")]
mod upstream;

#[cfg(target_os = "linux")]
use std::time::Duration;

#[cfg(target_os = "linux")]
type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The paths every measurement compares, in table order.
#[cfg(target_os = "linux")]
const PATHS: [&str; 4] = ["direct", "rdptap", "socat", "haproxy"];
/// Bounds every blocking socket call, so a stuck relay fails the run instead of
/// hanging it.
#[cfg(target_os = "linux")]
const IO_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(target_os = "linux")]
struct Opts {
    /// Run the relay comparison.
    relay: bool,
    /// Run the interception section.
    intercept: bool,
    /// Run the gateway section.
    gateway: bool,
    /// Run the packet-capture section.
    capture: bool,
    /// Run the offline-analysis section.
    analyze: bool,
    /// Run the frames-in-1-byte-pieces section.
    pieces: bool,
    /// Run the idle-connections section.
    idle: bool,
    /// The soak variants to run.
    soak: Vec<soak::Variant>,
    mib: u64,
    reps: usize,
    rtts: usize,
    warmup: usize,
    conns: usize,
    tls_mib: u64,
    tls_reps: usize,
    setups: usize,
    gw_mib: u64,
    gw_reps: usize,
    cap_mib: u64,
    cap_reps: usize,
    an_mib: u64,
    an_reps: usize,
    an_dir: Option<std::path::PathBuf>,
    keep: bool,
    pieces_reps: usize,
    idle_conns: usize,
    soak_secs: u64,
    soak_conns: usize,
    soak_tls_conns: usize,
    soak_gw_conns: usize,
    soak_args: Vec<String>,
    soak_retry_ms: u64,
    extra: Vec<String>,
}

#[cfg(target_os = "linux")]
fn parse_opts() -> Res<Opts> {
    let mut o = Opts {
        relay: false,
        intercept: false,
        gateway: false,
        capture: false,
        analyze: false,
        pieces: false,
        idle: false,
        soak: Vec::new(),
        mib: 1024,
        reps: 3,
        rtts: 20_000,
        warmup: 2_000,
        conns: 2_000,
        tls_mib: 1024,
        tls_reps: 5,
        setups: 200,
        gw_mib: 512,
        gw_reps: 5,
        cap_mib: 512,
        cap_reps: 5,
        an_mib: 1024,
        an_reps: 3,
        an_dir: None,
        keep: false,
        pieces_reps: 3,
        idle_conns: 10_000,
        soak_secs: 600,
        soak_conns: 1000,
        soak_tls_conns: 200,
        soak_gw_conns: 200,
        soak_args: Vec::new(),
        soak_retry_ms: 1000,
        extra: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Res<u64> {
            let v = args.next().ok_or(format!("{name} needs a number"))?;
            o.extra.push(format!("{name} {v}"));
            Ok(v.parse::<u64>().map_err(|e| format!("{name} {v}: {e}"))?)
        };
        match a.as_str() {
            "--bench" => {}
            "--mib" => o.mib = num("--mib")?.max(1),
            "--reps" => o.reps = num("--reps")?.max(1) as usize,
            "--rtts" => o.rtts = num("--rtts")?.max(4) as usize,
            "--conns" => o.conns = num("--conns")?.max(1) as usize,
            "--tls-mib" => o.tls_mib = num("--tls-mib")?.max(1),
            "--tls-reps" => o.tls_reps = num("--tls-reps")?.max(1) as usize,
            "--setups" => o.setups = num("--setups")?.max(1) as usize,
            "--gw-mib" => o.gw_mib = num("--gw-mib")?.max(1),
            "--gw-reps" => o.gw_reps = num("--gw-reps")?.max(1) as usize,
            "--cap-mib" => o.cap_mib = num("--cap-mib")?.max(1),
            "--cap-reps" => o.cap_reps = num("--cap-reps")?.max(1) as usize,
            "--analyze-mib" => o.an_mib = num("--analyze-mib")?.max(1),
            "--analyze-reps" => o.an_reps = num("--analyze-reps")?.max(1) as usize,
            "--pieces-reps" => o.pieces_reps = num("--pieces-reps")?.max(1) as usize,
            "--analyze-dir" => {
                let d = args.next().ok_or("--analyze-dir needs a directory")?;
                o.extra.push(format!("--analyze-dir {d}"));
                o.an_dir = Some(d.into());
            }
            "--keep" => {
                o.keep = true;
                o.extra.push(a);
            }
            "--idle-conns" => o.idle_conns = num("--idle-conns")?.max(1) as usize,
            "--soak-secs" => o.soak_secs = num("--soak-secs")?.max(5),
            "--soak-conns" => o.soak_conns = num("--soak-conns")?.max(3) as usize,
            "--soak-tls-conns" => o.soak_tls_conns = num("--soak-tls-conns")?.max(3) as usize,
            "--soak-gw-conns" => o.soak_gw_conns = num("--soak-gw-conns")?.max(3) as usize,
            "--soak-retry-ms" => o.soak_retry_ms = num("--soak-retry-ms")?,
            "--soak-arg" => {
                let v = args.next().ok_or("--soak-arg needs an argument")?;
                o.extra.push(format!("--soak-arg={v}"));
                o.soak_args.push(v);
            }
            s if s.starts_with("--soak-arg=") => {
                o.extra.push(s.to_string());
                o.soak_args.push(s["--soak-arg=".len()..].to_string());
            }
            "idle" => {
                o.idle = true;
                o.extra.push(a);
            }
            "soak" | "soak-plain" | "soak-intercept" | "soak-gateway" => {
                use soak::Variant::*;
                let v: &[soak::Variant] = match a.as_str() {
                    "soak" => &[Plain, Intercept, Gateway],
                    "soak-plain" => &[Plain],
                    "soak-intercept" => &[Intercept],
                    _ => &[Gateway],
                };
                for x in v {
                    if !o.soak.contains(x) {
                        o.soak.push(*x);
                    }
                }
                o.extra.push(a);
            }
            // Bare words arrive as cargo's benchmark-name filter; here they pick sections.
            "relay" => {
                o.relay = true;
                o.extra.push(a);
            }
            "intercept" => {
                o.intercept = true;
                o.extra.push(a);
            }
            "gateway" => {
                o.gateway = true;
                o.extra.push(a);
            }
            "capture" => {
                o.capture = true;
                o.extra.push(a);
            }
            "analyze" => {
                o.analyze = true;
                o.extra.push(a);
            }
            "pieces" => {
                o.pieces = true;
                o.extra.push(a);
            }
            s => {
                return Err(format!(
                    "unknown argument {s} (known: relay, intercept, gateway, capture, analyze, pieces, --mib, --reps, --rtts, --conns, --tls-mib, --tls-reps, --setups, --gw-mib, --gw-reps, --cap-mib, --cap-reps, --analyze-mib, --analyze-reps, --analyze-dir, --keep, --pieces-reps; idle, soak, soak-plain, soak-intercept, soak-gateway, --idle-conns, --soak-secs, --soak-conns, --soak-tls-conns, --soak-gw-conns, --soak-retry-ms, --soak-arg)"
                )
                .into())
            }
        }
    }
    // The load sections take minutes to an hour: they run only when named.
    let load = o.idle || !o.soak.is_empty();
    if !o.relay && !o.intercept && !o.gateway && !o.capture && !o.analyze && !o.pieces && !load {
        o.relay = true;
        o.intercept = true;
        o.gateway = true;
        o.capture = true;
        o.analyze = true;
        o.pieces = true;
    }
    Ok(o)
}

#[cfg(target_os = "linux")]
fn run() -> Res<()> {
    use std::sync::Arc;

    let opts = parse_opts()?;
    // 2,000 idle connections need 4,000 descriptors here (client ends plus the
    // holding server's).
    let nofile = rdptap::runtime::limits::raise_open_file_limit().unwrap_or(1024);
    let env = env::Env::new(opts.relay)?;
    env::print_header(&opts, &env, nofile);

    let relay = if opts.relay {
        let script = Arc::new(script::Script::from_fixture()?);
        let raw = traffic::throughput(&env, &opts, &script, false)?;
        let rdp = traffic::throughput(&env, &opts, &script, true)?;
        let lat = [
            latency::latency(&env, &opts, &script, true)?,
            latency::latency(&env, &opts, &script, false)?,
        ];
        let conns = opts.conns.min((nofile.saturating_sub(64) / 2) as usize);
        if conns < opts.conns {
            println!(
                "note: the open-file limit ({nofile}) allows only {conns} idle connections, not {}; raise it with ulimit -n",
                opts.conns
            );
        }
        let rss = memory::idle_rss(&env, &script, conns)?;
        Some((raw, rdp, lat, rss))
    } else {
        None
    };
    // A failure here must not throw away the relay results already measured: they
    // are printed, then the run still fails.
    let tls = opts.intercept.then(|| intercept::run(&env, &opts));
    let gw = opts.gateway.then(|| gateway::run(&env, &opts));
    let cap = if opts.capture {
        Some(script::Script::from_fixture().and_then(|s| capture::run(&env, &opts, &Arc::new(s))))
    } else {
        None
    };
    let an = opts.analyze.then(|| analyze::run(&env, &opts));
    let pc = opts.pieces.then(|| pieces::run(&env, &opts));
    let idle = opts.idle.then(|| idle::run(&env, &opts));
    let soaks: Vec<Res<soak::Soak>> = opts
        .soak
        .iter()
        .map(|v| soak::run(&env, &opts, *v))
        .collect();

    println!();
    if let Some((raw, rdp, lat, rss)) = &relay {
        report::print_throughput(&opts, "raw bytes", raw);
        report::print_throughput(
            &opts,
            "RDP-shaped: X.224 CR/CC, TLS 1.2 handshake, then 16 KiB application-data records",
            rdp,
        );
        for l in lat {
            report::print_latency(&opts, l);
        }
        report::print_rss(rss);
    }
    if let Some(Ok(t)) = &tls {
        intercept::print(&opts, t);
    }
    if let Some(Ok(g)) = &gw {
        gateway::print(&opts, g);
    }
    if let Some(Ok(c)) = &cap {
        capture::print(&opts, c);
    }
    if let Some(Ok(a)) = &an {
        analyze::print(&opts, a);
    }
    if let Some(Ok(p)) = &pc {
        pieces::print(&opts, p);
    }
    if let Some(Ok(i)) = &idle {
        idle::print(i);
    }
    for s in soaks.iter().flatten() {
        soak::print(s);
    }
    println!("Targets");
    if let Some((raw, rdp, lat, rss)) = &relay {
        report::print_targets(raw, rdp, lat, rss);
    }
    let mut failed = Vec::new();
    section_targets(&tls, "interception", intercept::print_targets, &mut failed);
    section_targets(&gw, "gateway mode", gateway::print_targets, &mut failed);
    section_targets(&cap, "packet capture", capture::print_targets, &mut failed);
    section_targets(&an, "offline analysis", analyze::print_targets, &mut failed);
    section_targets(
        &pc,
        "frames in 1-byte pieces",
        pieces::print_targets,
        &mut failed,
    );
    section_targets(&idle, "idle connections", idle::print_targets, &mut failed);
    for (v, s) in opts.soak.iter().zip(soaks) {
        let name = format!("soak {}", v.name());
        section_targets(&Some(s), &name, soak::print_targets, &mut failed);
    }
    if !failed.is_empty() {
        return Err(failed.join("\n").into());
    }
    Ok(())
}

/// A section's target lines, or a line saying it failed (its error is kept for the end).
#[cfg(target_os = "linux")]
fn section_targets<T>(
    result: &Option<Res<T>>,
    name: &str,
    print: fn(&T),
    failed: &mut Vec<String>,
) {
    match result {
        Some(Ok(t)) => print(t),
        Some(Err(e)) => {
            println!("  n/a   {name}: the section failed (the error follows)");
            failed.push(format!("{name} section: {e}"));
        }
        None => {}
    }
}
