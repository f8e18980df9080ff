use super::*;
use crate::session::event::Scope;
use crate::session::Cause;

fn files() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/events");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    out
}

#[test]
fn recorded_event_files_read_back_into_typed_events_and_write_the_same() {
    let mut lines = 0;
    let mut verdicts = 0;
    for (name, text) in files() {
        for (n, line) in text.lines().enumerate() {
            let back = EventLine::from_json(line).unwrap_or_else(|e| panic!("{name}:{n}: {e}"));
            if let Body::Unknown { error, .. } = &back.event.body {
                panic!("{name}:{}: not understood: {error}\n{line}", n + 1);
            }
            if matches!(back.event.body, Body::Verdict(_)) {
                verdicts += 1;
            }
            let again: Value = serde_json::to_value(&back).unwrap();
            let orig: Value = serde_json::from_str(line).unwrap();
            assert_eq!(again, orig, "{name}:{}", n + 1);
            lines += 1;
        }
    }
    assert!(
        lines > 100 && verdicts >= 4,
        "{lines} lines, {verdicts} verdicts"
    );
}

#[test]
fn a_newer_event_still_loads_as_unknown() {
    let line = r#"{"ts":"2026-12-01T10:00:00.000000Z","conn":4,"dir":"s2c","layer":"rdp","kind":"warp_drive","speed":9,"seq":12}"#;
    let e = EventLine::from_json(line).unwrap();
    assert_eq!(e.conn, 4);
    assert_eq!(e.event.seq, Some(12));
    match &e.event.body {
        Body::Unknown {
            layer,
            kind,
            fields,
            ..
        } => {
            assert_eq!((layer.as_str(), kind.as_str()), ("rdp", "warp_drive"));
            assert_eq!(fields["speed"], 9);
        }
        other => panic!("{other:?}"),
    }
    // Written back as it was.
    let again = serde_json::to_value(&e).unwrap();
    assert_eq!(again, serde_json::from_str::<Value>(line).unwrap());
    // A layer this rdptap has never heard of loads too.
    let line =
        r#"{"ts":"2026-12-01T10:00:00.000000Z","conn":4,"dir":null,"layer":"quic","kind":"x"}"#;
    assert!(matches!(
        EventLine::from_json(line).unwrap().event.body,
        Body::Unknown { .. }
    ));
}

#[test]
fn only_a_line_that_is_no_event_at_all_is_an_error() {
    for bad in [
        "",
        "[1,2]",
        r#"{"conn":1,"layer":"tcp"}"#,
        r#"{"ts":"yesterday","conn":1,"layer":"tcp"}"#,
        r#"{"ts":"2026-12-01T10:00:00Z","layer":"tcp"}"#,
    ] {
        assert!(EventLine::from_json(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_verdict_line_reads_back_whole() {
    let line = r#"{"ts":"2026-12-01T10:00:00.000000Z","conn":2,"dir":null,"layer":"session","kind":"verdict","phase":"gw_data","cause":"gw_hresult","closed_by":"server","close_kind":"fin","summary":"s","hint":"h","mstsc":{"disc_reason":"0x904","extended":"0x7","meaning":"m","inferred":true},"inferred":false,"warnings":[],"evidence":[],"client":{"close_kind":"fin","after_ms":3.5,"bytes":10},"server":{"close_kind":null,"after_ms":null,"bytes":0},"duration_ms":4.0,"scope":"gateway_session","gw_connection_id":"{x}","seq":9}"#;
    let e = EventLine::from_json(line).unwrap();
    let Body::Verdict(v) = &e.event.body else {
        panic!("{:?}", e.event.body)
    };
    assert_eq!(v.verdict.cause, Cause::GwHresult);
    assert_eq!(v.verdict.mstsc.as_ref().unwrap().extended, Some(7));
    assert_eq!(v.scope, Some(Scope::GatewaySession));
    assert_eq!(e.event.seq, Some(9));
}
