//! Placeholders for the plaintext decoder entry points.

use crate::decode::rdp::RdpDecoder;
use crate::decode::{Decoded, Dir};

impl RdpDecoder {
    /// rdptap terminated TLS on both legs.
    pub fn tls_intercepted(&mut self) {}
    /// Decrypted bytes.
    pub fn feed_plain(&mut self, _dir: Dir, _data: &[u8], _out: &mut Vec<Decoded>) {}
}
