//! Hostile input never panics: arbitrary bytes in both directions, and real transcripts
//! with bytes flipped, cut short or re-chunked, decrypted with their real keys.

use super::testkit::{decrypt, keylog, Chunks, Peers, Step};
use super::KeyLog;
use crate::vocab::Dir;
use proptest::prelude::*;
use rustls::crypto::ring::cipher_suite;
use std::sync::LazyLock;

/// Small real sessions (TLS 1.2 GCM, TLS 1.3 ChaCha with a KeyUpdate) and their key logs.
static SESSIONS: LazyLock<Vec<(Chunks, KeyLog)>> = LazyLock::new(|| {
    [
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ]
    .into_iter()
    .map(|suite| {
        let peers = Peers::for_suite(suite);
        let mut steps = vec![
            Step::Send(Dir::C2S, b"hello".to_vec()),
            Step::Send(Dir::S2C, vec![7; 3000]),
        ];
        if suite.version() == &rustls::version::TLS13 {
            steps.push(Step::KeyUpdate(Dir::C2S));
        }
        steps.extend([Step::Send(Dir::C2S, b"bye".to_vec()), Step::Close(Dir::C2S)]);
        let t = peers.run(None, &steps);
        (t.chunks, keylog(&peers.keylog.text()))
    })
    .collect()
});

fn chunks() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    proptest::collection::vec(
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_both_ways_never_panic(input in chunks(), tls_like in any::<bool>()) {
        let chunks: Vec<(Dir, Vec<u8>)> = input
            .into_iter()
            .map(|(c2s, mut b)| {
                // Half the runs start each chunk like a handshake record, to get past framing.
                if tls_like && b.len() > 5 {
                    b[0] = 22;
                    b[1] = 3;
                }
                (if c2s { Dir::C2S } else { Dir::S2C }, b)
            })
            .collect();
        let o = decrypt(&chunks, &KeyLog::new());
        prop_assert!(o.stops.len() <= 2);
    }

    #[test]
    fn damaged_real_sessions_never_panic(
        which in 0usize..2,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 0..4),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
    ) {
        let (chunks, keys) = &SESSIONS[which];
        let mut chunks = chunks.clone();
        let total: usize = chunks.iter().map(|(_, b)| b.len()).sum();
        for (at, x) in flips {
            let mut at = at.index(total);
            for (_, b) in chunks.iter_mut() {
                if at < b.len() {
                    b[at] ^= x;
                    break;
                }
                at -= b.len();
            }
        }
        if cut_it {
            let i = cut.index(chunks.len());
            chunks.truncate(i + 1);
            let last = &mut chunks[i].1;
            last.truncate(last.len() / 2);
        }
        let o = decrypt(&chunks, keys);
        prop_assert!(o.stops.len() <= 2);
        for (dir, plain) in [Dir::C2S, Dir::S2C].iter().zip(&o.plain) {
            prop_assert_eq!(o.stops.iter().filter(|(d, _)| d == dir).count() <= 1, true);
            prop_assert!(plain.len() <= total);
        }
    }
}
