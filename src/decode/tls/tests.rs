//! Decoder tests on hand-built TLS byte streams, fed whole and split at every byte.

use super::*;
use crate::vocab::Dir::{C2S, S2C};

const HRR: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

fn rec(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 3, 3];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// An encrypted-looking record of `len` bytes.
fn enc(ct: u8, len: usize) -> Vec<u8> {
    rec(ct, &vec![0xa5; len])
}

fn hs(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(vec16(body));
    v
}

fn client_hello(sni: Option<&str>, alpn: &[&str], versions: &[u16], suites: &[u16]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[7; 32]);
    b.push(32);
    b.extend_from_slice(&[1; 32]);
    b.extend(vec16(
        &suites
            .iter()
            .flat_map(|s| s.to_be_bytes())
            .collect::<Vec<_>>(),
    ));
    b.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0];
        entry.extend(vec16(name.as_bytes()));
        exts.extend(ext(0, &vec16(&entry)));
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        exts.extend(ext(16, &vec16(&list)));
    }
    if !versions.is_empty() {
        let mut list = vec![(versions.len() * 2) as u8];
        list.extend(versions.iter().flat_map(|v| v.to_be_bytes()));
        exts.extend(ext(43, &list));
    }
    exts.extend(ext(10, &[0, 2, 0, 0x1d]));
    b.extend(vec16(&exts));
    hs(1, &b)
}

fn server_hello(random: [u8; 32], suite: u16, selected: Option<u16>) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    let mut exts = ext(0xff01, &[0]);
    if let Some(v) = selected {
        exts.extend(ext(43, &v.to_be_bytes()));
    }
    b.extend(vec16(&exts));
    hs(2, &b)
}

fn certificate(ders: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for d in ders {
        list.extend_from_slice(&(d.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(d);
    }
    let mut b = (list.len() as u32).to_be_bytes()[1..].to_vec();
    b.extend(list);
    hs(11, &b)
}

fn test_cert() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["lab-host".to_string()]).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "lab-host");
    p.self_signed(&key).unwrap().der().to_vec()
}

type Flow = Vec<(Dir, Vec<u8>)>;
type Seen = Vec<(Dir, TlsEvent)>;

/// Feeds each segment as the given chunks; collects events and errors per direction.
fn run_with(flow: &Flow, split: impl Fn(usize, &[u8]) -> Vec<Vec<u8>>) -> (Seen, TlsDecoder) {
    let mut d = TlsDecoder::new();
    let mut seen = Vec::new();
    for (i, (dir, bytes)) in flow.iter().enumerate() {
        for chunk in split(i, bytes) {
            let mut out = Vec::new();
            let _ = d.feed(*dir, &chunk, &mut out);
            seen.extend(out.into_iter().map(|e| (*dir, e)));
        }
    }
    (seen, d)
}

fn run(flow: &Flow) -> (Seen, TlsDecoder) {
    run_with(flow, |_, b| vec![b.to_vec()])
}

/// Asserts that every single split point, and byte-at-a-time feeding, give `want`.
fn check_splits(flow: &Flow, want: &Seen) {
    for seg in 0..flow.len() {
        for cut in 0..=flow[seg].1.len() {
            let (got, _) = run_with(flow, |i, b| {
                if i == seg {
                    vec![b[..cut].to_vec(), b[cut..].to_vec()]
                } else {
                    vec![b.to_vec()]
                }
            });
            assert_eq!(&got, want, "segment {seg} cut at {cut}");
        }
    }
    let (got, _) = run_with(flow, |_, b| b.chunks(1).map(<[u8]>::to_vec).collect());
    assert_eq!(&got, want, "byte at a time");
}

fn kinds(seen: &Seen) -> Vec<String> {
    seen.iter()
        .map(|(d, e)| {
            let v = serde_json::to_value(e).unwrap();
            format!("{d}:{}", v["kind"].as_str().unwrap())
        })
        .collect()
}

fn tls12_flow(cert: &[u8]) -> Flow {
    let mut s_flight = server_hello([9; 32], 0xc030, None);
    s_flight.extend(certificate(&[cert]));
    s_flight.extend(hs(14, &[]));
    vec![
        (
            C2S,
            rec(
                0x16,
                &client_hello(Some("lab-host"), &[], &[], &[0xc030, 0x00ff]),
            ),
        ),
        (S2C, rec(0x16, &s_flight)),
        (
            C2S,
            [rec(0x16, &hs(16, &[0; 66])), rec(0x14, &[1]), enc(0x16, 40)].concat(),
        ),
        (
            S2C,
            [rec(0x16, &hs(4, &[0; 10])), rec(0x14, &[1]), enc(0x16, 40)].concat(),
        ),
        (C2S, [enc(0x17, 100), enc(0x17, 200)].concat()),
        (S2C, enc(0x17, 300)),
        (C2S, enc(0x15, 26)),
    ]
}

#[test]
fn tls12_full_handshake() {
    let cert = test_cert();
    let flow = tls12_flow(&cert);
    let (seen, d) = run(&flow);
    assert_eq!(
        kinds(&seen),
        [
            "c2s:client_hello",
            "s2c:server_hello",
            "s2c:certificate",
            "s2c:handshake_done",
            "c2s:app_record",
            "c2s:app_record",
            "s2c:app_record",
            "c2s:encrypted_alert_likely"
        ]
    );
    assert_eq!(
        seen[0].1,
        TlsEvent::ClientHello {
            legacy_version: TlsVersion::TLS12,
            versions: vec![TlsVersion::TLS12],
            cipher_suites: vec![CipherSuite(0xc030), CipherSuite(0x00ff)],
            cipher_suites_omitted: Some(0),
            sni: Some("lab-host".into()),
            alpn: vec![],
        }
    );
    let TlsEvent::Certificate { chain } = &seen[2].1 else {
        panic!()
    };
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].der, cert);
    assert!(chain[0].self_signed);
    assert_eq!(seen[5].1, TlsEvent::AppRecord { seq: 2, len: 200 });
    assert_eq!(seen[7].1, TlsEvent::EncryptedAlertLikely { len: 26 });
    assert_eq!(d.version(), Some(TlsVersion::TLS12));
    assert_eq!(d.cipher_suite(), Some(CipherSuite(0xc030)));
    assert!(d.handshake_done());
    let c = d.stats(C2S);
    assert_eq!((c.records, c.app_records), (7, 2));
    assert_eq!(d.stats(S2C).app_records, 1);
    assert_eq!(d.buffered(C2S) + d.buffered(S2C), 0);
    check_splits(&flow, &seen);
}

#[test]
fn handshake_messages_split_across_records() {
    let cert = test_cert();
    let mut msgs = server_hello([9; 32], 0x009c, None);
    msgs.extend(certificate(&[&cert, &cert]));
    msgs.extend(hs(14, &[]));
    let ch = rec(0x16, &client_hello(None, &[], &[], &[0x009c]));
    let (want, _) = run(&vec![(C2S, ch.clone()), (S2C, rec(0x16, &msgs))]);
    assert_eq!(kinds(&want).len(), 3);
    for size in [1, 2, 3, 5, 64, 333, msgs.len() - 1] {
        let records: Vec<u8> = msgs.chunks(size).flat_map(|c| rec(0x16, c)).collect();
        let flow = vec![(C2S, ch.clone()), (S2C, records)];
        let (got, _) = run(&flow);
        assert_eq!(got, want, "records of {size}");
        if size == 333 {
            check_splits(&flow, &want);
        }
    }
}

#[test]
fn tls13_handshake_hides_certificate() {
    let flow: Flow = vec![
        (
            C2S,
            rec(
                0x16,
                &client_hello(
                    Some("rdp.example"),
                    &["h2", "http/1.1"],
                    &[0x2a2a, 0x0304, 0x0303],
                    &[0x1a1a, 0x1301, 0x1302],
                ),
            ),
        ),
        (S2C, rec(0x16, &server_hello([3; 32], 0x1302, Some(0x0304)))),
        (
            S2C,
            [
                rec(0x14, &[1]),
                enc(0x17, 30),
                enc(0x17, 900),
                enc(0x17, 80),
            ]
            .concat(),
        ),
        (C2S, [rec(0x14, &[1]), enc(0x17, 53)].concat()),
        (S2C, [enc(0x17, 250), enc(0x17, 19)].concat()),
        (C2S, [enc(0x17, 1000), enc(0x17, 19)].concat()),
    ];
    let (seen, d) = run(&flow);
    assert_eq!(
        kinds(&seen),
        [
            "c2s:client_hello",
            "s2c:server_hello",
            "s2c:certificate_hidden",
            "c2s:handshake_done",
            "s2c:app_record",
            "s2c:encrypted_alert_likely",
            "c2s:app_record",
            "c2s:encrypted_alert_likely"
        ]
    );
    let TlsEvent::ClientHello {
        versions,
        alpn,
        sni,
        cipher_suites,
        ..
    } = &seen[0].1
    else {
        panic!()
    };
    assert_eq!(versions[1], TlsVersion::TLS13);
    assert_eq!(versions[0].to_string(), "GREASE");
    assert_eq!(cipher_suites[0].to_string(), "GREASE");
    assert_eq!(alpn, &["h2", "http/1.1"]);
    assert_eq!(sni.as_deref(), Some("rdp.example"));
    assert_eq!(
        seen[1].1,
        TlsEvent::ServerHello {
            version: TlsVersion::TLS13,
            cipher_suite: CipherSuite(0x1302),
            hello_retry_request: false,
            downgrade_sentinel: None,
        }
    );
    assert_eq!(d.version(), Some(TlsVersion::TLS13));
    // The 19-byte records are counted as application records but reported as alerts.
    assert_eq!(d.stats(S2C).app_records, 2);
    assert_eq!(d.stats(C2S).app_records, 2);
    assert_eq!(seen[6].1, TlsEvent::AppRecord { seq: 1, len: 1000 });
    check_splits(&flow, &seen);
}

#[test]
fn tls13_client_rejecting_the_certificate() {
    // The client's first encrypted record is a 19-byte alert, not its Finished.
    let flow: Flow = vec![
        (
            C2S,
            rec(0x16, &client_hello(None, &[], &[0x0304], &[0x1301])),
        ),
        (
            S2C,
            [
                rec(0x16, &server_hello([3; 32], 0x1301, Some(0x0304))),
                enc(0x17, 700),
            ]
            .concat(),
        ),
        (C2S, [rec(0x14, &[1]), enc(0x17, 19)].concat()),
    ];
    let (seen, d) = run(&flow);
    assert_eq!(
        kinds(&seen),
        [
            "c2s:client_hello",
            "s2c:server_hello",
            "s2c:certificate_hidden",
            "c2s:encrypted_alert_likely"
        ]
    );
    assert!(!d.handshake_done());
    assert_eq!(d.stats(C2S).app_records, 0);
    check_splits(&flow, &seen);
}

#[test]
fn hello_retry_request_then_real_server_hello() {
    let flow: Flow = vec![
        (
            C2S,
            rec(0x16, &client_hello(None, &[], &[0x0304], &[0x1301])),
        ),
        (
            S2C,
            [
                rec(0x16, &server_hello(HRR, 0x1301, Some(0x0304))),
                rec(0x14, &[1]),
            ]
            .concat(),
        ),
        // Middlebox-compatibility CCS, then the second ClientHello still in the clear.
        (
            C2S,
            [
                rec(0x14, &[1]),
                rec(0x16, &client_hello(None, &[], &[0x0304], &[0x1301])),
            ]
            .concat(),
        ),
        (
            S2C,
            [
                rec(0x16, &server_hello([5; 32], 0x1301, Some(0x0304))),
                enc(0x17, 500),
            ]
            .concat(),
        ),
        (C2S, enc(0x17, 53)),
    ];
    let (seen, d) = run(&flow);
    assert_eq!(
        kinds(&seen),
        [
            "c2s:client_hello",
            "s2c:server_hello",
            "c2s:client_hello",
            "s2c:server_hello",
            "s2c:certificate_hidden",
            "c2s:handshake_done"
        ]
    );
    assert!(matches!(
        seen[1].1,
        TlsEvent::ServerHello {
            hello_retry_request: true,
            ..
        }
    ));
    assert!(matches!(
        seen[3].1,
        TlsEvent::ServerHello {
            hello_retry_request: false,
            ..
        }
    ));
    assert!(d.handshake_done());
    check_splits(&flow, &seen);
}

#[test]
fn plaintext_alerts_and_downgrade_sentinel() {
    let mut random = [1u8; 32];
    random[24..].copy_from_slice(b"DOWNGRD\x01");
    let flow: Flow = vec![
        (
            C2S,
            rec(0x16, &client_hello(None, &[], &[0x0304, 0x0303], &[0xc02f])),
        ),
        (S2C, rec(0x16, &server_hello(random, 0xc02f, None))),
        (C2S, rec(0x15, &[2, 86])),
        (S2C, rec(0x15, &[2, 40])),
    ];
    let (seen, _) = run(&flow);
    let TlsEvent::ServerHello {
        downgrade_sentinel,
        version,
        ..
    } = &seen[1].1
    else {
        panic!()
    };
    assert_eq!(downgrade_sentinel.as_deref(), Some("tls12"));
    assert_eq!(*version, TlsVersion::TLS12);
    assert_eq!(
        seen[2].1,
        TlsEvent::Alert {
            level: AlertLevel(2),
            description: AlertDescription(86)
        }
    );
    let json = serde_json::to_value(&seen[3].1).unwrap();
    assert_eq!(json["description"], "handshake_failure");
    assert_eq!(json["level"], "fatal");
    check_splits(&flow, &seen);
}

#[test]
fn resumed_tls12_handshake_server_finishes_first() {
    let flow: Flow = vec![
        (C2S, rec(0x16, &client_hello(None, &[], &[], &[0xc02f]))),
        (
            S2C,
            [
                rec(0x16, &server_hello([2; 32], 0xc02f, None)),
                rec(0x14, &[1]),
                enc(0x16, 40),
            ]
            .concat(),
        ),
        (C2S, [rec(0x14, &[1]), enc(0x16, 40)].concat()),
        (C2S, enc(0x17, 10)),
    ];
    let (seen, d) = run(&flow);
    assert_eq!(
        kinds(&seen),
        [
            "c2s:client_hello",
            "s2c:server_hello",
            "c2s:handshake_done",
            "c2s:app_record"
        ]
    );
    assert!(d.handshake_done());
    check_splits(&flow, &seen);
}

#[test]
fn app_records_are_reported_then_counted() {
    let mut flow = tls12_flow(&test_cert());
    flow.truncate(4);
    let many: Vec<u8> = (0..100).flat_map(|i| enc(0x17, 20 + i)).collect();
    flow.push((S2C, many));
    let (seen, d) = run(&flow);
    let apps: Vec<_> = seen
        .iter()
        .filter(|(_, e)| matches!(e, TlsEvent::AppRecord { .. }))
        .collect();
    assert_eq!(apps.len(), 64);
    assert_eq!(apps[63].1, TlsEvent::AppRecord { seq: 64, len: 83 });
    assert_eq!(d.stats(S2C).app_records, 100);
    let (chunked, _) = run_with(&flow, |_, b| b.chunks(7).map(<[u8]>::to_vec).collect());
    assert_eq!(chunked, seen);
}

#[test]
fn invalid_header_stops_only_that_direction() {
    let mut d = TlsDecoder::new();
    let mut out = Vec::new();
    let ch = rec(0x16, &client_hello(None, &[], &[], &[0x002f]));
    let mut bad = ch.clone();
    bad.extend_from_slice(&[0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80]);
    let err = d.feed(C2S, &bad, &mut out).unwrap_err();
    assert_eq!(err.layer, Layer::Tls);
    assert_eq!(err.offset, ch.len() as u64);
    assert!(err.reason.contains("content type"), "{}", err.reason);
    assert_eq!(out.len(), 1);
    assert!(d.stopped(C2S));
    assert!(d.feed(C2S, &ch, &mut out).is_ok());
    assert_eq!(out.len(), 1);
    d.feed(S2C, &rec(0x15, &[2, 50]), &mut out).unwrap();
    assert_eq!(out.len(), 2);

    for (hdr, what) in [
        (&[0x16, 0x02, 0x00, 0x00, 0x01][..], "version"),
        (&[0x17, 0x03, 0x03, 0x48, 0x01][..], "length"),
        (&[0x80, 0x03, 0x03, 0x00, 0x01][..], "content type"),
    ] {
        let mut d = TlsDecoder::new();
        let e = d.feed(S2C, hdr, &mut Vec::new()).unwrap_err();
        assert!(e.reason.contains(what), "{}", e.reason);
        assert_eq!(e.offset, 0);
    }
}

#[test]
fn oversized_handshake_message_is_refused() {
    let mut d = TlsDecoder::new();
    let mut out = Vec::new();
    // A Certificate message claiming 16 MiB, in a record of honest length.
    let e = d
        .feed(S2C, &rec(0x16, &[11, 0xff, 0xff, 0xff, 0, 0]), &mut out)
        .unwrap_err();
    assert!(e.reason.contains("exceeds"), "{}", e.reason);
    assert_eq!(d.buffered(S2C), 0);
    // Just over the cap, arriving slowly across many records: refused on the header.
    let mut d = TlsDecoder::new();
    let len = (MAX_HANDSHAKE_MSG + 1) as u32;
    let mut msg = vec![11];
    msg.extend_from_slice(&len.to_be_bytes()[1..]);
    assert!(d.feed(S2C, &rec(0x16, &msg[..2]), &mut out).is_ok());
    assert!(d.feed(S2C, &rec(0x16, &msg[2..]), &mut out).is_err());
}

#[test]
fn malformed_hello_is_an_error() {
    let mut d = TlsDecoder::new();
    let e = d
        .feed(C2S, &rec(0x16, &hs(1, &[3, 3, 0])), &mut Vec::new())
        .unwrap_err();
    assert!(e.reason.contains("ClientHello"), "{}", e.reason);
}

#[path = "robustness_tests.rs"]
mod robustness;

#[path = "fixture_tests.rs"]
mod fixtures;
