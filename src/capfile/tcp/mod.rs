//! TCP reassembly over captured segments, without I/O: a [`Reassembler`] takes the
//! segments in capture order and emits [`FlowEvent`]s per connection and direction.
//!
//! - In-order payload is handed on as the segment's own bytes; only out-of-order data is
//!   copied, into a buffer bounded per direction and overall ([`ReassemblyConfig`]).
//! - The first copy of a byte wins; a retransmission or overlap carrying different bytes is
//!   a `Conflict` event.
//! - Bytes the capture lacks become a `Gap` once they can no longer arrive: the receiver
//!   acknowledged past them, the out-of-order buffer's bound was reached, the snap length
//!   cut them, or the connection or the capture ended. Data after a gap continues at the
//!   offset after it; whether to keep decoding is the consumer's call.
//! - The SYN sender is the client. Without a SYN the roles are guessed and `Opened` says
//!   so; to swap them the consumer flips every later event's `Dir` for that connection.

mod config;
mod conn;
mod ctx;
mod event;
mod half;
mod history;
mod ooo;
mod reassembler;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod props_tests;

use super::packet::TcpSegment;

pub use config::{ReassemblyConfig, TcpStats};
pub use event::{ConnId, EndReason, FlowEvent, FlowEventKind, GapCause};
pub use reassembler::Reassembler;
