//! Certificate mirroring through real peers: rdptap's certificate reproduces the host's
//! (or gateway's) certificate problem, so the client makes the same trust decision as
//! without rdptap.
//!
//! Each case runs the same xfreerdp twice, directly against the host (xrdp, or the lab
//! gateway) and through rdptap, and compares the client's outcome: its exit code and
//! its last error line. The client trusts a lab CA and rdptap's local CA, so a refusal
//! is about the problem under test and nothing else. `/cert:ignore` accepts every
//! certificate (then the verdict is `ok`, with the problem as a warning); `/cert:deny`
//! refuses what does not verify or does not match the name (then the problem is the
//! cause).

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::lab_gateway::LabGateway;
use support::proxy::{run_rdptap, Proxy};
use support::run::{Run, CLIENT_RUN};
use support::{
    peers_available, xfreerdp_trusting, CertFiles, ClientOutput, SecurityLayer, TempDir, TestCa,
    Xrdp, XrdpOpts, Xvfb, PASS, USER, XFREERDP, XRDP, XVFB,
};

/// A certificate problem under test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Problem {
    /// Issued by the lab CA, valid only during 2020.
    Expired,
    /// Issued by the lab CA for another name than the one the client dials.
    WrongName,
    /// Signed by its own key.
    SelfSigned,
    /// Issued by the lab CA for the name the client dials: nothing wrong.
    Clean,
}

impl Problem {
    /// The verdict's cause (or warning) for the problem.
    fn cause(self) -> Option<&'static str> {
        match self {
            Problem::Expired => Some("cert_expired"),
            Problem::WrongName => Some("cert_name_mismatch"),
            Problem::SelfSigned => Some("cert_self_signed"),
            Problem::Clean => None,
        }
    }

    /// What `leaf_presented` says rdptap's certificate mirrors.
    fn mirrors(self) -> Vec<&'static str> {
        match self {
            Problem::Expired => vec!["expired"],
            Problem::WrongName => vec!["name_mismatch"],
            Problem::SelfSigned => vec!["untrusted"],
            Problem::Clean => vec![],
        }
    }

    /// xrdp's certificate with this problem.
    fn host_cert(self, lab: &TestCa) -> CertFiles {
        let here = ["127.0.0.1", "localhost"];
        match self {
            Problem::Expired => lab.issue(
                &here,
                Some((
                    rcgen::date_time_ymd(2020, 1, 1),
                    rcgen::date_time_ymd(2021, 1, 1),
                )),
            ),
            Problem::WrongName => lab.issue(&["other-host.rdptap.invalid"], None),
            Problem::SelfSigned => CertFiles::normal("mirror-self-signed"),
            Problem::Clean => lab.issue(&here, None),
        }
    }
}

/// How the client treats a certificate that does not verify.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Client {
    /// `/cert:ignore`: accepts it.
    Ignore,
    /// `/cert:deny`: refuses it.
    Deny,
}

impl Client {
    fn flag(self) -> &'static str {
        match self {
            Client::Ignore => "/cert:ignore",
            Client::Deny => "/cert:deny",
        }
    }
}

/// A fresh local CA for rdptap in a private directory.
fn rdptap_ca() -> TempDir {
    let dir = TempDir::new("ca").expect("temp dir");
    let d = dir.path().display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], Duration::from_secs(30));
    assert_eq!(code, Some(0), "rdptap ca init failed: {out}");
    dir
}

/// The last FreeRDP error code in a client log (e.g. ERRCONNECT_TLS_CONNECT_FAILED).
fn last_error(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter_map(|l| {
            let i = l.find("ERRCONNECT_")?;
            Some(
                l[i..]
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()?
                    .to_string(),
            )
        })
        .next()
}

/// The client's outcome, as compared between the direct and the proxied run.
fn outcome(out: &ClientOutput) -> (Option<i32>, Option<String>) {
    (out.code, last_error(&out.log))
}

/// The verdict rdptap gave, checked against what the client did: accepted means `ok`
/// with the problem as a warning; refused means the problem is the cause.
fn check_verdict(run: &Run, problem: Problem, client: Client, accepted: bool) {
    match (problem.cause(), accepted) {
        (None, true) => {
            assert_eq!(run.cause(), "ok", "{run}");
            assert!(run.warning_causes().is_empty(), "{run}");
        }
        (Some(cause), true) => {
            assert_eq!(run.cause(), "ok", "{run}");
            assert!(run.warning_causes().contains(&cause), "{run}");
        }
        (Some(cause), false) => {
            assert_eq!(run.cause(), cause, "{run}");
            assert!(run.summary().contains("mirrors"), "{run}");
        }
        (None, false) => panic!("{client:?} refused a clean host\n{run}"),
    }
}

// ---------------------------------------------------------------------------------------
// --intercept in front of xrdp

/// One problem and one client setting, directly against xrdp and through rdptap
/// `--intercept`; None when peers are missing.
fn intercepted(problem: Problem, client: Client, extra: &[&str]) -> Option<Run> {
    if !peers_available(&[XVFB, XRDP, XFREERDP, "openssl"]) {
        return None;
    }
    let x = Xvfb::start().expect("Xvfb");
    let lab = TestCa::new("rdptap mirror lab root");
    let cert = problem.host_cert(&lab);
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = rdptap_ca();
    let ca_pem = ca.path().join("rdptap-ca.pem");
    let trusted: [&Path; 2] = [&lab.cert, &ca_pem];
    let args = |addr: std::net::SocketAddr| {
        vec![
            format!("/v:{addr}"),
            format!("/u:{USER}"),
            format!("/p:{PASS}"),
            client.flag().to_string(),
            "+auth-only".to_string(),
            "/sec:tls".to_string(),
        ]
    };
    let direct = xfreerdp_trusting(&args(server.addr()), &x.display(), CLIENT_RUN, &trusted);
    assert!(!direct.timed_out, "direct run timed out:\n{}", direct.log);
    server.reap_connections();

    let d = ca.path().display().to_string();
    let lab_pem = lab.cert.display().to_string();
    let mut opts = vec!["--intercept", "--ca-dir", &d, "--trust", &lab_pem];
    opts.extend_from_slice(extra);
    let proxy = Proxy::start(&server.addr().to_string(), &opts);
    let through = xfreerdp_trusting(&args(proxy.addr), &x.display(), CLIENT_RUN, &trusted);
    let run = Run::collect(&proxy, Some(through), || server.log());
    let via = run.client.as_ref().expect("client output");
    assert!(!via.timed_out, "xfreerdp timed out through rdptap\n{run}");
    assert_eq!(
        outcome(via),
        outcome(&direct),
        "{problem:?} with {}: the client fared differently through rdptap\ndirect:\n{}\n{run}",
        client.flag(),
        direct.log
    );
    let accepted = direct.success();
    assert_eq!(
        accepted,
        client == Client::Ignore || problem == Problem::Clean,
        "{problem:?} with {}: unexpected direct outcome\n{}",
        client.flag(),
        direct.log
    );
    Some(run)
}

/// The intercepted case, with the verdict and the `leaf_presented` event checked.
fn intercept_case(problem: Problem, client: Client) {
    let Some(run) = intercepted(problem, client, &[]) else {
        return;
    };
    let accepted = run.client.as_ref().is_some_and(|c| c.success());
    check_verdict(&run, problem, client, accepted);
    let leaf = run.one("leaf_presented");
    let mirrors: Vec<String> = support::run::names(&leaf["mirrors"]);
    assert_eq!(mirrors, problem.mirrors(), "{run}");
    let signer = if problem == Problem::SelfSigned {
        "untrusted_ca"
    } else {
        "local_ca"
    };
    assert_eq!(leaf["signed_by"], signer, "{run}");
}

#[test]
fn intercept_clean_host_is_accepted_by_a_strict_client() {
    intercept_case(Problem::Clean, Client::Deny);
}

#[test]
fn intercept_expired_host_accepted() {
    intercept_case(Problem::Expired, Client::Ignore);
}

#[test]
fn intercept_expired_host_refused() {
    intercept_case(Problem::Expired, Client::Deny);
}

#[test]
fn intercept_wrong_name_accepted() {
    intercept_case(Problem::WrongName, Client::Ignore);
}

#[test]
fn intercept_wrong_name_refused() {
    intercept_case(Problem::WrongName, Client::Deny);
}

#[test]
fn intercept_self_signed_accepted() {
    intercept_case(Problem::SelfSigned, Client::Ignore);
}

#[test]
fn intercept_self_signed_refused() {
    intercept_case(Problem::SelfSigned, Client::Deny);
}

#[test]
fn the_next_connection_to_the_same_host_gets_the_same_mirror() {
    // The first connection's answer is computed with a clean guess and started again
    // once the host's certificate is judged; the next one guesses right. Both present
    // the same mirroring leaf, and both sessions work for a client that accepts it.
    if !peers_available(&[XVFB, XRDP, XFREERDP, "openssl"]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let lab = TestCa::new("rdptap mirror lab root");
    let cert = Problem::SelfSigned.host_cert(&lab);
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = rdptap_ca();
    let d = ca.path().display().to_string();
    let proxy = Proxy::start(&server.addr().to_string(), &["--intercept", "--ca-dir", &d]);
    let args = vec![
        format!("/v:{}", proxy.addr),
        format!("/u:{USER}"),
        format!("/p:{PASS}"),
        "/cert:ignore".to_string(),
        "+auth-only".to_string(),
        "/sec:tls".to_string(),
    ];
    for _ in 0..2 {
        let out = xfreerdp_trusting(&args, &x.display(), CLIENT_RUN, &[]);
        assert!(out.success(), "{}\n{}", out.log, proxy.stderr_text());
        server.reap_connections();
    }
    let verdicts = proxy.wait_verdicts(2, Duration::from_secs(15));
    let leaves: Vec<Value> = proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "leaf_presented")
        .collect();
    assert_eq!(leaves.len(), 2, "{leaves:?}");
    for (v, l) in verdicts.iter().zip(&leaves) {
        assert_eq!(v["cause"], "ok", "{v:#}");
        assert_eq!(l["signed_by"], "untrusted_ca", "{l}");
        assert_eq!(support::run::names(&l["mirrors"]), vec!["untrusted"], "{l}");
    }
}

#[test]
fn without_mirroring_a_strict_client_accepts_what_it_would_refuse() {
    // --no-mirror is the old behaviour, kept for those who want it: rdptap's clean
    // certificate hides the host's problem, and the client no longer refuses. The
    // outcomes differ, which is why mirroring is the default.
    if !peers_available(&[XVFB, XRDP, XFREERDP, "openssl"]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let lab = TestCa::new("rdptap mirror lab root");
    let cert = Problem::SelfSigned.host_cert(&lab);
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = rdptap_ca();
    let ca_pem = ca.path().join("rdptap-ca.pem");
    let d = ca.path().display().to_string();
    let proxy = Proxy::start(
        &server.addr().to_string(),
        &["--intercept", "--ca-dir", &d, "--no-mirror"],
    );
    let args = vec![
        format!("/v:{}", proxy.addr),
        format!("/u:{USER}"),
        format!("/p:{PASS}"),
        "/cert:deny".to_string(),
        "+auth-only".to_string(),
        "/sec:tls".to_string(),
    ];
    let out = xfreerdp_trusting(&args, &x.display(), CLIENT_RUN, &[&ca_pem]);
    let run = Run::collect(&proxy, Some(out), || server.log());
    assert!(run.client.as_ref().unwrap().success(), "{run}");
    assert_eq!(run.cause(), "ok", "{run}");
    let w = &run.verdict["warnings"][0];
    assert_eq!(w["cause"], "cert_self_signed", "{run}");
    assert!(
        w["detail"]
            .as_str()
            .unwrap_or("")
            .contains("hidden from the client"),
        "{run}"
    );
    assert!(run.console.contains("INTERCEPTION HIDES"), "{run}");
    assert!(run.one("leaf_presented")["mirrors"]
        .as_array()
        .is_some_and(|m| m.is_empty()));
}

#[test]
fn trusting_the_hosts_own_ca_true_certificate_makes_it_trusted() {
    // xrdp's and openssl's default kind of certificate: self-signed with CA:TRUE. Given
    // to rdptap with --trust, the host is trusted and CA:TRUE is a note.
    if !peers_available(&[XVFB, XRDP, XFREERDP, "openssl"]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::ca_true("mirror-ca-true");
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = rdptap_ca();
    let ca_pem = ca.path().join("rdptap-ca.pem");
    let d = ca.path().display().to_string();
    let host_pem = cert.cert.display().to_string();
    let mut proxy = Proxy::start(
        &server.addr().to_string(),
        &[
            "--intercept",
            "--ca-dir",
            &d,
            "--trust",
            &host_pem,
            "--once",
        ],
    );
    let args = vec![
        format!("/v:{}", proxy.addr),
        format!("/u:{USER}"),
        format!("/p:{PASS}"),
        "/cert:deny".to_string(),
        "+auth-only".to_string(),
        "/sec:tls".to_string(),
    ];
    // The host is trusted, so rdptap's certificate is a clean one from its local CA,
    // which this client trusts.
    let out = xfreerdp_trusting(&args, &x.display(), CLIENT_RUN, &[&ca_pem]);
    let run = Run::collect(&proxy, Some(out), || server.log());
    assert!(run.client.as_ref().unwrap().success(), "{run}");
    assert_eq!(run.cause(), "ok", "{run}");
    let findings = &run.one("cert_assessment")["findings"];
    assert_eq!(
        findings.as_array().map(|f| f.len()),
        Some(1),
        "only the CA:TRUE note\n{run}"
    );
    assert_eq!(findings[0]["finding"], "ca_certificate", "{run}");
    let w = &run.verdict["warnings"][0];
    assert_eq!(
        (&w["cause"], &w["severity"]),
        (&Value::from("cert_is_ca"), &Value::from("note")),
        "{run}"
    );
    assert_eq!(
        proxy
            .wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0),
        "{run}"
    );
}

// ---------------------------------------------------------------------------------------
// Gateway mode in front of the lab gateway

/// The lab gateway's `cert=` knob for a problem.
fn gateway_knob(problem: Problem) -> Option<&'static str> {
    match problem {
        Problem::Expired => Some("cert=expired"),
        Problem::WrongName => Some("cert=wrong-name"),
        Problem::SelfSigned => Some("cert=self-signed"),
        Problem::Clean => None,
    }
}

/// Waits (bounded) for the verdicts `pick` accepts once the client has exited.
fn verdicts_where(proxy: &Proxy, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v: Vec<Value> = proxy.verdicts().into_iter().filter(|v| pick(v)).collect();
        if !v.is_empty() || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One problem of the gateway's certificate and one client setting, directly against
/// the lab gateway and through rdptap `--gateway`.
fn gateway_case(problem: Problem, client: Client) {
    if !peers_available(&[XVFB, XRDP, XFREERDP, "openssl"]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    // The RDP host inside the tunnel has a certificate the client trusts outright, so
    // /cert:deny is only about the gateway's. Its CN is the address the client dials:
    // FreeRDP 2 matches the CN and DNS names, never IP address SANs.
    let host_cert = CertFiles::normal("127.0.0.1");
    let xrdp = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&host_cert),
    )
    .expect("xrdp");
    let knobs: Vec<&str> = gateway_knob(problem)
        .map(|k| vec!["--fail", k])
        .unwrap_or_default();
    let gw = LabGateway::start(&xrdp.addr().to_string(), &knobs);
    // rdptap and the lab gateway share one local CA, which the client trusts.
    let ca_dir = gw.ca_dir();
    let ca_pem: PathBuf = ca_dir.join("rdptap-ca.pem");
    let trusted: [&Path; 2] = [&ca_pem, &host_cert.cert];
    let args = |gateway: std::net::SocketAddr| {
        vec![
            format!("/v:{}", xrdp.addr()),
            format!("/u:{USER}"),
            format!("/p:{PASS}"),
            client.flag().to_string(),
            "+auth-only".to_string(),
            "/sec:tls".to_string(),
            format!("/g:{gateway}"),
            "/gu:gwuser".to_string(),
            "/gp:gwpass".to_string(),
            "/gt:http".to_string(),
        ]
    };
    let direct = xfreerdp_trusting(&args(gw.addr), &x.display(), CLIENT_RUN, &trusted);
    assert!(!direct.timed_out, "direct run timed out:\n{}", direct.log);
    xrdp.reap_connections();

    let d = ca_dir.display().to_string();
    let pem = ca_pem.display().to_string();
    let proxy = Proxy::start_gateway(&gw.addr.to_string(), &["--ca-dir", &d, "--trust", &pem]);
    let through = xfreerdp_trusting(&args(proxy.addr), &x.display(), CLIENT_RUN, &trusted);
    let context = || {
        format!(
            "direct:\n{}\nthrough rdptap (exit {:?}):\n{}\n--- rdptap:\n{}\n--- lab gateway:\n{}",
            direct.log,
            through.code,
            through.log,
            proxy.stderr_text(),
            gw.stderr_text()
        )
    };
    assert!(!through.timed_out, "{}", context());
    assert_eq!(
        outcome(&through),
        outcome(&direct),
        "{problem:?} with {}: the client fared differently through rdptap\n{}",
        client.flag(),
        context()
    );
    let accepted = direct.success();
    assert_eq!(
        accepted,
        client == Client::Ignore || problem == Problem::Clean,
        "{}",
        context()
    );
    if accepted {
        let v = verdicts_where(&proxy, |v| v["scope"] == "gateway_session");
        let v = v
            .first()
            .unwrap_or_else(|| panic!("no session verdict\n{}", context()));
        assert_eq!(v["cause"], "ok", "{v:#}\n{}", context());
        if let Some(cause) = problem.cause() {
            let warnings: Vec<&str> = v["warnings"]
                .as_array()
                .map(|w| w.iter().filter_map(|x| x["cause"].as_str()).collect())
                .unwrap_or_default();
            assert!(warnings.contains(&cause), "{v:#}\n{}", context());
        }
    } else {
        let cause = problem.cause().expect("only a problem is refused");
        // The client refuses the gateway's TLS, so no HTTP ever names a gateway
        // session: each connection has its own verdict.
        let v = verdicts_where(&proxy, |v| v["scope"] != "gateway_session");
        assert!(!v.is_empty(), "no verdict\n{}", context());
        for v in &v {
            assert_eq!(v["cause"], cause, "{v:#}\n{}", context());
        }
    }
    let mirrors: Vec<Vec<String>> = proxy
        .events()
        .iter()
        .filter(|e| e["kind"] == "leaf_presented")
        .map(|e| support::run::names(&e["mirrors"]))
        .collect();
    assert!(!mirrors.is_empty(), "{}", context());
    for m in mirrors {
        assert_eq!(m, problem.mirrors(), "{}", context());
    }
}

#[test]
fn gateway_clean_is_accepted_by_a_strict_client() {
    gateway_case(Problem::Clean, Client::Deny);
}

#[test]
fn gateway_expired_accepted() {
    gateway_case(Problem::Expired, Client::Ignore);
}

#[test]
fn gateway_expired_refused() {
    gateway_case(Problem::Expired, Client::Deny);
}

#[test]
fn gateway_wrong_name_accepted() {
    gateway_case(Problem::WrongName, Client::Ignore);
}

#[test]
fn gateway_wrong_name_refused() {
    gateway_case(Problem::WrongName, Client::Deny);
}

#[test]
fn gateway_self_signed_accepted() {
    gateway_case(Problem::SelfSigned, Client::Ignore);
}

#[test]
fn gateway_self_signed_refused() {
    gateway_case(Problem::SelfSigned, Client::Deny);
}
