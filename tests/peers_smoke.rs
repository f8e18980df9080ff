//! Proves the peer harness itself works: real xfreerdp against real xrdp and FreeRDP's
//! shadow server, directly, with no proxy in between.

mod support;

use support::{
    auth_only_args, md4, nt_hash, peers_available, xfreerdp, CertFiles, SecurityLayer, Shadow,
    Xrdp, XrdpOpts, Xvfb, CLIENT_TIMEOUT, PASS, SHADOW, USER, XFREERDP, XRDP, XVFB,
};

fn show(out: &support::ClientOutput) -> String {
    format!(
        "exit {:?}, timed out {}, {:?}\n--- client log ---\n{}",
        out.code, out.timed_out, out.elapsed, out.log
    )
}

#[test]
fn md4_matches_rfc1320_vectors_and_nt_hash() {
    assert_eq!(support::hex(&md4(b"")), "31d6cfe0d16ae931b73c59d7e0c089c0");
    assert_eq!(
        support::hex(&md4(b"abc")),
        "a448017aaf21d8525fc10ae87aa6729d"
    );
    assert_eq!(
        support::hex(&md4(
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        )),
        "e33b4ddc9c38f2199c3e7b164fcc0536"
    );
    // Cross-checked with `iconv -t UTF-16LE | openssl dgst -md4 -provider legacy`.
    assert_eq!(
        support::hex(&nt_hash("labpass")),
        "a4596a98eda080ebcb04e486adbf3d3c"
    );
}

#[test]
fn certificates_are_written_as_pem() {
    let ok = CertFiles::normal("smoke-normal");
    let old = CertFiles::expired("smoke-expired");
    for c in [&ok, &old] {
        let pem = std::fs::read_to_string(&c.cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        let key = std::fs::read_to_string(&c.key).unwrap();
        assert!(key.contains("PRIVATE KEY-----"), "{key}");
    }
    let (_, parsed) = x509_parser::parse_x509_certificate(&old.cert_der).unwrap();
    assert_eq!(parsed.validity().not_after.to_datetime().year(), 2021);
    assert!(!parsed.validity().is_valid());
    let (_, parsed) = x509_parser::parse_x509_certificate(&ok.cert_der).unwrap();
    assert!(parsed.validity().is_valid());
}

#[test]
fn xfreerdp_auth_only_against_xrdp_tls() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Xrdp::start(&XrdpOpts::default()).expect("xrdp");
    let out = xfreerdp(
        &auth_only_args(server.addr(), PASS, &["/sec:tls"]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(
        out.success(),
        "{}\n--- xrdp log ---\n{}",
        show(&out),
        server.log()
    );
    assert!(
        out.log.contains("Authentication only, exit status 0"),
        "{}",
        show(&out)
    );
}

#[test]
fn xfreerdp_auth_only_against_xrdp_tls12_with_expired_certificate() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::expired("smoke-expired-host");
    let opts = XrdpOpts::default().ssl_protocols("TLSv1.2").cert(&cert);
    let server = Xrdp::start(&opts).expect("xrdp");
    // /cert:ignore accepts any certificate, so an expired one still connects.
    let out = xfreerdp(
        &auth_only_args(server.addr(), PASS, &["/sec:tls"]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(
        out.success(),
        "{}\n--- xrdp log ---\n{}",
        show(&out),
        server.log()
    );
}

#[test]
fn xfreerdp_tls_against_rdp_only_xrdp_fails_negotiation() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server =
        Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Rdp)).expect("xrdp");
    let out = xfreerdp(
        &auth_only_args(server.addr(), PASS, &["/sec:tls"]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(!out.success() && !out.timed_out, "{}", show(&out));
    assert!(
        out.log.contains("ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED"),
        "{}",
        show(&out)
    );
}

#[test]
fn xfreerdp_nla_against_shadow() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let server = Shadow::start(USER, PASS, &x.display()).expect("freerdp-shadow-cli");

    let wrong = xfreerdp(
        &auth_only_args(server.addr(), "WRONGPASS", &[]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(!wrong.success() && !wrong.timed_out, "{}", show(&wrong));

    let right = xfreerdp(
        &auth_only_args(server.addr(), PASS, &[]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(
        right.success(),
        "{}\n--- shadow log ---\n{}",
        show(&right),
        server.log()
    );
    assert!(
        server.log().contains("SEC_E_MESSAGE_ALTERED"),
        "shadow log:\n{}",
        server.log()
    );
}

#[test]
fn client_timeout_is_enforced() {
    if !peers_available(&[XVFB, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    // A listener that accepts and never answers: xfreerdp would wait on it indefinitely.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let out = xfreerdp(
        &auth_only_args(addr, PASS, &["/sec:tls"]),
        &x.display(),
        std::time::Duration::from_secs(4),
    );
    assert!(out.timed_out && out.code.is_none(), "{}", show(&out));
    assert!(out.elapsed < std::time::Duration::from_secs(10));
}

#[test]
fn fixtures_are_present() {
    for name in [
        "xrdp-tls12-ok",
        "xrdp-tls13-ok",
        "xrdp-rdp-negfailure",
        "xrdp-rdp-security",
        "xrdp-tls-rdpclient",
        "xrdp-tls-nlaclient",
        "shadow-nla-negfailure",
        "shadow-nla-wrongpass",
        "shadow-nla-ok",
    ] {
        let (c2s, s2c) = support::fixture(name);
        // Every stream starts with a TPKT header (version 3): the X.224 CR or CC.
        assert_eq!(c2s.first(), Some(&3), "{name}.c2s");
        assert_eq!(s2c.first(), Some(&3), "{name}.s2c");
    }
}
