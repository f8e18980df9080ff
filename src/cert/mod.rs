//! Judging a host's certificate: expiry, names, key usage and the chain to a trusted
//! root. The certificate is parsed by [`crate::decode::x509`]; this layer decides what is
//! wrong with it. Pure: the time and the roots are inputs.

mod judge;

pub use judge::{assess, judge, system_roots, CertProblem};
