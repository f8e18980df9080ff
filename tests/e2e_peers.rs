//! End to end through real peers on loopback: a real RDP client (xfreerdp) or a scripted
//! one, rdptap in the middle, and a real host (xrdp or FreeRDP's shadow server). Each test
//! checks the verdict rdptap writes against what the peers themselves report (exit code,
//! client log, server log), so a wrong diagnosis cannot hide behind a fixture written to
//! match it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::proxy::Proxy;
use support::run::{names, Run, CLIENT_RUN};
use support::{
    auth_only_args, fixture, peers_available, xfreerdp, CertFiles, SecurityLayer, Shadow, Xrdp,
    XrdpOpts, Xvfb, PASS, SHADOW, USER, XFREERDP, XRDP, XVFB,
};

/// Run xfreerdp through a fresh rdptap in front of `target` and collect the verdict.
fn via_proxy(
    target: SocketAddr,
    display: &str,
    client_args: impl Fn(SocketAddr) -> Vec<String>,
    server_log: impl Fn() -> String,
) -> Run {
    let proxy = Proxy::start(&target.to_string(), &[]);
    let out = xfreerdp(&client_args(proxy.addr), display, CLIENT_RUN);
    let run = Run::collect(&proxy, Some(out), server_log);
    let client = run.client.as_ref().expect("client output");
    assert!(!client.timed_out, "xfreerdp timed out\n{run}");
    run
}

/// The protocols xrdp says it selected, from its log line
/// `Security protocol: configured [SSL|RDP], requested [SSL|RDP], selected [SSL]`.
/// xrdp writes it when it answers the Connection Request; polled briefly because the log
/// is written by another process.
fn xrdp_selected(server: &Xrdp) -> Option<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log();
        let found = log
            .lines()
            .filter(|l| l.contains("Security protocol:"))
            .find_map(|l| {
                let rest = &l[l.find("selected [")? + "selected [".len()..];
                Some(rest[..rest.find(']')?].to_string())
            });
        if let Some(sel) = found {
            let mut v: Vec<String> = sel.split('|').map(|s| s.trim().to_string()).collect();
            v.sort();
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// rdptap's selected protocols in xrdp's spelling: standard RDP security is the absence
/// of every flag, which xrdp calls "RDP".
fn as_xrdp_names(mut sel: Vec<String>) -> Vec<String> {
    if sel.is_empty() {
        sel.push("RDP".to_string());
    }
    sel.sort();
    sel
}

/// Check that the Connection Confirm rdptap decoded agrees with what xrdp logged.
fn assert_selected_matches_xrdp(run: &Run, server: &Xrdp, expected: &str) {
    let logged = xrdp_selected(server);
    let decoded = as_xrdp_names(run.selected_protocol());
    assert_eq!(
        logged.as_deref(),
        Some(&[expected.to_string()][..]),
        "xrdp's own log\n{run}"
    );
    assert_eq!(
        decoded,
        vec![expected.to_string()],
        "rdptap's decoding\n{run}"
    );
}

fn sha256_colon_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `YYYY-MM-DD` of the certificate's notAfter, read from the certificate itself.
fn not_after_date(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parse certificate");
    let t = cert.validity().not_after.to_datetime();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

fn client_ok(run: &Run) {
    let c = run.client.as_ref().expect("client output");
    assert!(
        c.success() && c.log.contains("Authentication only, exit status 0"),
        "the client should have succeeded\n{run}"
    );
}

fn client_failed_with(run: &Run, needle: &str) {
    let c = run.client.as_ref().expect("client output");
    assert!(
        !c.success() && c.log.contains(needle),
        "the client should have failed with {needle}\n{run}"
    );
}

// ---------------------------------------------------------------------------------------
// (a) a working TLS connection

#[test]
fn xrdp_negotiate_tls_client_is_ok() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Xrdp::start(&XrdpOpts::default()).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:tls", "/cert:ignore"]),
        || server.log(),
    );
    client_ok(&run);
    run.expect("ok", "tls_session", "client", "fin");
    assert_eq!(run.inferred(), Some(false), "{run}");
    assert_eq!(
        names(&run.one("connection_request")["requested_protocols"]),
        ["SSL"],
        "/sec:tls requests TLS only\n{run}"
    );
    assert_selected_matches_xrdp(&run, &server, "SSL");
    assert!(run.summary().contains("SSL selected"), "{run}");
    assert_eq!(run.of_kind("handshake_done").len(), 1, "{run}");
}

#[test]
fn xrdp_tls12_shows_the_certificate() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("e2e-tls12-host");
    let server =
        Xrdp::start(&XrdpOpts::default().ssl_protocols("TLSv1.2").cert(&cert)).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:tls", "/cert:ignore"]),
        || server.log(),
    );
    client_ok(&run);
    run.expect("ok", "tls_session", "client", "fin");
    assert_selected_matches_xrdp(&run, &server, "SSL");
    assert_eq!(run.one("server_hello")["version"], "TLS 1.2", "{run}");
    assert!(run.summary().contains("TLS 1.2"), "{run}");
    // TLS 1.2 sends the certificate in the clear: it must be the one xrdp was given.
    let leaf = &run.one("certificate")["chain"][0];
    assert_eq!(leaf["subject"], "CN=e2e-tls12-host", "{run}");
    assert_eq!(
        leaf["sha256"].as_str(),
        Some(sha256_colon_hex(&cert.cert_der).as_str()),
        "{run}"
    );
    assert!(run.of_kind("certificate_hidden").is_empty(), "{run}");
    // A self-signed certificate the client accepted is worth a warning, not a failure.
    assert!(run.warning_causes().contains(&"cert_self_signed"), "{run}");
}

// ---------------------------------------------------------------------------------------
// (b) negotiation failures

#[test]
fn xrdp_rdp_only_refuses_tls_client() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server =
        Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Rdp)).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:tls", "/cert:ignore"]),
        || server.log(),
    );
    client_failed_with(&run, "ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED");
    run.expect("negotiation_failure", "x224", "client", "fin");
    // xrdp answers with selectedProtocol=RDP instead of RDP_NEG_FAILURE, so the code is
    // inferred.
    assert_eq!(run.inferred(), Some(true), "{run}");
    assert!(run.summary().contains("SSL_NOT_ALLOWED_BY_SERVER"), "{run}");
    assert!(run.of_kind("negotiation_failure").is_empty(), "{run}");
    assert_selected_matches_xrdp(&run, &server, "RDP");
}

#[test]
fn shadow_nla_refuses_tls_client_with_neg_failure() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:tls", "/cert:ignore"]),
        || server.log(),
    );
    client_failed_with(&run, "ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED");
    run.expect("negotiation_failure", "x224", "client", "fin");
    // A genuine RDP_NEG_FAILURE: read off the wire, not inferred.
    assert_eq!(run.inferred(), Some(false), "{run}");
    assert!(run.summary().contains("HYBRID_REQUIRED_BY_SERVER"), "{run}");
    let failure = run.one("negotiation_failure");
    assert!(
        failure.to_string().contains("HYBRID_REQUIRED_BY_SERVER"),
        "{run}"
    );
    assert!(run.of_kind("connection_confirm").is_empty(), "{run}");
}

// ---------------------------------------------------------------------------------------
// (d) an expired certificate

#[test]
fn expired_certificate_rejected_by_client() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::expired("e2e-expired-host");
    let server =
        Xrdp::start(&XrdpOpts::default().ssl_protocols("TLSv1.2").cert(&cert)).expect("xrdp");
    // /cert:deny makes xfreerdp refuse an unverifiable certificate without prompting.
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| {
            vec![
                format!("/v:{a}"),
                format!("/u:{USER}"),
                format!("/p:{PASS}"),
                "/cert:deny".to_string(),
                "+auth-only".to_string(),
                "/sec:tls".to_string(),
            ]
        },
        || server.log(),
    );
    client_failed_with(&run, "ERRCONNECT_TLS_CONNECT_FAILED");
    assert_eq!(run.cause(), "cert_expired", "{run}");
    assert_eq!(run.str("closed_by"), "client", "{run}");
    assert_eq!(run.inferred(), Some(true), "{run}");
    let date = not_after_date(&cert.cert_der);
    assert_eq!(date, "2021-01-01");
    assert!(run.summary().contains(&date), "summary lacks {date}\n{run}");
    // The other problems of this certificate stay visible as warnings.
    assert!(run.warning_causes().contains(&"cert_self_signed"), "{run}");
    assert!(!run.warning_causes().contains(&"cert_expired"), "{run}");
}

#[test]
fn expired_certificate_accepted_by_client_is_a_warning() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::expired("e2e-expired-host");
    let server =
        Xrdp::start(&XrdpOpts::default().ssl_protocols("TLSv1.2").cert(&cert)).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:tls", "/cert:ignore"]),
        || server.log(),
    );
    client_ok(&run);
    run.expect("ok", "tls_session", "client", "fin");
    assert!(run.warning_causes().contains(&"cert_expired"), "{run}");
    let date = not_after_date(&cert.cert_der);
    let detail = run.verdict["warnings"]
        .as_array()
        .and_then(|w| w.iter().find(|x| x["cause"] == "cert_expired"))
        .and_then(|x| x["detail"].as_str())
        .unwrap_or("");
    assert!(detail.contains(&date), "warning lacks {date}\n{run}");
}

// ---------------------------------------------------------------------------------------
// (e) the client leaves in the middle of the TLS handshake

/// Connect through `proxy` like a TLS client: the real X.224 Connection Request from the
/// fixture, wait for the Connection Confirm, then only the first half of the ClientHello.
/// Returns the bytes sent. With `reset`, the close is an RST (SO_LINGER 0).
fn partial_client_hello(proxy: SocketAddr, reset: bool) -> usize {
    let (c2s, _) = fixture("xrdp-tls12-ok");
    let cr_len = usize::from(u16::from_be_bytes([c2s[2], c2s[3]]));
    let (cr, rest) = c2s.split_at(cr_len);
    assert_eq!(rest[0], 0x16, "a TLS handshake record follows the CR");
    let hello_len = 5 + usize::from(u16::from_be_bytes([rest[3], rest[4]]));
    let part = &rest[..hello_len / 2];

    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&proxy, timeout).expect("connect to rdptap");
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(cr).expect("send CR");
    let mut header = [0u8; 4];
    s.read_exact(&mut header).expect("read CC TPKT header");
    assert_eq!(header[0], 3, "TPKT version");
    let mut cc = vec![0u8; usize::from(u16::from_be_bytes([header[2], header[3]])) - 4];
    s.read_exact(&mut cc).expect("read CC");
    assert_eq!(cc[1] & 0xf0, 0xd0, "X.224 Connection Confirm: {cc:02x?}");
    s.write_all(part).expect("send part of the ClientHello");
    // Let rdptap relay the partial record before the close, as a real client's would be.
    std::thread::sleep(Duration::from_millis(200));
    if reset {
        support::net::set_zero_linger(&s);
    }
    drop(s);
    cr.len() + part.len()
}

fn client_leaves_mid_handshake(reset: bool) {
    if !peers_available(&[XRDP]) {
        return;
    }
    let server = Xrdp::start(&XrdpOpts::default()).expect("xrdp");
    let proxy = Proxy::start(&server.addr().to_string(), &[]);
    let sent = partial_client_hello(proxy.addr, reset);
    let run = Run::collect(&proxy, None, || server.log());
    // After a FIN, xrdp's TLS accept hits EOF and it answers with a cleartext fatal alert
    // (decode_error): that is its reaction to the client leaving, not the cause. The client
    // had started TLS (the CC selected SSL and a handshake record was under way), so the
    // phase is the TLS handshake even though no complete ClientHello arrived.
    let (cause, kind) = if reset {
        ("client_reset", "rst")
    } else {
        ("client_closed", "fin")
    };
    run.expect(cause, "tls_handshake", "client", kind);
    assert_eq!(run.verdict["client"]["bytes"], sent, "{run}");
    assert_eq!(run.verdict["client"]["close_kind"], kind, "{run}");
    assert_eq!(run.selected_protocol(), ["SSL"], "{run}");
    assert!(run.of_kind("server_hello").is_empty(), "{run}");
    assert!(run.summary().contains("TLS handshake"), "{run}");
}

#[test]
fn client_closes_mid_tls_handshake() {
    client_leaves_mid_handshake(false);
}

#[test]
fn client_resets_mid_tls_handshake() {
    client_leaves_mid_handshake(true);
}

// ---------------------------------------------------------------------------------------
// (f) NLA

#[test]
fn nla_wrong_password_is_credssp_failure() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, "WRONGPASS", &[]),
        || server.log(),
    );
    client_failed_with(&run, "ERRCONNECT");
    // The server's own account of it: NTLM's MIC check failed on the AUTHENTICATE message.
    assert!(run.server_log.contains("SEC_E_MESSAGE_ALTERED"), "{run}");
    assert_eq!(run.cause(), "credssp_failed", "{run}");
    assert_eq!(run.str("phase"), "tls_session", "{run}");
    assert_eq!(run.inferred(), Some(true), "{run}");
    assert!(run.summary().contains("AUTHENTICATE"), "{run}");
    assert_eq!(run.selected_protocol(), ["HYBRID"], "{run}");
}

#[test]
fn nla_right_password_is_ok() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &[]),
        || server.log(),
    );
    client_ok(&run);
    assert_eq!(run.cause(), "ok", "{run}");
    assert_eq!(run.str("phase"), "tls_session", "{run}");
    assert_eq!(run.str("closed_by"), "client", "{run}");
    assert_eq!(run.selected_protocol(), ["HYBRID"], "{run}");
    assert!(run.summary().contains("CredSSP completed"), "{run}");
}

// ---------------------------------------------------------------------------------------
// Other security layers

#[test]
fn xrdp_standard_rdp_security_fips_is_ok_through_licensing() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let opts = XrdpOpts::default()
        .security_layer(SecurityLayer::Rdp)
        .crypt_level("fips");
    let server = Xrdp::start(&opts).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:rdp"]),
        || server.log(),
    );
    client_ok(&run);
    // Licensing travels unencrypted under standard RDP security, so rdptap follows the
    // connection that far; the Client Info before it is encrypted.
    run.expect("ok", "licensing", "client", "fin");
    assert!(!run.of_kind("security_exchange").is_empty(), "{run}");
    assert!(!run.of_kind("encrypted_from_here").is_empty(), "{run}");
    let initial = run.one("connect_initial");
    let response = run.one("connect_response");
    assert_eq!(initial["dir"], "c2s", "{run}");
    assert_eq!(response["dir"], "s2c", "{run}");
    assert!(run.of_kind("client_hello").is_empty(), "{run}");
}

#[test]
fn xrdp_tls13_hides_the_certificate() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Xrdp::start(&XrdpOpts::default().ssl_protocols("TLSv1.3")).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:tls", "/cert:ignore"]),
        || server.log(),
    );
    client_ok(&run);
    run.expect("ok", "tls_session", "client", "fin");
    assert_eq!(run.one("server_hello")["version"], "TLS 1.3", "{run}");
    run.one("certificate_hidden");
    assert!(run.of_kind("certificate").is_empty(), "{run}");
    assert!(run.summary().contains("TLS 1.3"), "{run}");
}

#[test]
fn nla_only_client_against_xrdp_fails_negotiation() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Xrdp::start(&XrdpOpts::default()).expect("xrdp");
    let run = via_proxy(
        server.addr(),
        &x.display(),
        |a| auth_only_args(a, PASS, &["/sec:nla"]),
        || server.log(),
    );
    client_failed_with(&run, "ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED");
    run.expect("negotiation_failure", "x224", "client", "fin");
    assert_eq!(run.inferred(), Some(true), "{run}");
    assert_eq!(
        names(&run.one("connection_request")["requested_protocols"]),
        ["SSL", "HYBRID"],
        "{run}"
    );
    // xrdp never offers NLA: it picks TLS, which the NLA-only client refuses.
    assert_selected_matches_xrdp(&run, &server, "SSL");
    assert!(run.summary().contains("NLA"), "{run}");
}

/// `--once` is for scripts: after a successful session rdptap exits by itself with 0.
#[test]
fn once_exits_zero_after_an_ok_session() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Xrdp::start(&XrdpOpts::default()).expect("xrdp");
    let mut proxy = Proxy::start(&server.addr().to_string(), &["--once"]);
    let out = xfreerdp(
        &auth_only_args(proxy.addr, PASS, &["/sec:tls", "/cert:ignore"]),
        &x.display(),
        CLIENT_RUN,
    );
    assert!(out.success(), "client failed: {}", out.log);
    let status = proxy.wait_exit(Duration::from_secs(15));
    let verdicts = proxy.verdicts();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "verdicts: {verdicts:?}\n{}",
        proxy.stderr_text()
    );
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0]["cause"], "ok");
}
