//! What the reader must know before trusting the report: lines left out, events this
//! rdptap could not read, and packets the capture lost.

use super::event::Event;
use super::model::plural;
use super::Report;
use crate::session::event::Body;
use std::fmt;

/// Something the reader must know before trusting the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Lines that were not JSON were left out.
    SkippedLines {
        /// How many.
        count: usize,
        /// The first one's number.
        first_line: usize,
    },
    /// Events this rdptap could not read (from a newer rdptap, or damaged): the
    /// event table shows them as written, and nothing else in the report uses them.
    UnreadEvents {
        /// How many.
        count: usize,
        /// The first one's line.
        first_line: usize,
        /// Why the first one could not be read.
        error: String,
    },
    /// The capture dropped packets (`--capture-overflow drop`).
    CaptureDropped {
        /// Whose packets ("connection 3").
        conn: String,
        /// Packets not captured.
        packets: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// Events were dropped on the way to the event file: it is missing lines.
    EventsDropped {
        /// Events dropped over the run.
        total: u64,
    },
    /// Events past their kind's limit were counted, not written.
    EventsCounted {
        /// Whose events ("connection 3").
        conn: String,
        /// Events only counted.
        count: u64,
    },
    /// Connections were refused under `--max-connections`.
    ConnectionsRefused {
        /// Connections refused over the run.
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// The packet capture switched off.
    CaptureFailed {
        /// The connection it happened on, if any.
        conn: Option<String>,
        /// Why.
        error: String,
        /// The file it was writing.
        file: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::SkippedLines { count, first_line } => write!(
                f,
                "{count} line{} of the event file {} not JSON and left out (the first is line {first_line})",
                plural(*count as u64),
                if *count == 1 { "is" } else { "are" }
            ),
            Notice::UnreadEvents {
                count,
                first_line,
                error,
            } => write!(
                f,
                "{count} event{} this rdptap cannot read {} shown as written in the event table and used nowhere else (the first is line {first_line}: {error})",
                plural(*count as u64),
                if *count == 1 { "is" } else { "are" }
            ),
            Notice::CaptureDropped {
                conn,
                packets,
                bytes,
            } => write!(
                f,
                "{conn}: {packets} packet{} not captured ({bytes} bytes): the capture queue was full and --capture-overflow drop was set",
                plural(*packets)
            ),
            Notice::EventsDropped { total } => write!(
                f,
                "{total} event{} dropped and missing from this file: the queue to the event file was full (the disk or the reader of standard output could not keep up); connections were relayed as usual",
                if *total == 1 { " was" } else { "s were" }
            ),
            Notice::EventsCounted { conn, count } => write!(
                f,
                "{conn}: {count} event{} of kinds a peer can repeat without end (HTTP messages, MS-TSGU keepalives, TLS alerts and records…) {} only counted, not written (see its events_counted line)",
                plural(*count),
                if *count == 1 { "was" } else { "were" }
            ),
            Notice::ConnectionsRefused { total, limit } => write!(
                f,
                "{total} connection{} refused because {limit} were open (--max-connections); they have no events here",
                if *total == 1 { " was" } else { "s were" }
            ),
            Notice::CaptureFailed { conn, error, file } => {
                if let Some(c) = conn {
                    write!(f, "{c}: ")?;
                }
                write!(f, "the packet capture stopped writing {file}: {error}")
            }
        }
    }
}

/// The notices of a report, most important first.
pub fn notices(r: &Report) -> Vec<Notice> {
    let mut out = Vec::new();
    if let Some(first_line) = r.first_skipped {
        out.push(Notice::SkippedLines {
            count: r.skipped,
            first_line,
        });
    }
    let process = r.process.iter().map(|e| (None, e));
    let per_conn = r
        .conns
        .iter()
        .flat_map(|c| c.events.iter().map(move |e| (Some(c.label.as_str()), e)));
    let all: Vec<(Option<&str>, &Event)> = process.chain(per_conn).collect();
    if let Some(n) = unread(&all) {
        out.push(n);
    }
    let mut dropped = 0;
    let mut refused = None;
    for (conn, e) in &all {
        match e.body() {
            Body::EventsDropped { total, .. } => dropped = dropped.max(*total),
            Body::ConnectionsRefused { total, limit, .. } => {
                refused = Some(refused.map_or((*total, *limit), |(t, _): (u64, u64)| {
                    (t.max(*total), *limit)
                }));
            }
            Body::EventsCounted { counts } => out.push(Notice::EventsCounted {
                conn: conn.unwrap_or("all connections").to_string(),
                count: counts.iter().map(|c| c.only_counted).sum(),
            }),
            _ => {}
        }
    }
    if dropped > 0 {
        out.push(Notice::EventsDropped { total: dropped });
    }
    if let Some((total, limit)) = refused {
        out.push(Notice::ConnectionsRefused { total, limit });
    }
    for (conn, e) in all {
        match e.body() {
            Body::CaptureDropped { packets, bytes, .. } => out.push(Notice::CaptureDropped {
                conn: conn.unwrap_or("all connections").to_string(),
                packets: *packets,
                bytes: *bytes,
            }),
            Body::CaptureFailed { file, error } => out.push(Notice::CaptureFailed {
                conn: conn.map(String::from),
                error: error.clone(),
                file: file.clone(),
            }),
            _ => {}
        }
    }
    out
}

/// One notice for all the events that loaded as unknown, naming the first.
fn unread(all: &[(Option<&str>, &Event)]) -> Option<Notice> {
    let mut unknown: Vec<(usize, &str)> = all
        .iter()
        .filter_map(|(_, e)| match e.body() {
            Body::Unknown { error, .. } => Some((e.line, error.as_str())),
            _ => None,
        })
        .collect();
    unknown.sort_by_key(|(line, _)| *line);
    let (first_line, error) = *unknown.first()?;
    Some(Notice::UnreadEvents {
        count: unknown.len(),
        first_line,
        error: clip(error),
    })
}

/// The reader's reason, short enough for a notice: the event table has the line.
fn clip(error: &str) -> String {
    const MAX: usize = 100;
    if error.chars().count() <= MAX {
        return error.to_string();
    }
    let mut s: String = error.chars().take(MAX - 1).collect();
    s.push('…');
    s
}

#[cfg(test)]
#[path = "notice_tests.rs"]
mod tests;
