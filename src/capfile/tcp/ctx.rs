//! What each step of reassembly needs besides the state it changes: the event's
//! connection, time and frame, the bounds, the shared memory budgets, the counts and the
//! consumer.

use super::config::{ReassemblyConfig, TcpStats};
use super::event::{ConnId, FlowEvent, FlowEventKind};
use std::time::Duration;

/// Memory in use across all connections.
#[derive(Debug, Default)]
pub(super) struct Budget {
    /// Out-of-order bytes held (with per-segment overhead).
    pub(super) buffered: usize,
    /// Retransmission-comparison bytes allocated.
    pub(super) history: usize,
}

/// The surroundings of one reassembly step.
pub(super) struct Ctx<'x> {
    pub(super) conn: ConnId,
    pub(super) ts: Duration,
    pub(super) frame: u64,
    pub(super) cfg: &'x ReassemblyConfig,
    pub(super) budget: &'x mut Budget,
    pub(super) stats: &'x mut TcpStats,
    pub(super) out: &'x mut dyn FnMut(FlowEvent<'_>),
}

impl Ctx<'_> {
    /// Hands one event of this step's connection to the consumer.
    pub(super) fn emit(&mut self, kind: FlowEventKind<'_>) {
        (self.out)(FlowEvent {
            conn: self.conn,
            ts: self.ts,
            frame: self.frame,
            kind,
        });
    }
}
