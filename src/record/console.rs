//! The verdict line on the console, in colour when stderr is a terminal (and `NO_COLOR`
//! is not set). Everything a peer may have written (summaries quote certificate names,
//! service messages, user names; a gateway session is named by its client's
//! RDG-Connection-Id) goes through [`inert`] first.

use crate::decode::note::Note;
use crate::decode::tls::TlsEvent;
use crate::decode::DecodeEvent;
use crate::runtime::console::{colour, inert, Stream};
use crate::session::{Cause, Verdict, What};
use crate::vocab::{Dir, FarEnd};

/// Render a verdict as the console shows it: one line, then the hint and warnings.
pub fn render(conn: u64, v: &Verdict, colour: bool) -> String {
    render_as(&format!("conn {conn}"), v, colour)
}

/// The verdict under `label` (`conn 3`, `gateway session {…}`), made inert.
fn render_as(label: &str, v: &Verdict, colour: bool) -> String {
    let (on, off) = if !colour {
        ("", "")
    } else if v.cause == Cause::Ok {
        ("\x1b[1;32m", "\x1b[0m")
    } else {
        ("\x1b[1;31m", "\x1b[0m")
    };
    let mut s = format!(
        "[{}] {on}{}{off} at {} (closed by {}, {}){}: {}\n    hint: {}",
        inert(label),
        v.cause.id(),
        v.phase.id(),
        v.closed_by,
        v.close_kind,
        if v.inferred { " [inferred]" } else { "" },
        inert(&v.summary),
        inert(&v.hint)
    );
    for w in &v.warnings {
        s.push_str(&format!(
            "\n    {}: {} ({})",
            w.severity.id(),
            inert(&w.detail),
            w.cause.id()
        ));
    }
    s
}

/// Print a verdict to stderr. `-q` keeps verdicts.
pub fn print(conn: u64, v: &Verdict) {
    eprintln!("{}", render(conn, v, colour(Stream::Stderr)));
}

/// Print a gateway session's verdict (every channel of one `RDG-Connection-Id`).
pub fn print_session(key: &str, v: &Verdict) {
    let label = format!("gateway session {key}");
    eprintln!("{}", render_as(&label, v, colour(Stream::Stderr)));
}

/// Logs one timeline entry at the level it deserves: decoder errors, refusals to
/// intercept and certificate problems are warnings; TLS records are trace. `far` names
/// what rdptap relays to. The log's own formatter makes every field inert.
pub fn log_entry(conn: u64, dir: Option<Dir>, what: &What, far: FarEnd) {
    let d = dir.map(|d| d.to_string()).unwrap_or_else(|| "---".into());
    let text = || crate::session::describe::describe_for(what, far);
    match what {
        What::Decoded(DecodeEvent::Tls(TlsEvent::AppRecord { .. })) => {
            tracing::trace!(conn, "{d} {}", text())
        }
        What::Decoded(DecodeEvent::Error(_)) => tracing::warn!(conn, "{d} {}", text()),
        What::Note(Note::NotIntercepted { .. }) => tracing::warn!(conn, "{d} {}", text()),
        What::CertAssessed(p) if p.iter().any(|f| !f.is_note()) => {
            tracing::warn!(conn, "{d} {}", text())
        }
        What::Phase(_) => tracing::debug!(conn, "{d} {}", text()),
        _ => tracing::info!(conn, "{d} {}", text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::console::is_hostile;
    use crate::session::{CloseKind, ClosedBy, Phase, SideEnd, Warning};

    fn verdict(summary: &str) -> Verdict {
        Verdict {
            phase: Phase::GwHttpAuth,
            cause: Cause::GwAuthRejected,
            closed_by: ClosedBy::Server,
            close_kind: CloseKind::Fin,
            summary: summary.into(),
            hint: "check\u{202E} it".into(),
            mstsc: None,
            inferred: false,
            warnings: vec![Warning {
                cause: Cause::CertExpired,
                detail: "CN=\u{1b}]0;title\u{7}".into(),
                severity: Default::default(),
            }],
            evidence: vec![],
            client: SideEnd {
                close_kind: None,
                after_ms: None,
                bytes: 0,
            },
            server: SideEnd {
                close_kind: None,
                after_ms: None,
                bytes: 0,
            },
            duration_ms: 0.0,
        }
    }

    #[test]
    fn peer_text_in_a_verdict_is_inert() {
        let v = verdict("user al\u{1b}[2Jice\n[conn 2] ok at active");
        let line = render_as("gateway session {x}\u{9b}2J", &v, false);
        // The verdict's own line breaks (hint, warning) are the only ones left.
        assert_eq!(line.lines().count(), 3, "{line}");
        for l in line.lines() {
            assert!(!l.chars().any(is_hostile), "{l:?}");
        }
        assert!(
            line.contains("user al\\u{1b}[2Jice\\n[conn 2] ok"),
            "{line}"
        );
        assert!(line.starts_with("[gateway session {x}\\u{9b}2J] gw_auth_rejected"));
    }

    #[test]
    fn colour_only_marks_the_cause() {
        let v = verdict("s");
        let line = render(1, &v, true);
        assert!(line.starts_with("[conn 1] \x1b[1;31mgw_auth_rejected\x1b[0m at"));
        assert!(!render(1, &v, false).contains('\x1b'));
    }
}
