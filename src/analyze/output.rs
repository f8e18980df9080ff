//! Where `analyze` puts what it finds: verdict lines on the console (as the proxy prints
//! them), the event file (the proxy's schema, each line marked `"source": "capture"`),
//! the lines kept for the report, and the TCP conversations that were not RDP.

use crate::record::console;
use crate::runtime::files::create_private;
use crate::session::event::EventLine;
use crate::session::tracker::Finished;
use crate::session::Cause;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;

/// The most conversations listed when a capture holds no RDP.
pub const TOP: usize = 10;

/// A TCP conversation that carried no RDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The side that opened it (or was guessed to).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// Bytes both ways.
    pub bytes: u64,
}

/// What an analysis run produced so far.
#[derive(Default)]
pub struct Output {
    events: Option<BufWriter<std::fs::File>>,
    events_failed: Option<io::Error>,
    /// The event lines, kept when a report was asked for.
    pub lines: Option<Vec<String>>,
    /// Verdicts by cause, connections and gateway sessions alike.
    pub causes: Vec<Cause>,
    /// RDP or gateway connections found.
    pub sessions: u64,
    /// The biggest conversations that were not RDP, biggest first.
    pub others: Vec<Conversation>,
    /// How many conversations were not RDP.
    pub other_count: u64,
    /// Print the verdict lines.
    pub console: bool,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("sessions", &self.sessions)
            .field("causes", &self.causes)
            .field("other_count", &self.other_count)
            .finish()
    }
}

impl Output {
    /// An output that prints verdicts, writes `events` if given, and keeps the lines for
    /// a report when `keep` is set.
    pub fn new(events: Option<&Path>, keep: bool) -> io::Result<Output> {
        let events = match events {
            Some(p) => Some(BufWriter::with_capacity(
                256 * 1024,
                create_private(p, false)?,
            )),
            None => None,
        };
        Ok(Output {
            events,
            lines: keep.then(Vec::new),
            console: true,
            ..Output::default()
        })
    }

    /// One event line.
    pub fn line(&mut self, line: &EventLine) {
        if self.events.is_none() && self.lines.is_none() {
            return;
        }
        let text = match serde_json::to_string(line) {
            Ok(t) => t,
            Err(e) => format!("{{\"kind\":\"encode_error\",\"error\":\"{e}\"}}"),
        };
        if let Some(w) = &mut self.events {
            if let Err(e) = writeln!(w, "{text}") {
                // A full disk must not stop the analysis: the file is switched off, loudly.
                eprintln!(
                    "rdptap: writing the events file failed ({e}); events are no longer written"
                );
                self.events = None;
                self.events_failed = Some(e);
            }
        }
        if let Some(l) = &mut self.lines {
            l.push(text);
        }
    }

    /// A connection's verdicts.
    pub fn finished(&mut self, conn: u64, done: &Finished) {
        self.causes.push(done.verdict.cause);
        if self.console {
            console::print(conn, &done.verdict);
        }
        if let Some(s) = &done.session {
            self.causes.push(s.verdict.cause);
            if self.console {
                console::print_session(&s.key, &s.verdict);
            }
        }
    }

    /// A conversation that was not RDP.
    pub fn other(&mut self, c: Conversation) {
        self.other_count += 1;
        let at = self.others.partition_point(|o| o.bytes >= c.bytes);
        if at < TOP {
            self.others.insert(at, c);
            self.others.truncate(TOP);
        }
    }

    /// Flushes the event file; says whether it was written whole.
    pub fn close(&mut self) -> io::Result<()> {
        if let Some(e) = self.events_failed.take() {
            return Err(e);
        }
        match &mut self.events {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_biggest_conversations_are_kept_in_order() {
        let mut o = Output::default();
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        for bytes in [5, 50, 1, 500, 20, 7, 9, 11, 13, 2, 3, 4] {
            o.other(Conversation {
                client: a,
                server: a,
                bytes,
            });
        }
        let got: Vec<u64> = o.others.iter().map(|c| c.bytes).collect();
        assert_eq!(got, [500, 50, 20, 13, 11, 9, 7, 5, 4, 3]);
        assert_eq!(o.other_count, 12);
    }
}
