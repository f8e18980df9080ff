//! What the process needs from the operating system, shared by every command: the
//! per-core worker pool (the proxy and the lab gateway), signals, limits, free ports,
//! private files, and the console (what reaches the terminal).

pub mod console;
pub mod files;
pub mod limits;
pub mod ports;
pub mod signal;
pub mod workers;
