//! End to end through real peers with `--intercept`: xfreerdp → rdptap → xrdp or
//! FreeRDP's shadow server (or a scripted TLS 1.0 host), checking what rdptap sees
//! inside TLS and that interception never breaks a session that works without it.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use support::proxy::{run_rdptap, Proxy};
use support::run::{Run, CLIENT_RUN};
use support::tls10::Tls10Host;
use support::{
    auth_only_args, peers_available, xfreerdp, CertFiles, SecurityLayer, Shadow, TempDir, Xrdp,
    XrdpOpts, Xvfb, PASS, SHADOW, USER, XFREERDP, XRDP, XVFB,
};

/// A fresh local CA in a private directory.
fn ca() -> TempDir {
    let dir = TempDir::new("ca").expect("temp dir");
    let d = dir.path().display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], Duration::from_secs(30));
    assert_eq!(code, Some(0), "rdptap ca init failed: {out}");
    dir
}

/// rdptap --intercept in front of `target`, with the CA in `ca` and `extra` options.
fn intercepting(target: &str, ca: &Path, extra: &[&str]) -> Proxy {
    let d = ca.display().to_string();
    let mut args = vec!["--intercept", "--ca-dir", d.as_str()];
    args.extend_from_slice(extra);
    Proxy::start(target, &args)
}

/// xfreerdp through `proxy`, and the first connection's outcome.
fn run_client(proxy: &Proxy, display: &str, args: Vec<String>, log: impl Fn() -> String) -> Run {
    let out = xfreerdp(&args, display, CLIENT_RUN);
    let run = Run::collect(proxy, Some(out), log);
    assert!(
        !run.client.as_ref().unwrap().timed_out,
        "xfreerdp timed out\n{run}"
    );
    run
}

fn sha256_hex(der: &[u8]) -> String {
    ring_digest(der)
}

/// SHA-256 of a certificate, as --pin takes it.
fn ring_digest(der: &[u8]) -> String {
    use std::fmt::Write;
    let d = rcgen_sha256(der);
    let mut s = String::new();
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn rcgen_sha256(data: &[u8]) -> [u8; 32] {
    // The dev-dependency set has no hashing crate; `openssl dgst` is installed with the
    // peers, and rdptap's own `--pin` check is what is under test here.
    let dir = TempDir::new("digest").expect("temp dir");
    let p = dir.path().join("cert.der");
    std::fs::write(&p, data).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .arg(&p)
        .output()
        .expect("openssl dgst");
    out.stdout.try_into().expect("32-byte digest")
}

fn phases(run: &Run) -> Vec<String> {
    run.of_kind("phase")
        .iter()
        .filter_map(|e| e["phase"].as_str().map(String::from))
        .collect()
}

fn xrdp_tls(cert: &CertFiles) -> Xrdp {
    Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(cert),
    )
    .expect("xrdp")
}

// ---------------------------------------------------------------------------------------
// A working session, decrypted

#[test]
fn xrdp_tls_session_is_decrypted_and_ok() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("intercept-ok");
    let server = xrdp_tls(&cert);
    let ca = ca();
    let keylog = ca.path().join("keys.log");
    let pin = sha256_hex(&cert.cert_der);
    let k = keylog.display().to_string();
    let proxy = intercepting(
        &server.addr().to_string(),
        ca.path(),
        &["--pin", &pin, "--keylog", &k],
    );
    let run = run_client(
        &proxy,
        &x.display(),
        auth_only_args(proxy.addr, PASS, &["/sec:tls"]),
        || server.log(),
    );
    assert_eq!(run.cause(), "ok", "{run}");
    let p = phases(&run);
    for want in [
        "tls_session",
        "mcs",
        "channel_join",
        "secure_settings",
        "licensing",
    ] {
        assert!(
            p.iter().any(|x| x == want),
            "phase {want} missing in {p:?}\n{run}"
        );
    }
    // The decrypted stream shows what passthrough cannot.
    assert!(!run.of_kind("connect_initial").is_empty(), "{run}");
    assert!(!run.of_kind("connect_response").is_empty(), "{run}");
    assert!(!run.of_kind("client_info").is_empty(), "{run}");
    assert!(!run.of_kind("license").is_empty(), "{run}");
    let up = run.one("upstream_tls");
    assert_eq!(up["pin_matched"], true, "{run}");
    let ct = run.one("client_tls");
    assert!(ct["leaf_for"].is_string(), "{run}");
    // Both legs' secrets are in the key log.
    let keys = std::fs::read_to_string(&keylog).unwrap_or_default();
    assert!(keys.lines().count() >= 2, "key log: {keys}");
}

// ---------------------------------------------------------------------------------------
// Certificate findings: a client that accepts rdptap's mirroring certificate goes on, and
// the verdict is `ok` with the finding as a warning (tests/e2e_mirror.rs has the clients
// that refuse, compared with direct runs)

fn cert_case(cert: CertFiles, target_name: Option<&str>, want: &str, mirrors: &str) {
    let x = Xvfb::start().expect("Xvfb");
    let server = xrdp_tls(&cert);
    let ca = ca();
    let target;
    let connect;
    let mut extra: Vec<&str> = Vec::new();
    match target_name {
        Some(n) => {
            target = n.to_string();
            connect = server.addr().to_string();
            extra.extend(["--connect", connect.as_str()]);
        }
        None => target = server.addr().to_string(),
    }
    let proxy = intercepting(&target, ca.path(), &extra);
    let run = run_client(
        &proxy,
        &x.display(),
        auth_only_args(proxy.addr, PASS, &["/sec:tls"]),
        || server.log(),
    );
    // /cert:ignore accepted rdptap's certificate, which carried the problem: the
    // session worked, so it is ok, and the problem is a warning.
    assert!(run.client.as_ref().unwrap().success(), "{run}");
    assert_eq!(run.cause(), "ok", "{run}");
    assert!(run.warning_causes().contains(&want), "{run}");
    // The session went on: rdptap decrypted it past the TLS handshake.
    assert!(
        phases(&run).iter().any(|p| p == "licensing"),
        "the session did not proceed\n{run}"
    );
    let leaf = run.one("leaf_presented");
    assert!(
        support::run::names(&leaf["mirrors"]).contains(&mirrors.to_string()),
        "{run}"
    );
    assert!(
        run.console.contains("mirrors them"),
        "no word on the console that the client met the problem\n{run}"
    );
}

#[test]
fn expired_host_certificate_is_a_warning_when_the_client_accepts_it() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    cert_case(
        CertFiles::expired("intercept-expired"),
        None,
        "cert_expired",
        "expired",
    );
}

#[test]
fn self_signed_host_certificate_is_a_warning_when_the_client_accepts_it() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    cert_case(
        CertFiles::normal("intercept-self"),
        None,
        "cert_self_signed",
        "untrusted",
    );
}

#[test]
fn wrong_name_host_certificate_is_a_warning_when_the_client_accepts_it() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    cert_case(
        CertFiles::normal("intercept-wrong-name"),
        Some("rdp-host.example.com"),
        "cert_name_mismatch",
        "name_mismatch",
    );
}

#[test]
fn a_working_session_with_a_self_signed_host_exits_0_with_once() {
    // A default xrdp: self-signed. The session works, so `--once` reports success.
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("intercept-once");
    let server = xrdp_tls(&cert);
    let ca = ca();
    let mut proxy = intercepting(&server.addr().to_string(), ca.path(), &["--once"]);
    let run = run_client(
        &proxy,
        &x.display(),
        auth_only_args(proxy.addr, PASS, &["/sec:tls"]),
        || server.log(),
    );
    assert_eq!(run.cause(), "ok", "{run}");
    assert!(run.warning_causes().contains(&"cert_self_signed"), "{run}");
    let status = proxy.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{run}");
}

// ---------------------------------------------------------------------------------------
// The client does not trust rdptap's CA

#[test]
fn client_rejecting_the_proxy_certificate_is_named() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("intercept-deny");
    let server = xrdp_tls(&cert);
    let ca = ca();
    // The pin vouches for the host, so rdptap's certificate is a clean one from its
    // local CA, which this client does not trust.
    let pin = sha256_hex(&cert.cert_der);
    let proxy = intercepting(&server.addr().to_string(), ca.path(), &["--pin", &pin]);
    let args = vec![
        format!("/v:{}", proxy.addr),
        format!("/u:{USER}"),
        format!("/p:{PASS}"),
        "/cert:deny".to_string(),
        "+auth-only".to_string(),
        "/sec:tls".to_string(),
    ];
    let run = run_client(&proxy, &x.display(), args, || server.log());
    assert_eq!(run.cause(), "client_rejected_proxy_cert", "{run}");
    assert!(run.str("hint").contains("rdptap ca show"), "{run}");
    assert!(!run.client.as_ref().unwrap().success(), "{run}");
}

// ---------------------------------------------------------------------------------------
// NLA is never intercepted

#[test]
fn nla_host_is_relayed_untouched() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");
    let ca = ca();
    let proxy = intercepting(&server.addr().to_string(), ca.path(), &[]);
    let run = run_client(
        &proxy,
        &x.display(),
        auth_only_args(proxy.addr, PASS, &[]),
        || server.log(),
    );
    assert!(run.client.as_ref().unwrap().success(), "NLA broke\n{run}");
    assert_eq!(run.cause(), "ok", "{run}");
    let n = run.one("not_intercepted");
    assert_eq!(n["reason"], "nla_passthrough", "{run}");
    assert!(run.of_kind("client_tls").is_empty(), "{run}");
    assert!(run.console.contains("NLA"), "{run}");
}

// ---------------------------------------------------------------------------------------
// A host rustls cannot speak to: the fallback keeps the session as it was

fn tls10_run(host: &Tls10Host, display: &str, through: Option<&Proxy>) -> support::ClientOutput {
    let addr: SocketAddr = through.map(|p| p.addr).unwrap_or(host.addr());
    xfreerdp(
        &support::tls10::client_args(addr),
        display,
        Duration::from_secs(20),
    )
}

/// The last FreeRDP error code in a client log (e.g. ERRCONNECT_CONNECT_TRANSPORT_FAILED).
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

#[test]
fn tls10_only_host_falls_back_to_passthrough() {
    if !peers_available(&[XVFB, XFREERDP, "openssl"]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let host = Tls10Host::start().expect("scripted TLS 1.0 host");
    // Without rdptap first: how far this client gets with this host.
    let direct = tls10_run(&host, &x.display(), None);
    let ca = ca();
    let proxy = intercepting(&host.addr().to_string(), ca.path(), &[]);
    let out = tls10_run(&host, &x.display(), Some(&proxy));
    let run = Run::collect(&proxy, Some(out), || host.log());
    let via = run.client.as_ref().unwrap();
    assert_eq!(
        last_error(&via.log),
        last_error(&direct.log),
        "the client fared differently through rdptap\ndirect:\n{}\n{run}",
        direct.log
    );
    assert!(
        run.warning_causes().contains(&"upstream_tls_incompatible"),
        "{run}"
    );
    let failed = run.one("upstream_tls_failed");
    assert_eq!(failed["fallback"], true, "{run}");
    assert!(
        failed["alert"] == "protocol_version"
            || failed["error"].as_str().unwrap_or("").contains("TLS"),
        "{run}"
    );
    // The client's own TLS went through untouched: the passthrough decoder saw the
    // host's TLS 1.0 ServerHello and application data from the client after it.
    let hello = run.one("server_hello");
    assert_eq!(hello["version"], "TLS 1.0", "{run}");
    assert!(!run.of_kind("handshake_done").is_empty(), "{run}");
    // rdptap's own attempt, then the fresh connection for the fallback.
    assert_eq!(host.connections(), 3, "{run}");
}

// ---------------------------------------------------------------------------------------
// --nla downgrade (lab option)

#[test]
fn nla_downgrade_against_xrdp_is_visible_and_client_carries_on() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("intercept-downgrade");
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Negotiate)
            .cert(&cert),
    )
    .expect("xrdp");
    let ca = ca();
    let pin = sha256_hex(&cert.cert_der);
    let proxy = intercepting(
        &server.addr().to_string(),
        ca.path(),
        &["--nla", "downgrade", "--pin", &pin],
    );
    // No /sec: the client offers NLA (HYBRID) and TLS, as by default.
    let args = vec![
        format!("/v:{}", proxy.addr),
        format!("/u:{USER}"),
        format!("/p:{PASS}"),
        "/cert:ignore".to_string(),
        "+auth-only".to_string(),
    ];
    let run = run_client(&proxy, &x.display(), args, || server.log());
    let d = run.one("nla_downgraded");
    assert!(d["requested"].to_string().contains("HYBRID"), "{run}");
    assert!(!d["sent"].to_string().contains("HYBRID"), "{run}");
    assert!(!run.of_kind("downgrade_hidden").is_empty(), "{run}");
    assert!(phases(&run).iter().any(|p| p == "licensing"), "{run}");
    assert!(run.console.contains("downgrade"), "{run}");
}

// ---------------------------------------------------------------------------------------
// --strict-upstream and --redact-users

#[test]
fn strict_upstream_refuses_an_expired_host_certificate() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::expired("intercept-strict");
    let server = xrdp_tls(&cert);
    let ca = ca();
    let proxy = intercepting(
        &server.addr().to_string(),
        ca.path(),
        &["--strict-upstream"],
    );
    let run = run_client(
        &proxy,
        &x.display(),
        auth_only_args(proxy.addr, PASS, &["/sec:tls"]),
        || server.log(),
    );
    assert_eq!(run.cause(), "cert_expired", "{run}");
    assert!(run.summary().contains("--strict-upstream"), "{run}");
    assert_eq!(run.str("closed_by"), "proxy", "{run}");
    assert!(!run.client.as_ref().unwrap().success(), "{run}");
}

#[test]
fn redact_users_hides_the_user_name_everywhere() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("intercept-redact");
    let server = xrdp_tls(&cert);
    let ca = ca();
    let proxy = intercepting(
        &server.addr().to_string(),
        ca.path(),
        &["--redact-users", "-v"],
    );
    let run = run_client(
        &proxy,
        &x.display(),
        auth_only_args(proxy.addr, PASS, &["/sec:tls"]),
        || server.log(),
    );
    assert!(!run.of_kind("client_info").is_empty(), "{run}");
    let events = std::fs::read_to_string(&proxy.events).unwrap();
    assert!(!events.contains(USER), "user name in the events file");
    assert!(
        !run.console.contains(USER),
        "user name on the console:\n{}",
        run.console
    );
    assert!(events.contains("<redacted>"), "{run}");
    // Passwords never appear, with or without --redact-users.
    assert!(!events.contains(PASS) && !run.console.contains(PASS));
}
