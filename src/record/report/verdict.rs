//! Verdict lines read back: the cause, summary and hint, and what they rest on.

use super::model::{cause_id, phase_id, Event, Known};
use crate::session::{Cause, Phase};
use serde_json::Value;
use std::fmt;

/// What a verdict covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A direct-mode connection (no `scope` field).
    Direct,
    /// One TCP connection in gateway mode.
    Connection,
    /// A gateway session: every connection sharing an RDG-Connection-Id.
    GatewaySession,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Direct => "connection",
            Scope::Connection => "gateway connection",
            Scope::GatewaySession => "gateway session",
        })
    }
}

/// The disconnect codes the Windows client most likely showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Mstsc {
    /// disconnect reason, e.g. `0x904`.
    pub disc_reason: String,
    /// The extended reason, if any.
    pub extended: Option<String>,
    /// What the codes mean.
    pub meaning: String,
    /// True when the mapping rests on code families.
    pub inferred: bool,
}

/// A finding that did not end the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictWarning {
    /// Its cause identifier.
    pub cause: Known<Cause>,
    /// The finding in plain English.
    pub detail: String,
}

/// An event a verdict rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRef {
    /// The event's `seq` (a gateway session numbers its own timeline).
    pub seq: Option<u64>,
    /// Milliseconds since the accept.
    pub at_ms: Option<f64>,
    /// What the event says.
    pub what: String,
}

/// A verdict line, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The connection whose line it is.
    pub conn: u64,
    /// Line number in the file.
    pub line: usize,
    /// What it covers.
    pub scope: Scope,
    /// The RDG-Connection-Id of a gateway connection or session.
    pub gw_connection_id: Option<String>,
    /// Why it ended.
    pub cause: Known<Cause>,
    /// The last phase reached.
    pub phase: Known<Phase>,
    /// Who closed first (`client`, `server`, `proxy`, `none`).
    pub closed_by: String,
    /// How the first close happened.
    pub close_kind: String,
    /// One line with the facts.
    pub summary: String,
    /// What to check next.
    pub hint: String,
    /// mstsc's codes, when known.
    pub mstsc: Option<Mstsc>,
    /// True when the cause was deduced from traffic shape.
    pub inferred: bool,
    /// Findings that did not end the connection.
    pub warnings: Vec<VerdictWarning>,
    /// The events it rests on.
    pub evidence: Vec<EvidenceRef>,
    /// From accept to the verdict.
    pub duration_ms: Option<f64>,
}

impl Verdict {
    /// Reads a verdict line; None when it has no `cause`.
    pub fn from_event(e: &Event) -> Option<Verdict> {
        let s = |k: &str| e.str(k).unwrap_or_default().to_string();
        let cause = cause_id(e.str("cause")?);
        let scope = match e.str("scope") {
            Some("gateway_session") => Scope::GatewaySession,
            Some(_) => Scope::Connection,
            None => Scope::Direct,
        };
        let mstsc = e.get("mstsc").and_then(Value::as_object).map(|m| Mstsc {
            disc_reason: text(m.get("disc_reason")),
            extended: m.get("extended").and_then(Value::as_str).map(String::from),
            meaning: text(m.get("meaning")),
            inferred: m.get("inferred").and_then(Value::as_bool).unwrap_or(false),
        });
        let list = |k: &str| {
            e.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let warnings = list("warnings")
            .iter()
            .map(|w| VerdictWarning {
                cause: cause_id(w.get("cause").and_then(Value::as_str).unwrap_or("")),
                detail: text(w.get("detail")),
            })
            .collect();
        let evidence = list("evidence")
            .iter()
            .map(|v| EvidenceRef {
                seq: v.get("seq").and_then(Value::as_u64),
                at_ms: v.get("at_ms").and_then(Value::as_f64),
                what: text(v.get("what")),
            })
            .collect();
        Some(Verdict {
            conn: e.conn,
            line: e.line,
            scope,
            gw_connection_id: e.str("gw_connection_id").map(String::from),
            cause,
            phase: phase_id(e.str("phase").unwrap_or("")),
            closed_by: s("closed_by"),
            close_kind: s("close_kind"),
            summary: s("summary"),
            hint: s("hint"),
            mstsc,
            inferred: e.get("inferred").and_then(Value::as_bool).unwrap_or(false),
            warnings,
            evidence,
            duration_ms: e.get("duration_ms").and_then(Value::as_f64),
        })
    }

    /// True for the `ok` cause.
    pub fn is_ok(&self) -> bool {
        self.cause.id == "ok"
    }
}

/// A value as display text: strings as they are, anything else as JSON.
pub fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
