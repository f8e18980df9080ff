//! The verdict line on the console, in colour when stderr is a terminal.

use crate::decode::note::Note;
use crate::decode::tls::TlsEvent;
use crate::decode::DecodeEvent;
use crate::session::{Cause, Verdict, What};
use crate::vocab::Dir;
use std::io::IsTerminal;

/// Render a verdict as the console shows it: one line, then the hint and warnings.
pub fn render(conn: u64, v: &Verdict, colour: bool) -> String {
    let (on, off) = if !colour {
        ("", "")
    } else if v.cause == Cause::Ok {
        ("\x1b[1;32m", "\x1b[0m")
    } else {
        ("\x1b[1;31m", "\x1b[0m")
    };
    let mut s = format!(
        "[conn {conn}] {on}{}{off} at {} (closed by {}, {}){}: {}\n    hint: {}",
        v.cause.id(),
        v.phase.id(),
        v.closed_by,
        v.close_kind,
        if v.inferred { " [inferred]" } else { "" },
        v.summary,
        v.hint
    );
    for w in &v.warnings {
        s.push_str(&format!(
            "\n    {}: {} ({})",
            w.severity.id(),
            w.detail,
            w.cause.id()
        ));
    }
    s
}

/// Print a verdict to stderr.
pub fn print(conn: u64, v: &Verdict) {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprintln!("{}", render(conn, v, colour));
}

/// Print a gateway session's verdict (every channel of one `RDG-Connection-Id`).
pub fn print_session(key: &str, v: &Verdict) {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let line = render(0, v, colour).replacen("[conn 0]", &format!("[gateway session {key}]"), 1);
    eprintln!("{line}");
}

/// Logs one timeline entry at the level it deserves: decoder errors, refusals to
/// intercept and certificate problems are warnings; TLS records are trace.
pub fn log_entry(conn: u64, dir: Option<Dir>, what: &What) {
    let d = dir.map(|d| d.to_string()).unwrap_or_else(|| "---".into());
    match what {
        What::Decoded(DecodeEvent::Tls(TlsEvent::AppRecord { .. })) => {
            tracing::trace!(conn, "{d} {}", crate::session::describe::describe(what))
        }
        What::Decoded(DecodeEvent::Error(_)) => {
            tracing::warn!(conn, "{d} {}", crate::session::describe::describe(what))
        }
        What::Note(Note::NotIntercepted { .. }) => {
            tracing::warn!(conn, "{d} {}", crate::session::describe::describe(what))
        }
        What::CertAssessed(p) if p.iter().any(|f| !f.is_note()) => {
            tracing::warn!(conn, "{d} {}", crate::session::describe::describe(what))
        }
        What::Phase(_) => tracing::debug!(conn, "{d} {}", crate::session::describe::describe(what)),
        _ => tracing::info!(conn, "{d} {}", crate::session::describe::describe(what)),
    }
}
