//! Decoding real xfreerdp/xrdp/freerdp-shadow captures (see tests/data/README.md).
//!
//! Each fixture holds one direction's bytes with no timing, so the tests replay the
//! two directions in the order the handshake forces: ClientHello, the server's clear
//! flight, the client's flight up to its Finished, the server's Finished, then the rest.

use super::*;
use crate::vocab::Dir::{C2S, S2C};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/", $name))
    };
}

/// The stream after the first TPKT frame (the X.224 CR or CC).
fn after_tpkt(stream: &[u8]) -> &[u8] {
    let len = stream
        .get(2..4)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
    stream.get(len..).unwrap_or(&[])
}

/// Whole records as (content type, record bytes).
type Recs<'a> = [(u8, &'a [u8])];

/// Splits a stream into whole records (type, bytes) plus any non-TLS tail.
fn records(mut s: &[u8]) -> (Vec<(u8, &[u8])>, &[u8]) {
    let mut out = Vec::new();
    while s.len() >= 5 && (0x14..=0x18).contains(&s[0]) && s[1] == 3 {
        let n = 5 + u16::from_be_bytes([s[3], s[4]]) as usize;
        if n > s.len() {
            break;
        }
        out.push((s[0], &s[..n]));
        s = &s[n..];
    }
    (out, s)
}

/// Number of leading records up to and including the first one `stop` picks.
fn upto(recs: &Recs<'_>, stop: impl Fn(usize, u8) -> bool) -> usize {
    recs.iter()
        .enumerate()
        .position(|(i, (t, _))| stop(i, *t))
        .map_or(0, |i| i + 1)
}

struct Replay {
    seen: Seen,
    dec: TlsDecoder,
    errors: Vec<(Dir, DecodeError)>,
}

type Seen = Vec<(Dir, TlsEvent)>;

/// Replays a fixture pair in handshake order, each record fed in two uneven chunks.
fn replay(c2s: &[u8], s2c: &[u8]) -> Replay {
    let (c, c_tail) = records(after_tpkt(c2s));
    let (s, s_tail) = records(after_tpkt(s2c));
    let after_ccs = |recs: &Recs<'_>, i: usize| recs[..i].iter().any(|r| r.0 == 0x14);
    // The client's Finished: an encrypted handshake record after its CCS (TLS 1.2) or
    // its first application_data record (TLS 1.3).
    let c_fin = upto(&c, |i, t| t == 0x17 || (t == 0x16 && after_ccs(&c, i)));
    let s_hello = s.iter().take_while(|r| r.0 == 0x16 || r.0 == 0x15).count();
    let s_fin = s_hello
        + upto(&s[s_hello..], |i, t| {
            t == 0x16 && after_ccs(&s[s_hello..], i)
        });
    let plan: Vec<(Dir, &Recs<'_>)> = vec![
        (C2S, &c[..c.len().min(1)]),
        (S2C, &s[..s_hello]),
        (C2S, &c[c.len().min(1)..c_fin.max(1).min(c.len())]),
        (S2C, &s[s_hello..s_fin]),
        (S2C, &s[s_fin..]),
        (C2S, &c[c_fin.max(1).min(c.len())..]),
    ];
    let mut r = Replay {
        seen: Vec::new(),
        dec: TlsDecoder::new(),
        errors: Vec::new(),
    };
    let feed = |r: &mut Replay, dir: Dir, bytes: &[u8]| {
        let mut out = Vec::new();
        if let Err(e) = r.dec.feed(dir, bytes, &mut out) {
            r.errors.push((dir, e));
        }
        r.seen.extend(out.into_iter().map(|e| (dir, e)));
    };
    for (dir, recs) in plan {
        for (_, bytes) in recs {
            let (a, b) = bytes.split_at(bytes.len() / 3);
            feed(&mut r, dir, a);
            feed(&mut r, dir, b);
        }
    }
    feed(&mut r, C2S, c_tail);
    feed(&mut r, S2C, s_tail);
    r
}

fn count(seen: &Seen, dir: Dir, f: impl Fn(&TlsEvent) -> bool) -> usize {
    seen.iter().filter(|(d, e)| *d == dir && f(e)).count()
}

#[test]
fn xrdp_tls12() {
    let r = replay(
        fixture!("xrdp-tls12-ok.c2s.bin"),
        fixture!("xrdp-tls12-ok.s2c.bin"),
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let TlsEvent::ClientHello { versions, .. } = &r.seen[0].1 else {
        panic!("{:?}", r.seen[0])
    };
    assert!(versions.contains(&TlsVersion::TLS12));
    let TlsEvent::ServerHello {
        version,
        hello_retry_request,
        ..
    } = &r.seen[1].1
    else {
        panic!("{:?}", r.seen[1])
    };
    assert_eq!((*version, *hello_retry_request), (TlsVersion::TLS12, false));
    let TlsEvent::Certificate { chain } = &r.seen[2].1 else {
        panic!("{:?}", r.seen[2])
    };
    let leaf = &chain[0];
    assert!(
        leaf.subject.contains("rdptap-fixture-host"),
        "{}",
        leaf.subject
    );
    assert_eq!(leaf.key_type, "RSA");
    assert_eq!(leaf.key_bits, Some(2048));
    assert!(leaf.self_signed);
    assert_eq!(count(&r.seen, S2C, |e| *e == TlsEvent::HandshakeDone), 1);
    assert!(r.dec.handshake_done());
    // README: 16 application records c2s (the last is the encrypted close_notify,
    // which TLS 1.2 sends as type 21) and 19 s2c.
    let c_apps = count(&r.seen, C2S, |e| matches!(e, TlsEvent::AppRecord { .. }));
    let s_apps = count(&r.seen, S2C, |e| matches!(e, TlsEvent::AppRecord { .. }));
    assert!(c_apps >= 15 && s_apps >= 18, "{c_apps} {s_apps}");
    assert_eq!(r.dec.stats(C2S).app_records as usize, c_apps);
    assert_eq!(
        count(&r.seen, C2S, |e| matches!(
            e,
            TlsEvent::EncryptedAlertLikely { .. }
        )),
        1
    );
}

#[test]
fn xrdp_tls13() {
    let r = replay(
        fixture!("xrdp-tls13-ok.c2s.bin"),
        fixture!("xrdp-tls13-ok.s2c.bin"),
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let kinds: Vec<_> = r
        .seen
        .iter()
        .take(4)
        .map(|(d, e)| (*d, e.clone()))
        .collect();
    assert!(matches!(kinds[0], (C2S, TlsEvent::ClientHello { .. })));
    assert!(matches!(
        kinds[1],
        (
            S2C,
            TlsEvent::ServerHello {
                version: TlsVersion::TLS13,
                ..
            }
        )
    ));
    assert_eq!(
        kinds[2],
        (
            S2C,
            TlsEvent::CertificateHidden {
                version: TlsVersion::TLS13
            }
        )
    );
    assert_eq!(kinds[3], (C2S, TlsEvent::HandshakeDone));
    assert!(r.dec.stats(C2S).app_records > 10);
    assert!(r.dec.stats(S2C).app_records > 10);
}

#[test]
fn shadow_nla_tls13() {
    for (c, s) in [
        (
            &fixture!("shadow-nla-ok.c2s.bin")[..],
            &fixture!("shadow-nla-ok.s2c.bin")[..],
        ),
        (
            &fixture!("shadow-nla-wrongpass.c2s.bin")[..],
            &fixture!("shadow-nla-wrongpass.s2c.bin")[..],
        ),
    ] {
        let r = replay(c, s);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.dec.version(), Some(TlsVersion::TLS13));
        assert!(r.dec.handshake_done());
        assert_eq!(
            count(&r.seen, S2C, |e| matches!(
                e,
                TlsEvent::CertificateHidden { .. }
            )),
            1
        );
        assert!(r.dec.stats(C2S).app_records >= 3);
    }
}

#[test]
fn xrdp_alert_then_mcs_is_a_decode_error() {
    // xrdp writes a cleartext fatal decode_error alert, then an MCS Disconnect
    // Provider Ultimatum, which is not TLS: decoding of s2c stops right there.
    let s2c = after_tpkt(fixture!("xrdp-tls-nlaclient.s2c.bin"));
    let mut d = TlsDecoder::new();
    let mut out = Vec::new();
    let err = d.feed(S2C, s2c, &mut out).unwrap_err();
    assert_eq!(
        out,
        vec![TlsEvent::Alert {
            level: AlertLevel(2),
            description: AlertDescription(50)
        }]
    );
    assert_eq!(err.offset, 7);
    assert!(d.stopped(S2C));
}
