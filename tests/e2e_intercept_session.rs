//! Whole sessions through `rdptap --intercept`: xfreerdp goes active on xrdp's login
//! screen, and then either the user closes the window (ok) or the host's session
//! process dies (server_closed_after_logon).

mod support;

use std::time::{Duration, Instant};
use support::capture::peers::{signal_pid, xrdp_children, Client};
use support::proxy::{run_rdptap, Proxy};
use support::run::Run;
use support::{peers_available, CertFiles, SecurityLayer, TempDir, Xrdp, XrdpOpts, Xvfb, USER};
use support::{XFREERDP, XRDP, XVFB};

/// Everything needed for one session: the displays, the host, the CA and rdptap.
struct Lab {
    _x: Xvfb,
    display: String,
    server: Xrdp,
    proxy: Proxy,
    _ca: TempDir,
    // xrdp reads its certificate at each connection: the files must outlive the test.
    _cert: CertFiles,
}

fn lab() -> Lab {
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("intercept-session");
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = TempDir::new("ca").expect("temp dir");
    let d = ca.path().display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    let pin = cert_sha256(&cert);
    let proxy = Proxy::start(
        &server.addr().to_string(),
        &["--intercept", "--ca-dir", &d, "--pin", &pin],
    );
    Lab {
        display: x.display(),
        _x: x,
        server,
        proxy,
        _ca: ca,
        _cert: cert,
    }
}

fn cert_sha256(c: &CertFiles) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&c.cert)
        .output()
        .expect("openssl x509");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.trim().rsplit('=').next().unwrap_or("").to_string()
}

/// Starts xfreerdp (no password: xrdp then shows its own login screen, which needs no
/// session manager) and waits until rdptap has seen the session go active.
fn active_client(lab: &Lab) -> Client {
    let args = vec![
        format!("/v:{}", lab.proxy.addr),
        format!("/u:{USER}"),
        "/cert:ignore".to_string(),
        "/sec:tls".to_string(),
    ];
    let client = Client::spawn(&args, &lab.display).expect("xfreerdp");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lab
        .proxy
        .events()
        .iter()
        .any(|e| e["kind"] == "phase" && e["phase"] == "active")
    {
        assert!(
            Instant::now() < deadline,
            "the session never went active\nclient:\n{}\nevents: {:#?}",
            client.log(),
            lab.proxy.events()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    client
}

fn finish(lab: &Lab, client: Client) -> Run {
    let log = client.log();
    drop(client);
    let mut run = Run::collect(&lab.proxy, None, || lab.server.log());
    run.console.push_str("\n--- client ---\n");
    run.console.push_str(&log);
    run
}

/// Both scenarios in one test, one after the other: each drives a full graphical session,
/// and running them side by side on a 2-core machine only adds timing noise.
#[test]
fn whole_sessions_through_interception() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    closing_the_window_of_an_active_session_is_ok();
    host_session_dying_after_activation_is_server_closed_after_logon();
}

fn closing_the_window_of_an_active_session_is_ok() {
    let lab = lab();
    let mut client = active_client(&lab);
    // The window may be mapped a moment after the session goes active: ask until the
    // client exits.
    let mut exit = None;
    for _ in 0..15 {
        let _ = client.close_window();
        exit = client.wait(Duration::from_secs(1));
        if exit.is_some() {
            break;
        }
    }
    let run = finish(&lab, client);
    assert!(exit.is_some(), "the client did not exit\n{run}");
    run.expect("ok", "active", "client", "fin");
    for kind in [
        "client_info",
        "license",
        "demand_active",
        "confirm_active",
        "synchronize",
        "control",
        "font_list",
        "font_map",
        "channels_joined",
    ] {
        assert!(!run.of_kind(kind).is_empty(), "no {kind}\n{run}");
    }
    let lic = run.of_kind("license");
    assert!(
        lic.iter()
            .any(|l| l.to_string().contains("STATUS_VALID_CLIENT")),
        "{run}"
    );
}

fn host_session_dying_after_activation_is_server_closed_after_logon() {
    let lab = lab();
    let client = active_client(&lab);
    // Let the exchange that follows activation (the first screen, frame acknowledgements)
    // settle, so the host dies in a quiet active session.
    std::thread::sleep(Duration::from_secs(1));
    let children = xrdp_children(&lab.server);
    assert!(!children.is_empty(), "no xrdp connection process");
    for pid in children {
        signal_pid(pid, libc::SIGKILL);
    }
    // The host's process takes a moment to die; stopping the client before rdptap has
    // seen the host's side close would make it a race which side closed first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab
        .proxy
        .events()
        .iter()
        .any(|e| e["kind"] == "stream_ended" && e["dir"] == "s2c")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = finish(&lab, client);
    assert_eq!(run.cause(), "server_closed_after_logon", "{run}");
    assert_eq!(run.str("closed_by"), "server", "{run}");
    assert_eq!(run.verdict["mstsc"]["disc_reason"], "0x904", "{run}");
    assert!(run.summary().contains("mstsc shows 0x904"), "{run}");
}
