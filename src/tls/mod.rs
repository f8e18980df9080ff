//! Certificates: parsing and judging what the upstream host presents.

pub mod cert;
pub mod verify;
