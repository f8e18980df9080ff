//! The tables and the targets, printed after every measurement has run.

use crate::latency::Lat;
use crate::memory::Rss;
use crate::script::PING;
use crate::traffic::Throughput;
use crate::{Opts, PATHS};

const LAT_TARGET_US: f64 = 25.0;
const RSS_TARGET_KIB: f64 = 32.0;

pub(crate) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

pub(crate) fn pct(sorted: &[u64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)] as f64 / 1e3
}

pub(crate) fn print_throughput(opts: &Opts, title: &str, t: &Throughput) {
    println!("Throughput, {title}");
    println!(
        "  {:.3} GB per run ({} MiB of payload), GB/s (10^9 bytes/s), median of {}",
        t.bytes as f64 / 1e9,
        opts.mib,
        opts.reps
    );
    println!("  {:<8} {:>7} {:>10}   runs", "path", "GB/s", "vs direct");
    let direct = median(&t.gbps[0]);
    for (i, name) in PATHS.iter().enumerate() {
        let m = median(&t.gbps[i]);
        let runs: Vec<String> = t.gbps[i].iter().map(|g| format!("{g:.2}")).collect();
        println!(
            "  {name:<8} {m:>7.2} {:>9.2}×   {}",
            m / direct,
            runs.join(" ")
        );
    }
    println!();
}

pub(crate) struct Pcts {
    pub(crate) p50: f64,
    p99: f64,
}

pub(crate) fn lat_stats(samples: &[Vec<u64>; 4]) -> Vec<Pcts> {
    samples
        .iter()
        .map(|v| {
            let mut s = v.clone();
            s.sort_unstable();
            Pcts {
                p50: pct(&s, 50),
                p99: pct(&s, 99),
            }
        })
        .collect()
}

fn placement(l: &Lat) -> String {
    match l.cpu {
        Some(c) => format!("client, echo server and relay all pinned to CPU {c}"),
        None => "placed by the scheduler (unpinned)".to_string(),
    }
}

pub(crate) fn print_latency(opts: &Opts, l: &Lat) {
    let st = lat_stats(&l.samples);
    println!(
        "Round trip, {PING}-byte TLS record echoed after the RDP opening, {}",
        placement(l)
    );
    println!(
        "  {} round trips per path after {} warm-up, paths taken in turn; µs",
        l.samples[0].len(),
        opts.warmup
    );
    println!(
        "  {:<8} {:>8} {:>8} {:>10} {:>10}",
        "path", "p50", "p99", "added p50", "added p99"
    );
    for (i, name) in PATHS.iter().enumerate() {
        let (a50, a99) = if i == 0 {
            ("-".to_string(), "-".to_string())
        } else {
            (
                format!("{:+.1}", st[i].p50 - st[0].p50),
                format!("{:+.1}", st[i].p99 - st[0].p99),
            )
        };
        println!(
            "  {name:<8} {:>8.1} {:>8.1} {a50:>10} {a99:>10}",
            st[i].p50, st[i].p99
        );
    }
    println!();
}

fn per_conn_kib(r: &Rss) -> f64 {
    (r.after_kib as f64 - r.before_kib as f64) / r.conns as f64
}

pub(crate) fn print_rss(r: &Rss) {
    println!(
        "Memory, {} idle connections through rdptap (CR/CC relayed once, then idle)",
        r.conns
    );
    println!(
        "  VmRSS {:.1} MiB before, {:.1} MiB after: {:.1} KiB per connection (both legs)",
        r.before_kib as f64 / 1024.0,
        r.after_kib as f64 / 1024.0,
        per_conn_kib(r)
    );
    println!();
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The relay comparison's lines of the targets list.
pub(crate) fn print_targets(raw: &Throughput, rdp: &Throughput, lat: &[Lat], rss: &Rss) {
    for (kind, t) in [("raw", raw), ("RDP-shaped", rdp)] {
        let (socat, haproxy) = (median(&t.gbps[2]), median(&t.gbps[3]));
        let (best, name) = if socat >= haproxy {
            (socat, "socat")
        } else {
            (haproxy, "haproxy")
        };
        let ratio = median(&t.gbps[1]) / best;
        println!(
            "  {}  throughput {kind}: rdptap {ratio:.2}× {name} (the faster), target ≥ 1.00× (margin {:+.0}%)",
            verdict(ratio >= 1.0),
            (ratio - 1.0) * 100.0
        );
    }
    for l in lat {
        let st = lat_stats(&l.samples);
        let added = st[1].p50 - st[0].p50;
        println!(
            "  {}  added latency p50 ({}): rdptap {added:+.1} µs, target ≤ {LAT_TARGET_US:.0} µs (margin {:+.1} µs)",
            verdict(added <= LAT_TARGET_US),
            if l.cpu.is_some() { "one CPU" } else { "unpinned" },
            LAT_TARGET_US - added
        );
    }
    let kib = per_conn_kib(rss);
    println!(
        "  {}  memory per idle connection: rdptap {kib:.1} KiB, target ≤ {RSS_TARGET_KIB:.0} KiB (margin {:+.1} KiB)",
        verdict(kib <= RSS_TARGET_KIB),
        RSS_TARGET_KIB - kib
    );
}
