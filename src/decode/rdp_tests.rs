//! Tests for the direct-RDP stream decoder, mostly replaying captured connections.

use super::*;
use crate::decode::mcs::McsEvent;
use crate::decode::tls::TlsEvent;

pub(super) use crate::decode::test_support::{fixture, units};

/// Replay a fixture one unit from each side in turn (close to the real causal
/// order), each unit fed in chunks of `step` bytes.
pub(super) fn replay(name: &str, step: usize) -> Vec<Decoded> {
    replay_with(name, step).1
}

/// [`replay`], keeping the decoder for its counters.
pub(super) fn replay_with(name: &str, step: usize) -> (RdpDecoder, Vec<Decoded>) {
    let (c, s) = fixture(name);
    let (cu, su) = (units(&c), units(&s));
    let mut d = RdpDecoder::new();
    let mut out = Vec::new();
    for i in 0..cu.len().max(su.len()) {
        for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
            for chunk in u.map(|u| u.chunks(step)).into_iter().flatten() {
                d.feed(dir, chunk, &mut out);
            }
        }
    }
    (d, out)
}

pub(super) fn kinds(ev: &[Decoded]) -> Vec<String> {
    ev.iter()
        .map(|d| format!("{}:{}", d.dir, d.event.kind()))
        .collect()
}

#[test]
fn tls12_fixture_decodes_every_layer() {
    for step in [1, 7, 100, 1 << 20] {
        let ev = replay("xrdp-tls12-ok", step);
        let k = kinds(&ev);
        for want in [
            "c2s:connection_request",
            "s2c:connection_confirm",
            "c2s:client_hello",
            "s2c:server_hello",
            "s2c:certificate",
            "handshake_done",
            "c2s:app_record",
            "s2c:app_record",
        ] {
            assert!(
                k.iter().any(|x| x.ends_with(want)),
                "step {step}: {want} missing from {k:?}"
            );
        }
        assert!(!k.iter().any(|x| x.ends_with("decode_error")), "{k:?}");
    }
}

#[test]
fn tls13_fixture_hides_the_certificate() {
    let k = kinds(&replay("xrdp-tls13-ok", 64));
    assert!(k.iter().any(|x| x == "s2c:certificate_hidden"), "{k:?}");
    assert!(!k.iter().any(|x| x == "s2c:certificate"));
}

#[test]
fn rdp_security_fixture_shows_mcs() {
    let ev = replay("xrdp-rdp-security", 13);
    let init = ev.iter().find_map(|d| match &d.event {
        DecodeEvent::Mcs(m @ McsEvent::ConnectInitial { .. }) => Some(m.clone()),
        _ => None,
    });
    let resp = ev.iter().find_map(|d| match &d.event {
        DecodeEvent::Mcs(McsEvent::ConnectResponse { result_code, .. }) => Some(*result_code),
        _ => None,
    });
    assert!(init.is_some(), "{:?}", kinds(&ev));
    assert_eq!(resp, Some(0));
}

#[test]
fn negotiation_failure_fixture() {
    let ev = replay("shadow-nla-negfailure", 5);
    assert!(ev.iter().any(|d| matches!(
        &d.event,
        DecodeEvent::X224(X224Event::NegotiationFailure { code }) if code.code() == 5
    )));
}

#[test]
fn nla_fixture_counts_records() {
    let out = replay("shadow-nla-wrongpass", 1000);
    let apps = out
        .iter()
        .filter(|e| {
            e.dir == Dir::C2S && matches!(e.event, DecodeEvent::Tls(TlsEvent::AppRecord { .. }))
        })
        .count();
    // NEGOTIATE and AUTHENTICATE; the server closed before the client sent more.
    assert_eq!(apps, 2, "{:?}", kinds(&out));
    assert!(out
        .iter()
        .any(|e| matches!(e.event, DecodeEvent::Tls(TlsEvent::HandshakeDone))));
}

#[test]
fn non_rdp_bytes_stop_decoding() {
    let mut d = RdpDecoder::new();
    let mut out = Vec::new();
    d.feed(Dir::C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut out);
    assert!(matches!(
        out[0].event,
        DecodeEvent::X224(X224Event::NotRdp { .. })
    ));
    assert!(d.finished());
    d.feed(Dir::S2C, b"HTTP/1.1 400 Bad\r\n", &mut out);
    assert_eq!(out.len(), 1);
}
