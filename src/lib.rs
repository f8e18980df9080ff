//! rdptap: a diagnosing man-in-the-middle proxy for RDP and RD Gateway connections.
pub mod analyze;
pub mod capfile;
pub mod cert;
pub mod cli;
pub mod decode;
pub mod decrypt;
pub mod lab;
pub mod proxy;
pub mod record;
pub mod relay;
pub mod runtime;
pub mod session;
pub mod tls;
pub mod vocab;
