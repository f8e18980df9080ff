use super::super::tests::{line, report, verdict, HTTP_OK, INTERCEPT_OK, RAP_DENIED};
use super::*;
use serde_json::json;

#[test]
fn direct_mode_has_three_columns_and_gateway_mode_four() {
    let d = render_ladder(&report("d", INTERCEPT_OK).conns[0]).svg;
    assert_eq!(d.matches("class=\"lane-name\"").count(), 3);
    assert!(!d.contains(">gateway</text>"));
    let g = render_ladder(&report("g", RAP_DENIED).conns[0]).svg;
    assert_eq!(g.matches("class=\"lane-name\"").count(), 4);
    for lane in ["client", "rdptap", "gateway", "host"] {
        assert!(g.contains(&format!(">{lane}</text>")), "{lane}");
    }
}

#[test]
fn the_failing_step_is_red() {
    let c = &report("g", RAP_DENIED).conns[0];
    let r = rows(c);
    let failing: Vec<&str> = r
        .iter()
        .filter(|r| r.failing)
        .map(|r| r.label.as_str())
        .collect();
    assert!(
        failing.contains(&"TUNNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED"),
        "{failing:?}"
    );
    let svg = render_ladder(c).svg;
    assert!(svg.contains("<g class=\"row fail\">"));
    assert!(svg.contains(&format!("stroke=\"{RED}\"")));
    // An ok connection has none.
    assert!(!render_ladder(&report("d", INTERCEPT_OK).conns[0])
        .svg
        .contains("row fail"));
}

#[test]
fn a_failure_without_evidence_marks_the_last_message() {
    let text = [
        line(1, 0, 0, json!({"layer":"x224","dir":"c2s","kind":"connection_request","neg_flags":[],"requested_protocols":["SSL"]})),
        line(1, 1, 1, json!({"layer":"x224","dir":"s2c","kind":"connection_confirm","neg_flags":[],"selected_protocol":["RDP"]})),
        line(1, 2, 2, json!({"layer":"session","kind":"phase","phase":"x224"})),
        verdict(1, 3, 3, "negotiation_failure", "no evidence"),
    ]
    .join("\n");
    let r = rows(&report("e", &text).conns[0]);
    let failing: Vec<&str> = r
        .iter()
        .filter(|r| r.failing)
        .map(|r| r.label.as_str())
        .collect();
    assert_eq!(failing, ["X.224 Connection Confirm: RDP"]);
}

#[test]
fn inner_events_run_between_gateway_and_host() {
    let r = report("g", HTTP_OK);
    let shapes: Vec<Shape> = r
        .conns
        .iter()
        .flat_map(|c| {
            c.events
                .iter()
                .filter(|e| e.inner())
                .map(|e| route(e, true, true))
        })
        .flatten()
        .collect();
    assert!(!shapes.is_empty());
    for s in shapes {
        let Shape::Arrow { from, to, .. } = s else {
            panic!("{s:?}")
        };
        let ends = [from, to];
        assert!(
            ends.contains(&Lane::Gateway) && ends.contains(&Lane::Host),
            "{s:?}"
        );
    }
}

#[test]
fn runs_of_encrypted_records_fold_into_one_row() {
    let r = report("g", HTTP_OK);
    let all: Vec<Row> = r.conns.iter().flat_map(rows).collect();
    let folded: Vec<&Row> = all
        .iter()
        .filter(|r| r.label.contains("encrypted record"))
        .collect();
    assert!(!folded.is_empty());
    let records: usize = r
        .conns
        .iter()
        .flat_map(|c| &c.events)
        .filter(|e| is_record(e))
        .count();
    assert!(
        folded.len() < records,
        "{} rows for {records} records",
        folded.len()
    );
    assert_eq!(folded.iter().map(|r| r.seqs.len()).sum::<usize>(), records);
}

#[test]
fn long_connections_are_capped_with_a_note() {
    let mut lines = vec![line(
        1,
        0,
        0,
        json!({"layer":"tcp","kind":"accepted","client":"a"}),
    )];
    for i in 1..1000 {
        let dir = if i % 2 == 0 { "c2s" } else { "s2c" };
        lines.push(line(
            1,
            i,
            i,
            json!({"layer":"rdp","dir":dir,"kind":"synchronize"}),
        ));
    }
    let c = &report("e", &lines.join("\n")).conns[0];
    let l = render_ladder(c);
    assert_eq!((l.rows, l.drawn), (1000, MAX_ROWS - 1));
    assert!(l.svg.contains("601 rows not drawn"), "gap note");
    assert_eq!(l.svg.matches("<g class=\"row").count(), MAX_ROWS);
}

#[test]
fn labels_are_clipped_and_escaped() {
    // An event this rdptap does not know is labelled by its kind, as written.
    let long = "<b>".repeat(60);
    let text = line(1, 0, 0, json!({"layer":"x224","dir":"c2s","kind":long}));
    let r = report("e", &text);
    let svg = render_ladder(&r.conns[0]).svg;
    assert!(!svg.contains("<b>"));
    assert!(svg.contains("&lt;b&gt;"));
    assert!(svg.contains('…'), "a long label is clipped");
}
