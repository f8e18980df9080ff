//! Real rustls sessions, every suite the *ring* provider has in TLS 1.2 and 1.3, decrypted
//! from their recorded bytes at several chunkings, with KeyUpdate, close_notify,
//! resumption, HelloRetryRequest and early data.

use super::testkit::{decrypt, keylog, rechunk, Chunking, Outcome, Peers, Step, Transcript};
use super::{KeyLog, Notice};
use crate::decode::tls::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};
use crate::vocab::Dir;
use rustls::crypto::ring::{cipher_suite, kx_group, ALL_CIPHER_SUITES};
use rustls::SupportedCipherSuite;

const CHUNKINGS: [Chunking; 5] = [
    Chunking::AsRecorded,
    Chunking::Bytes,
    Chunking::Random(7),
    Chunking::Random(0x5eed),
    Chunking::Coalesced,
];

/// Bytes that make a misplaced or dropped piece visible.
fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 8) as u8 ^ salt)
        .collect()
}

/// Requests and responses both ways, larger than one record, then close_notify both ways;
/// in TLS 1.3 with KeyUpdates from both sides in between.
fn script(tls13: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Send(
            Dir::C2S,
            b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n\r\n".to_vec(),
        ),
        Step::Send(Dir::S2C, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        Step::Send(Dir::C2S, pattern(40_000, 1)),
        Step::Send(Dir::S2C, pattern(20_000, 2)),
    ];
    if tls13 {
        steps.extend([
            Step::KeyUpdate(Dir::C2S),
            Step::Send(Dir::C2S, b"after the client's key update".to_vec()),
            Step::KeyUpdate(Dir::S2C),
            Step::Send(Dir::S2C, pattern(17_000, 3)),
            Step::KeyUpdate(Dir::C2S),
            Step::Send(Dir::C2S, b"after the second update".to_vec()),
        ]);
    }
    steps.extend([Step::Close(Dir::C2S), Step::Close(Dir::S2C)]);
    steps
}

fn is13(suite: SupportedCipherSuite) -> bool {
    matches!(suite, SupportedCipherSuite::Tls13(_))
}

fn wire(suite: SupportedCipherSuite) -> CipherSuite {
    CipherSuite(u16::from(suite.suite()))
}

/// Decrypts `t` at every chunking and checks the plaintext is exactly what was sent.
fn check_all(t: &Transcript, keys: &KeyLog, what: &str) -> Outcome {
    assert_eq!(
        t.received, t.sent,
        "{what}: the rustls peers themselves disagree"
    );
    let mut last = None;
    for how in CHUNKINGS {
        let o = decrypt(&rechunk(&t.chunks, how), keys);
        assert!(o.stops.is_empty(), "{what} {how:?}: {:#?}", o.events);
        assert!(o.plain == t.sent, "{what} {how:?}: plaintext differs");
        last = Some(o);
    }
    last.expect("chunkings")
}

#[test]
fn every_rustls_suite_decrypts_at_every_chunking() {
    for &suite in ALL_CIPHER_SUITES {
        let what = format!("{:?}", suite.suite());
        let peers = Peers::for_suite(suite);
        let t = peers.run(None, &script(is13(suite)));
        let keys = keylog(&peers.keylog.text());
        let o = check_all(&t, &keys, &what);
        let version = if is13(suite) {
            TlsVersion::TLS13
        } else {
            TlsVersion::TLS12
        };
        assert_eq!(o.negotiated, [(version, wire(suite), true, true)], "{what}");
        assert_eq!(o.facts.version, Some(version));
        assert_eq!(o.facts.server_name.as_deref(), Some("localhost"));
        assert!(o.facts.offered_suites.contains(&wire(suite)), "{what}");
        let closes: Vec<_> = o
            .alerts
            .iter()
            .map(|(d, a, enc)| (*d, a.level, a.description, *enc))
            .collect();
        let close = AlertDescription::CLOSE_NOTIFY;
        assert_eq!(
            closes,
            [
                (Dir::C2S, AlertLevel::WARNING, close, true),
                (Dir::S2C, AlertLevel::WARNING, close, true)
            ],
            "{what}"
        );
        // rustls asks the peer to update too, and the peer answers with its own KeyUpdate.
        let updates: &[Dir] = if is13(suite) {
            &[Dir::C2S, Dir::S2C, Dir::S2C, Dir::C2S, Dir::C2S, Dir::S2C]
        } else {
            &[]
        };
        assert_eq!(o.key_updates, updates, "{what}");
    }
}

#[test]
fn resumed_sessions_decrypt_in_tls12_and_tls13() {
    for suite in [
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ] {
        let what = format!("{:?}", suite.suite());
        let peers = Peers::for_suite(suite);
        let steps = [
            Step::Send(Dir::C2S, b"first connection".to_vec()),
            Step::Send(Dir::S2C, pattern(5000, 9)),
        ];
        let first = peers.run(None, &steps);
        let second = peers.run(None, &steps);
        let keys = keylog(&peers.keylog.text());
        let o1 = check_all(&first, &keys, &what);
        let o2 = check_all(&second, &keys, &what);
        assert!(!o1.facts.resumed, "{what}: first connection is not resumed");
        assert!(o2.facts.resumed, "{what}: second connection resumes");
        assert_ne!(o1.facts.client_random, o2.facts.client_random);
    }
}

#[test]
fn hello_retry_request_is_followed() {
    let suite = cipher_suite::TLS13_CHACHA20_POLY1305_SHA256;
    // The client's first key share is X25519; a server with only P-256 must ask again.
    let peers = Peers::build(suite, Some(vec![kx_group::SECP256R1]), |_, _| {});
    let t = peers.run(None, &script(true));
    let keys = keylog(&peers.keylog.text());
    let o = check_all(&t, &keys, "hello retry");
    assert_eq!(o.hello_retries, 1);
    assert!(o.facts.hello_retry);
    assert_eq!(o.negotiated.len(), 1);
}

#[test]
fn early_data_is_skipped_and_the_rest_decrypts() {
    let suite = cipher_suite::TLS13_AES_128_GCM_SHA256;
    let peers = Peers::build(suite, None, |c, s| {
        c.enable_early_data = true;
        s.max_early_data_size = 16384;
    });
    let steps = [
        Step::Send(Dir::C2S, b"after the handshake".to_vec()),
        Step::Send(Dir::S2C, b"reply".to_vec()),
    ];
    peers.run(None, &steps);
    let t = peers.run(Some(b"zero round trip data"), &steps);
    let keys = keylog(&peers.keylog.text());
    for how in CHUNKINGS {
        let o = decrypt(&rechunk(&t.chunks, how), &keys);
        assert!(o.stops.is_empty(), "{how:?}: {:#?}", o.events);
        assert!(o.facts.offered_early_data);
        assert_eq!(o.notices, [(Dir::C2S, Notice::EarlyDataSkipped)], "{how:?}");
        assert_eq!(o.plain, t.sent, "{how:?}");
    }
}

#[test]
fn keys_added_between_connections_serve_later_connections() {
    let suite = cipher_suite::TLS13_AES_128_GCM_SHA256;
    let peers = Peers::for_suite(suite);
    let steps = [Step::Send(Dir::C2S, b"hello".to_vec())];
    let first = peers.run(None, &steps);
    let text_after_first = peers.keylog.text();
    let second = peers.run(None, &steps);
    // One growing key log, as when a pcapng Decryption Secrets Block arrives mid-file.
    let mut keys = KeyLog::new();
    keys.add_text(&text_after_first);
    let o1 = decrypt(&first.chunks, &keys);
    assert_eq!(o1.plain, first.sent);
    let missing = decrypt(&second.chunks, &keys);
    assert!(!missing.negotiated[0].3, "keys not there yet");
    let all = peers.keylog.text();
    keys.add_text(&all[text_after_first.len()..]);
    let o2 = decrypt(&second.chunks, &keys);
    assert!(o2.stops.is_empty(), "{:#?}", o2.events);
    assert_eq!(o2.plain, second.sent);
}

#[test]
fn each_direction_fed_whole_one_after_the_other() {
    // A small session fits in the hold buffer, so either order of whole streams works.
    for suite in [
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let peers = Peers::for_suite(suite);
        let t = peers.run(None, &script(false));
        let keys = keylog(&peers.keylog.text());
        for first in [Dir::C2S, Dir::S2C] {
            let mut order: Vec<(Dir, Vec<u8>)> = Vec::new();
            for dir in [first, first.other()] {
                let all: Vec<u8> = t
                    .chunks
                    .iter()
                    .filter(|(d, _)| *d == dir)
                    .flat_map(|(_, b)| b.clone())
                    .collect();
                order.push((dir, all));
            }
            let o = decrypt(&order, &keys);
            assert!(o.stops.is_empty(), "{first:?} first: {:#?}", o.events);
            assert_eq!(o.plain, t.sent, "{first:?} first");
        }
    }
}
