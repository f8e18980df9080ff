//! Hostile input: truncated, bit-flipped and random streams must never panic, and
//! memory must stay within the handshake cap.

use super::*;

/// A tiny deterministic generator so the garbage tests need no extra crates.
fn lcg(seed: &mut u64) -> u8 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) as u8
}

#[test]
fn garbage_and_truncation_never_panic() {
    let cert = test_cert();
    let flow = tls12_flow(&cert);
    let whole: Vec<u8> = flow.iter().flat_map(|(_, b)| b.clone()).collect();
    // Truncations of a valid stream, in both directions.
    for cut in 0..whole.len() {
        let mut d = TlsDecoder::new();
        let _ = d.feed(S2C, &whole[..cut], &mut Vec::new());
        let _ = d.feed(C2S, &whole[cut..], &mut Vec::new());
    }
    // Random bit flips in a valid stream, and pure noise behind valid headers.
    let mut seed = 42u64;
    for _ in 0..2000 {
        let mut d = TlsDecoder::new();
        for (dir, bytes) in &flow {
            let mut b = bytes.clone();
            for _ in 0..3 {
                let i = lcg(&mut seed) as usize * b.len() / 256;
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << (lcg(&mut seed) % 8);
                }
            }
            let _ = d.feed(*dir, &b, &mut Vec::new());
        }
        let body: Vec<u8> = (0..lcg(&mut seed)).map(|_| lcg(&mut seed)).collect();
        for ct in [0x15, 0x16, 0x17] {
            let _ = d.feed(S2C, &rec(ct, &body), &mut Vec::new());
            let mut d2 = TlsDecoder::new();
            let _ = d2.feed(S2C, &rec(ct, &body), &mut Vec::new());
            let _ = d2.feed(S2C, &rec(0x16, &hs(2, &body)), &mut Vec::new());
            let _ = d2.feed(C2S, &rec(0x16, &hs(1, &body)), &mut Vec::new());
            let _ = d2.feed(S2C, &rec(0x16, &hs(11, &body)), &mut Vec::new());
        }
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            c in proptest::collection::vec(any::<u8>(), 0..600),
            s in proptest::collection::vec(any::<u8>(), 0..600),
            cut in 0usize..600,
        ) {
            let mut d = TlsDecoder::new();
            let mut out = Vec::new();
            let cut = cut.min(s.len());
            let _ = d.feed(C2S, &c, &mut out);
            let _ = d.feed(S2C, &s[..cut], &mut out);
            let _ = d.feed(S2C, &s[cut..], &mut out);
            prop_assert!(d.buffered(S2C) <= MAX_HANDSHAKE_MSG + 4);
        }

        #[test]
        fn arbitrary_handshake_bodies_never_panic(
            ty in 0u8..16,
            body in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut d = TlsDecoder::new();
            let mut out = Vec::new();
            let _ = d.feed(C2S, &rec(0x16, &hs(ty, &body)), &mut out);
            let _ = d.feed(S2C, &rec(0x16, &hs(ty, &body)), &mut out);
        }
    }
}

#[test]
fn a_hello_offering_thousands_of_suites_lists_64_and_counts_the_rest() {
    let suites: Vec<u16> = (0..5000u16).map(|i| 0x0a00 + i).collect();
    let ch = rec(0x16, &client_hello(None, &[], &[], &suites)[..]);
    // One record holds at most 16 KiB: split the hello over several.
    let body = &ch[5..];
    let records: Vec<u8> = body.chunks(16_000).flat_map(|c| rec(0x16, c)).collect();
    let mut d = TlsDecoder::new();
    let mut out = Vec::new();
    d.feed(C2S, &records, &mut out).unwrap();
    let Some(TlsEvent::ClientHello {
        cipher_suites,
        cipher_suites_omitted,
        ..
    }) = out.first()
    else {
        panic!("{out:?}")
    };
    assert_eq!(cipher_suites.len(), MAX_LISTED_SUITES);
    assert_eq!(cipher_suites[0], CipherSuite(0x0a00));
    assert_eq!(*cipher_suites_omitted, Some(5000 - 64));
    // The event reads back with its count.
    let v = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(v["cipher_suites"].as_array().unwrap().len(), 64);
    assert_eq!(v["cipher_suites_omitted"], 4936);
    let back: TlsEvent = serde_json::from_value(v).unwrap();
    assert_eq!(back, out[0]);
}
