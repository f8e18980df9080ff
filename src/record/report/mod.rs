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

mod facts;
mod html;
mod labels;
mod ladder;
mod model;
mod text;
mod verdict;

pub use facts::{certificates, negotiation, CertInfo, CertView, Fact, FactValue};
pub use html::{escape, render_html};
pub use labels::label;
pub use ladder::{render_ladder, MAX_ROWS};
pub use model::{
    fmt_ms, parse_ts, Connection, Event, EvidenceRef, Known, Layer, Mstsc, Notice, PhaseSpan,
    Scope, Verdict, VerdictWarning,
};
pub use text::render_text;

use crate::vocab::Dir;
use serde_json::Value;
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
    /// How many lines were not JSON.
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
    /// A line is JSON but not an event.
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
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            report.skip(n);
            continue;
        };
        let event = parse_event(value, n).map_err(|problem| ReportError::BadLine {
            source: source.to_string(),
            line: n,
            problem,
        })?;
        if event.conn == 0 {
            // An appended file starts a new run with each proxy_started line; connection
            // numbers start again from 1 there.
            if event.kind == "proxy_started" && !index.is_empty() {
                run += 1;
                index.clear();
            }
            report.process.push(event);
            continue;
        }
        let key = (run, event.conn);
        if event.seq == Some(0) && index.contains_key(&key) {
            // A second start of the same connection number: a later run without a
            // proxy_started line of its own.
            run += 1;
            index.clear();
        }
        let key = (run, event.conn);
        let at = *index.entry(key).or_insert_with(|| {
            report.conns.push(Connection::new(run, event.conn));
            report.conns.len() - 1
        });
        let conn = &mut report.conns[at];
        if event.kind == "verdict" && event.layer == Layer::Session {
            let v = Verdict::from_event(&event).ok_or_else(|| ReportError::BadLine {
                source: source.to_string(),
                line: n,
                problem: "a verdict without a \"cause\"".to_string(),
            })?;
            conn.verdicts.push(v);
        }
        conn.events.push(event);
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

/// Reads one line's object into an event, or says what is wrong with it.
fn parse_event(value: Value, line: usize) -> Result<Event, String> {
    let Value::Object(body) = value else {
        return Err("not a JSON object".to_string());
    };
    let conn = match body.get("conn") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("\"conn\" is {v}, not a connection number"))?,
        None => return Err("no \"conn\" field".to_string()),
    };
    let kind = match body.get("kind") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(format!("\"kind\" is {v}, not a string")),
        None => return Err("no \"kind\" field".to_string()),
    };
    let dir = match body.get("dir") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "c2s" => Some(Dir::C2S),
        Some(Value::String(s)) if s == "s2c" => Some(Dir::S2C),
        Some(v) => return Err(format!("\"dir\" is {v}, not \"c2s\", \"s2c\" or null")),
    };
    let layer = Layer::parse(body.get("layer").and_then(Value::as_str).unwrap_or(""));
    let ts_text = body
        .get("ts")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Event {
        line,
        conn,
        seq: body.get("seq").and_then(Value::as_u64),
        ts: parse_ts(&ts_text),
        ts_text,
        dir,
        layer,
        kind,
        inner: body.get("inner").and_then(Value::as_bool).unwrap_or(false),
        body,
    })
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
        self.process
            .iter()
            .find(|e| e.kind == "proxy_started")
            .and_then(|e| e.str("version"))
    }

    /// The gateway session verdicts, each with the connections of its session.
    pub fn gateway_sessions(&self) -> Vec<(&Connection, &Verdict, Vec<&Connection>)> {
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
                        && m.verdicts
                            .iter()
                            .any(|mv| mv.gw_connection_id == v.gw_connection_id)
                })
                .collect();
            out.push((c, v, members));
        }
        out
    }

    /// What the reader must know first: skipped lines, capture losses and failures.
    pub fn notices(&self) -> Vec<Notice> {
        let mut out = Vec::new();
        if let Some(first_line) = self.first_skipped {
            out.push(Notice::SkippedLines {
                count: self.skipped,
                first_line,
            });
        }
        let process = self.process.iter().map(|e| (None, e));
        let per_conn = self
            .conns
            .iter()
            .flat_map(|c| c.events.iter().map(move |e| (Some(c.label.clone()), e)));
        for (conn, e) in process.chain(per_conn) {
            if e.layer != Layer::Capture {
                continue;
            }
            match e.kind.as_str() {
                "capture_dropped" => out.push(Notice::CaptureDropped {
                    conn: conn.unwrap_or_else(|| "all connections".to_string()),
                    packets: e.get("packets").and_then(Value::as_u64).unwrap_or(0),
                    bytes: e.get("bytes").and_then(Value::as_u64),
                }),
                "capture_failed" => out.push(Notice::CaptureFailed {
                    conn,
                    error: model::text(e.get("error")),
                    file: e.str("file").map(String::from),
                }),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
