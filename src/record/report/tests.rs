use super::*;
use crate::session::event::Scope;
use serde_json::json;

/// Event files recorded from real sessions (see tests/data/README.md).
pub(super) const INTERCEPT_OK: &str = include_str!("../../../tests/data/events/intercept-ok.jsonl");
pub(super) const EXPIRED: &str =
    include_str!("../../../tests/data/events/intercept-expired-cert.jsonl");
pub(super) const RAP_DENIED: &str =
    include_str!("../../../tests/data/events/gateway-ws-rap-denied.jsonl");
pub(super) const HTTP_OK: &str = include_str!("../../../tests/data/events/gateway-http-ok.jsonl");

pub(super) fn report(name: &str, text: &str) -> Report {
    from_lines(name, text.lines()).expect("a valid event file")
}

/// One event line at `ms` milliseconds after 10:00:00 on a fixed day.
pub(super) fn line(conn: u64, seq: u64, ms: u64, body: serde_json::Value) -> String {
    let mut v = json!({
        "ts": format!("2026-11-21T10:00:{:02}.{:06}Z", ms / 1000, (ms % 1000) * 1000),
        "conn": conn,
        "dir": null,
        "seq": seq,
    });
    for (k, x) in body.as_object().expect("an object") {
        v[k] = x.clone();
    }
    v.to_string()
}

/// A verdict line with every field a verdict has.
pub(super) fn verdict(conn: u64, seq: u64, ms: u64, cause: &str, summary: &str) -> String {
    let side = json!({"close_kind":null,"after_ms":null,"bytes":0});
    line(
        conn,
        seq,
        ms,
        json!({"layer":"session","kind":"verdict","phase":"x224","cause":cause,
               "closed_by":"server","close_kind":"fin","summary":summary,"hint":"check it",
               "mstsc":null,"inferred":false,"warnings":[],"evidence":[],
               "client":side,"server":side,"duration_ms":ms}),
    )
}

#[test]
fn timestamps_are_read_to_the_microsecond() {
    let at = |ts: &str, seq: u64| {
        json!({"ts":ts,"conn":1,"dir":null,"seq":seq,"layer":"session","kind":"phase","phase":"x224"})
            .to_string()
    };
    let text = [
        at("2026-11-21T07:52:26.173600Z", 0),
        at("2026-11-21T07:52:26.1736Z", 1),
        at("2026-11-21T07:52:26Z", 2),
        at("2026-11-21T07:52:27.000001Z", 3),
        // RFC 3339 allows a space for the T.
        at("2026-11-21 07:52:28Z", 4),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let c = &r.conns[0];
    let ms: Vec<Option<f64>> = c.events.iter().map(|e| c.rel_ms(e)).collect();
    assert_eq!(
        ms,
        [
            Some(0.0),
            Some(0.0),
            Some(-173.6),
            Some(826.401),
            Some(1826.4)
        ]
    );
    for bad in ["", "2026-13-21T07:52:26Z", "2026-11-21T07:52:26.+1Z", "x"] {
        let e = from_lines("e.jsonl", [at(bad, 0).as_str()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"ts\" is not an RFC 3339 time"), "{bad}: {e}");
    }
}

#[test]
fn lines_are_grouped_per_connection_and_process_lines_kept() {
    let text = [
        line(0, 0, 0, json!({"layer":"session","kind":"proxy_started","version":"9.9.9","config":{"listen":"127.0.0.1:13389"}})),
        line(1, 0, 1, json!({"layer":"session","kind":"phase","phase":"tcp_connect"})),
        line(2, 0, 2, json!({"layer":"session","kind":"phase","phase":"tcp_connect"})),
        line(1, 1, 3, json!({"layer":"tcp","kind":"accepted","client":"127.0.0.1:5000","listen":"x"})),
        verdict(2, 1, 4, "server_closed", "two"),
        verdict(1, 2, 5, "ok", "one"),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    assert_eq!(r.process.len(), 1);
    assert_eq!(r.version(), Some("9.9.9"));
    let ids: Vec<u64> = r.conns.iter().map(|c| c.id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(r.conns[0].events.len(), 3);
    assert_eq!(r.conns[0].client_addr(), Some("127.0.0.1:5000"));
    assert_eq!(r.conns[0].verdict().unwrap().verdict.summary, "one");
    assert_eq!(
        r.conns[1].verdict().unwrap().verdict.cause.id(),
        "server_closed"
    );
    assert_eq!(r.event_count(), 6);
    assert_eq!(r.conns[0].label, "connection 1");
}

#[test]
fn lines_that_are_not_json_are_counted_not_fatal() {
    let text = format!(
        "{}\nnot json at all\n\n{}\n{{\"ts\":\"2026-11-21T10:00:00.0",
        line(
            1,
            0,
            0,
            json!({"layer":"session","kind":"phase","phase":"tcp_connect"})
        ),
        verdict(1, 1, 1, "ok", "fine")
    );
    let r = report("e.jsonl", &text);
    assert_eq!((r.skipped, r.first_skipped), (2, Some(2)));
    assert_eq!(r.conns[0].events.len(), 2);
    let n = r.notices();
    assert!(
        n[0].to_string()
            .contains("2 lines of the event file are not JSON"),
        "{}",
        n[0]
    );
}

#[test]
fn bad_lines_name_the_file_and_the_line() {
    let ok = line(1, 0, 0, json!({"layer":"tcp","kind":"accepted"}));
    for (bad, want) in [
        ("[1,2]", "not a JSON object"),
        (r#"{"kind":"x","layer":"tcp"}"#, "no \"conn\" field"),
        (r#"{"conn":"7","kind":"x"}"#, "\"conn\" is \"7\""),
        (r#"{"conn":1,"layer":"tcp"}"#, "no \"kind\" field"),
        (r#"{"conn":1,"kind":"x","dir":"up"}"#, "\"dir\" is \"up\""),
    ] {
        let text = format!("{ok}\n{bad}\n");
        let e = from_lines("trace.jsonl", text.lines())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("trace.jsonl line 2: "), "{e}");
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn events_this_rdptap_cannot_read_are_kept_and_announced() {
    let text = [
        line(
            1,
            0,
            0,
            json!({"layer":"session","kind":"phase","phase":"tcp_connect"}),
        ),
        // A verdict without its cause: shown as written, and the reader is told.
        line(
            1,
            1,
            1,
            json!({"layer":"session","kind":"verdict","summary":"half"}),
        ),
        line(
            1,
            2,
            2,
            json!({"layer":"quic","dir":"s2c","kind":"hello","x":[1]}),
        ),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let c = &r.conns[0];
    assert_eq!(c.events.len(), 3);
    assert!(c.verdict().is_none());
    let n = r.notices();
    assert_eq!(n.len(), 1, "{n:?}");
    let n = n[0].to_string();
    assert!(
        n.starts_with("2 events this rdptap cannot read are shown as written"),
        "{n}"
    );
    assert!(
        n.contains("(the first is line 2: verdict: missing field"),
        "{n}"
    );
    let html = render_html(&r);
    assert!(html.contains("<td>quic</td><td>hello</td>"), "{html}");
    assert!(html.contains("<code>{&quot;x&quot;:[1]}</code>"), "{html}");
    assert!(html.contains("<code>{&quot;summary&quot;:&quot;half&quot;}</code>"));
}

#[test]
fn a_failed_upstream_connect_says_how_and_where() {
    let text = [
        line(1, 0, 0, json!({"layer":"tcp","kind":"accepted","client":"10.0.0.1:5000","listen":"0.0.0.0:3389"})),
        line(1, 1, 1, json!({"layer":"tcp","kind":"upstream_failed","failure":"refused","addr":"10.0.0.9:3389"})),
        verdict(1, 2, 2, "upstream_refused", "refused"),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let c = &r.conns[0];
    assert_eq!(
        label(&c.events[1]),
        "TCP connect failed: refused (10.0.0.9:3389)"
    );
    assert_eq!(c.upstream_addr(), Some("10.0.0.9:3389"));
    let t = render_text(&r);
    assert!(
        t.contains("(10.0.0.1:5000 -> rdptap -> 10.0.0.9:3389)"),
        "{t}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let e = load(Path::new("/nonexistent/rdptap/e.jsonl")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/rdptap/e.jsonl: "),
        "{e}"
    );
}

#[test]
fn appended_runs_keep_their_connections_apart() {
    let first = line(
        1,
        0,
        0,
        json!({"layer":"session","kind":"phase","phase":"tcp_connect"}),
    );
    let text = [
        first.clone(),
        verdict(1, 1, 1, "ok", "run one"),
        line(
            0,
            0,
            2,
            json!({"layer":"session","kind":"proxy_started","version":"1"}),
        ),
        first.clone(),
        verdict(1, 1, 3, "server_closed", "run two"),
        // A third run without a proxy_started line: conn 1 starts again at seq 0.
        first,
        verdict(1, 1, 5, "client_closed", "run three"),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let labels: Vec<&str> = r.conns.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "connection 1 (run 1)",
            "connection 1 (run 2)",
            "connection 1 (run 3)"
        ]
    );
    assert_eq!(r.conns[2].verdict().unwrap().verdict.summary, "run three");
    let anchors: BTreeSet<&str> = r.conns.iter().map(|c| c.anchor.as_str()).collect();
    assert_eq!(anchors.len(), 3);
}

#[test]
fn conn_filter_keeps_the_chosen_ones_and_names_unknown_ones() {
    let mut r = report("gw.jsonl", HTTP_OK);
    assert_eq!(r.conns.len(), 2);
    let e = r.clone().retain_conns(&[9]).unwrap_err().to_string();
    assert_eq!(e, "gw.jsonl has no connection 9 (it has 1, 2)");
    r.retain_conns(&[2]).unwrap();
    assert_eq!(r.conns.len(), 1);
    assert_eq!(r.conns[0].id, 2);
}

#[test]
fn gateway_verdicts_keep_their_scope_and_sessions_their_members() {
    let r = report("gw.jsonl", HTTP_OK);
    let sessions = r.gateway_sessions();
    assert_eq!(sessions.len(), 1);
    let (_, v, members) = &sessions[0];
    assert_eq!(v.scope, Some(Scope::GatewaySession));
    assert_eq!(members.len(), 2, "both HTTP channels belong to the session");
    let channels: BTreeSet<&str> = r.conns.iter().filter_map(|c| c.channel()).collect();
    assert!(
        channels.contains("HTTP transport, OUT channel (RDG_OUT_DATA)"),
        "{channels:?}"
    );
    assert!(
        channels.contains("HTTP transport, IN channel (RDG_IN_DATA)"),
        "{channels:?}"
    );
    for c in &r.conns {
        assert!(c.is_gateway());
        assert_eq!(c.verdict().unwrap().scope, Some(Scope::Connection));
    }
    let direct = report("d.jsonl", INTERCEPT_OK);
    assert!(!direct.conns[0].is_gateway());
    assert_eq!(direct.conns[0].verdict().unwrap().scope, None);
}

#[test]
fn phases_last_until_the_next_one() {
    let text = [
        line(
            1,
            0,
            0,
            json!({"layer":"session","kind":"phase","phase":"tcp_connect"}),
        ),
        line(
            1,
            1,
            10,
            json!({"layer":"session","kind":"phase","phase":"x224"}),
        ),
        line(
            1,
            2,
            250,
            json!({"layer":"session","kind":"phase","phase":"warp_drive"}),
        ),
        verdict(1, 3, 1250, "server_closed", "gone"),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let p = r.conns[0].phases();
    let got: Vec<(String, f64, f64)> = p
        .iter()
        .map(|s| (s.phase.to_string(), s.start_ms, s.duration_ms))
        .collect();
    assert_eq!(
        got,
        [
            ("TCP connect".to_string(), 0.0, 10.0),
            ("X.224 negotiation".to_string(), 10.0, 240.0),
            // An unknown phase keeps its identifier.
            ("warp_drive".to_string(), 250.0, 1000.0),
        ]
    );
    assert_eq!(fmt_ms(1000.0), "1.000 s");
    assert_eq!(fmt_ms(0.5), "0.50 ms");
}

#[test]
fn capture_losses_and_failures_are_notices() {
    let text = [
        line(0, 0, 0, json!({"layer":"capture","kind":"capture_failed","error":"No space left on device","file":"t.pcapng"})),
        line(3, 0, 1, json!({"layer":"session","kind":"phase","phase":"tcp_connect"})),
        line(3, 1, 2, json!({"layer":"capture","kind":"capture_dropped","packets":12,"bytes":3456,"policy":"drop"})),
    ]
    .join("\n");
    let r = report("e.jsonl", &text);
    let n: Vec<String> = r.notices().iter().map(ToString::to_string).collect();
    assert_eq!(
        n,
        [
            "the packet capture stopped writing t.pcapng: No space left on device",
            "connection 3: 12 packets not captured (3456 bytes): the capture queue was full and --capture-overflow drop was set",
        ]
    );
    let html = render_html(&r);
    assert!(html.contains("12 packets not captured"));
    assert!(render_text(&r).contains("! connection 3: 12 packets not captured"));
}

#[test]
fn negotiation_pairs_the_offer_with_the_choice() {
    let r = report("d.jsonl", INTERCEPT_OK);
    let facts = negotiation(&r.conns[0]);
    let find = |g: &str, n: &str| {
        facts
            .iter()
            .find(|f| f.group == g && f.name == n)
            .map(|f| f.value.clone())
    };
    assert_eq!(
        find("X.224", "security protocol"),
        Some(FactValue::Pair(Some("SSL".into()), Some("SSL".into())))
    );
    assert!(matches!(
        find("MCS", "RDP version"),
        Some(FactValue::Pair(Some(_), Some(_)))
    ));
    assert!(
        matches!(find("TLS", "rdptap ↔ host"), Some(FactValue::Single(v)) if v.starts_with("TLS 1."))
    );
    let gw = report("gw.jsonl", RAP_DENIED);
    let facts = negotiation(&gw.conns[0]);
    assert!(facts.iter().any(|f| f.group == "MS-TSGU"
        && f.value == FactValue::Single("TUNNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED".into())));
}

#[test]
fn certificates_carry_their_findings() {
    let r = report("x.jsonl", EXPIRED);
    let certs = certificates(&r.conns[0]);
    assert_eq!(certs.len(), 1);
    let c = &certs[0];
    assert!(c.assessed);
    assert!(c.role.starts_with("the host's certificate"), "{}", c.role);
    assert_eq!(c.chain[0].not_after, "2021-01-01T00:00:00Z");
    assert!(
        c.findings
            .contains(&"expired (notAfter 2021-01-01T00:00:00Z)".to_string()),
        "{:?}",
        c.findings
    );
    assert!(c
        .findings
        .contains(&"self-signed (not issued by a trusted CA)".to_string()));
    let gw = certificates(&report("gw.jsonl", RAP_DENIED).conns[0]);
    assert_eq!(
        gw[0].role,
        "the gateway's certificate, as rdptap received it on its own connection"
    );
    assert!(gw[0].findings.is_empty() && gw[0].assessed);
}

#[test]
fn labels_name_the_message_and_its_key_value() {
    let r = report("gw.jsonl", RAP_DENIED);
    let labels: Vec<String> = r.conns[0].events.iter().map(label).collect();
    for want in [
        "RDG_OUT_DATA /remoteDesktopGateway/ (NTLM AUTHENTICATE)",
        "HTTP 401 Unauthorized (NTLM CHALLENGE)",
        "TUNNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED",
        "HANDSHAKE_RESPONSE",
        "WebSocket Close 1000 normal closure",
    ] {
        assert!(
            labels.iter().any(|l| l == want),
            "{want} not in {labels:#?}"
        );
    }
    let d = report("d.jsonl", INTERCEPT_OK);
    let labels: Vec<String> = d.conns[0].events.iter().map(label).collect();
    assert!(
        labels.contains(&"X.224 Connection Request (SSL)".to_string()),
        "{labels:#?}"
    );
    assert!(labels
        .iter()
        .any(|l| l.starts_with("MCS Connect Initial (RDP 10.")));
    assert!(labels.contains(&"Font Map".to_string()));
}

#[test]
fn escape_covers_markup_quotes_and_control_characters() {
    assert_eq!(
        escape("<a href=\"x\" title='y'>&</a>\u{1b}[31m\n"),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;\u{FFFD}[31m\n"
    );
}

/// An event file whose every string tries to break out of the page.
fn hostile() -> Report {
    let p = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'</svg></textarea>";
    let text = [
        line(1, 0, 0, json!({"layer":"tcp","kind":"accepted","client":p,"listen":p})),
        line(1, 1, 1, json!({"layer":"x224","dir":"c2s","kind":"connection_request","cookie":p,"requested_protocols":[p]})),
        line(1, 2, 2, json!({"layer":p,"dir":"s2c","kind":p,"x":p})),
        line(1, 3, 3, json!({"layer":"tls","dir":"s2c","kind":"certificate","chain":[{"subject":p,"issuer":p,"sans":[p]}]})),
        line(1, 4, 4, json!({"layer":"session","kind":"verdict","phase":p,"cause":p,"closed_by":p,"close_kind":p,
            "summary":p,"hint":p,"mstsc":{"disc_reason":p,"extended":p,"meaning":p,"inferred":true},
            "warnings":[{"cause":p,"detail":p}],"evidence":[{"seq":2,"what":p}],"scope":"gateway_session","gw_connection_id":p})),
    ]
    .join("\n");
    from_lines(p, text.lines()).unwrap()
}

#[test]
fn html_escapes_every_string_from_the_event_file() {
    let html = render_html(&hostile());
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("<img"));
    assert!(!html.contains("alert(1)</script>"));
    assert_eq!(html.matches("</svg>").count(), 1, "one ladder, closed once");
    assert!(!html.contains("</textarea>"));
    assert!(html.contains(
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;"
    ));
    let text = render_text(&hostile());
    assert!(
        text.contains("<script>alert(1)"),
        "text keeps the text as it is"
    );
}

#[test]
fn html_is_self_contained_and_locked_down() {
    let html = render_html(&report("gw.jsonl", HTTP_OK));
    // The only URL is the SVG namespace, which is a name, not a fetch.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(
        urls,
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    for banned in [" src=", "<link", "@import", "url(http"] {
        assert!(!html.contains(banned), "{banned}");
    }
    let csp = html
        .split("Content-Security-Policy\" content=\"")
        .nth(1)
        .unwrap();
    assert!(csp.starts_with("default-src &#39;none&#39;"), "{csp}");
    assert!(csp.contains("script-src &#39;sha256-"));
    assert!(html.contains("<pre id=\"script-errors\" hidden></pre>"));
    assert!(html.contains("window.onerror"));
    assert!(html
        .trim_end()
        .ends_with("document.body.dataset.scripts = \"ok\";\n</script>\n</body></html>"));
}

#[test]
fn html_shows_verdicts_phases_ladder_certificates_and_events() {
    let r = report("rap.jsonl", RAP_DENIED);
    let html = render_html(&r);
    let v = &r.conns[0].verdict().unwrap().verdict;
    assert!(html.contains(&escape(&v.summary)));
    assert!(html.contains(&escape(&v.hint)));
    assert!(html.contains("<span class=\"badge\">gw_hresult</span>"));
    // The WebSocket connection's verdict is its session's: shown once.
    assert_eq!(html.matches("<article class=\"card verdict").count(), 1);
    assert!(html.contains("gateway tunnel create <code class=\"pid\">gw_tunnel_create</code>"));
    assert!(html.contains("<svg class=\"ladder\""));
    assert!(html.contains("<h3 id=\"c1-certificates\">Certificates</h3>"));
    assert!(html.contains("the gateway&#39;s certificate"));
    assert!(html.contains("<input id=\"filter-text\""));
    assert_eq!(html.matches("<tr id=\"ev-L").count(), r.event_count());
}

#[test]
fn text_report_has_verdicts_phases_facts_and_events() {
    let r = report("x.jsonl", EXPIRED);
    let t = render_text(&r);
    for want in [
        "VERDICTS",
        "cert_expired - the host's",
        "What to check:",
        "  Phases",
        "active session",
        "(to the end)",
        "  Negotiation",
        "security protocol",
        "findings: expired (notAfter 2021-01-01T00:00:00Z)",
        "!!",
        "X.224 Connection Request (SSL)",
    ] {
        assert!(t.contains(want), "{want:?} missing:\n{t}");
    }
    assert!(t.lines().all(|l| l.chars().count() <= 110), "{t}");
    // Runs of encrypted records are one line in the gateway's inner connection.
    let g = render_text(&report("gw.jsonl", HTTP_OK));
    assert!(g.contains("encrypted records:"), "{g}");
}

#[test]
fn text_report_defuses_terminal_escapes() {
    let text = verdict(
        1,
        0,
        0,
        "server_closed",
        "evil \u{1b}]0;pwned\u{7} title\nsecond line",
    );
    let t = render_text(&report("e.jsonl", &text));
    assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'));
    assert!(t.contains("evil ?]0;pwned? title second line"), "{t}");
}

use std::collections::BTreeSet;

#[test]
fn the_phase_holding_the_evidence_is_red() {
    // The expired certificate was found in the TLS handshake; the session went on.
    let html = render_html(&report("x.jsonl", EXPIRED));
    assert_eq!(html.matches("class=\"bar fail\"").count(), 1);
    let row = html
        .split("<tr>")
        .find(|r| r.contains("<code class=\"pid\">tls_handshake</code>"))
        .expect("the TLS handshake row");
    assert!(row.contains("bar fail"), "{row}");
    let ok = render_html(&report("d.jsonl", INTERCEPT_OK));
    assert!(!ok.contains("bar fail"));
}
