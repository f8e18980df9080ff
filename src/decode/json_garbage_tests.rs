//! What is not an event must come back as an `Err`, never a panic: garbage, wrong
//! types, missing fields, unknown kinds; and the event files recorded by real sessions
//! (tests/data/events) must read back to the fields they hold.

use super::json_tests::{fixture, units};
use super::note::Note;
use super::rdp::RdpDecoder;
use super::DecodeEvent;
use crate::vocab::{Dir, Layer};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Reads `v` both ways a reader would, at `layer`; true when either took it.
fn read_any(layer: Layer, v: &Value) -> bool {
    let note = Note::from_json(layer, v);
    let event = DecodeEvent::from_json(layer, v);
    // Whatever was read writes again.
    if let Ok(e) = &event {
        assert!(serde_json::to_string(e).is_ok());
    }
    matches!(note, Ok(Some(_))) || event.is_ok()
}

#[test]
fn garbage_is_an_error() {
    let garbage = [
        Value::Null,
        json!(1),
        json!("connection_request"),
        json!([{"kind": "handshake_done"}]),
        json!({}),
        json!({"kind": 5}),
        json!({"kind": null}),
        json!({"kind": "no_such_kind"}),
        json!({"kind": "handshake_done", "inner": "yes"}),
        json!({"kind": "connection_request"}),
        json!({"kind": "client_hello", "legacy_version": 771, "versions": [], "cipher_suites": [], "sni": null, "alpn": []}),
        json!({"kind": "app_record", "seq": -1, "len": 70000}),
        json!({"kind": "app_record", "seq": 1.5, "len": 5}),
        json!({"kind": "tsgu_packet", "packet": "DATA", "data_len": 4}),
        json!({"kind": "tsgu_packet", "packet": "NOPE", "len": 8}),
        json!({"kind": "certificate", "chain": [{"subject": "CN=x"}]}),
        json!({"kind": "http_incomplete", "at": {"kind": "nowhere"}}),
        json!({"kind": "ws_close", "code": 1000, "code_name": 1000, "reason": ""}),
        json!({"kind": "license", "msg_type": {"code": 256}, "version": 3}),
        json!({"kind": "decode_error", "layer": "nowhere", "offset": 0, "reason": ""}),
        json!({"kind": "decode_error", "offset": 0, "reason": ""}),
        json!({"kind": "upstream_tls", "version": "TLS 9", "chain": []}),
    ];
    for layer in Layer::ALL {
        for v in &garbage {
            assert!(!read_any(*layer, v), "{layer}: {v} was read");
        }
    }
}

/// Every event of a few captures as its JSON object, with its layer.
fn corpus() -> &'static [(Layer, Map<String, Value>)] {
    static CORPUS: OnceLock<Vec<(Layer, Map<String, Value>)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut out = Vec::new();
        for name in ["xrdp-tls12-ok", "xrdp-rdp-security", "xrdp-tls-nlaclient"] {
            let (c, s) = fixture(name);
            let mut d = RdpDecoder::new();
            let mut events = Vec::new();
            for (dir, stream) in [(Dir::C2S, &c), (Dir::S2C, &s)] {
                for u in units(stream) {
                    d.feed(dir, u, &mut events);
                }
            }
            for e in events {
                if let Ok(Value::Object(m)) = serde_json::to_value(&e.event) {
                    out.push((e.event.layer(), m));
                }
            }
        }
        out
    })
}

/// A value of another type than `v`, so that a field given it cannot be read.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(12345),
        Value::Number(_) => json!("garbage"),
        Value::Bool(_) => json!([true]),
        Value::Array(_) => json!({"x": 1}),
        Value::Object(_) => json!(["x"]),
        Value::Null => json!({"null": false}),
    }
}

#[test]
fn missing_and_mistyped_fields_are_errors() {
    assert!(corpus().len() > 40);
    for (layer, obj) in corpus() {
        for key in obj.keys().filter(|k| *k != "kind") {
            let mut wrong = obj.clone();
            let was = wrong.get(key).cloned().unwrap_or(Value::Null);
            wrong.insert(key.clone(), wrong_type(&was));
            let v = Value::Object(wrong);
            assert!(DecodeEvent::from_json(*layer, &v).is_err(), "{v}");
            let mut missing = obj.clone();
            missing.remove(key);
            // A missing Option field reads as None (files from before a field was added
            // still read); anything else missing is an error.
            let read = DecodeEvent::from_json(*layer, &Value::Object(missing));
            let back = read.map(|e| serde_json::to_value(e).unwrap_or_default());
            assert!(
                back.as_ref().map_or(true, |b| b[key].is_null()),
                "{key} of {obj:?}"
            );
        }
    }
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9_ |.:-]{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["SSL", "GREASE", "0x", "0xffff", "@", "rt-unknown-9"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A real event with one field replaced by anything is read or refused, never a panic.
    #[test]
    fn mutated_events_never_panic(
        pick in any::<prop::sample::Index>(),
        field in any::<prop::sample::Index>(),
        value in any_json(),
        inner in any::<bool>(),
    ) {
        let (layer, obj) = pick.get(corpus());
        let mut obj = obj.clone();
        let keys: Vec<String> = obj.keys().cloned().collect();
        obj.insert(field.get(&keys).clone(), value);
        if inner {
            obj.insert("inner".into(), json!(true));
        }
        read_any(*layer, &Value::Object(obj));
    }

    /// Arbitrary JSON with a known kind, at any layer, is read or refused, never a panic.
    #[test]
    fn arbitrary_objects_never_panic(
        layer in prop::sample::select(Layer::ALL.to_vec()),
        kind in prop::sample::select(vec![
            "connection_request", "client_hello", "certificate", "connect_initial",
            "client_info", "license", "http_request", "ws_close", "tsgu_packet",
            "decode_error", "upstream_tls", "not_intercepted", "nla_downgraded",
        ]),
        fields in prop::collection::btree_map("[a-z_]{1,10}", any_json(), 0..8),
    ) {
        let mut obj: Map<String, Value> = fields.into_iter().collect();
        obj.insert("kind".into(), json!(kind));
        read_any(layer, &Value::Object(obj));
    }
}

/// The writer's fields, which the event's own JSON does not have.
const WRITER: [&str; 3] = ["ts", "conn", "dir"];

#[test]
fn recorded_event_files_read_back_to_their_fields() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/events");
    let mut read = 0;
    for entry in std::fs::read_dir(dir).expect("tests/data/events") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("event file");
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let layer = v["layer"].as_str().and_then(Layer::from_id).expect("layer");
            let kind = v["kind"].as_str().unwrap_or_default();
            let back = match Note::from_json(layer, &v) {
                Ok(Some(n)) => serde_json::to_value(n),
                Ok(None) if is_decoder_event(layer, kind) => {
                    let e = DecodeEvent::from_json(layer, &v).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(e.layer(), layer);
                    serde_json::to_value(e)
                }
                Ok(None) => continue,
                Err(e) => panic!("{e}: {line}"),
            };
            let back = back.expect("serialises");
            let mut want = v.as_object().cloned().unwrap_or_default();
            want.retain(|k, _| {
                !WRITER.contains(&k.as_str())
                    && (back.get(k).is_some() || !["layer", "seq"].contains(&k.as_str()))
            });
            assert_eq!(
                serde_json::to_string(&back).ok(),
                serde_json::to_string(&want).ok(),
                "{}",
                path.display()
            );
            read += 1;
        }
    }
    assert!(read > 150, "{read}");
}

/// True for the lines the decoders wrote (the session and the TCP relay write others).
fn is_decoder_event(layer: Layer, kind: &str) -> bool {
    !matches!(layer, Layer::Session | Layer::Tcp | Layer::Capture) && kind != "cert_assessment"
}
