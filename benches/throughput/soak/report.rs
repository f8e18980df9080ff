//! The soak's figures and its targets: each session matched to its connections in the
//! event file, the verdict delays, the memory curve and the descriptors.

use super::client::Outcome;
use super::plan::Kind;
use super::Soak;
use crate::report::verdict;
use std::collections::BTreeMap;

/// Most seconds between a connection's end and its verdict line in the file.
const VERDICT_TARGET: f64 = 1.0;
/// Most VmRSS growth over the last window of the load.
const RSS_TARGET: f64 = 0.10;
/// The window the RSS target looks at, at most.
const RSS_WINDOW: f64 = 300.0;

type PerKind = (usize, BTreeMap<String, usize>, BTreeMap<String, usize>, f64);

/// What is derived from one run.
struct Derived {
    healthy: usize,
    verified: usize,
    corrupted: Vec<String>,
    lost: Vec<String>,
    /// Connections of the run and those with a verdict.
    conns: usize,
    judged: usize,
    /// Seconds from each connection's end to its verdict line being in the file.
    delays: Vec<f64>,
    /// The same, from the verdict's own timestamp.
    stamped: Vec<f64>,
    /// Seconds from the bench's close to rdptap's last end event, linger taken off.
    end_lag: Vec<f64>,
    /// Sessions whose connection rdptap never reported.
    unmatched: usize,
    /// Per kind: sessions, outcomes, verdict causes, and the sum of their lengths (s).
    kinds: BTreeMap<Kind, PerKind>,
}

fn derive(s: &Soak) -> Derived {
    let ix = &s.index;
    let mut d = Derived {
        healthy: 0,
        verified: 0,
        corrupted: Vec::new(),
        lost: Vec::new(),
        conns: 0,
        judged: 0,
        delays: Vec::new(),
        stamped: Vec::new(),
        end_lag: Vec::new(),
        unmatched: 0,
        kinds: BTreeMap::new(),
    };
    for r in &s.recs {
        let k = d.kinds.entry(r.kind).or_default();
        k.0 += 1;
        k.3 += r.end - r.start;
        let label = match &r.outcome {
            Outcome::Verified => "verified byte for byte".to_string(),
            Outcome::Corrupted(_) => "CORRUPTED".to_string(),
            Outcome::Lost(_) => "lost".to_string(),
            Outcome::Fault(f) => f.to_string(),
        };
        *k.1.entry(label).or_default() += 1;
        if r.kind == Kind::Healthy {
            d.healthy += 1;
            match &r.outcome {
                Outcome::Verified => d.verified += 1,
                Outcome::Corrupted(e) => d.corrupted.push(format!("session {}: {e}", r.id)),
                Outcome::Lost(e) => d.lost.push(format!("session {}: {e}", r.id)),
                Outcome::Fault(e) => d.lost.push(format!("session {}: {e}", r.id)),
            }
        }
        let closed = s.up_closed.get(&r.id).copied().unwrap_or(0.0).max(r.end);
        // In gateway mode the session verdict is the one to read; connections that
        // never named a tunnel have only their own.
        let sessions: Vec<&String> = r
            .claims
            .iter()
            .filter_map(|c| ix.conns.get(&ix.resolve(c)?)?.session_cause.as_ref())
            .collect();
        for cause in &sessions {
            *k.2.entry((*cause).clone()).or_default() += 1;
        }
        for c in &r.claims {
            let Some(id) = ix.resolve(c) else {
                d.unmatched += 1;
                continue;
            };
            let Some(c) = ix.conns.get(&id) else { continue };
            if let (true, Some((_, _, cause))) = (sessions.is_empty(), &c.verdict) {
                *k.2.entry(cause.clone()).or_default() += 1;
            }
            if let Some(end) = c.end_ts {
                let linger = if c.ends.iter().any(|h| h == "linger") {
                    s.linger
                } else {
                    0.0
                };
                d.end_lag.push(end - closed - linger);
            }
        }
    }
    for id in ix.run_conns() {
        let c = &ix.conns[&id];
        d.conns += 1;
        let Some((ts, seen, _)) = c.verdict else {
            continue;
        };
        d.judged += 1;
        let end = c.end_ts.unwrap_or(ts);
        d.delays.push(seen - end);
        d.stamped.push(ts - end);
    }
    for v in [&mut d.delays, &mut d.stamped, &mut d.end_lag] {
        v.sort_by(f64::total_cmp);
    }
    d
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// The RSS window's first and last samples and its peak, KiB, and the window's length.
fn rss_window(s: &Soak) -> Option<(f64, u64, u64, u64)> {
    let last = s.rss.last()?;
    let window = RSS_WINDOW.min(s.secs as f64 / 2.0);
    let from = last.0 - window;
    let base = s
        .rss
        .iter()
        .rev()
        .find(|r| r.0 <= from + 0.5)
        .or(s.rss.first())?;
    let peak = s.rss.iter().filter(|r| r.0 >= base.0).map(|r| r.1).max()?;
    Some((last.0 - base.0, base.1, last.1, peak))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub(crate) fn print(s: &Soak) {
    let d = derive(s);
    let total = s.recs.len();
    println!(
        "Soak, {}: {} concurrent sessions for {} s, a third of them faulty",
        s.variant.name(),
        s.conns,
        s.secs
    );
    println!("  {}", s.command);
    let mean = if s.active.is_empty() {
        0.0
    } else {
        s.active.iter().sum::<usize>() as f64 / s.active.len() as f64
    };
    println!(
        "  {total} sessions ended ({:.1}/s), {} still running when the run stopped waiting; sessions open at each sample after the ramp-up: mean {mean:.0}, min {} ({} slots: {} healthy, {} faulty)",
        total as f64 / s.cpu.wall.max(1e-9),
        s.unfinished,
        s.active.iter().min().unwrap_or(&0),
        s.conns,
        s.conns - s.conns / 3,
        s.conns / 3
    );
    println!(
        "  {:<17} {:>8} {:>8}   how they ended (client side) / rdptap's {} verdicts",
        "kind",
        "sessions",
        "mean s",
        if s.variant == super::Variant::Gateway {
            "gateway_session"
        } else {
            "connection"
        }
    );
    for (k, (n, outcomes, causes, secs)) in &d.kinds {
        let o: Vec<String> = outcomes.iter().map(|(l, c)| format!("{l} {c}")).collect();
        let mut cs: Vec<(&String, &usize)> = causes.iter().collect();
        cs.sort_by(|a, b| b.1.cmp(a.1));
        let c: Vec<String> = cs.iter().take(4).map(|(l, c)| format!("{l} {c}")).collect();
        println!(
            "  {:<17} {n:>8} {:>8.1}   {} / {}",
            k.name(),
            secs / *n as f64,
            o.join(", "),
            c.join(", ")
        );
    }
    if s.retry_ms > 0 {
        println!(
            "  each faulty client waited about {} ms (±50%) after a session before its next (--soak-retry-ms), so fewer sessions than slots are open at a time",
            s.retry_ms
        );
    }
    if let Some(o) = s.overflows.filter(|o| *o > 0) {
        println!(
            "  the kernel dropped {o} connection attempts for a full listen queue during the run (TcpExt ListenOverflows, whole machine); each waits a second or more for its SYN to go again"
        );
    }
    if s.windows > 0 {
        println!(
            "  refusals: the upstream's listener was closed {} times for them",
            s.windows
        );
    }
    println!(
        "  verdict lines: {} of {} connections; from the connection's end (its last stream_ended or upstream_failed, which is the linger's end where one applies) to the line being in the file: p50 {:.3} s, p99 {:.3} s, max {:.3} s; by the verdict's own timestamp: max {:.3} s",
        d.judged,
        d.conns,
        pct(&d.delays, 0.5),
        pct(&d.delays, 0.99),
        pct(&d.delays, 1.0),
        pct(&d.stamped, 1.0)
    );
    println!(
        "  rdptap's last end event after the bench's own close (the linger taken off where the end was a linger): p50 {:+.1} ms, p99 {:+.1} ms, max {:+.1} ms; {} session sockets without a connection in the file",
        1e3 * pct(&d.end_lag, 0.5),
        1e3 * pct(&d.end_lag, 0.99),
        1e3 * pct(&d.end_lag, 1.0),
        d.unmatched
    );
    let curve: Vec<String> = thin(&s.rss, 10)
        .iter()
        .map(|(t, k)| format!("{t:.0}s {:.1}", mib(*k)))
        .collect();
    println!(
        "  rdptap VmRSS (MiB): start {:.1}; {}; after the drain {:.1}",
        mib(s.rss_start),
        curve.join(", "),
        mib(s.rss_end)
    );
    let core = |c: f64| 100.0 * c / s.cpu.wall.max(1e-9);
    let lab = s
        .cpu
        .lab
        .map(|l| format!(", lab gateway {l:.1} s ({:.0}%)", core(l)))
        .unwrap_or_default();
    println!(
        "  CPU during the load ({:.0} s): rdptap {:.1} s ({:.0}% of a core, {:.2} ms per session ended), load generator {:.1} s ({:.0}%){lab}; drain {:.1} s",
        s.cpu.wall,
        s.cpu.rdptap,
        core(s.cpu.rdptap),
        1e3 * s.cpu.rdptap / total.max(1) as f64,
        s.cpu.bench,
        core(s.cpu.bench),
        s.drain
    );
    let ix = &s.index;
    if ix.drop_notes > 0 || ix.unreadable > 0 {
        println!(
            "  event file: {} lines, {} unreadable, {} saying events were dropped",
            ix.lines, ix.unreadable, ix.drop_notes
        );
    }
    for e in d.corrupted.iter().chain(&d.lost).take(8) {
        println!("  healthy session failed: {e}");
    }
    let mut problems: Vec<_> = s.problems.iter().collect();
    problems.sort();
    for (id, p) in problems.iter().take(5) {
        println!("  upstream, session {id}: {p}");
    }
    println!();
}

/// At most `n` samples, evenly spread, the last kept.
fn thin(v: &[(f64, u64)], n: usize) -> Vec<(f64, u64)> {
    if v.len() <= n {
        return v.to_vec();
    }
    let mut out: Vec<(f64, u64)> = (0..n - 1).map(|i| v[i * v.len() / (n - 1)]).collect();
    out.push(v[v.len() - 1]);
    out
}

/// The soak's lines of the targets list.
pub(crate) fn print_targets(s: &Soak) {
    let d = derive(s);
    let name = s.variant.name();
    let bad = d.corrupted.len() + d.lost.len() + s.unfinished as usize;
    println!(
        "  {}  soak {name}: healthy sessions lost or corrupted: {bad} of {} ({} corrupted, {} lost, {} sessions of any kind unfinished), target 0",
        verdict(bad == 0),
        d.healthy,
        d.corrupted.len(),
        d.lost.len(),
        s.unfinished
    );
    let max = pct(&d.delays, 1.0);
    let missing = d.conns - d.judged;
    println!(
        "  {}  soak {name}: every connection's verdict within {VERDICT_TARGET} s of its end: {} of {} have one, max {max:.3} s, p99 {:.3} s",
        verdict(missing == 0 && max <= VERDICT_TARGET),
        d.judged,
        d.conns,
        pct(&d.delays, 0.99)
    );
    match rss_window(s) {
        Some((w, a, b, peak)) => {
            let g = (b as f64 - a as f64) / a as f64;
            println!(
                "  {}  soak {name}: VmRSS growth over the last {w:.0} s of the load: {:+.1}% ({:.1} → {:.1} MiB, peak {:.1}), target ≤ {:.0}%",
                verdict(g <= RSS_TARGET),
                100.0 * g,
                mib(a),
                mib(b),
                mib(peak),
                100.0 * RSS_TARGET
            );
        }
        None => println!("  n/a   soak {name}: no VmRSS samples"),
    }
    println!(
        "  {}  soak {name}: rdptap's open descriptors: {} at the start, {} at the end, target equal",
        verdict(s.fds.0 == s.fds.1),
        s.fds.0,
        s.fds.1
    );
}
