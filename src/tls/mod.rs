//! Certificates: the local CA and its leaves, and parsing and judging what the upstream
//! host presents.

pub mod ca;
pub mod cert;
pub mod leaf;
pub mod rustls_cfg;
pub mod verify;
