//! Property tests: the decoders never panic, never hold more than a bounded amount of
//! memory, and give the same events however the stream is cut into chunks.

use proptest::prelude::*;
use rdptap::decode::rdp::RdpDecoder;
use rdptap::decode::Decoded;
use rdptap::vocab::Dir;

/// The most a decoder may hold across chunks: one TPKT frame per direction, one held
/// pre-confirm chunk and the TLS handshake reassembly buffers.
const BOUND: usize = 4 * 64 * 1024 + 64 * 1024;

fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    (
        std::fs::read(format!("{dir}{name}.c2s.bin")).unwrap(),
        std::fs::read(format!("{dir}{name}.s2c.bin")).unwrap(),
    )
}

/// Split a stream into protocol units (TPKT, fast-path or TLS records) so a replay can
/// alternate directions in roughly causal order.
fn units(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = match b[0] {
            0x14..=0x17 if b.len() >= 5 => 5 + u16::from_be_bytes([b[3], b[4]]) as usize,
            0x03 if b.len() >= 4 => u16::from_be_bytes([b[2], b[3]]) as usize,
            _ if b.len() >= 2 && b[1] & 0x80 == 0 => b[1] as usize,
            _ if b.len() >= 3 => (((b[1] & 0x7f) as usize) << 8) | b[2] as usize,
            _ => b.len(),
        }
        .clamp(1, b.len());
        let (u, rest) = b.split_at(len);
        out.push(u.to_vec());
        b = rest;
    }
    out
}

/// Replay units alternately, each cut at the given sizes (cycled).
fn replay(c: &[Vec<u8>], s: &[Vec<u8>], cuts: &[usize], max_buffered: &mut usize) -> Vec<Decoded> {
    let mut d = RdpDecoder::new();
    let mut out = Vec::new();
    let mut k = 0;
    for i in 0..c.len().max(s.len()) {
        for (dir, u) in [(Dir::C2S, c.get(i)), (Dir::S2C, s.get(i))] {
            let Some(mut u) = u.map(|u| u.as_slice()) else {
                continue;
            };
            while !u.is_empty() {
                let n = cuts[k % cuts.len()].clamp(1, u.len());
                k += 1;
                d.feed(dir, &u[..n], &mut out);
                *max_buffered = (*max_buffered).max(d.buffered());
                u = &u[n..];
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_or_hoard(
        chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..3000)), 0..40)
    ) {
        let mut d = RdpDecoder::new();
        let mut out = Vec::new();
        for (c2s, bytes) in &chunks {
            d.feed(if *c2s { Dir::C2S } else { Dir::S2C }, bytes, &mut out);
            prop_assert!(d.buffered() <= BOUND);
        }
    }

    #[test]
    fn rdp_shaped_garbage_never_panics(
        // Streams that start like RDP (TPKT, then TLS headers) with hostile lengths.
        lens in proptest::collection::vec(any::<u16>(), 1..20),
        fill in any::<u8>(),
    ) {
        let mut d = RdpDecoder::new();
        let mut out = Vec::new();
        let (c, s) = fixture("xrdp-tls12-ok");
        let cr = &c[..u16::from_be_bytes([c[2], c[3]]) as usize];
        let cc = &s[..u16::from_be_bytes([s[2], s[3]]) as usize];
        d.feed(Dir::C2S, cr, &mut out);
        d.feed(Dir::S2C, cc, &mut out);
        for (i, l) in lens.iter().enumerate() {
            let mut rec = vec![0x16 + (i % 2) as u8, 3, 3];
            rec.extend_from_slice(&l.to_be_bytes());
            rec.extend(std::iter::repeat_n(fill, (*l as usize).min(5000)));
            d.feed(if i % 3 == 0 { Dir::S2C } else { Dir::C2S }, &rec, &mut out);
            prop_assert!(d.buffered() <= BOUND);
        }
    }

    #[test]
    fn mutated_captures_never_panic(
        name in prop::sample::select(vec![
            "xrdp-tls12-ok", "xrdp-tls13-ok", "xrdp-rdp-security", "shadow-nla-wrongpass", "xrdp-tls-rdpclient",
        ]),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cuts in proptest::collection::vec(1usize..700, 1..10),
    ) {
        let (mut c, mut s) = fixture(name);
        for (i, (at, v)) in flips.iter().enumerate() {
            let buf = if i % 2 == 0 { &mut c } else { &mut s };
            let n = at.index(buf.len());
            buf[n] = *v;
        }
        let mut max = 0;
        replay(&units(&c), &units(&s), &cuts, &mut max);
        prop_assert!(max <= BOUND);
    }

    #[test]
    fn chunking_does_not_change_the_events(
        name in prop::sample::select(vec!["xrdp-tls12-ok", "xrdp-tls13-ok", "xrdp-rdp-security", "shadow-nla-ok"]),
        cuts in proptest::collection::vec(1usize..400, 1..12),
    ) {
        let (c, s) = fixture(name);
        let (cu, su) = (units(&c), units(&s));
        let mut max = 0;
        let whole = replay(&cu, &su, &[usize::MAX], &mut max);
        let cut = replay(&cu, &su, &cuts, &mut max);
        prop_assert_eq!(whole, cut);
    }
}

#[test]
fn every_single_byte_split_of_a_capture_gives_the_same_events() {
    let (c, s) = fixture("xrdp-tls12-ok");
    let (cu, su) = (units(&c), units(&s));
    let mut max = 0;
    let whole = replay(&cu, &su, &[usize::MAX], &mut max);
    let bytes = replay(&cu, &su, &[1], &mut max);
    assert_eq!(whole, bytes);
    assert!(whole.len() > 10);
}
