//! The local CA, the leaf certificates it mints, and rdptap's rustls configurations.

pub mod ca;
pub mod keylog;
pub mod leaf;
pub mod rustls_cfg;
