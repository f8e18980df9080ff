//! The HTML report in a real browser. Reports made from real sessions' events (the
//! committed ones in tests/data/events, and one recorded live: xfreerdp → rdptap
//! --intercept → xrdp) open in headless Chromium with no script error, show the verdict,
//! and render to a PNG. A hostile event file cannot inject markup or script.
//!
//! `cargo test --test report_chromium -- --ignored regenerate` records the committed
//! event files again (see tests/data/README.md).

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::lab_gateway::LabGateway;
use support::proxy::{run_rdptap, Proxy};
use support::{
    auth_only_args, peers_available, xfreerdp, CertFiles, Guard, SecurityLayer, TempDir, Xrdp,
    XrdpOpts, Xvfb, CLIENT_TIMEOUT, PASS, XFREERDP, XRDP, XVFB,
};

const CHROMIUM: &str = "chromium";
/// One Chromium run: it starts in about a second, so this only catches a hang.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);
/// How long rdptap gets to write the last verdict after the client exits.
const VERDICT_WAIT: Duration = Duration::from_secs(15);

/// The committed event files, each with a string its report must show.
const FIXTURES: [(&str, &str); 4] = [
    (
        "intercept-ok",
        "the client ended the connection in an orderly way",
    ),
    (
        "intercept-expired-cert",
        "the certificate expired on 2021-01-01",
    ),
    (
        "gateway-ws-rap-denied",
        "TUNNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED",
    ),
    ("gateway-http-ok", "TLS 1.3 session established"),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/events")
        .join(format!("{name}.jsonl"))
}

/// What one Chromium run printed.
struct BrowserRun {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `page` with `args` (plus a private profile), bounded.
fn chromium(page: &Path, args: &[&str], tmp: &Path) -> BrowserRun {
    let profile = TempDir::new("chromium-profile").expect("temp dir");
    let out = tmp.join(format!("chromium-{}.out", args.len()));
    let err = tmp.join(format!("chromium-{}.err", args.len()));
    let mut cmd = Command::new(support::find_bin(CHROMIUM).expect("chromium"));
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(format!("file://{}", page.display()))
    // Its caches and crash reports go to the private directory, not the user's.
    .env("HOME", profile.path())
    .env("XDG_CONFIG_HOME", profile.path())
    .env("XDG_CACHE_HOME", profile.path())
    .stdin(Stdio::null())
    .stdout(std::fs::File::create(&out).expect("stdout file"))
    .stderr(std::fs::File::create(&err).expect("stderr file"));
    let mut guard = Guard::spawn("chromium", &mut cmd).expect("start chromium");
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    while guard.exited().is_none() {
        if Instant::now() > deadline {
            guard.stop();
            panic!(
                "chromium did not finish within {BROWSER_TIMEOUT:?}:\n{}",
                support::read_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(guard);
    BrowserRun {
        stdout: support::read_lossy(&out),
        stderr: support::read_lossy(&err),
    }
}

/// `rdptap report EVENTS -o OUT` (plus `extra`), which must succeed.
fn report(events: &Path, out: &Path, extra: &[&str]) {
    let e = events.display().to_string();
    let o = out.display().to_string();
    let mut args = vec!["report", e.as_str(), "-o", o.as_str()];
    args.extend_from_slice(extra);
    let (code, stderr) = run_rdptap(&args, Duration::from_secs(60));
    assert_eq!(code, Some(0), "rdptap report failed: {stderr}");
}

/// The text of the last verdict in an event file, as the DOM serialises it.
fn last_summary(events: &Path) -> String {
    let text = std::fs::read_to_string(events).expect("events");
    let v: Value = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["kind"] == "verdict")
        .expect("a verdict");
    html_text(v["summary"].as_str().unwrap_or_default())
}

/// Text as Chromium's serialiser writes it in element content.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

/// Opens the page three ways: DOM dump with console logging, and a screenshot.
/// Returns the DOM.
fn check_in_browser(page: &Path, tmp: &Path, want: &[&str]) -> String {
    let run = chromium(
        page,
        &["--enable-logging=stderr", "--v=0", "--dump-dom"],
        tmp,
    );
    let dom = run.stdout;
    assert!(
        dom.contains("data-scripts=\"ok\""),
        "the page script did not finish; stderr:\n{}\nDOM:\n{dom}",
        run.stderr
    );
    assert!(
        dom.contains("<pre id=\"script-errors\" hidden=\"\"></pre>"),
        "script errors were reported in the page:\n{dom}"
    );
    assert!(
        !run.stderr.contains("Uncaught"),
        "uncaught script error:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Content Security Policy"),
        "the page broke its own Content-Security-Policy:\n{}",
        run.stderr
    );
    for w in want {
        assert!(
            dom.contains(w),
            "{w:?} is not in the DOM of {}",
            page.display()
        );
    }
    let png = tmp.join(format!(
        "{}.png",
        page.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let shot = format!("--screenshot={}", png.display());
    let run = chromium(page, &[&shot, "--window-size=1280,2000"], tmp);
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("no screenshot {}: {e}\n{}", png.display(), run.stderr));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "a nearly empty screenshot: {} bytes",
        bytes.len()
    );
    dom
}

#[test]
fn committed_session_reports_render_in_chromium() {
    if !peers_available(&[CHROMIUM]) {
        return;
    }
    let tmp = TempDir::new("report-chromium").expect("temp dir");
    for (name, want) in FIXTURES {
        let events = fixture(name);
        let page = tmp.path().join(format!("{name}.html"));
        report(&events, &page, &[]);
        let summary = last_summary(&events);
        let dom = check_in_browser(
            &page,
            tmp.path(),
            &[want, &summary, "<svg class=\"ladder\""],
        );
        // The failing step of a failed session is drawn in red.
        if name == "gateway-ws-rap-denied" {
            assert!(dom.contains("class=\"row fail\""), "no failing step drawn");
        }
    }
}

#[test]
fn hostile_event_strings_stay_text_in_chromium() {
    if !peers_available(&[CHROMIUM]) {
        return;
    }
    let tmp = TempDir::new("report-hostile").expect("temp dir");
    let events = tmp.path().join("hostile.jsonl");
    let payload = "<script>document.body.dataset.pwned='1'</script><img src=x onerror=\"document.body.dataset.pwned='2'\">";
    let lines = [
        serde_json::json!({"ts":"2026-11-21T10:00:00.000000Z","conn":1,"dir":null,"layer":"tcp","kind":"accepted","client":payload,"listen":"127.0.0.1:13389","seq":0}),
        serde_json::json!({"ts":"2026-11-21T10:00:00.001000Z","conn":1,"dir":"c2s","layer":"x224","kind":"connection_request","cookie":payload,"routing_token":null,"neg_flags":[],"requested_protocols":[payload],"correlation_id":null,"seq":1}),
        serde_json::json!({"ts":"2026-11-21T10:00:00.002000Z","conn":1,"dir":"s2c","layer":payload,"kind":payload,"seq":2}),
        serde_json::json!({"ts":"2026-11-21T10:00:00.003000Z","conn":1,"dir":null,"layer":"session","phase":"x224","cause":"server_closed","closed_by":"server","close_kind":"fin","summary":format!("hostile {payload}"),"hint":payload,"mstsc":null,"inferred":false,"warnings":[{"cause":payload,"detail":payload}],"evidence":[{"seq":2,"at_ms":2.0,"dir":"s2c","layer":"x224","what":payload}],"client":{},"server":{},"duration_ms":3.0,"kind":"verdict","seq":3}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&events, text.join("\n") + "\n").expect("write events");
    let page = tmp.path().join("hostile.html");
    report(&events, &page, &[]);
    let dom = check_in_browser(
        &page,
        tmp.path(),
        &["hostile &lt;script&gt;document.body.dataset.pwned"],
    );
    assert!(!dom.contains("data-pwned"), "injected script ran:\n{dom}");
    assert!(
        !dom.contains("<img src=\"x\""),
        "injected markup was parsed:\n{dom}"
    );
}

/// xrdp with TLS, and rdptap intercepting in front of it.
struct DirectLab {
    x: Xvfb,
    xrdp: Xrdp,
    proxy: Proxy,
    _ca: TempDir,
    _cert: CertFiles,
}

/// The SHA-256 fingerprint of a certificate, as `--pin` takes it.
fn fingerprint(c: &CertFiles) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&c.cert)
        .output()
        .expect("openssl x509");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.trim().rsplit('=').next().unwrap_or("").to_string()
}

/// `extra` options for rdptap; with `pin`, the host's self-signed certificate is pinned,
/// so it counts as trusted.
fn direct_lab(cert: CertFiles, pin: bool, extra: &[&str]) -> DirectLab {
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = TempDir::new("ca").expect("temp dir");
    let d = ca.path().display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    let fp = fingerprint(&cert);
    let mut args = vec!["--intercept", "--ca-dir", d.as_str()];
    if pin {
        args.extend(["--pin", fp.as_str()]);
    }
    args.extend_from_slice(extra);
    let proxy = Proxy::start(&xrdp.addr().to_string(), &args);
    DirectLab {
        x,
        xrdp,
        proxy,
        _ca: ca,
        _cert: cert,
    }
}

impl DirectLab {
    /// One `+auth-only` client run, then the first verdict.
    fn session(&self) -> Value {
        let out = xfreerdp(
            &auth_only_args(self.proxy.addr, PASS, &["/sec:tls"]),
            &self.x.display(),
            CLIENT_TIMEOUT,
        );
        assert!(!out.timed_out, "xfreerdp timed out:\n{}", out.log);
        let v = self.proxy.first_verdict(VERDICT_WAIT);
        let _ = self.xrdp.log();
        v
    }
}

#[test]
fn live_session_report_renders_in_chromium() {
    if !peers_available(&[XVFB, XRDP, XFREERDP, CHROMIUM]) {
        return;
    }
    let lab = direct_lab(CertFiles::normal("report-live"), true, &[]);
    let verdict = lab.session();
    let tmp = TempDir::new("report-live").expect("temp dir");
    let page = tmp.path().join("live.html");
    report(&lab.proxy.events, &page, &[]);
    let cause = format!(
        "<span class=\"badge\">{}</span>",
        verdict["cause"].as_str().unwrap_or("?")
    );
    let summary = html_text(verdict["summary"].as_str().unwrap_or_default());
    let dom = check_in_browser(
        &page,
        tmp.path(),
        &[&cause, &summary, "MCS Connect Initial"],
    );
    assert!(
        dom.contains("Client Info"),
        "the decrypted PDUs are not in the ladder"
    );
    // The plain-text report of the same session names the verdict too.
    let text = tmp.path().join("live.txt");
    report(&lab.proxy.events, &text, &["--text"]);
    let t = std::fs::read_to_string(&text).expect("text report");
    assert!(t.contains(verdict["cause"].as_str().unwrap_or("?")), "{t}");
}

// ---------------------------------------------------------------------------------------
// Recording the committed event files

/// Copies a finished session's events into tests/data/events/NAME.jsonl.
fn keep(proxy: &Proxy, name: &str, verdicts: usize) {
    let deadline = Instant::now() + VERDICT_WAIT;
    while proxy.verdicts().len() < verdicts {
        assert!(
            Instant::now() < deadline,
            "{name}: only {} verdicts",
            proxy.verdicts().len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&proxy.events).expect("events");
    let dest = fixture(name);
    std::fs::write(&dest, text).expect("write fixture");
    eprintln!("wrote {}", dest.display());
}

/// Gateway mode: xfreerdp → rdptap --gateway → lab gateway (with `fail` knobs) → xrdp.
fn gateway_fixture(name: &str, transport: &str, fail: &[&str], verdicts: usize) {
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let gw = LabGateway::start(&xrdp.addr().to_string(), fail);
    let ca = gw.ca_dir();
    let ca_s = ca.display().to_string();
    let pem = ca.join("rdptap-ca.pem").display().to_string();
    let proxy = Proxy::start_gateway(
        &gw.addr.to_string(),
        &["--ca-dir", &ca_s, "--trust", &pem, "--redact-users"],
    );
    let g = format!("/g:{}", proxy.addr);
    let gt = format!("/gt:{transport}");
    let extra = [
        "/sec:tls",
        g.as_str(),
        "/gu:gwuser",
        "/gp:gwpass",
        gt.as_str(),
    ];
    let out = xfreerdp(
        &auth_only_args(xrdp.addr(), PASS, &extra),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(!out.timed_out, "xfreerdp timed out:\n{}", out.log);
    keep(&proxy, name, verdicts);
}

#[test]
#[ignore = "records tests/data/events again; needs the peers"]
fn regenerate_event_fixtures() {
    assert!(peers_available(&[XVFB, XRDP, XFREERDP]));
    let lab = direct_lab(
        CertFiles::normal("rdptap-fixture-host"),
        true,
        &["--redact-users"],
    );
    lab.session();
    keep(&lab.proxy, "intercept-ok", 1);
    drop(lab);
    let lab = direct_lab(
        CertFiles::expired("rdptap-fixture-expired"),
        false,
        &["--redact-users"],
    );
    lab.session();
    keep(&lab.proxy, "intercept-expired-cert", 1);
    drop(lab);
    gateway_fixture(
        "gateway-ws-rap-denied",
        "http",
        &["--fail", "tunnel=E_PROXY_RAP_ACCESSDENIED"],
        2,
    );
    // The HTTP transport: the IN and OUT channels' verdicts, then the session's.
    gateway_fixture("gateway-http-ok", "http,no-websockets", &[], 3);
}
