//! Test-only helpers shared by the decoders' and the session's tests: the captured
//! fixtures in tests/data, and splitting a stream into its protocol units.

use super::reassembly::Hint;
use super::tpkt;

/// The two streams of a fixture in tests/data: (c2s, s2c).
pub fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let c = std::fs::read(format!("{dir}{name}.c2s.bin")).unwrap();
    let s = std::fs::read(format!("{dir}{name}.s2c.bin")).unwrap();
    (c, s)
}

/// Splits a stream into protocol units (TPKT, fast-path or TLS records).
pub fn units(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = match b[0] {
            0x14..=0x17 if b.len() >= 5 => 5 + u16::from_be_bytes([b[3], b[4]]) as usize,
            _ => match tpkt::pdu_hint(b) {
                Hint::Frame(n) | Hint::Needs(n) => n,
                _ => b.len(),
            },
        };
        let (u, rest) = b.split_at(len.min(b.len()));
        out.push(u);
        b = rest;
    }
    out
}
