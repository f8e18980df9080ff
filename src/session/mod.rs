//! Per-connection phases, timeline and the verdict.

pub mod cause;
pub mod conn;
pub mod diagnose;
pub mod gateway;
pub mod mstsc;
pub mod phase;
pub mod phases;
pub mod redact;
pub mod timeline;
pub mod verdict;

pub use cause::{Cause, CloseKind, ClosedBy};
pub use phase::Phase;
pub use timeline::{Entry, TcpEvent, Timeline, What};
pub use verdict::{Evidence, SideEnd, Verdict, Warning};
