//! Idle connections at scale: as many concurrent idle connections through one rdptap as
//! the open-file limit allows (10,000 asked), each past the X.224 CR/CC, then held. It
//! reports rdptap's VmRSS and descriptors per connection, and what the full number
//! needs when the limit is lower.
//!
//! Only rdptap should be at the limit, so the bench's sockets are spread over two
//! processes: the client ends here, the upstream ends in a helper (this benchmark's
//! binary again, run as `--bench --idle-holder PORT`).

use crate::env::Env;
use crate::memory::vm_rss_kib;
use crate::peers::Relay;
use crate::script::{expect, Script};
use crate::soak::{fd_count, has_option};
use crate::upstream::{connect, free_port};
use crate::{Opts, Res};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Descriptors kept free in each process for everything but the connections.
const MARGIN: u64 = 32;

/// What the idle section measured.
pub(crate) struct Idle {
    pub(crate) wanted: usize,
    pub(crate) held: usize,
    /// The hard RLIMIT_NOFILE every process here inherits.
    pub(crate) hard: u64,
    pub(crate) ports: (u32, u32),
    pub(crate) max_option: bool,
    /// rdptap's descriptors: started, all held, after the clients left.
    pub(crate) fds: (usize, usize, usize),
    /// Seconds until rdptap's descriptors were back after the clients left.
    pub(crate) release_secs: f64,
    pub(crate) rss_before: u64,
    pub(crate) rss_after: u64,
    /// Descriptors of this process and of the holder with every connection open.
    pub(crate) bench_fds: usize,
    pub(crate) holder_fds: usize,
    pub(crate) open_secs: f64,
}

fn hard_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed to it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    #[allow(clippy::unnecessary_cast)]
    let max = lim.rlim_max as u64;
    max
}

fn port_range() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// The helper process: holds every connection it accepts after answering its CR with
/// the CC, until it is killed.
pub(crate) fn holder(port: &str) -> Res<()> {
    rdptap::runtime::limits::raise_open_file_limit();
    let script = Script::from_fixture()?;
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    let mut held = Vec::new();
    for conn in listener.incoming() {
        let Ok(mut s) = conn else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut cr = vec![0u8; script.cr.len()];
        // A readiness probe closes without a word.
        if s.read_exact(&mut cr).is_ok() && cr == script.cr && s.write_all(&script.cc).is_ok() {
            held.push(s);
        }
    }
    Ok(())
}

pub(crate) fn run(env: &Env, opts: &Opts) -> Res<Idle> {
    let hard = hard_limit();
    let ports = port_range();
    let script = Arc::new(Script::from_fixture()?);
    let holder_port = free_port()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--bench", "--idle-holder", &holder_port.to_string()]);
    let holder = Relay::spawn("idle-holder", cmd, holder_port, env)?;
    let max_option = has_option(env, "--max-connections");
    let port = free_port()?;
    let mut cmd = Command::new(&env.rdptap);
    cmd.arg("proxy")
        .arg("--target")
        .arg(format!("127.0.0.1:{holder_port}"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-q");
    if max_option {
        cmd.arg("--max-connections")
            .arg((opts.idle_conns + 64).to_string());
    }
    let relay = Relay::spawn("idle-rdptap", cmd, port, env)?;
    let pid = relay.pid();
    thread::sleep(Duration::from_millis(500));
    let base = fd_count(pid)?;
    let own = fd_count(std::process::id() as i32)?;
    let nofile = rdptap::runtime::limits::raise_open_file_limit().unwrap_or(1024);
    // rdptap holds two descriptors per connection; this process and the holder one each.
    let by_rdptap = hard.saturating_sub(base as u64 + MARGIN) / 2;
    let by_bench = nofile.saturating_sub(own as u64 + MARGIN);
    let by_holder = hard.saturating_sub(MARGIN * 2);
    // Each leg's connections share one destination, so each leg may use every port.
    let by_ports = u64::from(ports.1.saturating_sub(ports.0) + 1).saturating_sub(1000);
    let held = (opts.idle_conns as u64)
        .min(by_rdptap)
        .min(by_bench)
        .min(by_holder)
        .min(by_ports) as usize;
    if held < opts.idle_conns {
        eprintln!(
            "  idle: the limits allow {held} of {} connections (rdptap {by_rdptap}, this process {by_bench}, holder {by_holder}, ports {by_ports})",
            opts.idle_conns
        );
    }
    let rss_before = vm_rss_kib(pid)?;
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(held);
    for i in 0..held {
        let mut s = connect(port).map_err(|e| format!("idle connection {i}: {e}"))?;
        s.write_all(&script.cr)?;
        expect(&mut s, &script.cc).map_err(|e| format!("idle connection {i}: {e}"))?;
        clients.push(s);
    }
    let open_secs = t0.elapsed().as_secs_f64();
    thread::sleep(Duration::from_secs(2));
    let rss_after = vm_rss_kib(pid)?;
    let fds_held = fd_count(pid)?;
    let bench_fds = fd_count(std::process::id() as i32)?;
    let holder_fds = fd_count(holder.pid())?;
    eprintln!(
        "  {held} idle connections: VmRSS {rss_before} → {rss_after} KiB, rdptap descriptors {base} → {fds_held}"
    );
    drop(clients);
    // rdptap passes each FIN on; the holder keeps its end open, so each connection ends
    // at rdptap's linger (5 s by default) at the latest.
    let t1 = Instant::now();
    let mut fds_after = fd_count(pid)?;
    while fds_after > base && t1.elapsed() < Duration::from_secs(30) {
        thread::sleep(Duration::from_millis(200));
        fds_after = fd_count(pid)?;
    }
    let release_secs = t1.elapsed().as_secs_f64();
    drop(relay);
    drop(holder);
    Ok(Idle {
        wanted: opts.idle_conns,
        held,
        hard,
        ports,
        max_option,
        fds: (base, fds_held, fds_after),
        release_secs,
        rss_before,
        rss_after,
        bench_fds,
        holder_fds,
        open_secs,
    })
}

pub(crate) fn print(r: &Idle) {
    let per = (r.rss_after as f64 - r.rss_before as f64) / r.held.max(1) as f64;
    println!(
        "Idle connections: {} of {} asked, through one rdptap (CR/CC relayed once, then idle)",
        r.held, r.wanted
    );
    println!(
        "  opened one after another in {:.1} s; rdptap VmRSS {:.1} → {:.1} MiB: {per:.1} KiB per connection (both legs)",
        r.open_secs,
        r.rss_before as f64 / 1024.0,
        r.rss_after as f64 / 1024.0
    );
    println!(
        "  rdptap descriptors: {} at start, {} with every connection held ({:.2} per connection), {} {:.1} s after the clients left",
        r.fds.0,
        r.fds.1,
        (r.fds.1 - r.fds.0) as f64 / r.held.max(1) as f64,
        r.fds.2,
        r.release_secs
    );
    println!(
        "  load generator descriptors: {} in this process (client ends), {} in the holder process (upstream ends)",
        r.bench_fds, r.holder_fds
    );
    let range = r.ports.1 - r.ports.0 + 1;
    println!(
        "  limits here: hard RLIMIT_NOFILE {} (rdptap raises its soft limit to it); ephemeral ports {}–{} ({range} per destination, and each leg has one destination)",
        r.hard, r.ports.0, r.ports.1
    );
    let need = 2 * r.wanted as u64 + r.fds.0 as u64 + MARGIN;
    println!(
        "  {} idle connections need: rdptap's RLIMIT_NOFILE ≥ {need} (2 per connection + {} at start + {MARGIN}), e.g. `ulimit -Hn {need}` before starting it, `LimitNOFILE={need}` in its systemd unit or `--ulimit nofile={need}` for a container (raising the hard limit needs root or CAP_SYS_RESOURCE); {}; the load generator ≥ {} per process with client and upstream ends in separate processes (≥ {} in one); {} ephemeral ports per destination (have {range})",
        r.wanted,
        r.fds.0,
        if r.max_option {
            format!("--max-connections ≥ {}", r.wanted)
        } else {
            "no connection cap in this build".into()
        },
        r.wanted as u64 + MARGIN,
        2 * r.wanted as u64 + MARGIN,
        r.wanted
    );
    println!(
        "  on Windows there is no descriptor limit to raise (a socket is a handle, and a process may hold about 16 million); what counts there is --max-connections ≥ {} and the dynamic port range, 49152–65535 by default (16,384 per destination): `netsh int ipv4 show dynamicport tcp` shows it, `netsh int ipv4 set dynamicport tcp start=10000 num=55536` widens it",
        r.wanted
    );
    if r.held < r.wanted {
        println!(
            "  note: only {} connections fit under this machine's hard limit of {}; the figures above are for those",
            r.held, r.hard
        );
    }
    println!();
}

/// The idle section's line of the targets list (the issue sets no number: a report).
pub(crate) fn print_targets(r: &Idle) {
    let per = (r.rss_after as f64 - r.rss_before as f64) / r.held.max(1) as f64;
    let all = r.fds.1 >= r.fds.0 + 2 * r.held;
    println!(
        "  {}  idle: {} of {} connections held ({} descriptors for them in rdptap), {per:.1} KiB VmRSS per connection; descriptors back to {} after they left (from {})",
        if r.held == r.wanted && all && r.fds.2 == r.fds.0 {
            "PASS"
        } else if all && r.fds.2 == r.fds.0 {
            "LIMIT"
        } else {
            "MISS"
        },
        r.held,
        r.wanted,
        r.fds.1 - r.fds.0,
        r.fds.2,
        r.fds.0
    );
}
