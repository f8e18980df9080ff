//! The local CA, the leaf certificates it mints, and rdptap's rustls configurations.

pub mod ca;
pub mod keylog;
pub mod leaf;
mod leaf_cache;
pub mod mirror;
pub mod rustls_cfg;
