//! Hostile input: truncation at every offset, random bytes, random splits and bit flips
//! must never panic, and the sink never gets more bytes than were fed.

use super::test_msgs::{bytes, ntlm_out_channel, run_with, websocket_channel, Cutter, Step};
use super::*;
use crate::vocab::Dir::{C2S, S2C};
use proptest::prelude::*;

/// Runs a script with pieces cut by `cut`, renders every event, checks the sink bound.
fn check(script: &[Step], cut: Cutter<'_>) {
    let (events, sink, _) = run_with(script, cut);
    for e in &events {
        let _ = (format!("{e:?}"), serde_json::to_string(e));
        if let HttpEvent::Incomplete { at, .. } = e {
            let _ = at.to_string();
        }
    }
    let fed = |d: Dir| -> usize {
        script
            .iter()
            .map(|s| match s {
                Step::Bytes(dir, b) if *dir == d => b.len(),
                _ => 0,
            })
            .sum()
    };
    assert!(sink.c2s.len() <= fed(C2S));
    assert!(sink.s2c.len() <= fed(S2C));
}

fn whole(_: usize, b: &[u8]) -> Vec<Vec<u8>> {
    vec![b.to_vec()]
}

/// Every script cut short inside every step, then both directions closed.
#[test]
fn every_prefix_of_the_exchanges_is_safe() {
    for script in [ntlm_out_channel(), websocket_channel()] {
        for (i, step) in script.iter().enumerate() {
            let Step::Bytes(dir, b) = step else { continue };
            for k in 0..=b.len() {
                let mut cut: Vec<Step> = script.iter().take(i).cloned().collect();
                cut.push(Step::Bytes(*dir, b[..k].to_vec()));
                cut.push(Step::Fin(C2S));
                cut.push(Step::Fin(S2C));
                check(&cut, &mut whole);
            }
        }
    }
}

#[test]
fn deterministic_random_streams_are_safe() {
    // xorshift64*: reproducible noise without a dependency on a RNG crate.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    // Fragments that steer the decoder into its deeper states.
    let pieces: [&[u8]; 12] = [
        b"HTTP/1.1 200 OK\r\n",
        b"RDG_OUT_DATA / HTTP/1.1\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Content-Length: 12\r\n",
        b"Upgrade: websocket\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n",
        b"\r\n",
        b"5;x=y\r\nhello\r\n",
        b"0\r\nT: 1\r\n\r\n",
        b"WWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\n",
        b"Authorization: Negotiate YIIB\r\n",
        b"\xff\x00\n",
    ];
    for _ in 0..2000 {
        let mut script = Vec::new();
        for _ in 0..(next() % 12) {
            let dir = if next() % 2 == 0 { C2S } else { S2C };
            let mut b = Vec::new();
            for _ in 0..(next() % 6) {
                if next() % 4 == 0 {
                    b.extend((0..next() % 20).map(|_| next() as u8));
                } else {
                    b.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
                }
            }
            script.push(Step::Bytes(dir, b));
        }
        script.push(Step::Fin(S2C));
        script.push(Step::Fin(C2S));
        let split = (next() % 7) as usize + 1;
        check(&script, &mut |_, b| {
            b.chunks(split).map(<[u8]>::to_vec).collect()
        });
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_safe(
        c2s in proptest::collection::vec(any::<u8>(), 0..400),
        s2c in proptest::collection::vec(any::<u8>(), 0..400),
        split in 1usize..50,
    ) {
        let script = [
            bytes(C2S, &c2s),
            bytes(S2C, &s2c),
            Step::Fin(C2S),
            Step::Fin(S2C),
        ];
        check(&script, &mut |_, b| b.chunks(split).map(<[u8]>::to_vec).collect());
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_head_are_safe(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        chunked in any::<bool>(),
    ) {
        let head = if chunked {
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
        } else {
            "HTTP/1.1 500 Error\r\nContent-Type: text/plain\r\n\r\n"
        };
        let script = [bytes(S2C, head), bytes(S2C, &body), Step::Fin(S2C)];
        check(&script, &mut whole);
    }

    #[test]
    fn bit_flips_in_the_exchanges_are_safe(
        which in any::<bool>(),
        step in 0usize..16,
        pos in 0usize..4096,
        bit in 0u8..8,
        split in 1usize..64,
    ) {
        let mut script = if which { ntlm_out_channel() } else { websocket_channel() };
        let n = script.len();
        if let Some(Step::Bytes(_, b)) = script.get_mut(step % n) {
            let at = pos % b.len().max(1);
            if let Some(x) = b.get_mut(at) {
                *x ^= 1 << bit;
            }
        }
        check(&script, &mut |_, b| b.chunks(split).map(<[u8]>::to_vec).collect());
    }
}
