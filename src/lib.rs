//! rdptap: a diagnosing man-in-the-middle proxy for RDP and RD Gateway connections.
pub mod capfile;
pub mod cli;
pub mod decode;
pub mod lab;
pub mod record;
pub mod relay;
pub mod session;
pub mod tls;
pub mod vocab;
