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

#[cfg(test)]
mod tests {
    use super::class;
    use crate::record::report::tests::{report, verdict};

    /// The card colour of one verdict line, with `warnings` set.
    fn colour(cause: &str, warnings: serde_json::Value) -> &'static str {
        let mut v: serde_json::Value =
            serde_json::from_str(&verdict(1, 1, 5, cause, "s")).expect("json");
        v["warnings"] = warnings;
        let r = report("v.jsonl", &v.to_string());
        class(r.conns[0].verdict())
    }

    #[test]
    fn a_working_session_with_a_certificate_finding_is_not_red() {
        let warning = serde_json::json!([{"cause":"cert_self_signed","detail":"self-signed"}]);
        let note = serde_json::json!([{"cause":"cert_is_ca","detail":"CA:TRUE","severity":"note"}]);
        assert_eq!(colour("ok", serde_json::json!([])), "ok");
        // A certificate problem the client accepted: amber, never red.
        assert_eq!(colour("ok", warning), "warn");
        // A note (CA:TRUE) leaves it green.
        assert_eq!(colour("ok", note), "ok");
        // Only a refused certificate, the cause, is red.
        assert_eq!(colour("cert_self_signed", serde_json::json!([])), "bad");
    }
}
