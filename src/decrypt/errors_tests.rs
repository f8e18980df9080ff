//! Error paths: wrong and missing keys, truncation, garbage, oversized records and hellos,
//! unsupported suites and versions, captures that start mid-connection, plaintext alerts,
//! and a direction that runs too far ahead of the other.

use super::testkit::{
    client_hello, decrypt, handshake, keylog, rechunk, record, server_hello, Chunking, Peers, Step,
    Transcript,
};
use super::{FailCause, SecretLabel, StopReason, Unexpected, MAX_HELD};
use crate::decode::tls::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};
use crate::vocab::Dir;
use rustls::crypto::ring::cipher_suite;
use rustls::SupportedCipherSuite;

fn session(suite: SupportedCipherSuite) -> (Transcript, String) {
    let peers = Peers::for_suite(suite);
    let t = peers.run(
        None,
        &[
            Step::Send(Dir::C2S, b"request".to_vec()),
            Step::Send(Dir::S2C, b"response".to_vec()),
            Step::Close(Dir::S2C),
        ],
    );
    let text = peers.keylog.text();
    (t, text)
}

const SUITES: [SupportedCipherSuite; 2] = [
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    cipher_suite::TLS13_AES_128_GCM_SHA256,
];

/// Each direction's bytes joined.
fn stream(t: &Transcript, dir: Dir) -> Vec<u8> {
    t.chunks
        .iter()
        .filter(|(d, _)| *d == dir)
        .flat_map(|(_, b)| b.clone())
        .collect()
}

/// The number (from 1) of the record whose header is at `offset`, walking the headers.
fn record_number_at(stream: &[u8], offset: u64) -> Option<u64> {
    let (mut at, mut n) = (0usize, 1u64);
    while at < stream.len() {
        if at as u64 == offset {
            return Some(n);
        }
        at += 5 + usize::from(u16::from_be_bytes([stream[at + 3], stream[at + 4]]));
        n += 1;
    }
    None
}

#[test]
fn wrong_keys_stop_each_direction_once_at_its_first_protected_record() {
    for suite in SUITES {
        let (t, text) = session(suite);
        // Flip the last digit of every secret.
        let wrong: String = text
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                let last = if l.ends_with('0') { "1" } else { "0" };
                l.replace_range(l.len() - 1.., last);
                l + "\n"
            })
            .collect();
        let keys = keylog(&wrong);
        for how in [Chunking::AsRecorded, Chunking::Bytes] {
            let o = decrypt(&rechunk(&t.chunks, how), &keys);
            assert!(o.negotiated[0].3, "the secrets are there, just wrong");
            assert!(o.plain.iter().all(Vec::is_empty));
            assert_eq!(o.stops.len(), 2, "{:#?}", o.events);
            for (dir, reason) in &o.stops {
                let StopReason::DecryptFailed {
                    record,
                    offset,
                    cause,
                } = reason
                else {
                    panic!("{dir}: {reason}");
                };
                assert_eq!(*cause, FailCause::Tag);
                let s = stream(&t, *dir);
                assert_eq!(record_number_at(&s, *offset), Some(*record));
                let protected = if suite.version() == &rustls::version::TLS13 {
                    23
                } else {
                    22 // the TLS 1.2 Finished, right after ChangeCipherSpec
                };
                assert_eq!(s[*offset as usize], protected);
                assert!(reason.to_string().contains("decryption failed at record"));
            }
        }
    }
}

#[test]
fn missing_keys_name_the_connection_and_the_secret() {
    for suite in SUITES {
        let (t, _) = session(suite);
        let o = decrypt(&t.chunks, &keylog(""));
        assert!(!o.negotiated[0].3);
        let random = o.facts.client_random_hex().expect("random");
        let labels = if suite.version() == &rustls::version::TLS13 {
            [SecretLabel::ClientHandshake, SecretLabel::ServerHandshake]
        } else {
            [SecretLabel::MasterSecret; 2]
        };
        let mut stops = o.stops.clone();
        stops.sort_by_key(|(d, _)| d.idx());
        for ((dir, reason), label) in stops.iter().zip(labels) {
            let expected = StopReason::NoKeys {
                client_random: random.clone(),
                label,
            };
            assert_eq!(reason, &expected, "{dir}");
            assert!(reason.to_string().contains(&random));
        }
        assert_eq!(stops.len(), 2);
    }
}

#[test]
fn a_stream_that_ends_inside_a_record_is_reported_at_finish() {
    let (mut t, text) = session(cipher_suite::TLS13_AES_128_GCM_SHA256);
    let last = t
        .chunks
        .iter()
        .rposition(|(d, _)| *d == Dir::S2C)
        .expect("s2c");
    let len = t.chunks[last].1.len();
    t.chunks[last].1.truncate(len - 3);
    let o = decrypt(&t.chunks, &keylog(&text));
    assert_eq!(o.plain[0], t.sent[0]);
    assert_eq!(o.stops.len(), 1);
    let (dir, StopReason::Truncated { have, .. }) = &o.stops[0] else {
        panic!("{:?}", o.stops);
    };
    assert_eq!((*dir, *have), (Dir::S2C, len - 3));
}

#[test]
fn bytes_that_are_not_tls_stop_the_direction_at_their_offset() {
    let o = decrypt(&[(Dir::C2S, b"GET / HTTP/1.1\r\n".to_vec())], &keylog(""));
    let expected = StopReason::NotTls {
        offset: 0,
        content_type: b'G',
        version: u16::from_be_bytes(*b"ET"),
    };
    assert_eq!(o.stops, [(Dir::C2S, expected)]);
    let hello = client_hello([7; 32], &[0x1301]);
    let mut bytes = hello.clone();
    bytes.extend_from_slice(&[0x16, 0x7f, 0x01, 0, 1, 0]);
    let o = decrypt(&[(Dir::C2S, bytes)], &keylog(""));
    let (_, StopReason::NotTls { offset, .. }) = &o.stops[0] else {
        panic!("{:?}", o.stops);
    };
    assert_eq!(*offset, hello.len() as u64);
}

#[test]
fn a_record_claiming_64k_is_refused_before_it_is_buffered() {
    let mut bytes = client_hello([7; 32], &[0x1301]);
    let at = bytes.len() as u64;
    bytes.extend_from_slice(&[22, 3, 3, 0xff, 0xff]);
    bytes.extend_from_slice(&[0; 100]);
    let o = decrypt(&[(Dir::C2S, bytes)], &keylog(""));
    let expected = StopReason::RecordTooLarge {
        record: 2,
        offset: at,
        len: 0xffff,
    };
    assert_eq!(o.stops, [(Dir::C2S, expected)]);
}

#[test]
fn unknown_and_unsupported_suites_and_versions_stop_at_the_first_protected_record() {
    let cases = [
        (
            0x1234,
            0x0303,
            StopReason::UnsupportedSuite(CipherSuite(0x1234)),
        ),
        (
            0x0005,
            0x0303,
            StopReason::UnsupportedSuite(CipherSuite(0x0005)),
        ),
        (
            0x1301,
            0x0303,
            StopReason::UnsupportedSuite(CipherSuite(0x1301)),
        ),
        (
            0x009c,
            0x0302,
            StopReason::UnsupportedSuite(CipherSuite(0x009c)),
        ),
        (
            0x002f,
            0x0300,
            StopReason::UnsupportedVersion(TlsVersion::SSL3),
        ),
    ];
    for (suite, version, expected) in cases {
        let random = [9u8; 32];
        let keys = keylog(&format!(
            "CLIENT_RANDOM {} {}",
            super::hex::encode(&random),
            "ab".repeat(48)
        ));
        let protected = |v: u16| {
            let mut r = record(20, v, &[1]);
            r.extend(record(22, v, &[0; 40]));
            r
        };
        let chunks = [
            (Dir::C2S, client_hello(random, &[suite])),
            (Dir::S2C, server_hello([8; 32], suite, version)),
            (Dir::S2C, protected(version)),
            (Dir::C2S, protected(version)),
        ];
        let o = decrypt(&chunks, &keys);
        let v = TlsVersion(version);
        assert_eq!(o.negotiated, [(v, CipherSuite(suite), false, true)]);
        assert_eq!(
            o.stops,
            [(Dir::S2C, expected.clone()), (Dir::C2S, expected)]
        );
    }
}

#[test]
fn unsupported_versions_and_suites_are_named_by_decode_or_by_code() {
    let said = |r: StopReason| r.to_string();
    assert_eq!(
        said(StopReason::UnsupportedSuite(CipherSuite(0x1234))),
        "cipher suite 0x1234 is not supported for decryption"
    );
    assert_eq!(
        said(StopReason::UnsupportedSuite(CipherSuite(0x0005))),
        "cipher suite TLS_RSA_WITH_RC4_128_SHA is not supported for decryption"
    );
    assert_eq!(
        said(StopReason::UnsupportedVersion(TlsVersion::SSL3)),
        "version SSL 3.0 is not supported for decryption"
    );
    assert_eq!(
        said(StopReason::UnsupportedVersion(TlsVersion(0x0305))),
        "version 0x0305 is not supported for decryption"
    );
}

#[test]
fn a_capture_that_starts_mid_connection_is_named() {
    let o = decrypt(&[(Dir::C2S, record(23, 0x0303, &[1; 40]))], &keylog(""));
    assert!(matches!(
        o.stops[..],
        [(
            Dir::C2S,
            StopReason::Unexpected {
                what: Unexpected::NoHello,
                ..
            }
        )]
    ));
    let certificate = record(22, 0x0303, &handshake(11, &[0; 10]));
    let o = decrypt(&[(Dir::S2C, certificate)], &keylog(""));
    assert!(matches!(
        o.stops[..],
        [(
            Dir::S2C,
            StopReason::Unexpected {
                what: Unexpected::NoHello,
                ..
            }
        )]
    ));
}

#[test]
fn plaintext_alerts_are_reported_and_odd_ones_stop() {
    let chunks = [
        (Dir::C2S, client_hello([1; 32], &[0x1301])),
        (Dir::S2C, record(21, 0x0303, &[2, 40])),
        (Dir::C2S, record(21, 0x0303, &[2, 40, 1])),
    ];
    let o = decrypt(&chunks, &keylog(""));
    let (dir, alert, encrypted) = o.alerts[0];
    assert_eq!(
        (dir, alert.level, alert.description, encrypted),
        (Dir::S2C, AlertLevel::FATAL, AlertDescription(40), false)
    );
    assert!(o
        .events
        .contains(&"s2c: plaintext fatal alert handshake_failure (40)".to_string()));
    assert!(matches!(
        o.stops[..],
        [(
            Dir::C2S,
            StopReason::Unexpected {
                what: Unexpected::MalformedAlert,
                ..
            }
        )]
    ));
}

#[test]
fn a_hello_larger_than_the_bound_is_counted_not_buffered() {
    let claimed = super::MAX_HELLO + 1;
    let len = (claimed as u32).to_be_bytes();
    let mut body = vec![1, len[1], len[2], len[3]];
    body.resize(4 + claimed, 0);
    let chunks: Vec<_> = body
        .chunks(16384)
        .map(|c| (Dir::C2S, record(22, 0x0301, c)))
        .collect();
    let o = decrypt(&chunks, &keylog(""));
    assert!(matches!(
        o.stops[..],
        [(
            Dir::C2S,
            StopReason::Unexpected {
                what: Unexpected::HelloTooLarge,
                ..
            }
        )]
    ));
}

#[test]
fn a_direction_waiting_for_the_other_hello_is_bounded_and_reported() {
    let hello = client_hello([1; 32], &[0x1301]);
    let data = record(23, 0x0303, &[0; 16000]);
    let mut chunks = vec![(Dir::C2S, hello.clone())];
    for _ in 0..=MAX_HELD / data.len() {
        chunks.push((Dir::C2S, data.clone()));
    }
    let o = decrypt(&chunks, &keylog(""));
    assert_eq!(o.stops, [(Dir::C2S, StopReason::WaitedTooLong)]);

    let o = decrypt(
        &[(Dir::C2S, hello), (Dir::C2S, record(20, 0x0303, &[1]))],
        &keylog(""),
    );
    assert_eq!(
        o.stops,
        [(Dir::C2S, StopReason::PeerHelloMissing { held: 6 })]
    );
}
