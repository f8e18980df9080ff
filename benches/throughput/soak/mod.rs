//! The soak: N concurrent RDP-shaped sessions through one rdptap for a while, a third of
//! them against faulty peers, with rdptap's event file followed live. When a session
//! ends the next one starts in its slot, so N stay open. It measures what the issue
//! asks: healthy sessions lost or corrupted, how soon after its end each connection's
//! verdict line appears in the file, rdptap's VmRSS over time and its descriptors at the
//! start and the end.
//!
//! Three variants: `plain` (rdptap relays the RDP-over-TLS shape untouched),
//! `intercept` (real TLS that `rdptap --intercept` terminates) and `gateway` (MS-TSGU
//! tunnels through `rdptap proxy --gateway` and `rdptap lab gateway`).
//!
//! Layout: `plan` (kinds, rounds and bytes of a session), `upstream` (the host's side),
//! `client` (sessions in front of rdptap, plain and TLS), `gw` (sessions through the
//! gateway), `events` (the event file, followed), `report` (figures and targets).

pub(crate) mod client;
mod events;
mod gw;
mod plan;
mod report;
pub(crate) mod upstream;

pub(crate) use report::{print, print_targets};

use crate::env::Env;
use crate::peers::Relay;
use crate::script::Script;
use crate::upstream::free_port;
use crate::{Opts, Res};
use client::Rec;
use events::{Events, Index};
use plan::{Framing, Kind, Plan};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use upstream::{Shared, Upstream};

/// rdptap's timers for the soak, and why: a 2 s linger keeps the end of the run short
/// (a real client closes both ways within milliseconds); the idle timeout is above the
/// healthy sessions' longest pause (0.9 s) many times over, and below the hang fault's
/// 20 s, so rdptap is the one that ends a hang.
const LINGER_S: u64 = 2;
const IDLE_S: u64 = 15;
const CONNECT_S: u64 = 2;
/// How long after the last session started the stragglers may run.
const STRAGGLE: Duration = Duration::from_secs(150);

/// Which rdptap the soak goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Plain,
    Intercept,
    Gateway,
}

impl Variant {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Intercept => "intercept",
            Variant::Gateway => "gateway",
        }
    }

    fn faults(self) -> &'static [Kind] {
        match self {
            Variant::Gateway => &gw::FAULTS,
            _ => &Kind::FAULTS,
        }
    }

    fn conns(self, o: &Opts) -> usize {
        match self {
            Variant::Plain => o.soak_conns,
            Variant::Intercept => o.soak_tls_conns,
            Variant::Gateway => o.soak_gw_conns,
        }
    }
}

/// CPU seconds spent during the load.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cpu {
    pub(crate) rdptap: f64,
    pub(crate) bench: f64,
    pub(crate) lab: Option<f64>,
    pub(crate) wall: f64,
}

/// Everything one soak run measured.
pub(crate) struct Soak {
    pub(crate) variant: Variant,
    pub(crate) conns: usize,
    pub(crate) secs: u64,
    /// rdptap's command line.
    pub(crate) command: String,
    pub(crate) linger: f64,
    pub(crate) recs: Vec<Rec>,
    /// Sessions still running when the run gave up waiting for them.
    pub(crate) unfinished: u64,
    pub(crate) index: Index,
    /// Problems the upstream saw on healthy sessions, by session number.
    pub(crate) problems: HashMap<u64, String>,
    /// When the upstream closed each session's connection.
    pub(crate) up_closed: HashMap<u64, f64>,
    /// VmRSS samples during the load: seconds since its start, KiB.
    pub(crate) rss: Vec<(f64, u64)>,
    /// VmRSS at the start and after the drain.
    pub(crate) rss_start: u64,
    pub(crate) rss_end: u64,
    /// Open descriptors at the start and after the drain.
    pub(crate) fds: (usize, usize),
    pub(crate) cpu: Cpu,
    /// Sessions open at each sample.
    pub(crate) active: Vec<usize>,
    /// Windows in which the upstream's listener was closed for refusals.
    pub(crate) windows: u64,
    /// Seconds from the end of the load until every verdict was out.
    pub(crate) drain: f64,
    /// `--soak-retry-ms`: a faulty slot's pause before its next session.
    pub(crate) retry_ms: u64,
    /// Connections the kernel dropped for a full listen queue during the run.
    pub(crate) overflows: Option<u64>,
}

pub(crate) fn fd_count(pid: i32) -> Res<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Whether `rdptap proxy --help` lists `opt`: options other branches add are passed
/// only to a build that has them.
pub(crate) fn has_option(env: &Env, opt: &str) -> bool {
    Command::new(&env.rdptap)
        .args(["proxy", "--help"])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(opt))
        .unwrap_or(false)
}

pub(crate) fn run(env: &Env, opts: &Opts, v: Variant) -> Res<Soak> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(env, opts, v))
}

async fn run_async(env: &Env, opts: &Opts, v: Variant) -> Res<Soak> {
    let n = v.conns(opts);
    let secs = opts.soak_secs;
    let script = Arc::new(Script::from_fixture()?);
    let ca = if v == Variant::Plain {
        None
    } else {
        Some(crate::intercept::ca_init(env)?)
    };
    let mut pin = None;
    let (tls, framing) = match v {
        Variant::Intercept => {
            let (cfg, cert) = crate::tls_peer::server_config_and_cert()?;
            let sha = ring::digest::digest(&ring::digest::SHA256, &cert);
            pin = Some(
                sha.as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            );
            let acc = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
            (Some(acc), Framing::FastPath)
        }
        _ => (None, Framing::Records),
    };
    let shared = Arc::new(Shared::new(script.clone(), tls, framing));
    let up = Arc::new(Upstream::start(shared.clone()).await?);
    let events_path = env.tmp.join(format!("soak-{}.jsonl", v.name()));
    let port = free_port()?;
    let mut args: Vec<String> = vec!["proxy".into()];
    let mut lab = None;
    let mut gw_target = None;
    match v {
        Variant::Gateway => {
            let ca = ca.as_ref().ok_or("no CA")?;
            let lab_port = free_port()?;
            let mut cmd = Command::new(&env.rdptap);
            cmd.args(["lab", "gateway", "--listen"])
                .arg(format!("127.0.0.1:{lab_port}"))
                .arg("--target")
                .arg(format!("127.0.0.1:{}", up.port))
                .args(["--route-by-resource", "--auth", "none", "--ca-dir"])
                .arg(ca);
            let l = tokio::task::block_in_place(|| {
                Relay::spawn("soak-lab-gateway", cmd, lab_port, env)
            })?;
            lab = Some(l);
            args.extend(["--gateway".into(), format!("127.0.0.1:{lab_port}")]);
            args.extend(["--ca-dir".into(), ca.display().to_string()]);
            let pem = ca.join("rdptap-ca.pem");
            args.extend(["--trust".into(), pem.display().to_string()]);
            gw_target = Some(pem);
        }
        Variant::Plain => args.extend(["--target".into(), format!("127.0.0.1:{}", up.port)]),
        Variant::Intercept => {
            // The host's certificate names localhost and is pinned, as an admin would
            // set rdptap up for a host it knows: healthy sessions then have nothing
            // to warn about.
            let ca = ca.as_ref().ok_or("no CA")?;
            args.extend(["--target".into(), format!("localhost:{}", up.port)]);
            args.extend(["--connect".into(), format!("127.0.0.1:{}", up.port)]);
            args.extend(["--pin".into(), pin.unwrap_or_default()]);
            args.extend([
                "--intercept".into(),
                "--ca-dir".into(),
                ca.display().to_string(),
            ]);
        }
    }
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    args.extend(["-q".into(), "--events".into()]);
    args.push(events_path.display().to_string());
    for (opt, val) in [
        ("--linger", LINGER_S),
        ("--idle-timeout", IDLE_S),
        ("--connect-timeout", CONNECT_S),
    ] {
        args.extend([opt.into(), format!("{val}s")]);
    }
    // Connections in linger or being judged come on top of the sessions open, and the
    // HTTP transport opens two per session.
    if has_option(env, "--max-connections") {
        args.extend(["--max-connections".into(), (3 * n + 64).to_string()]);
    }
    args.extend(opts.soak_args.iter().cloned());
    let mut cmd = Command::new(&env.rdptap);
    cmd.args(&args);
    let name = match v {
        Variant::Plain => "soak-rdptap-plain",
        Variant::Intercept => "soak-rdptap-intercept",
        Variant::Gateway => "soak-rdptap-gateway",
    };
    let relay = tokio::task::block_in_place(|| Relay::spawn(name, cmd, port, env))?;
    let pid = relay.pid();
    let command = format!("rdptap {}", args.join(" "));
    let events = Events::follow(&events_path)?;
    // The readiness probe is a connection too: let it get its verdict first.
    let settle = Instant::now() + Duration::from_secs(LINGER_S + 5);
    while Instant::now() < settle {
        let done = events
            .with(|ix| !ix.conns.is_empty() && ix.conns.values().all(|c| c.verdict.is_some()));
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    events.begin_run();
    let events = Arc::new(events);
    let fds0 = fd_count(pid)?;
    let rss_start = crate::memory::vm_rss_kib(pid)?;
    let lab_pid = lab.as_ref().map(|l| l.pid() as u32);
    let cpu0 = (
        crate::cpu::seconds(Some(pid as u32)).unwrap_or(0.0),
        crate::cpu::seconds(None).unwrap_or(0.0),
        lab_pid.and_then(|p| crate::cpu::seconds(Some(p))),
    );
    let windows = Arc::new(AtomicU64::new(0));
    let session = match v {
        Variant::Gateway => {
            let pem = gw_target.as_ref().ok_or("no CA")?;
            Arc::new(Either::Gw(gw::Ctx {
                port,
                client: crate::gateway_client::GwClient::new(pem)?,
                host: up.port,
                closed: free_port()?,
                script: script.clone(),
                events: events.clone(),
            }))
        }
        _ => Arc::new(Either::Direct(client::Ctx {
            port,
            script: script.clone(),
            framing,
            events: events.clone(),
            gate: Some(client::Gate::start(up.clone(), windows.clone())),
            tls: if v == Variant::Intercept {
                Some(crate::tls_peer::TlsClient::new()?.connector())
            } else {
                None
            },
        })),
    };
    eprintln!(
        "  soak {}: {n} sessions for {secs} s through {command}",
        v.name()
    );

    // ---- the load
    let t0 = Instant::now();
    let stop_at = t0 + Duration::from_secs(secs);
    let recs = Arc::new(Mutex::new(Vec::new()));
    let active = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(1));
    let ramp = Duration::from_secs(secs / 5).min(Duration::from_secs(10));
    let faults = v.faults();
    let retry = Duration::from_millis(opts.soak_retry_ms);
    let overflows0 = listen_overflows();
    let mut slots = Vec::with_capacity(n);
    for slot in 0..n {
        let (session, recs, active, started, next) = (
            session.clone(),
            recs.clone(),
            active.clone(),
            started.clone(),
            next.clone(),
        );
        let delay = ramp * slot as u32 / n.max(1) as u32;
        slots.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // A third of the slots are faulty, each with one fault for the whole run, so
            // the mix of open sessions stays the same from start to end: a slot that
            // went through the faults in turn would swing the number of, say, zero
            // windows open at once, and rdptap's memory with it.
            let kind = if slot % 3 == 2 {
                faults[(slot / 3) % faults.len()]
            } else {
                Kind::Healthy
            };
            while Instant::now() < stop_at {
                let plan = Plan::new(next.fetch_add(1, Ordering::Relaxed), kind);
                // A faulty client tries again after a moment (--soak-retry-ms, give or
                // take half), as mstsc does: back to back, the faults that end at once
                // (early close, garbage, refusal) would be thousands of connections a
                // second from a handful of slots, a reconnect storm rather than a soak.
                let pace = if kind == Kind::Healthy {
                    Duration::ZERO
                } else {
                    retry * (50 + (plan.id * 37 % 101) as u32) / 100
                };
                let next_start = Instant::now() + pace;
                started.fetch_add(1, Ordering::Relaxed);
                active.fetch_add(1, Ordering::Relaxed);
                let rec = match &*session {
                    Either::Direct(c) => client::session(c, plan).await,
                    Either::Gw(c) => gw::session(c, plan).await,
                };
                active.fetch_sub(1, Ordering::Relaxed);
                recs.lock().unwrap().push(rec);
                tokio::time::sleep_until(next_start.min(stop_at)).await;
            }
        }));
    }
    let every = Duration::from_secs((secs / 12).clamp(1, 10));
    let mut rss = Vec::new();
    let mut conc = Vec::new();
    let mut tick = tokio::time::interval_at(t0 + every, every);
    while Instant::now() + Duration::from_millis(5) < stop_at {
        tick.tick().await;
        rss.push((
            t0.elapsed().as_secs_f64(),
            crate::memory::vm_rss_kib(pid).unwrap_or(0),
        ));
        if t0.elapsed() > ramp {
            conc.push(active.load(Ordering::Relaxed));
        }
        let done = recs.lock().unwrap().len();
        eprintln!(
            "  soak {} {:>4.0} s: {} open, {done} done, VmRSS {} KiB",
            v.name(),
            t0.elapsed().as_secs_f64(),
            active.load(Ordering::Relaxed),
            rss.last().map_or(0, |r| r.1)
        );
    }
    let cpu = Cpu {
        rdptap: crate::cpu::seconds(Some(pid as u32)).unwrap_or(0.0) - cpu0.0,
        bench: crate::cpu::seconds(None).unwrap_or(0.0) - cpu0.1,
        lab: lab_pid
            .and_then(|p| crate::cpu::seconds(Some(p)))
            .zip(cpu0.2)
            .map(|(a, b)| a - b),
        wall: t0.elapsed().as_secs_f64(),
    };

    // ---- the drain: the last sessions end, then every verdict comes out
    let t1 = Instant::now();
    let hard = tokio::time::sleep_until(stop_at + STRAGGLE);
    tokio::pin!(hard);
    for s in &mut slots {
        tokio::select! {
            _ = &mut hard => break,
            _ = &mut *s => {}
        }
    }
    for s in &slots {
        s.abort();
    }
    tokio::time::sleep(Duration::from_secs(LINGER_S + 1)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let all = events.with(|ix| ix.run_conns().iter().all(|c| ix.conns[c].verdict.is_some()));
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = t1.elapsed().as_secs_f64();
    // The last verdict is out, but rdptap closes a connection's sockets just after it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds1 = fd_count(pid)?;
    let overflows = listen_overflows().zip(overflows0).map(|(a, b)| a - b);
    let rss_end = crate::memory::vm_rss_kib(pid)?;
    drop(session);
    events.finish();
    let index = events.take_index();
    drop(relay);
    drop(lab);
    let recs = std::mem::take(&mut *recs.lock().unwrap());
    let unfinished = started.load(Ordering::Relaxed) - recs.len() as u64;
    let problems = std::mem::take(&mut *shared.problems.lock().unwrap());
    let up_closed = std::mem::take(&mut *shared.closed.lock().unwrap());
    Ok(Soak {
        variant: v,
        conns: n,
        secs,
        command,
        linger: LINGER_S as f64,
        recs,
        unfinished,
        index,
        problems,
        up_closed,
        rss,
        rss_start,
        rss_end,
        fds: (fds0, fds1),
        cpu,
        active: conc,
        windows: windows.load(Ordering::Relaxed),
        drain,
        retry_ms: opts.soak_retry_ms,
        overflows,
    })
}

/// The kernel's count of connections dropped because a listen queue was full
/// (TcpExt ListenOverflows, for the whole machine): a client then waits for its SYN to
/// be sent again, a second or more.
fn listen_overflows() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = s.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?.split_whitespace();
    let values = lines.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(n, _)| *n == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
}

/// The sessions' context, by variant.
enum Either {
    Direct(client::Ctx),
    Gw(gw::Ctx),
}
