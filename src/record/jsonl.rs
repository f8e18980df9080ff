//! The JSON Lines event file: one object per line, flushed whenever the queue drains so
//! the file is complete up to the last event at any moment.

use super::{SinkMsg, SinkRx};
use crate::runtime::files::create_private;
use crate::session::event::{Body, EventLine};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Where events are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (`--events -`).
    Stdout,
    /// A file.
    File {
        /// Its path.
        path: PathBuf,
        /// Append instead of truncating.
        append: bool,
    },
}

/// Open the target now, so a bad path fails at start-up and not at the first event.
pub fn open(target: &Target) -> io::Result<Box<dyn Write + Send>> {
    Ok(match target {
        Target::Stdout => Box::new(io::stdout()),
        Target::File { path, append } => Box::new(create_private(path, *append)?),
    })
}

/// Write events until every sender is gone. Runs on a blocking thread: file writes must
/// never stall the relay's async workers. Events the full queue dropped are said in an
/// `events_dropped` line once the writer has caught up.
pub fn run(out: Box<dyn Write + Send>, mut rx: SinkRx) {
    let mut w = BufWriter::with_capacity(64 * 1024, out);
    let mut failed = false;
    let mut said = 0;
    while let Some(msg) = rx.blocking_recv() {
        let mut next = Some(msg);
        // Drain whatever is queued, then flush once.
        while let Some(m) = next.take() {
            match m {
                SinkMsg::Event(rec) => {
                    if !failed {
                        failed = write_line(&mut w, &rec);
                    }
                }
                SinkMsg::Flush(done) => {
                    if !failed {
                        if let Err(e) = w.flush() {
                            failed = report(e);
                        }
                    }
                    let _ = done.send(());
                }
            }
            next = rx.try_recv();
        }
        if !failed {
            failed = say_dropped(&mut w, &rx, &mut said);
        }
        if !failed {
            if let Err(e) = w.flush() {
                failed = report(e);
            }
        }
    }
    if !failed {
        let _ = say_dropped(&mut w, &rx, &mut said);
    }
    let _ = w.flush();
}

/// Writes one event line; true when writing failed (and the file is off from now on).
fn write_line(w: &mut impl Write, rec: &EventLine) -> bool {
    let line = serde_json::to_string(rec)
        .unwrap_or_else(|e| format!("{{\"kind\":\"encode_error\",\"error\":\"{e}\"}}"));
    match writeln!(w, "{line}") {
        Ok(()) => false,
        Err(e) => report(e),
    }
}

/// Writes an `events_dropped` line when more events were dropped than `said` so far.
fn say_dropped(w: &mut impl Write, rx: &SinkRx, said: &mut u64) -> bool {
    let total = rx.dropped();
    if total <= *said {
        return false;
    }
    let events = total - *said;
    *said = total;
    tracing::warn!("{events} events dropped: the event queue was full (the event file cannot keep up); connections carry on");
    let line = EventLine::run(
        time::OffsetDateTime::now_utc(),
        Body::EventsDropped { events, total },
    );
    write_line(w, &line)
}

fn report(e: io::Error) -> bool {
    // A full disk must not stop the proxy: the event file is switched off, loudly.
    tracing::error!(
        "writing the event file failed ({e}); events are no longer recorded, connections carry on"
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Recorder;
    use crate::session::{Phase, What};

    #[test]
    fn writes_one_object_per_line_with_private_mode() {
        let dir = std::env::temp_dir().join(format!("rdptap-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("e.jsonl");
        let out = open(&Target::File {
            path: path.clone(),
            append: false,
        })
        .unwrap();
        let (rec, rx) = Recorder::channel(16);
        for i in 0..3 {
            let mut line = EventLine::run(
                time::OffsetDateTime::now_utc(),
                Body::Entry(What::Phase(Phase::X224)),
            );
            line.conn = i;
            rec.event(line);
        }
        drop(rec);
        run(out, rx);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(v["conn"], 2);
        assert_eq!(v["kind"], "phase");
        assert!(lines[0].starts_with("{\"ts\":"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_flood_past_the_queue_is_dropped_counted_and_said() {
        let dir = std::env::temp_dir().join(format!("rdptap-jsonl-flood-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("e.jsonl");
        let out = open(&Target::File {
            path: path.clone(),
            append: false,
        })
        .unwrap();
        // Nobody drains the queue of 4 while the flood comes: sending never waits.
        let (rec, rx) = Recorder::channel(4);
        let started = std::time::Instant::now();
        for i in 0..1000 {
            let mut line = EventLine::run(
                time::OffsetDateTime::now_utc(),
                Body::Entry(What::Phase(Phase::X224)),
            );
            line.conn = i;
            rec.event(line);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(rec.dropped(), 996);
        drop(rec);
        run(out, rx);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[3]["conn"], 3);
        let last = &lines[4];
        assert_eq!(
            (&last["conn"], &last["layer"], &last["kind"]),
            (&0.into(), &"session".into(), &"events_dropped".into())
        );
        assert_eq!(
            (&last["events"], &last["total"]),
            (&996.into(), &996.into())
        );
        // The line reads back as what it is.
        let back = EventLine::from_value(last).unwrap();
        assert!(matches!(
            back.event.body,
            Body::EventsDropped {
                events: 996,
                total: 996
            }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
