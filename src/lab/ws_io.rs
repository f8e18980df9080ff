//! The WebSocket side of the lab gateway: the opening handshake's accept key.

use base64::Engine as _;

/// The GUID RFC 6455 appends to the client's key.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`, computed from the key exactly as
/// sent. The key is deliberately not validated: xfreerdp 2.11 sends 16 printable
/// characters that are not base64, and checks the answer against that same string.
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_example() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn xfreerdp_key_is_used_as_sent() {
        let k = accept_key("FN[SBOVE@\\ZNWDC");
        assert_eq!(k.len(), 28);
        assert_ne!(k, accept_key("FN[SBOVE@\\ZNWDD"));
    }
}
