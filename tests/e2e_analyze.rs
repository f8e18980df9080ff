//! `rdptap analyze` on captures of real sessions, taken with tcpdump on loopback with no
//! rdptap in the path, as an admin's own capture would be. Each session is also relayed
//! once through the live proxy, and analyze must give the same cause, phase and closed_by
//! as the proxy did: one session core serves both.
//!
//! With `RDPTAP_SAVE_CAPTURES=1` the captures are copied to tests/data/captures/, where
//! tests/analyze_fixtures.rs reads them without any peer.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::lab_gateway::LabGateway;
use support::proxy::{run_rdptap, Proxy};
use support::run::{Run, CLIENT_RUN};
use support::tcpdump::{Tcpdump, TCPDUMP};
use support::{
    auth_only_args, peers_available, xfreerdp, CertFiles, ClientOutput, SecurityLayer, Shadow,
    TempDir, Xrdp, XrdpOpts, Xvfb, PASS, SHADOW, USER, XFREERDP, XRDP, XVFB,
};

/// What parity compares: cause, phase and who closed.
fn key(v: &Value) -> [String; 3] {
    ["cause", "phase", "closed_by"].map(|k| v[k].as_str().unwrap_or("?").to_string())
}

/// True when both sides closed within a few milliseconds: then which one came first is
/// a race between the peers (and the proxy's own relaying shifts it), not a fact about
/// the session.
fn closed_together(v: &Value) -> bool {
    let at = |side: &str| v[side]["after_ms"].as_f64();
    matches!((at("client"), at("server")), (Some(c), Some(s)) if (c - s).abs() < 50.0)
}

/// Parity: the same cause and phase, and the same closer unless the close was a race.
fn assert_same(analyzed: &Value, proxied: &Value, context: &dyn std::fmt::Display) {
    let (a, p) = (key(analyzed), key(proxied));
    let race = closed_together(analyzed) || closed_together(proxied);
    assert!(
        a[..2] == p[..2] && (race || a[2] == p[2]),
        "analyze says {a:?}, the proxy said {p:?}\n{context}"
    );
}

/// What `rdptap analyze` said about one capture.
struct Analyzed {
    code: Option<i32>,
    events: Vec<Value>,
    console: String,
}

impl Analyzed {
    fn verdicts(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["kind"] == "verdict")
            .collect()
    }

    /// The one verdict of a direct capture.
    fn verdict(&self) -> &Value {
        let v = self.verdicts();
        assert_eq!(v.len(), 1, "one verdict expected\n{self}");
        v[0]
    }

    /// The gateway session's verdict.
    fn session(&self) -> &Value {
        self.verdicts()
            .into_iter()
            .find(|v| v["scope"] == "gateway_session")
            .unwrap_or_else(|| panic!("no gateway_session verdict\n{self}"))
    }
}

impl std::fmt::Display for Analyzed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "analyze exit {:?}\n{}", self.code, self.console)?;
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Runs `rdptap analyze PCAP --events … EXTRA`.
fn analyze(pcap: &Path, extra: &[&str]) -> Analyzed {
    let dir = TempDir::new("analyze").expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let pcap_s = pcap.display().to_string();
    let events_s = events.display().to_string();
    let mut args = vec!["analyze", pcap_s.as_str(), "--events", events_s.as_str()];
    args.extend_from_slice(extra);
    let (code, console) = run_rdptap(&args, Duration::from_secs(60));
    let events = std::fs::read_to_string(&events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Analyzed {
        code,
        events,
        console,
    }
}

/// Keeps a capture for the fixtures when asked to.
fn save(pcap: &Path, name: &str) {
    if std::env::var_os("RDPTAP_SAVE_CAPTURES").is_none() {
        return;
    }
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captures"));
    std::fs::create_dir_all(&dir).expect("fixture dir");
    std::fs::copy(pcap, dir.join(format!("{name}.pcap"))).expect("copy capture");
}

/// xfreerdp through a fresh rdptap proxy in front of `target`: the proxy's verdict.
fn through_proxy(target: std::net::SocketAddr, display: &str, args: &ClientArgs) -> Run {
    let proxy = Proxy::start(&target.to_string(), &[]);
    let out = xfreerdp(&args(proxy.addr), display, CLIENT_RUN);
    Run::collect(&proxy, Some(out), String::new)
}

type ClientArgs = dyn Fn(std::net::SocketAddr) -> Vec<String>;

/// The same client straight to `target` while tcpdump captures `target`'s port.
fn captured(
    dir: &TempDir,
    name: &str,
    target: std::net::SocketAddr,
    display: &str,
    args: &ClientArgs,
) -> (PathBuf, ClientOutput) {
    let cap = Tcpdump::start(dir.path(), name, &[target.port()]);
    let out = xfreerdp(&args(target), display, CLIENT_RUN);
    (cap.stop(), out)
}

/// Relays one session through the proxy and captures another directly; both verdicts
/// must agree. Returns the analysis for further checks.
fn parity(name: &str, target: std::net::SocketAddr, display: &str, args: &ClientArgs) -> Analyzed {
    let run = through_proxy(target, display, args);
    let dir = TempDir::new("capture").expect("temp dir");
    let (pcap, out) = captured(&dir, name, target, display, args);
    let a = analyze(&pcap, &[]);
    let context = format!(
        "--- analyze:\n{a}\n--- proxy:\n{run}\n--- direct client:\n{}",
        out.log
    );
    assert_same(a.verdict(), &run.verdict, &context);
    assert!(
        a.events.iter().skip(1).all(|e| e["source"] == "capture"),
        "{a}"
    );
    save(&pcap, name);
    a
}

fn peers(extra: &[&str]) -> bool {
    let mut all = vec![XVFB, XFREERDP, TCPDUMP];
    all.extend_from_slice(extra);
    peers_available(&all)
}

#[test]
fn a_working_tls_session_is_ok_as_through_the_proxy() {
    if !peers(&[XRDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Xrdp::start(&XrdpOpts::default()).expect("xrdp");
    let a = parity("xrdp-tls-ok", server.addr(), &x.display(), &|t| {
        auth_only_args(t, PASS, &["/sec:tls", "/cert:ignore"])
    });
    assert_eq!(key(a.verdict())[0], "ok", "{a}");
    assert_eq!(a.code, Some(0), "{a}");
    assert!(a.console.contains("[conn 1] ok at tls_session"), "{a}");
}

#[test]
fn a_negotiation_failure_is_named_as_through_the_proxy() {
    if !peers(&[SHADOW]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");
    let a = parity("shadow-negfailure", server.addr(), &x.display(), &|t| {
        auth_only_args(t, PASS, &["/sec:tls", "/cert:ignore"])
    });
    assert_eq!(key(a.verdict())[0], "negotiation_failure", "{a}");
    assert!(
        a.verdict()["summary"]
            .as_str()
            .unwrap_or("")
            .contains("HYBRID_REQUIRED_BY_SERVER"),
        "{a}"
    );
    assert_eq!(a.code, Some(1), "{a}");
}

#[test]
fn an_expired_certificate_is_named_as_through_the_proxy() {
    if !peers(&[XRDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::expired("analyze-expired-host");
    let server =
        Xrdp::start(&XrdpOpts::default().ssl_protocols("TLSv1.2").cert(&cert)).expect("xrdp");
    let a = parity("xrdp-expired-cert", server.addr(), &x.display(), &|t| {
        vec![
            format!("/v:{t}"),
            format!("/u:{USER}"),
            format!("/p:{PASS}"),
            "/cert:deny".to_string(),
            "+auth-only".to_string(),
            "/sec:tls".to_string(),
        ]
    });
    assert_eq!(key(a.verdict())[0], "cert_expired", "{a}");
    assert!(
        a.verdict()["summary"]
            .as_str()
            .unwrap_or("")
            .contains("2021-01-01"),
        "{a}"
    );
}

#[test]
fn an_nla_wrong_password_is_named_as_through_the_proxy() {
    if !peers(&[SHADOW]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");
    let a = parity("shadow-nla-wrongpass", server.addr(), &x.display(), &|t| {
        auth_only_args(t, "WRONGPASS", &[])
    });
    assert_eq!(key(a.verdict())[0], "credssp_failed", "{a}");
    assert_eq!(a.verdict()["inferred"], true, "{a}");
}

/// xrdp behind the lab gateway, which writes its key log.
struct GatewayLab {
    x: Xvfb,
    xrdp: Xrdp,
    gw: LabGateway,
    keys: PathBuf,
    _dir: TempDir,
}

fn gateway_lab(fail: &[&str]) -> Option<GatewayLab> {
    if !peers(&[XRDP]) {
        return None;
    }
    let dir = TempDir::new("gwkeys").expect("temp dir");
    let keys = dir.path().join("gateway.keys");
    let keys_s = keys.display().to_string();
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let mut extra = vec!["--keylog", keys_s.as_str()];
    extra.extend_from_slice(fail);
    let gw = LabGateway::start(&xrdp.addr().to_string(), &extra);
    Some(GatewayLab {
        x,
        xrdp,
        gw,
        keys,
        _dir: dir,
    })
}

impl GatewayLab {
    /// xfreerdp +auth-only to xrdp through `gateway` with transport `gt`.
    fn client(&self, gateway: std::net::SocketAddr, gt: &str) -> ClientOutput {
        let extra = [
            "/sec:tls".to_string(),
            format!("/g:{gateway}"),
            "/gu:gwuser".to_string(),
            "/gp:gwpass".to_string(),
            format!("/gt:{gt}"),
        ];
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        xfreerdp(
            &auth_only_args(self.xrdp.addr(), PASS, &extra),
            &self.x.display(),
            CLIENT_RUN,
        )
    }

    /// The proxy's gateway-session verdict for one session over `gt`.
    fn through_proxy(&self, gt: &str) -> Value {
        let ca = self.gw.ca_dir();
        let ca_s = ca.display().to_string();
        let pem = ca.join("rdptap-ca.pem").display().to_string();
        let proxy = Proxy::start_gateway(
            &self.gw.addr.to_string(),
            &["--ca-dir", &ca_s, "--trust", &pem],
        );
        let out = self.client(proxy.addr, gt);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = proxy
                .verdicts()
                .into_iter()
                .find(|v| v["scope"] == "gateway_session")
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no gateway session verdict from the proxy\n{}\n{}",
                out.log,
                proxy.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The same session straight to the gateway, captured, analysed with its key log.
    fn captured(&self, name: &str, gt: &str) -> Analyzed {
        let dir = TempDir::new("gwcap").expect("temp dir");
        let cap = Tcpdump::start(dir.path(), name, &[self.gw.addr.port()]);
        let out = self.client(self.gw.addr, gt);
        let pcap = cap.stop();
        let keys = self.keys.display().to_string();
        let a = analyze(&pcap, &["--keylog", &keys]);
        assert!(!a.verdicts().is_empty(), "{a}\n--- client:\n{}", out.log);
        if std::env::var_os("RDPTAP_SAVE_CAPTURES").is_some() {
            save(&pcap, name);
            let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captures"));
            std::fs::copy(&self.keys, dir.join(format!("{name}.keys"))).expect("copy keys");
        }
        a
    }
}

fn gateway_parity(name: &str, gt: &str, fail: &[&str]) -> Option<Analyzed> {
    let lab = gateway_lab(fail)?;
    let proxy = lab.through_proxy(gt);
    let a = lab.captured(name, gt);
    let context = format!("--- analyze:\n{a}\n--- proxy:\n{proxy}");
    assert_same(a.session(), &proxy, &context);
    Some(a)
}

#[test]
fn a_gateway_session_over_websocket_is_decrypted_and_agrees_with_the_proxy() {
    let Some(a) = gateway_parity("gateway-ws-ok", "http", &[]) else {
        return;
    };
    assert_eq!(key(a.session())[0], "ok", "{a}");
    // The key log opened the gateway's TLS: its HTTP and MS-TSGU were read.
    assert!(a.events.iter().any(|e| e["kind"] == "decrypted"), "{a}");
    assert!(
        a.events
            .iter()
            .any(|e| e["kind"] == "tsgu_packet" && e["packet"] == "CHANNEL_RESPONSE"),
        "{a}"
    );
}

#[test]
fn a_gateway_session_over_http_is_decrypted_and_agrees_with_the_proxy() {
    let Some(a) = gateway_parity("gateway-http-ok", "http,no-websockets", &[]) else {
        return;
    };
    assert_eq!(key(a.session())[0], "ok", "{a}");
    // Both channels of the HTTP transport are one session.
    let conns: std::collections::BTreeSet<u64> = a
        .events
        .iter()
        .filter(|e| e["kind"] == "http_request")
        .filter_map(|e| e["conn"].as_u64())
        .collect();
    assert!(conns.len() >= 2, "{a}");
}

#[test]
fn a_refused_gateway_channel_is_named_as_through_the_proxy() {
    let Some(a) = gateway_parity(
        "gateway-ws-rap-denied",
        "http",
        &["--fail", "channel=E_PROXY_RAP_ACCESSDENIED"],
    ) else {
        return;
    };
    assert_eq!(key(a.session())[0], "gw_hresult", "{a}");
    assert!(
        a.session()["summary"]
            .as_str()
            .unwrap_or("")
            .contains("E_PROXY_RAP_ACCESSDENIED"),
        "{a}"
    );
    assert_eq!(a.code, Some(1), "{a}");
}

#[test]
fn without_its_key_log_a_gateway_capture_is_found_only_by_target() {
    let Some(lab) = gateway_lab(&[]) else { return };
    let dir = TempDir::new("gwcap").expect("temp dir");
    let cap = Tcpdump::start(dir.path(), "gw", &[lab.gw.addr.port()]);
    let _ = lab.client(lab.gw.addr, "http");
    let pcap = cap.stop();
    let a = analyze(&pcap, &[]);
    assert!(a.verdicts().is_empty(), "{a}");
    assert!(
        a.console.contains("no RDP or RD Gateway connection found"),
        "{a}"
    );
    assert!(a.console.contains(&lab.gw.addr.to_string()), "{a}");
    assert_eq!(a.code, Some(1), "{a}");
    // Named as the target, it is followed as far as its TLS shows.
    let target = lab.gw.addr.ip().to_string();
    let a = analyze(&pcap, &["--target", &target]);
    let v = a.verdict();
    assert_eq!(key(v)[..2], ["ok", "gw_tls"], "{a}");
    assert!(
        v["summary"]
            .as_str()
            .unwrap_or("")
            .contains("captured without its keys"),
        "{a}"
    );
}

/// The facts decoded from the RDP inside TLS (MCS and RDP PDUs), per direction, without
/// the fields that say when and where they were written.
fn inner_facts(events: &[Value], conn: u64) -> [Vec<Value>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for e in events.iter().filter(|e| e["conn"] == conn) {
        if !matches!(e["layer"].as_str(), Some("mcs" | "rdp")) {
            continue;
        }
        let i = usize::from(e["dir"] == "s2c");
        let mut e = e.clone();
        if let Some(m) = e.as_object_mut() {
            for k in ["ts", "seq", "conn", "source"] {
                m.remove(k);
            }
        }
        out[i].push(e);
    }
    out
}

#[test]
fn under_keys_every_decoded_fact_equals_what_interception_shows() {
    if !peers(&[XRDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("analyze-decrypt-host");
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let dir = TempDir::new("decrypt").expect("temp dir");
    let ca = dir.path().join("ca");
    let ca_s = ca.display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &ca_s], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    let keys = dir.path().join("keys.log");
    let keys_s = keys.display().to_string();
    let proxy = Proxy::start(
        &server.addr().to_string(),
        &["--intercept", "--ca-dir", &ca_s, "--keylog", &keys_s],
    );
    // Both legs: the client's to rdptap, and rdptap's to the host.
    let cap = Tcpdump::start(dir.path(), "legs", &[proxy.addr.port(), server.port()]);
    let out = xfreerdp(
        &auth_only_args(proxy.addr, PASS, &["/sec:tls", "/cert:ignore"]),
        &x.display(),
        CLIENT_RUN,
    );
    let run = Run::collect(&proxy, Some(out), || server.log());
    let pcap = cap.stop();
    let proxied = inner_facts(&run.events, run.verdict["conn"].as_u64().unwrap_or(1));
    assert!(
        proxied[0].iter().any(|e| e["kind"] == "client_info"),
        "interception did not decode the session\n{run}"
    );
    let a = analyze(&pcap, &["--keylog", &keys_s]);
    let conns: Vec<u64> = a
        .verdicts()
        .iter()
        .filter_map(|v| v["conn"].as_u64())
        .collect();
    assert_eq!(conns.len(), 2, "one connection per leg\n{a}");
    for conn in conns {
        let decrypted = inner_facts(&a.events, conn);
        for (i, side) in ["client", "server"].iter().enumerate() {
            assert_eq!(
                decrypted[i], proxied[i],
                "conn {conn}: the {side}'s decoded facts differ from interception's\n{a}\n--- proxy:\n{run}"
            );
        }
    }
}

#[test]
fn rdptap_s_own_trace_gives_one_verdict_per_connection_from_its_decrypted_flow() {
    if !peers(&[XRDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server =
        Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let dir = TempDir::new("trace").expect("temp dir");
    let ca = dir.path().join("ca");
    let ca_s = ca.display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &ca_s], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    for keys in [false, true] {
        let trace = dir.path().join(format!("trace-{keys}.pcapng"));
        let trace_s = trace.display().to_string();
        let mut extra = vec!["--intercept", "--ca-dir", &ca_s, "--pcap", &trace_s];
        if keys {
            extra.push("--pcap-keys");
        }
        let mut proxy = Proxy::start(&server.addr().to_string(), &extra);
        let out = xfreerdp(
            &auth_only_args(proxy.addr, PASS, &["/sec:tls", "/cert:ignore"]),
            &x.display(),
            CLIENT_RUN,
        );
        let run = Run::collect(&proxy, Some(out), || server.log());
        proxy.stop();
        let a = analyze(&trace, &[]);
        // Both raw legs and the decrypted flow are one rdptap connection: one verdict.
        let v = a.verdict();
        assert_eq!(v["phase"], run.verdict["phase"], "{a}\n--- proxy:\n{run}");
        assert!(
            a.events.iter().any(|e| e["kind"] == "client_info"),
            "the decrypted phases were read\n{a}"
        );
        let decrypted = a.events.iter().find(|e| e["kind"] == "decrypted");
        // With --pcap-keys the client's leg is decrypted with the trace's own keys;
        // without, the trace's decrypted flow is read.
        assert_eq!(
            decrypted.map(|e| e["version"].is_null()),
            Some(!keys),
            "{a}"
        );
    }
}
