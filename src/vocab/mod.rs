//! The words every layer shares: which way bytes travel, the protocol layers, how a
//! stream ended, why a connect failed, and the legs of a relayed connection.
//!
//! This module depends on nothing else in the crate, so every layer may use it; the
//! architecture test (`tests/architecture.rs`) keeps it that way. The `closed_vocab!`
//! macro that writes each closed vocabulary as one table lives here for the same reason.

mod closed;
mod connect;
mod dir;
mod end;
mod leg;

pub(crate) use closed::closed_vocab;
pub use connect::ConnectError;
pub use dir::{Dir, Layer};
pub use end::{EndKind, StreamEnd};
pub use leg::{FarEnd, Leg, Legs};
