//! The relay binaries, a scratch directory for their configs and logs, and the
//! header that says what ran where.

use crate::{Opts, Res};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;

/// The relay binaries and a scratch directory for configs and logs, removed at the end.
pub(crate) struct Env {
    pub(crate) rdptap: PathBuf,
    pub(crate) tmp: PathBuf,
}

impl Env {
    /// `relays`: whether socat and haproxy are needed (the relay comparison runs).
    pub(crate) fn new(relays: bool) -> Res<Env> {
        // The binary cargo built for this benchmark: with the bench profile it is
        // target/release/rdptap, the same file `cargo build --release` makes.
        let rdptap = match std::env::var_os("RDPTAP_BIN") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(env!("CARGO_BIN_EXE_rdptap")),
        };
        if !rdptap.exists() {
            return Err(
                format!("{} is missing; run cargo build --release", rdptap.display()).into(),
            );
        }
        let tools: &[&str] = if relays { &["socat", "haproxy"] } else { &[] };
        for &tool in tools {
            if Command::new(tool)
                .arg(if tool == "socat" { "-V" } else { "-v" })
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
            {
                return Err(format!("{tool} is not installed (apt-get install {tool})").into());
            }
        }
        let tmp = std::env::temp_dir().join(format!("rdptap-bench-{}", std::process::id()));
        fs::create_dir_all(&tmp)?;
        Ok(Env { rdptap, tmp })
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // RDPTAP_BENCH_KEEP=1 keeps the relays' logs (rdptap's verdicts among them).
        if std::env::var_os("RDPTAP_BENCH_KEEP").is_some() {
            eprintln!("relay logs kept in {}", self.tmp.display());
        } else {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// The version line of `cmd arg`: the one naming a version, else the first.
fn first_line(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines()
                .find(|l| l.to_lowercase().contains("version"))
                .or_else(|| s.lines().next())
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

pub(crate) fn print_header(opts: &Opts, env: &Env, nofile: u64) {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut cmd = "cargo bench --bench throughput".to_string();
    if !opts.extra.is_empty() {
        cmd.push_str(" -- ");
        cmd.push_str(&opts.extra.join(" "));
    }
    println!("rdptap relay benchmark");
    println!("command:  {cmd}");
    println!(
        "machine:  {cores} cores ({cpu}), Linux {}, loopback 127.0.0.1 only",
        kernel.trim()
    );
    let rdptap = format!(
        "{} ({})",
        first_line(env.rdptap.to_str().unwrap_or("rdptap"), "--version"),
        env.rdptap.display()
    );
    if opts.relay {
        println!(
            "relays:   {rdptap}; socat -b 65536 ({}); haproxy mode tcp, nbthread 2 ({})",
            first_line("socat", "-V"),
            first_line("haproxy", "-v"),
        );
        println!(
            "plan:     {} MiB of payload per run, {} runs per path interleaved (median shown); {} round trips per path; {} idle connections; open-file limit {nofile}",
            opts.mib, opts.reps, opts.rtts, opts.conns
        );
    } else {
        println!("relay:    {rdptap}");
    }
    if opts.intercept {
        println!(
            "tls plan: {} MiB each way per run, {} runs per path interleaved (median shown); {} connection setups per path; bench client and server use rustls (ring)",
            opts.tls_mib, opts.tls_reps, opts.setups
        );
    }
    if opts.gateway {
        println!(
            "gw plan:  {} MiB each way per run, {} runs per path interleaved (median shown); rdptap lab gateway --auth none, alone and behind rdptap proxy --gateway",
            opts.gw_mib, opts.gw_reps
        );
    }
    if opts.pieces {
        println!(
            "pc plan:  a 64 KiB frame in 1-byte pieces (direct: TPKT; gateway: MS-TSGU DATA in WebSocket frames or HTTP chunks) and as many relay-only pieces, {} runs per case interleaved (median shown); each piece waits for the one before to arrive",
            opts.pieces_reps
        );
    }
    if opts.analyze {
        println!(
            "an plan:  a {} MiB generated capture of RDP over TLS; {} rounds of rdptap analyze, rdptap analyze --keylog and tshark -q -z conv,tcp in turn; {}",
            opts.an_mib,
            opts.an_reps,
            crate::analyze::tshark_version()
        );
    }
    if opts.idle {
        println!(
            "idle:     {} idle connections asked through one rdptap (as many as the open-file limit allows)",
            opts.idle_conns
        );
    }
    for v in &opts.soak {
        let n = match v {
            crate::soak::Variant::Plain => opts.soak_conns,
            crate::soak::Variant::Intercept => opts.soak_tls_conns,
            crate::soak::Variant::Gateway => opts.soak_gw_conns,
        };
        println!(
            "soak:     {}, {n} concurrent sessions for {} s, a third against faulty peers{}",
            v.name(),
            opts.soak_secs,
            if opts.soak_args.is_empty() {
                String::new()
            } else {
                format!("; extra rdptap arguments: {}", opts.soak_args.join(" "))
            }
        );
    }
}
