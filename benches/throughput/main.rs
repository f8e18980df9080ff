//! Compares rdptap's relay with no relay, socat and haproxy on loopback, in one run:
//! bulk throughput (raw bytes and an RDP-shaped stream that keeps rdptap's decoders
//! busy), added round-trip latency of small messages, and memory per idle connection.
//!
//! It prints ratios against the direct path measured in the same run, because the
//! absolute numbers depend on the machine. Run it with `benches/run.sh`, or
//! `cargo build --release && cargo bench --bench throughput`. Options go after `--`:
//! `--mib N` (bulk size per run, default 1024), `--reps N` (runs per path, default 3),
//! `--rtts N` (timed round trips per path, default 20000), `--conns N` (idle
//! connections, default 2000).
//!
//! Layout: `env` (binaries, scratch directory, header), `script` (the RDP opening cut
//! from the fixture), `upstream` (the servers every path ends at), `peers` (the relay
//! processes), `traffic`, `latency` and `memory` (the measurements), `report` (tables
//! and targets).

fn main() {
    // `cargo test --all-targets` also runs harness = false benches, but without
    // `--bench`; only `cargo bench` passes it. Anything else must return at once so
    // the test suite never pushes gigabytes or spawns relays.
    if !std::env::args().any(|a| a == "--bench") {
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
mod env;
#[cfg(target_os = "linux")]
mod latency;
#[cfg(target_os = "linux")]
mod memory;
#[cfg(target_os = "linux")]
mod peers;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod script;
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
    mib: u64,
    reps: usize,
    rtts: usize,
    warmup: usize,
    conns: usize,
    extra: Vec<String>,
}

#[cfg(target_os = "linux")]
fn parse_opts() -> Res<Opts> {
    let mut o = Opts {
        mib: 1024,
        reps: 3,
        rtts: 20_000,
        warmup: 2_000,
        conns: 2_000,
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
            // cargo passes a name filter through as a bare word; there is only one
            // benchmark here, so it is ignored.
            s if !s.starts_with('-') => {}
            s => {
                return Err(
                    format!("unknown option {s} (known: --mib, --reps, --rtts, --conns)").into(),
                )
            }
        }
    }
    Ok(o)
}

#[cfg(target_os = "linux")]
fn run() -> Res<()> {
    use std::sync::Arc;

    let opts = parse_opts()?;
    // 2,000 idle connections need 4,000 descriptors here (client ends plus the
    // holding server's).
    let nofile = rdptap::cli::limits::raise_open_file_limit().unwrap_or(1024);
    let env = env::Env::new()?;
    let script = Arc::new(script::Script::from_fixture()?);
    env::print_header(&opts, &env, nofile);

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

    println!();
    report::print_throughput(&opts, "raw bytes", &raw);
    report::print_throughput(
        &opts,
        "RDP-shaped: X.224 CR/CC, TLS 1.2 handshake, then 16 KiB application-data records",
        &rdp,
    );
    for l in &lat {
        report::print_latency(&opts, l);
    }
    report::print_rss(&rss);
    report::print_targets(&raw, &rdp, &lat, &rss);
    Ok(())
}
