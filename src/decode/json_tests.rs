//! Every event the decoders produce from the captures in tests/data, written as the
//! event file writes it, read back with [`DecodeEvent::from_json`] and written again:
//! the JSON must come out byte for byte the same, and the event the same wherever the
//! JSON holds all of it.
//!
//! The helpers here are shared by the other `json_*_tests` files.

use super::rdp::RdpDecoder;
use super::reassembly::Hint;
use super::tls::TlsEvent;
use super::{tpkt, DecodeEvent, Decoded};
use crate::vocab::{Dir, Layer};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// `e` as the event file writes it: the writer's fields first, then the event's.
pub(super) fn record(dir: Option<Dir>, e: &DecodeEvent) -> Value {
    let mut m = Map::new();
    m.insert("ts".into(), json!("2026-11-21T10:13:22.768520Z"));
    m.insert("conn".into(), json!(7));
    m.insert("dir".into(), json!(dir));
    m.insert("layer".into(), json!(e.layer()));
    if let Ok(Value::Object(body)) = serde_json::to_value(e) {
        m.extend(body);
    }
    // The writer puts its own `seq` over an event's (a TLS app_record's); that loss is
    // the writer's, so here the event keeps its own and the reader's part is tested.
    m.entry("seq").or_insert(json!(42));
    m.entry("source").or_insert(json!("live"));
    Value::Object(m)
}

/// What reading `e` back must give, when its JSON holds all of it: certificates come
/// back without their DER (never written), and GREASE values are written as a name only.
fn expected_back(e: &DecodeEvent) -> Option<DecodeEvent> {
    let json = serde_json::to_string(e).ok()?;
    if json.contains("\"GREASE\"") {
        return None;
    }
    Some(match e {
        DecodeEvent::Tls(TlsEvent::Certificate { chain }) => {
            let mut chain = chain.clone();
            chain.iter_mut().for_each(|c| c.der.clear());
            DecodeEvent::Tls(TlsEvent::Certificate { chain })
        }
        DecodeEvent::Inner(i) => {
            DecodeEvent::Inner(super::gateway::Inner(Box::new(expected_back(&i.0)?)))
        }
        other => other.clone(),
    })
}

/// Checks that `e`, sent in `dir`, reads back from its bare JSON and from its record
/// into an event that writes the same JSON, and from its record into the same event
/// (the bare JSON lacks the direction some HTTP events keep).
pub(super) fn assert_round_trip(dir: Option<Dir>, e: &DecodeEvent) {
    let written = serde_json::to_string(e).expect("events serialise");
    let bare = serde_json::to_value(e).expect("events serialise");
    for (v, whole) in [(bare, false), (record(dir, e), true)] {
        let back = DecodeEvent::from_json(e.layer(), &v)
            .unwrap_or_else(|err| panic!("{err}\nwritten: {written}"));
        let again = serde_json::to_string(&back).expect("events serialise");
        assert_eq!(again, written, "read back from {v}");
        if whole {
            if let Some(want) = expected_back(e) {
                assert_eq!(back, want, "read back from {v}");
            }
        }
    }
}

/// Round-trips every event and returns the (layer, kind) pairs seen.
pub(super) fn round_trip_all(events: &[Decoded]) -> BTreeSet<(Layer, String)> {
    events
        .iter()
        .map(|d| {
            assert_round_trip(Some(d.dir), &d.event);
            let inner = if matches!(d.event, DecodeEvent::Inner(_)) {
                "inner "
            } else {
                ""
            };
            (d.event.layer(), format!("{inner}{}", d.event.kind()))
        })
        .collect()
}

/// The names of the captures in tests/data, each with its `.c2s.bin` and `.s2c.bin`.
fn fixtures() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("tests/data")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".c2s.bin").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Both streams of a capture.
pub(super) fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let read = |side: &str| std::fs::read(format!("{dir}{name}.{side}.bin")).expect("fixture");
    (read("c2s"), read("s2c"))
}

/// Splits a stream into protocol units (TPKT, fast-path or TLS records), so that a
/// replay can alternate the sides in close to their causal order.
pub(super) fn units(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(&first) = b.first() {
        let len = match (first, b.get(3..5)) {
            (0x14..=0x17, Some(&[hi, lo])) => 5 + usize::from(u16::from_be_bytes([hi, lo])),
            _ => match tpkt::pdu_hint(b) {
                Hint::Frame(n) | Hint::Needs(n) => n,
                _ => b.len(),
            },
        };
        let (u, rest) = b.split_at(len.clamp(1, b.len()));
        out.push(u);
        b = rest;
    }
    out
}

/// Replays a capture, one unit from each side in turn; `.plain` captures go through
/// the interception path, the others through the direct one.
fn replay(name: &str) -> Vec<Decoded> {
    let (c, s) = fixture(name);
    let (cu, su) = (units(&c), units(&s));
    let plain = name.ends_with(".plain");
    let mut d = RdpDecoder::new();
    if plain {
        d.tls_intercepted();
    }
    let mut out = Vec::new();
    for i in 0..cu.len().max(su.len()) {
        for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
            match (u, plain) {
                (Some(u), true) => d.feed_plain(dir, u, &mut out),
                (Some(u), false) => d.feed(dir, u, &mut out),
                (None, _) => {}
            }
        }
    }
    out
}

#[test]
fn every_fixture_event_reads_back_the_same() {
    let names = fixtures();
    assert!(names.len() >= 16, "{names:?}");
    let mut seen = BTreeSet::new();
    for name in &names {
        let events = replay(name);
        assert!(!events.is_empty(), "{name}");
        seen.extend(round_trip_all(&events));
    }
    let kinds: BTreeSet<&str> = seen.iter().map(|(_, k)| k.as_str()).collect();
    // Direct RDP, standard RDP security and the intercepted plaintext, layer by layer.
    for want in [
        "connection_request",
        "connection_confirm",
        "negotiation_failure",
        "client_hello",
        "server_hello",
        "certificate",
        "certificate_hidden",
        "alert",
        "handshake_done",
        "encrypted_alert_likely",
        "app_record",
        "connect_initial",
        "connect_response",
        "erect_domain",
        "attach_user_request",
        "attach_user_confirm",
        "channel_join_request",
        "channel_join_confirm",
        "channels_joined",
        "disconnect_provider_ultimatum",
        "security_exchange",
        "encrypted_from_here",
        "client_info",
        "license",
        "demand_active",
        "confirm_active",
        "synchronize",
        "control",
        "font_list",
        "font_map",
        "decode_error",
    ] {
        assert!(kinds.contains(want), "{want} missing from {seen:?}");
    }
}

#[test]
fn the_record_direction_comes_back_for_http_events() {
    use super::http::{HttpEvent, Truncation};
    let e = DecodeEvent::Http(Box::new(HttpEvent::Incomplete {
        dir: Dir::S2C,
        at: Truncation::Body {
            got: 3,
            expected: 9,
        },
    }));
    let back = DecodeEvent::from_json(Layer::Http, &record(Some(Dir::S2C), &e));
    assert_eq!(back, Ok(e.clone()));
    // Alone, the event does not say which way it went.
    let bare = serde_json::to_value(&e).unwrap_or_default();
    assert!(bare.get("dir").is_none());
}
