//! `rdptap report` from the command line: outputs, the connection filter, and clear
//! errors for bad input.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::proxy::run_rdptap;
use support::TempDir;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/events")
        .join(format!("{name}.jsonl"))
        .display()
        .to_string()
}

/// Runs `rdptap ARGS` and returns its exit code, stdout and stderr.
fn rdptap(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rdptap"))
        .args(args)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .expect("run rdptap");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn html_goes_next_to_the_events_and_is_private() {
    let dir = TempDir::new("report-cli").expect("temp dir");
    let events = dir.path().join("trace.jsonl");
    std::fs::copy(fixture("gateway-ws-rap-denied"), &events).expect("copy");
    let e = events.display().to_string();
    let (code, err) = run_rdptap(&["report", &e], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    let html: PathBuf = dir.path().join("trace.html");
    assert!(err.contains(&format!("wrote {}", html.display())), "{err}");
    let page = std::fs::read_to_string(&html).expect("trace.html");
    assert!(page.contains("E_PROXY_RAP_ACCESSDENIED"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&html).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn text_goes_to_stdout_and_conn_filters() {
    let (code, out, err) = rdptap(&[
        "report",
        &fixture("gateway-http-ok"),
        "--text",
        "--conn",
        "2",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("VERDICTS"), "{out}");
    assert!(out.contains("connection 2 ("), "{out}");
    assert!(!out.contains("\nconnection 1 ("), "{out}");
    let (code, _, err) = rdptap(&[
        "report",
        &fixture("gateway-http-ok"),
        "--text",
        "--conn",
        "1,7",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("has no connection 7 (it has 1, 2)"), "{err}");
}

#[test]
fn bad_input_names_the_file_and_line_and_torn_lines_are_skipped() {
    let dir = TempDir::new("report-cli-bad").expect("temp dir");
    let good = std::fs::read_to_string(fixture("intercept-ok")).expect("fixture");
    let torn = dir.path().join("torn.jsonl");
    // A line cut in the middle (as by a kill) and a stray line: skipped with a warning.
    std::fs::write(&torn, format!("garbage\n{good}{{\"ts\":\"2026-")).expect("write");
    let t = torn.display().to_string();
    let (code, out, err) = rdptap(&["report", &t, "--text"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("warning: 2 lines of"), "{err}");
    assert!(err.contains("(the first is line 1)"), "{err}");
    assert!(out.contains("ok - the connection worked"), "{out}");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{good}{{\"conn\":-1,\"kind\":\"x\"}}\n")).expect("write");
    let b = bad.display().to_string();
    let (code, _, err) = rdptap(&["report", &b]);
    assert_eq!(code, Some(2));
    let n = good.lines().count() + 1;
    assert!(
        err.contains(&format!("{b} line {n}: \"conn\" is -1")),
        "{err}"
    );

    let (code, _, err) = rdptap(&["report", "/nonexistent/e.jsonl"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read /nonexistent/e.jsonl"), "{err}");

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let (code, _, err) = rdptap(&["report", &empty.display().to_string()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("holds no events"), "{err}");
}

#[test]
fn the_report_never_overwrites_its_events() {
    let dir = TempDir::new("report-cli-self").expect("temp dir");
    let events = dir.path().join("e.html");
    std::fs::copy(fixture("intercept-ok"), &events).expect("copy");
    let e = events.display().to_string();
    let (code, _, err) = rdptap(&["report", &e]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("refusing to overwrite the event file"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&events)
        .unwrap()
        .starts_with("{\"ts\""));
}

#[test]
fn help_has_examples() {
    let (code, out, _) = rdptap(&["report", "--help"]);
    assert_eq!(code, Some(0));
    for want in [
        "rdptap report trace.jsonl --text",
        "--conn <N[,N...]>",
        "-o, --output <FILE>",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
}

#[test]
fn a_symlink_planted_at_the_output_is_refused_and_its_target_kept() {
    let dir = TempDir::new("report-link").expect("temp dir");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.path().join("report.html");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let l = link.display().to_string();
    let (code, _, err) = rdptap(&["report", &fixture("gateway-http-ok"), "-o", &l]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("symbolic link") && err.contains(&l), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // The bundle is written the same way.
    let zip = dir.path().join("case.zip");
    std::os::unix::fs::symlink(&victim, &zip).unwrap();
    let z = zip.display().to_string();
    let (code, _, err) = rdptap(&["bundle", &z, "--events", &fixture("gateway-http-ok")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn quiet_report_says_nothing_on_success() {
    let dir = TempDir::new("report-quiet").expect("temp dir");
    let out = dir.path().join("r.html");
    let o = out.display().to_string();
    let (code, stdout, err) = rdptap(&["-q", "report", &fixture("gateway-http-ok"), "-o", &o]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((stdout.as_str(), err.as_str()), ("", ""));
    assert!(out.exists());
    // Errors still show.
    let (code, _, err) = rdptap(&["-q", "report", "/nonexistent/events.jsonl"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/events.jsonl"), "{err}");
}
