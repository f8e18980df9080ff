//! Offline analysis: `rdptap analyze` on a generated capture of RDP over TLS (1 GiB by
//! default), without and with the key log, against `tshark -r FILE -q -z conv,tcp` on the
//! same file, in interleaved rounds: wall time, CPU per GiB and peak RSS of each.
//!
//! A small capture of the same shape is checked first, and the big one after the timed
//! rounds (untimed, with `--events`): tshark must list the connections the generator
//! wrote, analyze must give each an `ok` verdict, and with the key log a `decrypted` event
//! and all the plaintext. The captures are removed at the end unless `--keep` is given
//! (or a check failed, so the files can be looked at).

use crate::capture_gen::{self, Generated, Plan};
use crate::env::Env;
use crate::report::{median, verdict};
use crate::{Opts, Res};
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// analyze must take at most a third of tshark's time.
const RATIO_TARGET: f64 = 3.0;
/// analyze's peak RSS, either way.
const RSS_TARGET_MIB: f64 = 256.0;
/// Size of the sanity-check capture.
const SANITY_MIB: u64 = 16;
/// The three commands, in table (and run) order.
const SIDES: [&str; 3] = ["analyze", "analyze --keylog", "tshark -z conv,tcp"];
/// The generated connections: a few for the whole file, more that come and go.
const BIG: usize = 4;
const SMALL: usize = 12;

/// One run of one command.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: f64,
    /// User + system CPU seconds of the process (and its children, none here).
    cpu: f64,
    /// Peak resident set, KiB (ru_maxrss).
    rss_kib: u64,
    code: i32,
}

/// What tshark and analyze saw in a capture, against what the generator wrote.
struct Seen {
    conns: usize,
    tshark_convs: usize,
    /// Verdicts, and ok ones, without and with the key log.
    verdicts: [usize; 2],
    ok: [usize; 2],
    /// `decrypted` events with the key log.
    decrypted: usize,
    /// Plaintext bytes the verdicts say were decrypted, and those the generator wrote.
    plain: u64,
    plain_written: u64,
}

impl Seen {
    /// The check as one line.
    fn describe(&self) -> String {
        format!(
            "tshark lists {} TCP conversations of {}; analyze gives {} ok verdicts, with --keylog {} ok and {} decrypted ({} of {} plaintext bytes)",
            self.tshark_convs,
            self.conns,
            self.ok[0],
            self.ok[1],
            self.decrypted,
            self.plain,
            self.plain_written
        )
    }
}

/// The section's results.
pub(crate) struct Analyze {
    gen: Generated,
    sanity: Seen,
    full: Seen,
    runs: [Vec<Run>; 3],
    kept: Option<PathBuf>,
}

/// The scratch directory of the captures, removed on the way out unless kept.
struct Scratch {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Bytes free for an unprivileged writer on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct it is given and reads a NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statvfs(c.as_ptr(), &mut s) } == 0)
        .then(|| s.f_bavail as u64 * s.f_frsize as u64)
}

/// Runs `cmd` with its output in files named after `log`, and measures it with wait4:
/// wall time, CPU and peak RSS of that one child.
fn measure(mut cmd: Command, log: &Path) -> Res<Run> {
    cmd.stdin(Stdio::null())
        .stdout(File::create(log.with_extension("out"))?)
        .stderr(File::create(log.with_extension("err"))?);
    let t0 = Instant::now();
    let child = cmd.spawn()?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 reaps the child just spawned, which the
    // Child handle never waits for afterwards.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    let wall = t0.elapsed().as_secs_f64();
    if r < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()).into());
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Ok(Run {
        wall,
        cpu: secs(ru.ru_utime) + secs(ru.ru_stime),
        rss_kib: ru.ru_maxrss as u64,
        code,
    })
}

/// The command of side `i` on `cap`.
fn command(env: &Env, i: usize, cap: &Path, keys: &Path, extra: &[OsString]) -> Command {
    let mut c = if i < 2 {
        let mut c = Command::new(&env.rdptap);
        c.arg("analyze").arg(cap);
        if i == 1 {
            c.arg("--keylog").arg(keys);
        }
        c
    } else {
        let mut c = Command::new("tshark");
        c.arg("-r").arg(cap).args(["-q", "-z", "conv,tcp"]);
        c
    };
    c.args(extra);
    c
}

/// tshark's version line (the first of `tshark --version`).
pub(crate) fn tshark_version() -> String {
    Command::new("tshark")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let s = String::from_utf8_lossy(&o.stdout);
            s.lines().next().map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "tshark (not found)".into())
}

fn plan(bytes: u64) -> Plan {
    Plan {
        bytes,
        big: BIG,
        small: SMALL,
    }
}

/// The plaintext a verdict says was decrypted: "decrypted N bytes from the client and M
/// from the server".
fn decrypted_bytes(summary: &str) -> u64 {
    let Some((_, rest)) = summary.split_once("decrypted ") else {
        return 0;
    };
    let mut words = rest.split(' ');
    let c2s = words.next().and_then(|w| w.parse::<u64>().ok());
    let s2c = words.nth(5).and_then(|w| w.parse::<u64>().ok());
    c2s.unwrap_or(0) + s2c.unwrap_or(0)
}

/// Checks what tshark (its conv,tcp output in `tshark_out`) and analyze (run here with
/// `--events`, untimed) see in the capture `g` describes: every connection listed, every
/// verdict ok, every connection decrypted with the key log, all of its plaintext.
fn check(
    env: &Env,
    dir: &Path,
    caps: (&Path, &Path),
    g: &Generated,
    tshark_out: &Path,
) -> Res<Seen> {
    let (cap, keys) = caps;
    let mut s = Seen {
        conns: g.conns,
        tshark_convs: fs::read_to_string(tshark_out)?
            .lines()
            .filter(|l| l.contains("<->"))
            .count(),
        verdicts: [0; 2],
        ok: [0; 2],
        decrypted: 0,
        plain: 0,
        plain_written: g.plain_bytes,
    };
    for i in 0..2 {
        let events = dir.join(format!("check-{i}.jsonl"));
        let extra = [OsString::from("--events"), events.clone().into_os_string()];
        measure(
            command(env, i, cap, keys, &extra),
            &dir.join(format!("check-{i}")),
        )?;
        for line in fs::read_to_string(&events)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            match v["kind"].as_str() {
                Some("verdict") => {
                    s.verdicts[i] += 1;
                    s.ok[i] += usize::from(v["cause"] == "ok");
                    if i == 1 {
                        s.plain += decrypted_bytes(v["summary"].as_str().unwrap_or(""));
                    }
                }
                Some("decrypted") if i == 1 => s.decrypted += 1,
                _ => {}
            }
        }
    }
    if s.tshark_convs != s.conns
        || s.verdicts != [s.conns; 2]
        || s.ok != [s.conns; 2]
        || s.decrypted != s.conns
        || s.plain != s.plain_written
    {
        return Err(format!(
            "{}: {} verdicts without the key log, {} with it",
            s.describe(),
            s.verdicts[0],
            s.verdicts[1]
        )
        .into());
    }
    Ok(s)
}

/// Generates the small capture and checks it; removes the capture if it passes.
fn sanity(env: &Env, dir: &Path) -> Res<Seen> {
    let cap = dir.join("sanity.pcap");
    let keys = dir.join("sanity.keys");
    let g = capture_gen::generate(&cap, &keys, &plan(SANITY_MIB << 20))?;
    let log = dir.join("sanity-tshark");
    let r = measure(command(env, 2, &cap, &keys, &[]), &log)?;
    if r.code != 0 {
        return Err(format!("tshark on the sanity capture exited {}", r.code).into());
    }
    let s = check(env, dir, (&cap, &keys), &g, &log.with_extension("out"))?;
    let _ = fs::remove_file(&cap);
    Ok(s)
}

pub(crate) fn run(env: &Env, opts: &Opts) -> Res<Analyze> {
    if Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Err("tshark is not installed (Debian/Ubuntu: apt-get install tshark)".into());
    }
    let base = opts.an_dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("rdptap-analyze-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let mut scratch = Scratch {
        dir: dir.clone(),
        keep: opts.keep,
    };
    // The capture, its key log, the sanity file and the commands' output.
    let need = (opts.an_mib + SANITY_MIB + 64) << 20;
    if let Some(free) = free_bytes(&dir).filter(|&f| f < need) {
        return Err(format!(
            "{} has {} MiB free, the capture needs about {} MiB; pick a roomier place with --analyze-dir or a smaller --analyze-mib",
            dir.display(),
            free >> 20,
            need >> 20
        )
        .into());
    }
    eprintln!("  analyze: checking a {SANITY_MIB} MiB capture first");
    // A failed check keeps the directory, so the file can be looked at.
    scratch.keep = true;
    let sanity =
        sanity(env, &dir).map_err(|e| format!("{e} (the files are kept in {})", dir.display()))?;
    scratch.keep = opts.keep;
    let cap = dir.join("rdp-tls.pcap");
    let keys = dir.join("rdp-tls.keys");
    eprintln!(
        "  analyze: generating {} MiB in {}",
        opts.an_mib,
        dir.display()
    );
    let gen = capture_gen::generate(&cap, &keys, &plan(opts.an_mib << 20))?;
    eprintln!("  analyze: {}", capture_gen::describe(&gen));
    let gib = gen.bytes as f64 / (1u64 << 30) as f64;
    let mut runs: [Vec<Run>; 3] = Default::default();
    for round in 0..opts.an_reps {
        for (i, side) in SIDES.iter().enumerate() {
            let log = dir.join(format!("run-{round}-{i}"));
            let r = measure(command(env, i, &cap, &keys, &[]), &log)?;
            eprintln!(
                "  analyze round {}/{} {side:<20} {:7.2} s  {:6.2} CPU s/GiB  {:7.1} MiB peak RSS  exit {}",
                round + 1,
                opts.an_reps,
                r.wall,
                r.cpu / gib,
                r.rss_kib as f64 / 1024.0,
                r.code
            );
            if i == 2 && r.code != 0 {
                return Err(format!("tshark exited {} (see {})", r.code, log.display()).into());
            }
            runs[i].push(r);
        }
    }
    eprintln!("  analyze: checking the verdicts on the full capture (untimed)");
    let full = check(env, &dir, (&cap, &keys), &gen, &dir.join("run-0-2.out"))
        .map_err(|e| format!("full capture: {e} (kept in {})", dir.display()));
    if full.is_err() {
        scratch.keep = true;
    }
    let full = full?;
    let kept = opts.keep.then(|| dir.clone());
    Ok(Analyze {
        gen,
        sanity,
        full,
        runs,
        kept,
    })
}

fn med(runs: &[Run], f: impl Fn(&Run) -> f64) -> f64 {
    median(&runs.iter().map(f).collect::<Vec<_>>())
}

fn peak_mib(runs: &[Run]) -> f64 {
    runs.iter().map(|r| r.rss_kib).max().unwrap_or(0) as f64 / 1024.0
}

pub(crate) fn print(opts: &Opts, a: &Analyze) {
    let g = &a.gen;
    let gib = g.bytes as f64 / (1u64 << 30) as f64;
    println!(
        "Offline analysis: rdptap analyze against tshark -r FILE -q -z conv,tcp on one generated capture, {} rounds (the three commands in turn each round), medians",
        opts.an_reps
    );
    println!("  capture: {}", capture_gen::describe(g));
    println!(
        "  (generation is not part of the runs; the file was just written, so it is in the page cache for every run alike)"
    );
    println!(
        "  checked before, on a {SANITY_MIB} MiB capture: {}",
        a.sanity.describe()
    );
    println!("  checked after, on this capture: {}", a.full.describe());
    println!(
        "  {:<20} {:>8} {:>8} {:>10} {:>10} {:>6} {:>10}   runs (s)",
        "command", "wall s", "MB/s", "vs tshark", "CPU s/GiB", "cores", "peak MiB"
    );
    let tshark = med(&a.runs[2], |r| r.wall);
    for (i, side) in SIDES.iter().enumerate() {
        let runs = &a.runs[i];
        let wall = med(runs, |r| r.wall);
        let each: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.wall)).collect();
        println!(
            "  {side:<20} {wall:>8.2} {:>8.0} {:>9.2}× {:>10.2} {:>6.2} {:>10.1}   {}",
            g.bytes as f64 / wall / 1e6,
            tshark / wall,
            med(runs, |r| r.cpu) / gib,
            med(runs, |r| r.cpu / r.wall),
            peak_mib(runs),
            each.join(" ")
        );
    }
    println!(
        "  \"vs tshark\": tshark's median wall time over the command's; \"cores\": CPU over wall time; \"peak MiB\": the largest ru_maxrss of the runs"
    );
    if let Some(d) = &a.kept {
        println!("  capture and key log kept in {}", d.display());
    }
    println!();
}

pub(crate) fn print_targets(a: &Analyze) {
    let tshark = med(&a.runs[2], |r| r.wall);
    for (side, runs) in SIDES.iter().zip(&a.runs).take(2) {
        let ratio = tshark / med(runs, |r| r.wall);
        println!(
            "  {}  {}: {ratio:.2}× faster than tshark conv,tcp, target ≥ {RATIO_TARGET:.0}× (margin {:+.0}%)",
            verdict(ratio >= RATIO_TARGET),
            side,
            (ratio / RATIO_TARGET - 1.0) * 100.0
        );
    }
    for (side, runs) in SIDES.iter().zip(&a.runs).take(2) {
        let peak = peak_mib(runs);
        println!(
            "  {}  {}: peak RSS {peak:.1} MiB, target ≤ {RSS_TARGET_MIB:.0} MiB (margin {:+.1} MiB)",
            verdict(peak <= RSS_TARGET_MIB),
            side,
            RSS_TARGET_MIB - peak
        );
    }
    for (side, runs) in SIDES.iter().zip(&a.runs).take(2) {
        let bad: Vec<i32> = runs.iter().map(|r| r.code).filter(|&c| c != 0).collect();
        println!(
            "  {}  {}: every verdict ok in every run (exit status 0){}",
            verdict(bad.is_empty()),
            side,
            if bad.is_empty() {
                String::new()
            } else {
                format!("; exit statuses {bad:?}")
            }
        );
    }
}
