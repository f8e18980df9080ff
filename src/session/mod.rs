//! The per-connection session core: the sans-IO [`tracker`], its phases and timeline,
//! `diagnose` (the rule chain) and the verdict. The same core serves the live proxy and
//! `analyze`.

pub mod cause;
pub mod describe;
pub mod diagnose;
pub mod event;
mod event_read;
pub mod gateway;
pub mod kind;
pub mod mstsc;
pub mod phase;
pub mod phases;
pub mod redact;
pub mod timeline;
pub mod tracker;
pub mod verdict;

pub use cause::{Cause, CloseKind, ClosedBy};
pub use phase::Phase;
pub use timeline::{Entry, TcpEvent, Timeline, What};
pub use verdict::{Evidence, SideEnd, Verdict, Warning};
