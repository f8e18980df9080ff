//! What reaches the terminal: text a peer supplied made inert, colour only where it can
//! show, and the `-q` switch that leaves only verdicts and errors.
//!
//! Every command prints through here, so the rules hold for all of them: the proxy's
//! verdicts and start-up lines, `analyze`, `report`, `bundle` and the lab gateway.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// `-q`: only verdicts and errors reach the console.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Turns `-q` on (or off) for the whole process.
pub fn set_quiet(on: bool) {
    QUIET.store(on, Ordering::Relaxed);
}

/// True under `-q`.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Prints an informational line to standard error, unless `-q` is on. Verdicts and
/// errors are printed directly, since `-q` keeps them.
pub fn say(line: impl AsRef<str>) {
    if !quiet() {
        eprintln!("{}", line.as_ref());
    }
}

/// Prints an error (`rdptap: …`) to standard error, even under `-q`. Errors can quote a
/// file or a peer, so the text is made inert, keeping only its own line breaks (a TOML
/// error shows the offending line under its message).
pub fn error(msg: impl std::fmt::Display) {
    let text = msg.to_string();
    let lines: Vec<Cow<'_, str>> = text.split('\n').map(inert).collect();
    eprintln!("rdptap: {}", lines.join("\n"));
}

/// Which stream a line goes to, for the colour decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Whether to colour what is written to `stream`: only a terminal shows colour, and
/// `NO_COLOR` (any non-empty value, <https://no-color.org>) turns it off.
pub fn colour(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    colour_when(terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// The colour decision with its inputs given, so it can be tested without a terminal.
pub fn colour_when(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Whether a character must not reach a terminal as it is: C0 and C1 controls (escape
/// sequences, line breaks, the CSI introducer U+009B), DEL, the Unicode line and
/// paragraph separators, and the bidirectional marks, embeddings, overrides and isolates
/// that reorder what a line appears to say.
pub fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Text a peer may have supplied, made inert for a terminal: every character
/// [`is_hostile`] picks is written as an escape (`\u{1b}`, `\n`, `\u{202e}`), so a
/// certificate name or a service message cannot move the cursor, colour the screen,
/// start a forged line or reverse the words around it. Text with nothing to escape comes
/// back as it is, uncopied.
pub fn inert(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !is_hostile(c) {
            out.push(c);
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    Cow::Owned(out)
}

/// Sets up the `tracing` log on standard error: `-v`/`-vv` for more, `-q` for errors only
/// (`RUST_LOG` overrides both), coloured only by [`colour`], and every field (the message
/// included, which often quotes a peer) made [`inert`].
pub fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    set_quiet(quiet);
    let level = match (quiet, verbose) {
        (true, _) => "rdptap=error",
        (false, 0) => "rdptap=info",
        (false, 1) => "rdptap=debug",
        (false, _) => "rdptap=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(Stream::Stderr))
        .with_target(false)
        .compact()
        .fmt_fields(InertFields)
        .init();
}

/// Writes an event's fields as the compact format does (the message, then `name=value`
/// pairs), each made [`inert`].
struct InertFields;

impl<'w> tracing_subscriber::fmt::FormatFields<'w> for InertFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: tracing_subscriber::fmt::format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut seen = Fields::default();
        fields.record(&mut seen);
        writer.write_str(&inert(&seen.message))?;
        for (i, (name, value)) in seen.rest.iter().enumerate() {
            let sep = if i == 0 && seen.message.is_empty() {
                ""
            } else {
                " "
            };
            write!(writer, "{sep}{name}={}", inert(value))?;
        }
        Ok(())
    }
}

/// The fields of one event, as text.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &tracing::field::Field, text: String) {
        if field.name() == "message" {
            self.message = text;
        } else {
            self.rest.push((field.name(), text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn plain_text_is_untouched_and_not_copied() {
        let s = "the gateway's certificate is for rdgw.example.com — ok";
        assert!(matches!(inert(s), Cow::Borrowed(x) if x == s));
    }

    #[test]
    fn controls_escapes_and_bidi_become_visible_escapes() {
        assert_eq!(inert("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(inert("user\n[conn 9] ok"), "user\\n[conn 9] ok");
        assert_eq!(inert("x\r\ty"), "x\\r\\ty");
        assert_eq!(inert("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(inert("del\u{7f}"), "del\\u{7f}");
        assert_eq!(inert("evil\u{202E}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(inert("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(inert("line\u{2028}sep"), "line\\u{2028}sep");
        assert_eq!(inert("\u{200F}\u{061C}"), "\\u{200f}\\u{61c}");
    }

    #[test]
    fn nothing_hostile_survives_any_input() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!inert(&all).chars().any(is_hostile));
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(colour_when(true, None));
        assert!(!colour_when(false, None));
        assert!(!colour_when(true, Some(OsStr::new("1"))));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(colour_when(true, Some(OsStr::new(""))));
    }

    #[test]
    fn log_fields_are_inert() {
        use tracing_subscriber::layer::SubscriberExt;
        // Format one event through the same field formatter the console log uses.
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .compact()
            .fmt_fields(InertFields)
            .with_writer(move || out.clone());
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            let peer = "a\x1b[31mred\u{202E}x\nforged";
            tracing::warn!(conn = 3u64, "certificate {peer}");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(!text.trim_end().chars().any(is_hostile), "{text:?}");
        assert!(
            text.contains("certificate a\\u{1b}[31mred\\u{202e}x\\nforged conn=3"),
            "{text:?}"
        );
    }

    #[test]
    fn quiet_is_a_process_switch() {
        set_quiet(true);
        assert!(quiet());
        set_quiet(false);
        assert!(!quiet());
    }
}
