//! The process's threads: the per-core worker pool that the proxy and the lab gateway
//! both run their connections on.

pub mod limits;
pub mod signal;
pub mod workers;
