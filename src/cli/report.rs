//! `rdptap report`: an event file as one HTML page, or as plain text.

use crate::record::report::{self, Report};
use crate::runtime::console::say;
use crate::runtime::files::create_private;
use clap::Args;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Examples shown by `rdptap report --help`.
pub const EXAMPLES: &str = "\
Examples:
  # Record a session, then turn its events into one self-contained HTML page:
  rdptap proxy --target rdp-host.example.com --events trace.jsonl --once
  rdptap report trace.jsonl                  # writes trace.html
  rdptap report trace.jsonl -o report.html

  # Plain text, for a terminal or an e-mail:
  rdptap report trace.jsonl --text
  rdptap report trace.jsonl --text -o trace.txt

  # Only some connections of a busy file:
  rdptap report trace.jsonl --conn 3,7 -o conn-3-7.html

The HTML page loads nothing from anywhere: open it in any browser, or attach it to a
ticket. It holds what the events hold (user and host names), so share it with care;
record with --redact-users to leave user names out.";

/// Options of `rdptap report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The event file (JSON Lines, written by `rdptap proxy --events`).
    #[arg(value_name = "EVENTS.jsonl")]
    pub events: PathBuf,
    /// Where to write the report, "-" for standard output [default: the event file's
    /// name with .html; standard output with --text].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write plain text instead of HTML, for e-mail and terminals.
    #[arg(long)]
    pub text: bool,
    /// Only these connections (their numbers, comma-separated).
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    pub conn: Vec<u64>,
}

/// Where the report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    Stdout,
    File(PathBuf),
}

/// Runs `rdptap report` and returns the process exit status.
pub fn run(args: ReportArgs) -> i32 {
    match execute(&args) {
        Ok(()) => 0,
        Err(e) => {
            crate::runtime::console::error(e);
            2
        }
    }
}

/// The default output: `trace.jsonl` → `trace.html`; text goes to standard output.
fn output_of(args: &ReportArgs) -> Output {
    match &args.output {
        Some(p) if p.as_os_str() == "-" => Output::Stdout,
        Some(p) => Output::File(p.clone()),
        None if args.text => Output::Stdout,
        None => Output::File(args.events.with_extension("html")),
    }
}

fn execute(args: &ReportArgs) -> Result<(), String> {
    let mut r: Report = report::load(&args.events).map_err(|e| e.to_string())?;
    if r.skipped > 0 {
        say(format!(
            "rdptap: warning: {} line{} of {} {} not JSON and left out (the first is line {})",
            r.skipped,
            if r.skipped == 1 { "" } else { "s" },
            args.events.display(),
            if r.skipped == 1 { "is" } else { "are" },
            r.first_skipped.unwrap_or(0)
        ));
    }
    if r.event_count() == 0 {
        return Err(format!("{} holds no events", args.events.display()));
    }
    if !args.conn.is_empty() {
        r.retain_conns(&args.conn).map_err(|e| e.to_string())?;
    }
    let body = if args.text {
        report::render_text(&r)
    } else {
        report::render_html(&r)
    };
    match output_of(args) {
        Output::Stdout => {
            // A closed pipe (`rdptap report x --text | head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(body.as_bytes());
        }
        Output::File(path) => {
            if same_file(&path, &args.events) {
                return Err(format!(
                    "refusing to overwrite the event file {} with the report",
                    path.display()
                ));
            }
            // The report holds what the events hold (user and host names): private, like them.
            let mut f = create_private(&path, false)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            f.write_all(body.as_bytes())
                .and_then(|()| f.flush())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            say(format!(
                "rdptap: wrote {} ({} connection{}, {} events)",
                path.display(),
                r.conns.len(),
                if r.conns.len() == 1 { "" } else { "s" },
                r.event_count()
            ));
        }
    }
    Ok(())
}

/// True when both paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: Option<&str>, text: bool) -> ReportArgs {
        ReportArgs {
            events: PathBuf::from("dir/trace.jsonl"),
            output: out.map(PathBuf::from),
            text,
            conn: Vec::new(),
        }
    }

    #[test]
    fn default_outputs() {
        assert_eq!(
            output_of(&args(None, false)),
            Output::File(PathBuf::from("dir/trace.html"))
        );
        assert_eq!(output_of(&args(None, true)), Output::Stdout);
        assert_eq!(output_of(&args(Some("-"), false)), Output::Stdout);
        assert_eq!(
            output_of(&args(Some("r.txt"), true)),
            Output::File(PathBuf::from("r.txt"))
        );
    }
}
