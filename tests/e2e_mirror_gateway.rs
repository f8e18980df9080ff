//! Certificate mirroring through real peers, in gateway mode in front of the lab
//! gateway: rdptap's certificate reproduces the gateway's certificate problem, so the
//! client makes the same trust decision as with the gateway directly (and never sends
//! its gateway credentials to a gateway whose certificate it did not get to check).
//!
//! Each case runs the same xfreerdp twice, with the lab gateway directly and with
//! rdptap `--gateway` in front of it, and compares the client's outcome (exit code and
//! last error line); then rdptap's verdict: accepted means `ok` with the problem as a
//! warning, refused means the problem is the cause.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::lab_gateway::LabGateway;
use support::mirror::{outcome, Client, Problem};
use support::proxy::Proxy;
use support::run::CLIENT_RUN;
use support::{
    peers_available, xfreerdp_trusting, CertFiles, SecurityLayer, Xrdp, XrdpOpts, Xvfb, PASS, USER,
    XFREERDP, XRDP, XVFB,
};

/// The lab gateway's `cert=` knob for a problem.
fn gateway_knob(problem: Problem) -> Option<&'static str> {
    match problem {
        Problem::Expired => Some("cert=expired"),
        Problem::WrongName => Some("cert=wrong-name"),
        Problem::SelfSigned => Some("cert=self-signed"),
        // The lab gateway has no knob for these; they are tested under --intercept.
        Problem::UnknownIssuer | Problem::NotYetValid | Problem::Clean => None,
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

#[test]
fn a_client_cannot_make_rdptap_mint_a_name_of_its_choosing() {
    // A real TLS client (openssl s_client) asks rdptap, by SNI, for names of its
    // choosing. rdptap mints only for names it expects (the gateway's, the loopback
    // names): any other gets the gateway's own leaf, as the gateway would answer.
    if !peers_available(&["openssl"]) {
        return;
    }
    // No tunnel is opened, so the lab gateway's RDP target is never dialled.
    let gw = LabGateway::start("127.0.0.1:9", &[]);
    let ca_dir = gw.ca_dir();
    let d = ca_dir.display().to_string();
    let proxy = Proxy::start_gateway(&gw.addr.to_string(), &["--ca-dir", &d]);
    let asked = ["evil.example.org", "bank.example.com", "localhost"];
    for name in asked {
        let out = std::process::Command::new("timeout")
            .args(["10s", "openssl", "s_client", "-connect"])
            .arg(proxy.addr.to_string())
            .args(["-servername", name])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl s_client");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("BEGIN CERTIFICATE"),
            "{name}: no certificate\n{text}"
        );
    }
    let verdicts = proxy.wait_verdicts(asked.len(), Duration::from_secs(15));
    assert_eq!(verdicts.len(), asked.len(), "{}", proxy.stderr_text());
    let leaves: Vec<Value> = proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "leaf_presented")
        .collect();
    let minted_for: Vec<&str> = leaves
        .iter()
        .filter_map(|l| l["leaf_for"].as_str())
        .collect();
    assert_eq!(
        minted_for,
        vec!["127.0.0.1", "127.0.0.1", "localhost"],
        "{leaves:#?}"
    );
    for l in &leaves {
        let names = support::run::names(&l["names"]);
        assert!(
            !names.iter().any(|n| n.contains("example")),
            "a name the client chose was minted: {l}"
        );
    }
}
