//! `rdptap report`: reads an event file (JSON Lines) back and renders it for people, as
//! one self-contained HTML page or as plain text.
//!
//! ```no_run
//! use rdptap::record::report;
//! let r = report::load(std::path::Path::new("events.jsonl")).unwrap();
//! let html = report::render_html(&r);
//! let text = report::render_text(&r);
//! # let _ = (html, text);
//! ```

mod certs;
mod event;
mod facts;
mod html;
mod labels;
mod labels_gateway;
mod labels_rdp;
mod ladder;
mod model;
mod notice;
mod text;
mod verdict;

pub use certs::{certificates, CertView};
pub use event::{Event, PhaseName};
pub use facts::{negotiation, Fact, FactValue};
pub use html::{escape, render_html};
pub use labels::label;
pub use ladder::{render_ladder, MAX_ROWS};
pub use model::{fmt_ms, Connection, PhaseSpan};
pub use notice::Notice;
pub use text::render_text;

use crate::session::event::{Body, EventLine, VerdictRecord};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// An event file read back: its connections and the process-wide lines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// The file name (or whatever the lines came from), for headings and messages.
    pub source: String,
    /// Process-wide lines (`conn` 0), such as `proxy_started`.
    pub process: Vec<Event>,
    /// The connections, in order of run and number.
    pub conns: Vec<Connection>,
    /// How many lines were not JSON (torn by a kill, or stray text).
    pub skipped: usize,
    /// The first of those lines.
    pub first_skipped: Option<usize>,
}

/// Why an event file could not be read.
#[derive(Debug)]
pub enum ReportError {
    /// The file could not be read.
    Read {
        /// The file.
        source: String,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A line is JSON but not an event (no connection number, kind or time).
    BadLine {
        /// The file.
        source: String,
        /// Its number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// `--conn` named a connection the file does not have.
    NoSuchConnection {
        /// The file.
        source: String,
        /// The connection asked for.
        wanted: u64,
        /// The connections the file has.
        have: Vec<u64>,
    },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Read { source, error } => write!(f, "cannot read {source}: {error}"),
            ReportError::BadLine {
                source,
                line,
                problem,
            } => write!(f, "{source} line {line}: {problem}"),
            ReportError::NoSuchConnection {
                source,
                wanted,
                have,
            } => {
                write!(f, "{source} has no connection {wanted}")?;
                if have.is_empty() {
                    f.write_str(" (it has no connections at all)")
                } else {
                    let list: Vec<String> = have.iter().map(u64::to_string).collect();
                    write!(f, " (it has {})", list.join(", "))
                }
            }
        }
    }
}

impl std::error::Error for ReportError {}

/// Reads an event file.
pub fn load(path: &Path) -> Result<Report, ReportError> {
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| ReportError::Read {
        source: source.clone(),
        error,
    })?;
    // Invalid UTF-8 is left to the per-line check: a torn line is skipped, not fatal.
    let lines = bytes
        .split(|b| *b == b'\n')
        .map(|l| std::str::from_utf8(l).ok());
    build(&source, lines)
}

/// Reads event lines held in memory (the bundle passes them this way). `source` names
/// them in headings and error messages.
pub fn from_lines<'a>(
    source: &str,
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<Report, ReportError> {
    build(source, lines.into_iter().map(Some))
}

/// Groups lines into connections; `None` is a line that is not UTF-8.
fn build<'a>(
    source: &str,
    lines: impl Iterator<Item = Option<&'a str>>,
) -> Result<Report, ReportError> {
    let mut report = Report {
        source: source.to_string(),
        ..Report::default()
    };
    let mut index: HashMap<(usize, u64), usize> = HashMap::new();
    let mut run = 1;
    for (i, line) in lines.enumerate() {
        let n = i + 1;
        let Some(line) = line else {
            report.skip(n);
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // Text that is not JSON is a line torn by a kill, or stray output: counted and
        // left out. JSON that is not an event is a damaged file, worth stopping for.
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            report.skip(n);
            continue;
        };
        let record = EventLine::from_value(&value).map_err(|problem| ReportError::BadLine {
            source: source.to_string(),
            line: n,
            problem,
        })?;
        let event = Event { line: n, record };
        if event.conn() == 0 {
            // An appended file starts a new run with each proxy_started line; connection
            // numbers start again from 1 there.
            if matches!(event.body(), Body::ProxyStarted { .. }) && !index.is_empty() {
                run += 1;
                index.clear();
            }
            report.process.push(event);
            continue;
        }
        let key = (run, event.conn());
        if event.seq() == Some(0) && index.contains_key(&key) {
            // A second start of the same connection number: a later run without a
            // proxy_started line of its own.
            run += 1;
            index.clear();
        }
        let key = (run, event.conn());
        let at = *index.entry(key).or_insert_with(|| {
            report.conns.push(Connection::new(run, event.conn()));
            report.conns.len() - 1
        });
        report.conns[at].events.push(event);
    }
    if run > 1 {
        for c in &mut report.conns {
            c.label = format!("connection {} (run {})", c.id, c.run);
            c.anchor = format!("r{}c{}", c.run, c.id);
        }
    }
    report.conns.sort_by_key(|c| (c.run, c.id));
    Ok(report)
}

impl Report {
    fn skip(&mut self, line: usize) {
        self.skipped += 1;
        self.first_skipped.get_or_insert(line);
    }

    /// Keeps only the connections numbered in `wanted` (every run's), and the
    /// process-wide lines. Fails when a number is not in the file.
    pub fn retain_conns(&mut self, wanted: &[u64]) -> Result<(), ReportError> {
        for w in wanted {
            if !self.conns.iter().any(|c| c.id == *w) {
                let mut have: Vec<u64> = self.conns.iter().map(|c| c.id).collect();
                have.sort_unstable();
                have.dedup();
                return Err(ReportError::NoSuchConnection {
                    source: self.source.clone(),
                    wanted: *w,
                    have,
                });
            }
        }
        self.conns.retain(|c| wanted.contains(&c.id));
        Ok(())
    }

    /// Every event line read (process-wide ones included).
    pub fn event_count(&self) -> usize {
        self.process.len() + self.conns.iter().map(|c| c.events.len()).sum::<usize>()
    }

    /// rdptap's version, from the `proxy_started` line.
    pub fn version(&self) -> Option<&str> {
        self.process.iter().find_map(|e| match e.body() {
            Body::ProxyStarted { version, .. } => Some(version.as_str()),
            _ => None,
        })
    }

    /// The gateway session verdicts, each with the connections of its session.
    pub fn gateway_sessions(&self) -> Vec<(&Connection, &VerdictRecord, Vec<&Connection>)> {
        let mut out = Vec::new();
        for c in &self.conns {
            let Some(v) = c.session_verdict() else {
                continue;
            };
            let members = self
                .conns
                .iter()
                .filter(|m| m.run == c.run)
                .filter(|m| {
                    v.gw_connection_id.is_some()
                        && m.verdicts()
                            .any(|mv| mv.gw_connection_id == v.gw_connection_id)
                })
                .collect();
            out.push((c, v, members));
        }
        out
    }

    /// What the reader must know first: skipped lines, events this rdptap cannot read,
    /// capture losses and failures.
    pub fn notices(&self) -> Vec<Notice> {
        notice::notices(self)
    }
}

#[cfg(test)]
mod tests;
