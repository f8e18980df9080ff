//! Hostile input: truncation at every offset, random bytes and bit flips must never
//! panic, and every payload yields at most one event.

use super::test_pdus::*;
use super::*;
use crate::vocab::Dir::{C2S, S2C};
use proptest::prelude::*;

/// One sample of every PDU kind the decoder reports, with the side that sends it.
fn samples() -> Vec<(Dir, Vec<u8>)> {
    let mut redirect = vec![0, 0];
    redirect.extend(
        Bytes::new()
            .u16(0x0400)
            .u16(0)
            .u32(1)
            .u32(0x0000_0915)
            .u32(4)
            .raw(&utf16z("a"))
            .u32(6)
            .raw(&utf16z("ab"))
            .u32(2)
            .raw(&[0, 0])
            .u32(12)
            .u32(1)
            .u32(4)
            .raw(&utf16z("h"))
            .done(),
    );
    let logon_ext = Bytes::new()
        .u32(3)
        .u16(0)
        .u32(3)
        .u32(28)
        .raw(ARC_COOKIE)
        .u32(8)
        .u32(0xFFFF_FFFF)
        .u32(2)
        .done();
    let logon_v2 = Bytes::new()
        .u32(1)
        .u16(1)
        .u32(18)
        .u32(1)
        .u32(4)
        .u32(4)
        .zeros(558)
        .raw(&utf16z("d"))
        .raw(&utf16z("u"))
        .done();
    vec![
        (C2S, sec(0x0001, &Bytes::new().u32(8).zeros(8).done())),
        (C2S, client_info_pdu()),
        (S2C, license_error(7, 2)),
        (S2C, license_pdu(0x01, &[0; 16])),
        (S2C, demand_active()),
        (
            S2C,
            share_control(6, &Bytes::new().u32(1).u16(1).u8(0).done()),
        ),
        (S2C, share_control(0xA, &redirect)),
        (C2S, share_data(0x1F, &[1, 0, 0xea, 3])),
        (C2S, share_data(0x14, &[4, 0, 0, 0, 0, 0, 0, 0])),
        (C2S, share_data(0x27, &[0, 0, 0, 0, 3, 0, 50, 0])),
        (C2S, share_data(0x2B, &[1; 24])),
        (S2C, share_data(0x26, &logon_ext)),
        (S2C, share_data(0x26, &logon_v2)),
        (S2C, share_data(0x2F, &[7, 0, 0, 0])),
        (S2C, share_data(0x37, &[1, 0, 0, 0])),
        (S2C, share_data(0x36, &[1, 4, 0, 0])),
        (S2C, share_data_compressed(0x2F, 0x21, &[7, 0, 0, 0])),
        (S2C, sec(0x0008, &[0; 12])),
    ]
}

fn feed_all(protection: Protection, dir: Dir, payloads: impl Iterator<Item = Vec<u8>>) {
    let mut d = IoDecoder::new(protection);
    for p in payloads {
        let mut out = Vec::new();
        d.feed(dir, &p, &mut out);
        assert!(out.len() <= 1, "one payload gave {out:?}");
        for e in &out {
            // Rendering must not panic either.
            let _ = (e.summary(), serde_json::to_string(e));
        }
    }
}

#[test]
fn every_prefix_of_every_sample_is_safe() {
    for protection in [
        Protection::Enhanced,
        Protection::StandardClear,
        Protection::StandardEncrypted,
    ] {
        for (dir, pdu) in samples() {
            feed_all(protection, dir, (0..=pdu.len()).map(|n| pdu[..n].to_vec()));
        }
    }
}

#[test]
fn truncated_client_info_never_leaks_the_password() {
    let pdu = client_info_pdu();
    let mut d = IoDecoder::new(Protection::Enhanced);
    for n in 0..=pdu.len() {
        let mut out = Vec::new();
        d.feed(C2S, &pdu[..n], &mut out);
        for e in &out {
            let text = format!("{e:?}{}", serde_json::to_string(e).unwrap_or_default());
            assert!(!text.contains("Hunter2"), "prefix {n}: {text}");
            assert!(!text.contains("ARC-COOKIE"), "prefix {n}: {text}");
        }
    }
}

#[test]
fn deterministic_random_payloads_are_safe() {
    // xorshift64*: reproducible noise without a dependency on a RNG crate.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for protection in [
        Protection::Enhanced,
        Protection::StandardClear,
        Protection::StandardEncrypted,
    ] {
        let mut payloads = Vec::new();
        for i in 0..3000 {
            let len = (next() % 96) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Give a third of them a plausible header so the deeper decoders run.
            match i % 3 {
                0 if p.len() >= 4 => {
                    let total = p.len() as u16;
                    p[..2].copy_from_slice(&total.to_le_bytes());
                    p[2] = 0x10 | (p[2] & 0x0F);
                    p[3] = 0;
                }
                1 if p.len() >= 4 => {
                    let flags = [0x0040u16, 0x0080, 0x0001, 0x0400, 0x0000][(next() % 5) as usize];
                    p[..2].copy_from_slice(&flags.to_le_bytes());
                    p[2] = 0;
                    p[3] = 0;
                }
                _ => {}
            }
            payloads.push(p);
        }
        feed_all(protection, C2S, payloads.clone().into_iter());
        feed_all(protection, S2C, payloads.into_iter());
    }
}

#[test]
fn repeated_malformed_events_are_capped() {
    let (events, d) = run(
        Protection::Enhanced,
        &(0..100)
            .map(|_| (S2C, vec![0xFF, 0xFF, 0xFF, 0xFF]))
            .collect::<Vec<_>>(),
    );
    assert_eq!(events.len(), 16);
    assert_eq!(d.stats().malformed, 100);
    assert_eq!(d.stats().suppressed_events, 84);
}

proptest! {
    #[test]
    fn bit_flips_in_samples_are_safe(idx in 0usize..18, pos in 0usize..2048, bit in 0u8..8) {
        let samples = samples();
        let (dir, mut pdu) = samples[idx % samples.len()].clone();
        let at = pos % pdu.len().max(1);
        if let Some(b) = pdu.get_mut(at) {
            *b ^= 1 << bit;
        }
        feed_all(Protection::Enhanced, dir, std::iter::once(pdu.clone()));
        feed_all(Protection::StandardEncrypted, dir, std::iter::once(pdu));
    }

    #[test]
    fn arbitrary_bytes_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        feed_all(Protection::Enhanced, S2C, std::iter::once(bytes.clone()));
        feed_all(Protection::StandardClear, C2S, std::iter::once(bytes));
    }
}

#[test]
fn events_stay_small() {
    // DecodeEvent embeds RdpEvent by value; large payloads are boxed to keep it lean.
    assert!(
        std::mem::size_of::<RdpEvent>() <= 64,
        "{}",
        std::mem::size_of::<RdpEvent>()
    );
}
