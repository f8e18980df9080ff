//! Full packet capture: the same RDP-shaped bulk transfer through rdptap without a
//! trace and with `--pcap` (both raw legs written, to a file in the scratch directory,
//! on the same disk), interleaved, as a ratio of medians.

use crate::env::Env;
use crate::peers::{start_rdptap, start_rdptap_with};
use crate::report::{median, verdict};
use crate::script::{bulk_chunk, Script};
use crate::traffic::push;
use crate::upstream::{Role, Upstream};
use crate::{Opts, Res};
use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Duration;

/// The paths of this section, in table order.
const PATHS: [&str; 2] = ["rdptap", "rdptap --pcap"];

/// GB/s per path, one sample per run, and the trace size of the last capture run.
pub(crate) struct Capture {
    bytes: u64,
    gbps: [Vec<f64>; 2],
    trace: u64,
}

pub(crate) fn run(env: &Env, opts: &Opts, script: &Arc<Script>) -> Res<Capture> {
    let up = Upstream::start(Role::Sink { rdp: true }, script)?;
    let pcap = env.tmp.join("bench.pcapng");
    let plain = start_rdptap(env, up.port)?;
    // One file per connection, removed after its run: the disk does not fill over the
    // runs, and each run writes into page cache the kernel has already handed out
    // (on a virtual machine, memory touched for the first time costs far more than
    // the copy itself).
    let capturing = start_rdptap_with(
        env,
        up.port,
        "rdptap-pcap",
        &[
            OsStr::new("--pcap"),
            pcap.as_os_str(),
            OsStr::new("--pcap-split"),
        ],
    )?;
    let ports = [plain.port, capturing.port];
    let chunk = bulk_chunk(true);
    let mut conn = 0;
    for &p in &ports {
        push(p, script, true, &chunk, opts.cap_mib, &up)?;
    }
    conn += 1;
    remove_trace(&pcap, conn);
    let mut gbps: [Vec<f64>; 2] = Default::default();
    let mut bytes = 0;
    let mut trace = 0;
    for rep in 0..opts.cap_reps {
        for (i, &p) in ports.iter().enumerate() {
            let (n, secs) = push(p, script, true, &chunk, opts.cap_mib, &up)?;
            bytes = n;
            let g = n as f64 / secs / 1e9;
            eprintln!(
                "  capture run {}/{} {:<14} {g:6.2} GB/s",
                rep + 1,
                opts.cap_reps,
                PATHS[i]
            );
            gbps[i].push(g);
            if i == 1 {
                conn += 1;
                trace = remove_trace(&pcap, conn);
            }
        }
    }
    drop(capturing);
    drop(plain);
    Ok(Capture { bytes, gbps, trace })
}

/// Removes connection `conn`'s trace once rdptap has closed it; returns its size.
fn remove_trace(pattern: &std::path::Path, conn: u64) -> u64 {
    let f = rdptap::record::capture::split_path(pattern, conn);
    // rdptap closes the file when the connection's verdict is written, just after
    // the relay ends.
    for _ in 0..100 {
        if let Ok(m) = std::fs::metadata(&f) {
            std::thread::sleep(Duration::from_millis(50));
            let _ = std::fs::remove_file(&f);
            return m.len();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    0
}

pub(crate) fn print(opts: &Opts, c: &Capture) {
    println!(
        "Full packet capture (--pcap, both raw legs; RDP-shaped stream), {} MiB per run, {} runs, median GB/s",
        c.bytes >> 20,
        opts.cap_reps
    );
    let base = median(&c.gbps[0]);
    for (i, p) in PATHS.iter().enumerate() {
        let m = median(&c.gbps[i]);
        println!("  {p:<14} {m:6.2} GB/s   {:.2}×", m / base);
    }
    println!(
        "  trace written per capture run: {:.0} MiB (about two bytes per relayed byte: one per leg)",
        c.trace as f64 / (1 << 20) as f64
    );
    println!();
}

pub(crate) fn print_targets(c: &Capture) {
    let r = median(&c.gbps[1]) / median(&c.gbps[0]);
    println!(
        "  {}  full capture throughput {r:.2}× the relay without capture (target ≥ 0.5×)",
        verdict(r >= 0.5)
    );
}
