//! What the process needs from the operating system, shared by every command: the
//! per-core worker pool (the proxy and the lab gateway), signals, limits and private
//! files.

pub mod files;
pub mod limits;
pub mod signal;
pub mod workers;
