//! Locating fields in MCS connect PDUs for the proxy's lab rewrites.

/// The offset of clientRequestedProtocols in a Connect Response TPKT frame.
pub fn client_requested_protocols_offset(_tpkt_frame: &[u8]) -> Option<usize> {
    None
}
