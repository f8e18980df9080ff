//! The JSON Lines event file: one object per line, flushed whenever the queue drains so
//! the file is complete up to the last event at any moment.

use super::SinkMsg;
use crate::runtime::files::create_private;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use tokio::sync::mpsc;

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
/// never stall the relay's async workers.
pub fn run(out: Box<dyn Write + Send>, mut rx: mpsc::UnboundedReceiver<SinkMsg>) {
    let mut w = BufWriter::with_capacity(64 * 1024, out);
    let mut failed = false;
    while let Some(msg) = rx.blocking_recv() {
        let mut next = Some(msg);
        // Drain whatever is queued, then flush once.
        while let Some(m) = next.take() {
            match m {
                SinkMsg::Event(rec) => {
                    if !failed {
                        let line = serde_json::to_string(&rec).unwrap_or_else(|e| {
                            format!("{{\"kind\":\"encode_error\",\"error\":\"{e}\"}}")
                        });
                        if let Err(e) = writeln!(w, "{line}") {
                            failed = report(e);
                        }
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
            next = rx.try_recv().ok();
        }
        if !failed {
            if let Err(e) = w.flush() {
                failed = report(e);
            }
        }
    }
    let _ = w.flush();
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
    use crate::session::event::{Body, EventLine};
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
        let (tx, rx) = mpsc::unbounded_channel();
        let rec = Recorder::new(tx);
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
}
