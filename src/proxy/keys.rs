//! Where the proxy's TLS keys go: the `--keylog` file, and the capture (`--pcap-keys`).

use crate::record::capture::Capture;
use crate::tls::keylog::{line, KeyLogFile};

/// Sends each key log line to the key log file and to the capture (`--pcap-keys`), so
/// one handshake's keys reach both.
#[derive(Debug)]
pub struct KeyTee {
    /// The `--keylog` file, if any.
    pub file: Option<KeyLogFile>,
    /// The capture, if `--pcap-keys` is on.
    pub capture: Option<Capture>,
}

impl rustls::KeyLog for KeyTee {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if let Some(f) = &self.file {
            f.log(label, client_random, secret);
        }
        if let Some(c) = &self.capture {
            c.key_line(line(label, client_random, secret));
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}
