//! What the pages say about a verdict, read from the typed [`VerdictRecord`].

use crate::session::event::VerdictRecord;
use crate::session::mstsc::MstscCode;
use crate::session::Cause;

/// True for the `ok` cause.
pub fn is_ok(v: &VerdictRecord) -> bool {
    v.verdict.cause == Cause::Ok
}

/// `ok`, `warn` (ok with warnings) or `bad`, for colours; `none` without a verdict.
pub fn class(v: Option<&VerdictRecord>) -> &'static str {
    match v {
        // Notes (a CA:TRUE host certificate) do not make a working session amber.
        Some(v)
            if is_ok(v)
                && v.verdict
                    .warnings
                    .iter()
                    .all(|w| w.severity == crate::session::Severity::Note) =>
        {
            "ok"
        }
        Some(v) if is_ok(v) => "warn",
        Some(_) => "bad",
        None => "none",
    }
}

/// "server (fin)": who closed first, and how.
pub fn closed(v: &VerdictRecord) -> String {
    format!(
        "{} ({})",
        v.verdict.closed_by.id(),
        v.verdict.close_kind.id()
    )
}

/// A disconnect code as the event file writes it, `0x904`.
pub fn code(c: u32) -> String {
    format!("0x{c:X}")
}

/// mstsc's codes for the HTML card: `0x904 / 0x7 (what they mean, inferred)`.
pub fn mstsc_text(m: &MstscCode) -> String {
    let ext = m
        .extended
        .map(|e| format!(" / {}", code(e)))
        .unwrap_or_default();
    let inf = if m.inferred { ", inferred" } else { "" };
    format!("{}{ext} ({}{inf})", code(m.disc_reason), m.meaning)
}

/// True when a connection's verdict says what its gateway session's verdict says (the
/// WebSocket transport's one connection): the pages show that verdict once.
pub fn same(v: Option<&VerdictRecord>, session: Option<&VerdictRecord>) -> bool {
    match (v, session) {
        (Some(v), Some(s)) => {
            v.verdict.cause == s.verdict.cause && v.verdict.summary == s.verdict.summary
        }
        _ => false,
    }
}
