//! The notices for what a run left out: events dropped on the way to the file, events
//! only counted, connections refused.

use super::super::tests::{line, report};
use super::super::{render_html, render_text};
use serde_json::json;

#[test]
fn dropped_counted_and_refused_events_are_notices() {
    let text = [
        line(0, 0, 0, json!({"layer":"session","kind":"connections_refused","refused":1,"total":1,"limit":2,"client":"127.0.0.1:5000"})),
        line(3, 0, 1, json!({"layer":"session","kind":"phase","phase":"tcp_connect"})),
        line(3, 1, 2, json!({"layer":"session","kind":"events_counted","counts":[
            {"layer":"tsgu","kind":"tsgu_packet","packet":"KEEPALIVE","inner":false,"dir":"c2s","written":64,"only_counted":936}]})),
        line(0, 0, 3, json!({"layer":"session","kind":"events_dropped","events":5,"total":5})),
        line(0, 0, 4, json!({"layer":"session","kind":"connections_refused","refused":7,"total":8,"limit":2,"client":"127.0.0.1:5009"})),
        line(0, 0, 5, json!({"layer":"session","kind":"events_dropped","events":2,"total":7})),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let n: Vec<String> = r.notices().iter().map(ToString::to_string).collect();
    assert_eq!(n.len(), 3, "{n:#?}");
    assert!(
        n[0].starts_with("connection 3: 936 events of kinds a peer can repeat"),
        "{}",
        n[0]
    );
    assert!(
        n[1].starts_with("7 events were dropped and missing from this file"),
        "{}",
        n[1]
    );
    assert!(
        n[2].starts_with("8 connections were refused because 2 were open (--max-connections)"),
        "{}",
        n[2]
    );
    assert!(render_text(&r).contains("! 7 events were dropped"));
    assert!(render_html(&r).contains("8 connections were refused"));
}
