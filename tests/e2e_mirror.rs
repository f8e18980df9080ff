//! Certificate mirroring through real peers, under `--intercept` in front of xrdp:
//! rdptap's certificate reproduces the host's certificate problem, so the client makes
//! the same trust decision as without rdptap (gateway mode: `e2e_mirror_gateway.rs`).
//!
//! Each case runs the same xfreerdp twice, directly against xrdp and through rdptap,
//! and compares the client's outcome: its exit code and its last error line. The
//! client trusts a lab CA and rdptap's local CA, so a refusal is about the problem
//! under test and nothing else. `/cert:ignore` accepts every certificate (then the
//! verdict is `ok`, with the problem as a warning); `/cert:deny` refuses what does not
//! verify or does not match the name (then the problem is the cause).

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::mirror::{outcome, rdptap_ca, Client, Problem};
use support::proxy::Proxy;
use support::run::{Run, CLIENT_RUN};
use support::{
    peers_available, xfreerdp_trusting, CertFiles, SecurityLayer, TestCa, Xrdp, XrdpOpts, Xvfb,
    PASS, USER, XFREERDP, XRDP, XVFB,
};

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

/// xrdp with TLS security presenting `cert`.
fn tls_xrdp(cert: &CertFiles) -> Xrdp {
    Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(cert),
    )
    .expect("xrdp")
}

/// What a self-signed-host case runs against: a display, xrdp presenting a self-signed
/// certificate (kept alive with the lab CA's files), and rdptap's local CA.
struct SelfSignedLab {
    x: Xvfb,
    _lab: TestCa,
    _cert: CertFiles,
    server: Xrdp,
    ca: support::TempDir,
}

/// A [`SelfSignedLab`]; None when peers are missing. Bind every field where it is used:
/// the certificate's files go with its value.
fn self_signed_lab() -> Option<SelfSignedLab> {
    if !peers_available(&[XVFB, XRDP, XFREERDP, "openssl"]) {
        return None;
    }
    let x = Xvfb::start().expect("Xvfb");
    let lab = TestCa::new("rdptap mirror lab root");
    let cert = Problem::SelfSigned.host_cert(&lab);
    let server = tls_xrdp(&cert);
    Some(SelfSignedLab {
        x,
        _lab: lab,
        _cert: cert,
        server,
        ca: rdptap_ca(),
    })
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
    let server = tls_xrdp(&cert);
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
    let signer = if matches!(problem, Problem::SelfSigned | Problem::UnknownIssuer) {
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
fn intercept_unknown_issuer_accepted() {
    intercept_case(Problem::UnknownIssuer, Client::Ignore);
}

#[test]
fn intercept_unknown_issuer_refused() {
    intercept_case(Problem::UnknownIssuer, Client::Deny);
}

#[test]
fn intercept_not_yet_valid_accepted() {
    intercept_case(Problem::NotYetValid, Client::Ignore);
}

#[test]
fn intercept_not_yet_valid_refused() {
    intercept_case(Problem::NotYetValid, Client::Deny);
}

#[test]
fn the_next_connection_to_the_same_host_gets_the_same_mirror() {
    // The first connection's answer is computed with a clean guess and started again
    // once the host's certificate is judged; the next one guesses right. Both present
    // the same mirroring leaf, and both sessions work for a client that accepts it.
    let Some(SelfSignedLab {
        x,
        _lab,
        _cert,
        server,
        ca,
    }) = self_signed_lab()
    else {
        return;
    };
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
    let Some(SelfSignedLab {
        x,
        _lab,
        _cert,
        server,
        ca,
    }) = self_signed_lab()
    else {
        return;
    };
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
    let server = tls_xrdp(&cert);
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
