//! `rdptap analyze`: the composition root that runs a capture file through the same
//! trackers the live proxy uses. A capture holds one TCP connection per session (there
//! is no proxy leg), and the timing comes from the capture; everything else is the same,
//! so a capture of a session gets the verdict the proxy gave while relaying it.
//!
//! The capture is streamed, never loaded whole: memory stays bounded by the reassembler's
//! limits and the trackers of the connections open at one time.

pub mod classify;
pub mod engine;
pub mod output;
mod pending;
pub mod tls_start;
mod tracked;

#[cfg(test)]
mod capture_tests;

use crate::capfile::{self, CaptureError};
use crate::decrypt::KeyLog;
use crate::record::report;
use crate::runtime::files::create_private;
use crate::session::event::{Body, EventLine};
use crate::session::Cause;
use output::Output;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// What `rdptap analyze` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The capture file (pcap or pcapng).
    pub capture: PathBuf,
    /// An NSS key log to decrypt TLS with.
    pub keylog: Option<PathBuf>,
    /// The host or gateway the capture is about (names TLS connections to follow).
    pub target: Option<String>,
    /// Where to write the events (JSON Lines).
    pub events: Option<PathBuf>,
    /// Where to write the HTML report.
    pub report: Option<PathBuf>,
    /// Print the text report.
    pub text: bool,
}

/// Why an analysis could not run, or stopped.
#[derive(Debug)]
pub enum Failure {
    /// The key log could not be read.
    Keylog(PathBuf, std::io::Error),
    /// An output file could not be written.
    Output(PathBuf, std::io::Error),
    /// The capture could not be read (whole).
    Capture(CaptureError),
    /// Ctrl-C or SIGTERM stopped the reading at this byte offset.
    Interrupted(PathBuf, u64),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Keylog(p, e) => write!(
                f,
                "cannot read the key log {}: {e}; give an NSS key log (SSLKEYLOGFILE format) with --keylog",
                p.display()
            ),
            Failure::Output(p, e) => write!(
                f,
                "cannot write {}: {e}; check the directory exists and is writable",
                p.display()
            ),
            Failure::Capture(e) => e.fmt(f),
            Failure::Interrupted(p, at) => write!(
                f,
                "{}: interrupted at byte offset {at}; the verdicts above cover the capture up to there (connections still open count as the capture ending)",
                p.display()
            ),
        }
    }
}

/// An analysis that stopped: why, and what it had found by then.
#[derive(Debug)]
pub struct Stopped {
    /// Why it stopped.
    pub failure: Failure,
    /// What was found before (None when nothing could be read).
    pub output: Option<Output>,
}

fn stopped(failure: Failure, output: Option<Output>) -> Box<Stopped> {
    Box::new(Stopped { failure, output })
}

/// Runs the analysis; returns the process exit status: 0 when every verdict is ok, 1
/// otherwise (or when no RDP was found), 2 for a file that cannot be read.
pub fn run(opts: &Options) -> i32 {
    match analyze(opts) {
        Ok(out) => {
            if out.sessions == 0 {
                return 1;
            }
            i32::from(out.causes.iter().any(|c| *c != Cause::Ok))
        }
        Err(s) => {
            eprintln!("rdptap: {}", s.failure);
            match s.failure {
                // The shells' convention for a command stopped by Ctrl-C.
                Failure::Interrupted(..) => 130,
                _ => 2,
            }
        }
    }
}

/// The analysis itself: the output, or what stopped it (with the output so far).
pub fn analyze(opts: &Options) -> Result<Output, Box<Stopped>> {
    let keys = match &opts.keylog {
        Some(p) => KeyLog::load(p).map_err(|e| stopped(Failure::Keylog(p.clone(), e), None))?,
        None => KeyLog::new(),
    };
    let reader = capfile::open(&opts.capture).map_err(|e| stopped(Failure::Capture(e), None))?;
    let keep = opts.report.is_some() || opts.text;
    let mut out = Output::new(opts.events.as_deref(), keep).map_err(|e| {
        let path = opts.events.clone().unwrap_or_default();
        stopped(Failure::Output(path, e), None)
    })?;
    out.console = !opts.text;
    out.line(&EventLine::run(
        time::OffsetDateTime::now_utc(),
        Body::AnalyzeStarted {
            version: env!("CARGO_PKG_VERSION").into(),
            capture: opts.capture.display().to_string(),
            keys: opts.keylog.as_ref().map(|p| p.display().to_string()),
        },
    ));
    let settings = engine::Settings {
        target: opts.target.clone(),
        roots: crate::cert::system_roots(),
        linger: Duration::from_secs(5),
    };
    let stop = crate::runtime::signal::stop_flag();
    let failed = engine::run(reader, keys, &settings, &mut out, &stop);
    if let Err(e) = out.close() {
        let path = opts.events.clone().unwrap_or_default();
        return Err(stopped(Failure::Output(path, e), Some(out)));
    }
    if out.sessions == 0 {
        say_no_rdp(&out);
    }
    if let Err(f) = reports(opts, &out) {
        return Err(stopped(f, Some(out)));
    }
    match failed {
        // What could be read was reported above; the error comes last.
        Some(engine::Stop::Unreadable(e)) => Err(stopped(Failure::Capture(e), Some(out))),
        Some(engine::Stop::Interrupted(at)) => Err(stopped(
            Failure::Interrupted(opts.capture.clone(), at),
            Some(out),
        )),
        None => Ok(out),
    }
}

/// A capture without RDP: say so, and what it held instead.
fn say_no_rdp(out: &Output) {
    eprintln!(
        "rdptap: no RDP or RD Gateway connection found in the capture ({} other TCP conversation{})",
        out.other_count,
        if out.other_count == 1 { "" } else { "s" }
    );
    if out.others.is_empty() {
        return;
    }
    eprintln!("  the largest, by bytes:");
    for c in &out.others {
        eprintln!("    {} -> {}  {} bytes", c.client, c.server, c.bytes);
    }
    eprintln!(
        "  an RD Gateway's HTTPS is followed only when --target names it or --keylog decrypts it"
    );
}

/// The HTML and text reports, from the lines the run wrote.
fn reports(opts: &Options, out: &Output) -> Result<(), Failure> {
    let Some(lines) = &out.lines else {
        return Ok(());
    };
    let source = opts.capture.display().to_string();
    let r = report::from_lines(&source, lines.iter().map(String::as_str))
        .map_err(|e| Failure::Output(opts.capture.clone(), std::io::Error::other(e.to_string())))?;
    if let Some(p) = &opts.report {
        let html = report::render_html(&r);
        create_private(p, false)
            .and_then(|mut f| f.write_all(html.as_bytes()))
            .map_err(|e| Failure::Output(p.clone(), e))?;
    }
    if opts.text {
        print!("{}", report::render_text(&r));
    }
    Ok(())
}
