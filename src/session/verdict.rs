//! The one verdict per connection.

use crate::session::{Cause, CloseKind, ClosedBy, Phase};
use crate::vocab::closed_vocab;
use crate::vocab::{Dir, Layer};
use serde::{Deserialize, Serialize};

/// An event a verdict rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The entry's position in the connection's timeline (and event file order).
    pub seq: usize,
    /// Milliseconds since the client connected.
    pub at_ms: f64,
    /// The direction, if any.
    pub dir: Option<Dir>,
    /// The layer.
    pub layer: Layer,
    /// What the event says, briefly.
    pub what: String,
}

closed_vocab! {
    /// How much a warning matters.
    #[derive(Default)]
    pub enum Severity {
        /// A finding a client may warn about or refuse, which this connection survived.
        #[default]
        Warning = ("warning", "warning"),
        /// Worth knowing, but no client refuses a connection for it.
        Note = ("note", "note"),
    }
}

impl Severity {
    /// True for [`Severity::Warning`], the default.
    pub fn is_warning(&self) -> bool {
        *self == Severity::Warning
    }
}

/// A finding that did not end the connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The cause identifier this finding would have as a cause.
    pub cause: Cause,
    /// The finding in plain English.
    pub detail: String,
    /// `warning`, or `note` for a finding no client refuses a connection for. Written
    /// only for notes, so a file without it reads back as `warning`.
    #[serde(default, skip_serializing_if = "Severity::is_warning")]
    pub severity: Severity,
}

/// How one side's stream ended, as recorded in the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideEnd {
    /// fin, rst, timeout, error or shutdown; None if the side never ended.
    pub close_kind: Option<CloseKind>,
    /// Milliseconds since the client connected.
    pub after_ms: Option<f64>,
    /// Bytes this side sent through rdptap.
    pub bytes: u64,
}

/// The verdict on one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The last phase reached.
    pub phase: Phase,
    /// Why it ended.
    pub cause: Cause,
    /// Who closed first.
    pub closed_by: ClosedBy,
    /// How the first close happened.
    pub close_kind: CloseKind,
    /// One line with the facts.
    pub summary: String,
    /// What to check next.
    pub hint: String,
    /// The disconnect codes mstsc most likely showed, when known.
    pub mstsc: Option<crate::session::mstsc::MstscCode>,
    /// True when the cause is inferred from traffic shape rather than seen.
    pub inferred: bool,
    /// Findings that did not end the connection.
    pub warnings: Vec<Warning>,
    /// The events the verdict rests on.
    pub evidence: Vec<Evidence>,
    /// How the client's stream ended.
    pub client: SideEnd,
    /// How the server's stream ended.
    pub server: SideEnd,
    /// Connection duration in milliseconds.
    pub duration_ms: f64,
}
