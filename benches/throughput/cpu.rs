//! CPU time of the benchmark's own process and of a relay process, from /proc, so a
//! section can say how much CPU each party spent per GiB moved and whether the cores,
//! rather than the relay's design, set the throughput.

use std::time::Instant;

/// Seconds of CPU (user + system) that process `pid` (None: this process) has used.
pub(crate) fn seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

/// CPU used while one transfer ran, by the two ends (this process) and the relay.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spent {
    /// CPU seconds of the benchmark process (client and server).
    pub(crate) ends: f64,
    /// CPU seconds of the relay process, 0 when there is none.
    pub(crate) relay: f64,
    /// Wall-clock seconds.
    pub(crate) wall: f64,
}

/// Counts the CPU of a transfer through the relay processes `relays` (none for a
/// direct path).
pub(crate) struct Meter {
    relays: Vec<u32>,
    ends0: f64,
    relays0: f64,
    t0: Instant,
}

fn sum(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| seconds(Some(*p))).sum()
}

impl Meter {
    /// Reads the counters now.
    pub(crate) fn start(relays: &[u32]) -> Meter {
        Meter {
            relays: relays.to_vec(),
            ends0: seconds(None).unwrap_or(0.0),
            relays0: sum(relays),
            t0: Instant::now(),
        }
    }

    /// What was spent since [`Meter::start`].
    pub(crate) fn stop(&self) -> Spent {
        Spent {
            ends: seconds(None).unwrap_or(0.0) - self.ends0,
            relay: sum(&self.relays) - self.relays0,
            wall: self.t0.elapsed().as_secs_f64(),
        }
    }
}

/// Prints CPU per GiB for each path (the first is the baseline, with no relay), and
/// the throughput ratio the CPU alone predicts.
///
/// When every core is busy, throughput is the cores divided by what one GiB costs all
/// parties together, so the ratio of those costs predicts the throughput ratio
/// whatever each party's design; "cores busy" shows whether the cores were the limit.
pub(crate) fn print_table(names: &[&str], spent: &[Vec<Spent>], gib: f64, relay: &str) {
    let runs = spent.first().map_or(0, Vec::len);
    println!(
        "CPU per GiB of payload (user + system from /proc, up and down together; median of {runs})"
    );
    println!(
        "  {:<16} {:>10} {:>14} {:>8} {:>11} {:>13} {:>9}",
        "path", "ends s/GiB", relay, "total", "cores busy", "CPU predicts", "measured"
    );
    let per = |i: usize, f: &dyn Fn(&Spent) -> f64| {
        let mut v: Vec<f64> = spent[i].iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let total0 = per(0, &|s| (s.ends + s.relay) / gib);
    let wall0 = per(0, &|s| s.wall);
    for (i, name) in names.iter().enumerate() {
        let total = per(i, &|s| (s.ends + s.relay) / gib);
        let relay_col = if i == 0 {
            "-".to_string()
        } else {
            format!("{:.3}", per(i, &|s| s.relay / gib))
        };
        println!(
            "  {name:<16} {:>10.3} {relay_col:>14} {total:>8.3} {:>11.2} {:>12.2}× {:>8.2}×",
            per(i, &|s| s.ends / gib),
            per(i, &|s| (s.ends + s.relay) / s.wall),
            total0 / total,
            wall0 / per(i, &|s| s.wall)
        );
    }
    println!(
        "  \"CPU predicts\": the baseline's total over the path's, the throughput ratio when the cores are the limit; \"measured\": the same ratio from wall time, up and down together ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
}
