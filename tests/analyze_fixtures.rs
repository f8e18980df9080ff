//! `rdptap analyze` on the committed captures of real sessions (tests/data/captures):
//! the verdicts, decryption with a key log, reports, and what happens with bad input.
//! No peer is needed: the captures were made by tests/e2e_analyze.rs.

mod support;

use serde_json::Value;

use std::time::Duration;
use support::proxy::run_rdptap;
use support::TempDir;

fn capture(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captures/").to_string() + name
}

/// `rdptap analyze` with `args`; its exit code, console and events.
fn analyze(args: &[&str]) -> (Option<i32>, String, Vec<Value>) {
    let dir = TempDir::new("fixture").expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let events_s = events.display().to_string();
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.extend(["--events", events_s.as_str()]);
    let (code, console) = run_rdptap(&all, Duration::from_secs(60));
    let events = std::fs::read_to_string(&events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (code, console, events)
}

fn verdicts(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["kind"] == "verdict").collect()
}

fn cause_phase(v: &Value) -> (String, String) {
    (
        v["cause"].as_str().unwrap_or("?").into(),
        v["phase"].as_str().unwrap_or("?").into(),
    )
}

#[test]
fn each_direct_capture_gets_its_verdict() {
    for (name, cause, phase, code) in [
        ("xrdp-tls-ok.pcap", "ok", "tls_session", 0),
        ("shadow-negfailure.pcap", "negotiation_failure", "x224", 1),
        ("xrdp-expired-cert.pcap", "cert_expired", "tls_session", 1),
        (
            "shadow-nla-wrongpass.pcap",
            "credssp_failed",
            "tls_session",
            1,
        ),
    ] {
        let (got, console, events) = analyze(&[&capture(name)]);
        let v = verdicts(&events);
        assert_eq!(v.len(), 1, "{name}: {console}");
        assert_eq!(
            cause_phase(v[0]),
            (cause.into(), phase.into()),
            "{name}: {console}"
        );
        assert_eq!(got, Some(code), "{name}: {console}");
        // The verdict line is printed as the proxy prints it.
        assert!(
            console.contains(&format!("[conn 1] {cause} at {phase}")),
            "{name}: {console}"
        );
        // Every event line says where it came from.
        assert!(
            events.iter().skip(1).all(|e| e["source"] == "capture"),
            "{name}"
        );
    }
}

#[test]
fn the_expired_certificate_is_judged_as_of_the_capture_not_today() {
    let (_, console, events) = analyze(&[&capture("xrdp-expired-cert.pcap")]);
    let v = verdicts(&events)[0];
    assert!(
        v["summary"].as_str().unwrap_or("").contains("2021-01-01"),
        "{console}"
    );
}

#[test]
fn gateway_captures_are_decrypted_with_the_gateways_key_log() {
    for (name, cause, phase) in [
        ("gateway-ws-ok", "ok", "tls_session"),
        ("gateway-http-ok", "ok", "tls_session"),
        ("gateway-ws-rap-denied", "gw_hresult", "gw_channel_create"),
    ] {
        let pcap = capture(&format!("{name}.pcap"));
        let keys = capture(&format!("{name}.keys"));
        let (_, console, events) = analyze(&[&pcap, "--keylog", &keys]);
        let session = verdicts(&events)
            .into_iter()
            .find(|v| v["scope"] == "gateway_session")
            .unwrap_or_else(|| panic!("{name}: no session verdict\n{console}"));
        assert_eq!(
            cause_phase(session),
            (cause.into(), phase.into()),
            "{name}: {console}"
        );
        assert!(events.iter().any(|e| e["kind"] == "decrypted"), "{name}");
        assert!(
            events.iter().any(|e| e["kind"] == "tsgu_packet"),
            "{name}: the tunnel was read"
        );
    }
}

#[test]
fn a_report_and_the_text_report_come_from_the_same_events() {
    let dir = TempDir::new("fixture-report").expect("temp dir");
    let html = dir.path().join("report.html");
    let html_s = html.display().to_string();
    let pcap = capture("gateway-ws-rap-denied.pcap");
    let keys = capture("gateway-ws-rap-denied.keys");
    let (code, _, _) = analyze(&[&pcap, "--keylog", &keys, "--report", &html_s]);
    assert_eq!(code, Some(1));
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(
        page.contains("E_PROXY_RAP_ACCESSDENIED"),
        "report lacks the refusal"
    );
    let (_, text, _) = analyze(&[&pcap, "--keylog", &keys, "--text"]);
    assert!(text.contains("gw_hresult"), "{text}");
}

#[test]
fn a_file_that_is_not_a_capture_is_refused_with_its_name() {
    let dir = TempDir::new("fixture-bad").expect("temp dir");
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, "GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
    let bad_s = bad.display().to_string();
    let (code, console, _) = analyze(&[&bad_s]);
    assert_eq!(code, Some(2), "{console}");
    assert!(console.contains(&bad_s), "{console}");
    assert!(console.contains("not a pcap or pcapng file"), "{console}");
    let (code, console, _) = analyze(&["/nonexistent/capture.pcap"]);
    assert_eq!(code, Some(2), "{console}");
    assert!(console.contains("/nonexistent/capture.pcap"), "{console}");
}

#[test]
fn a_truncated_capture_reports_what_it_read_then_the_offset() {
    let dir = TempDir::new("fixture-cut").expect("temp dir");
    let whole = std::fs::read(capture("xrdp-tls-ok.pcap")).unwrap();
    let cut = dir.path().join("cut.pcap");
    // Cut in the middle of a packet record near the end.
    std::fs::write(&cut, &whole[..whole.len() - 37]).unwrap();
    let cut_s = cut.display().to_string();
    let (code, console, events) = analyze(&[&cut_s]);
    assert_eq!(code, Some(2), "{console}");
    assert!(console.contains("byte offset"), "{console}");
    // What came before the cut was still analysed and reported.
    let v = verdicts(&events);
    assert_eq!(v.len(), 1, "{console}");
    assert!(console.contains("[conn 1]"), "{console}");
}

#[test]
fn a_capture_without_rdp_says_so_and_lists_what_it_saw() {
    // The gateway capture without keys or --target holds only HTTPS.
    let (code, console, _) = analyze(&[&capture("gateway-ws-ok.pcap")]);
    assert_eq!(code, Some(1), "{console}");
    assert!(
        console.contains("no RDP or RD Gateway connection found"),
        "{console}"
    );
    assert!(console.contains("the largest, by bytes"), "{console}");
}

/// An Ethernet + IPv4 + TCP frame of `payload` from 10.9.9.1:1000 to 10.9.9.2:2000.
fn filler_frame(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (40 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 64, 6, 0, 0, 10, 9, 9, 1, 10, 9, 9, 2]);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&2000u16.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn ctrl_c_stops_the_analysis_with_the_verdicts_so_far_written() {
    let dir = TempDir::new("fixture-int").expect("temp dir");
    // A real session first, then a long stream of other traffic.
    let mut file = std::fs::read(capture("xrdp-tls-ok.pcap")).unwrap();
    let payload = [0x55u8; 1000];
    let mut seq = 1u32;
    for i in 0..400_000u32 {
        let frame = filler_frame(seq, &payload);
        seq = seq.wrapping_add(payload.len() as u32);
        let ts = 1_900_000_000u32 + i / 1000;
        for v in [
            ts,
            (i % 1000) * 1000,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        file.extend_from_slice(&frame);
    }
    let pcap = dir.path().join("long.pcap");
    std::fs::write(&pcap, &file).unwrap();
    let events = dir.path().join("events.jsonl");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rdptap"))
        .args(["analyze", &pcap.display().to_string(), "--events"])
        .arg(&events)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("start rdptap analyze");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().expect("wait");
    let console = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(0) {
        // The machine read the whole file before the signal came: nothing to check.
        eprintln!("analysis finished before Ctrl-C: {console}");
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{console}");
    assert!(console.contains("interrupted at byte offset"), "{console}");
    assert!(console.contains("[conn 1] ok"), "{console}");
    // The event file is whole: every line parses, and the verdict is in it.
    let text = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a whole line"))
        .collect();
    assert!(lines.iter().any(|e| e["kind"] == "verdict"), "{text}");
}
