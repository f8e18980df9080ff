//! Redaction, end to end: real sessions with known, seeded credentials go through
//! rdptap with `--pcap` and `--events`; then the report and the bundle are made from
//! them, and every output file is searched for the secrets.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::gw_client::GwClient;
use support::lab_gateway::LabGateway;
use support::proxy::{run_rdptap, Proxy};
use support::run::VERDICT_TIMEOUT;
use support::{
    auth_only_args, peers_available, xfreerdp, SecurityLayer, TempDir, Xrdp, XrdpOpts, Xvfb,
    CLIENT_TIMEOUT, TSHARK, USER, XFREERDP, XRDP, XVFB,
};

/// The host password, sent in the Client Info inside TLS.
const RDP_SECRET: &str = "RdpSeed-9f3Kq!";
/// The gateway password, used by NTLM.
const GW_SECRET: &str = "GwSeed-7xWm2#";

/// Every way a secret could appear in a file: as ASCII/UTF-8, as UTF-16LE (RDP's
/// strings), and base64-encoded (HTTP headers).
fn forms(secret: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let utf16: Vec<u8> = secret
        .encode_utf16()
        .flat_map(|c| c.to_le_bytes())
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    vec![secret.as_bytes().to_vec(), utf16, b64.into_bytes()]
}

fn assert_absent(file: &Path, data: &[u8], secrets: &[&str]) {
    for s in secrets {
        for f in forms(s) {
            assert!(
                !data.windows(f.len()).any(|w| w == f.as_slice()),
                "the secret {s:?} survived in {}",
                file.display()
            );
        }
    }
}

/// Makes the report and the bundle from a run's outputs, unpacks the bundle, and
/// searches every file for the secrets.
fn check_every_output(dir: &Path, events: &Path, pcap: &Path, secrets: &[&str]) {
    let html = dir.join("report.html");
    let txt = dir.join("report.txt");
    let zip = dir.join("bundle.zip");
    let tgz = dir.join("bundle.tar.gz");
    let e = events.display().to_string();
    let p = pcap.display().to_string();
    for args in [
        vec!["report", e.as_str(), "-o", html.to_str().unwrap()],
        vec!["report", e.as_str(), "--text", "-o", txt.to_str().unwrap()],
        vec![
            "bundle",
            zip.to_str().unwrap(),
            "--events",
            &e,
            "--pcap",
            &p,
        ],
        vec![
            "bundle",
            tgz.to_str().unwrap(),
            "--events",
            &e,
            "--pcap",
            &p,
        ],
    ] {
        let (code, out) = run_rdptap(&args, Duration::from_secs(60));
        assert_eq!(code, Some(0), "rdptap {args:?}: {out}");
    }
    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let mut a = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    a.extract(&unpacked).unwrap();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&tgz).unwrap());
    tar::Archive::new(gz).unpack(unpacked.join("tgz")).unwrap();
    let mut files: Vec<PathBuf> = vec![events.into(), pcap.into(), html, txt, zip, tgz];
    for d in [unpacked.clone(), unpacked.join("tgz")] {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 14, "{files:?}");
    for f in &files {
        let data = std::fs::read(f).unwrap();
        assert_absent(f, &data, secrets);
    }
    let readme = std::fs::read_to_string(unpacked.join("README.txt")).unwrap();
    assert!(readme.contains("scrubbed"), "{readme}");
}

/// A fresh local CA in a private directory.
fn ca() -> TempDir {
    let ca = TempDir::new("ca").expect("temp dir");
    let d = ca.path().display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    ca
}

/// One intercepted xfreerdp session to `xrdp` through rdptap with `--pcap` and `more`;
/// returns the run's directory, its trace and the stopped proxy.
fn direct_run(x: &Xvfb, xrdp: &Xrdp, ca: &Path, more: &[&str]) -> (TempDir, PathBuf, Proxy) {
    let d = ca.display().to_string();
    let dir = TempDir::new("redact-direct").expect("temp dir");
    let pcap = dir.path().join("trace.pcapng");
    let mut args = vec![
        "--intercept",
        "--ca-dir",
        &d,
        "--pcap",
        pcap.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let mut proxy = Proxy::start(&xrdp.addr().to_string(), &args);
    let out = xfreerdp(
        &auth_only_args(proxy.addr, RDP_SECRET, &["/sec:tls"]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(out.success(), "{}", out.log);
    proxy.first_verdict(VERDICT_TIMEOUT);
    proxy.stop();
    (dir, pcap, proxy)
}

/// Two xfreerdp sessions (HTTP and WebSocket transports, NTLM as `gw_user`) through
/// rdptap --gateway with `--pcap` and `more`, and the lab gateway, to `xrdp`.
fn gateway_runs(x: &Xvfb, xrdp: &Xrdp, gw_user: &str, more: &[&str]) -> (TempDir, PathBuf, Proxy) {
    let gw = LabGateway::start(&xrdp.addr().to_string(), &["--auth", "ntlm-any"]);
    let ca_s = gw.ca_dir().display().to_string();
    let pem = gw.ca_dir().join("rdptap-ca.pem").display().to_string();
    let dir = TempDir::new("redact-gateway").expect("temp dir");
    let pcap = dir.path().join("trace.pcapng");
    let mut args = vec![
        "--ca-dir",
        &ca_s,
        "--trust",
        &pem,
        "--pcap",
        pcap.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let mut proxy = Proxy::start_gateway(&gw.addr.to_string(), &args);
    for gt in ["http", "ws"] {
        let extra = [
            "/sec:tls".to_string(),
            format!("/g:{}", proxy.addr),
            format!("/gu:{gw_user}"),
            format!("/gp:{GW_SECRET}"),
            format!("/gt:{gt}"),
        ];
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = xfreerdp(
            &auth_only_args(xrdp.addr(), RDP_SECRET, &extra),
            &x.display(),
            CLIENT_TIMEOUT,
        );
        assert!(!out.timed_out, "{}", out.log);
    }
    proxy.wait_verdicts(4, VERDICT_TIMEOUT);
    proxy.stop();
    (dir, pcap, proxy)
}

#[test]
fn no_seeded_secret_survives_in_any_output() {
    if !peers_available(&[XVFB, XRDP, XFREERDP, TSHARK]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");

    // 1. Direct, intercepted: the Client Info carries the host password in the clear
    // inside TLS, and the decrypted flow is in the trace.
    let ca = ca();
    let (dir, pcap, proxy) = direct_run(&x, &xrdp, ca.path(), &[]);
    let events = proxy.events.clone();
    // The secret really was in the decrypted stream: the Client Info is in the trace,
    // with its password length intact.
    let info = support::tshark::fields(&pcap, "rdp.password.length", &["rdp.password.length"], &[]);
    let want = (RDP_SECRET.len() * 2).to_string();
    assert!(info.iter().any(|r| r[0] == want), "{info:?}");
    check_every_output(dir.path(), &events, &pcap, &[RDP_SECRET]);

    // 2. Gateway mode: NTLM to the gateway, then the host password inside the tunnel.
    let (dir, pcap, proxy) = gateway_runs(&x, &xrdp, GW_USER, &[]);
    let events = proxy.events.clone();
    check_every_output(dir.path(), &events, &pcap, &[RDP_SECRET, GW_SECRET]);

    // A bundle of one connection, its trace found from the event file: only that
    // connection's packets, still a valid trace.
    let one = dir.path().join("one.zip");
    let e = events.display().to_string();
    let (code, out) = run_rdptap(
        &[
            "bundle",
            one.to_str().unwrap(),
            "--events",
            &e,
            "--conn",
            "2",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "{out}");
    let to = dir.path().join("one");
    zip::ZipArchive::new(std::fs::File::open(&one).unwrap())
        .unwrap()
        .extract(&to)
        .unwrap();
    let trace = to.join("trace.pcapng");
    support::tshark::check_clean(&trace, &[]);
    let names = support::tshark::fields(&trace, "frame", &["frame.interface_name"], &[]);
    assert!(!names.is_empty());
    assert!(names.iter().all(|r| r[0] == "rdptap-conn-2"), "{names:?}");
    let ev = std::fs::read_to_string(to.join("events.jsonl")).unwrap();
    assert!(ev
        .lines()
        .all(|l| l.contains("\"conn\":2") || l.contains("\"conn\":0")));
    let config = std::fs::read_to_string(to.join("config.json")).unwrap();
    assert!(config.contains("\"pcap\""), "{config}");
}

/// The gateway user name.
const GW_USER: &str = "gwuser";

/// Secrets a scripted gateway client puts where redaction used to miss them.
const QUERY_SECRET: &str = "QuerySeed-4Rt9";
const COOKIE_SECRET: &str = "CookieSeed-8Lp2";
const FOLD_SECRET: &str = "FoldSeed-3Vx6";

/// One xfreerdp session with standard RDP security at encryption level NONE (xrdp's
/// `security_layer=rdp`, `crypt_level=none`) through rdptap, not intercepting: the
/// Client Info with the host password crosses the raw legs in the clear.
fn clear_rdp_run(x: &Xvfb, xrdp: &Xrdp, more: &[&str]) -> (TempDir, PathBuf, Proxy) {
    let dir = TempDir::new("redact-clear").expect("temp dir");
    let pcap = dir.path().join("trace.pcapng");
    let mut args = vec!["--pcap", pcap.to_str().unwrap()];
    args.extend_from_slice(more);
    let mut proxy = Proxy::start(&xrdp.addr().to_string(), &args);
    let out = xfreerdp(
        &auth_only_args(proxy.addr, RDP_SECRET, &["/sec:rdp"]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(!out.timed_out, "{}", out.log);
    proxy.first_verdict(VERDICT_TIMEOUT);
    proxy.stop();
    (dir, pcap, proxy)
}

/// Three scripted gateway connections through rdptap --gateway --pcap to the lab
/// gateway, each with a secret where redaction used to miss it: a query string value, a
/// cookie without `=`, and the folded continuation of an Authorization header.
fn scripted_gateway_run(more: &[&str]) -> (TempDir, PathBuf, Proxy) {
    let gw = LabGateway::start("127.0.0.1:9", &[]);
    let ca_s = gw.ca_dir().display().to_string();
    let pem = gw.ca_dir().join("rdptap-ca.pem");
    let pem_s = pem.display().to_string();
    let dir = TempDir::new("redact-scripted").expect("temp dir");
    let pcap = dir.path().join("trace.pcapng");
    let mut args = vec![
        "--ca-dir",
        &ca_s,
        "--trust",
        &pem_s,
        "--pcap",
        pcap.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let mut proxy = Proxy::start_gateway(&gw.addr.to_string(), &args);
    let id = "RDG-Connection-Id: {5b0c3e1a-77f2-4a10-9c4d-0e8f6a2b1c3d}";
    let requests = [
        format!(
            "RDG_OUT_DATA /remoteDesktopGateway/?token={QUERY_SECRET}&flag HTTP/1.1\r\nHost: localhost\r\n{id}\r\nContent-Length: 0\r\n\r\n"
        ),
        format!(
            "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: localhost\r\nCookie: {COOKIE_SECRET}\r\n{id}\r\nContent-Length: 0\r\n\r\n"
        ),
        format!(
            "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer x\r\n  {FOLD_SECRET}\r\nContent-Length: 0\r\n\r\n"
        ),
    ];
    for r in &requests {
        let mut c = GwClient::connect("127.0.0.1".parse().unwrap(), proxy.addr, &pem)
            .expect("TLS through rdptap");
        c.send(r.as_bytes()).expect("request");
        // The lab gateway answers (401) or drops a head it cannot parse: either will do.
        let _ = c.response_head();
        c.close();
    }
    proxy.wait_verdicts(requests.len(), VERDICT_TIMEOUT);
    proxy.stop();
    (dir, pcap, proxy)
}

/// Whether `secret` is in `file`, in any of its forms.
fn present(file: &Path, secret: &str) -> bool {
    let data = std::fs::read(file).unwrap_or_default();
    forms(secret)
        .iter()
        .any(|f| data.windows(f.len()).any(|w| w == f.as_slice()))
}

#[test]
fn secrets_in_clear_rdp_and_odd_http_places_are_scrubbed() {
    // The gateway cases first: they need only the lab gateway.
    // Without redaction the scripted secrets do reach the trace's decrypted flow ...
    let (_keep, pcap, _p) = scripted_gateway_run(&["--no-redact"]);
    for s in [QUERY_SECRET, COOKIE_SECRET, FOLD_SECRET] {
        assert!(present(&pcap, s), "{s} not in the unredacted trace");
    }
    // ... and with it, no output keeps them: trace, events, report, bundle.
    let (dir, pcap, proxy) = scripted_gateway_run(&[]);
    let events = proxy.events.clone();
    check_every_output(
        dir.path(),
        &events,
        &pcap,
        &[QUERY_SECRET, COOKIE_SECRET, FOLD_SECRET],
    );
    // What is not secret stays: the query's parameter name, the request's path.
    let ev = std::fs::read_to_string(&events).unwrap();
    assert!(
        ev.contains("/remoteDesktopGateway/?token=<redacted 14 bytes>&<redacted 4 bytes>"),
        "{ev}"
    );

    if !peers_available(&[XVFB, XRDP, XFREERDP, TSHARK]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Rdp)
            .crypt_level("none"),
    )
    .expect("xrdp");
    // Without redaction the password is on the raw legs, in the clear ...
    let (_keep, pcap, _p) = clear_rdp_run(&x, &xrdp, &["--no-redact"]);
    assert!(
        present(&pcap, RDP_SECRET),
        "the password is not on the raw legs"
    );
    // ... and with it, nowhere.
    let (dir, pcap, proxy) = clear_rdp_run(&x, &xrdp, &[]);
    support::tshark::check_clean(&pcap, &[]);
    check_every_output(dir.path(), &proxy.events, &pcap, &[RDP_SECRET]);
}

#[test]
fn redact_users_leaves_no_user_name_in_any_output() {
    if !peers_available(&[XVFB, XRDP, XFREERDP, TSHARK]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    // Direct and intercepted: the mstshash cookie on the raw legs, the Client Info on the
    // decrypted flow.
    let ca = ca();
    let (dir, pcap, proxy) = direct_run(&x, &xrdp, ca.path(), &["--redact-users"]);
    assert!(proxy.stderr_text().contains("--redact-users"));
    // The Client Info is still in the trace and still dissects.
    let info = support::tshark::fields(&pcap, "rdp.password.length", &["rdp.password.length"], &[]);
    assert!(!info.is_empty(), "no Client Info in the trace");
    support::tshark::check_clean(&pcap, &[]);
    check_every_output(dir.path(), &proxy.events, &pcap, &[USER, RDP_SECRET]);

    // Gateway mode, both transports: NTLM names in HTTP, the cookie in the tunnel's first
    // DATA packet and on the inner flow.
    let (dir, pcap, proxy) = gateway_runs(&x, &xrdp, GW_USER, &["--redact-users"]);
    // The NTLM exchange and the inner Connection Request are still there.
    assert!(
        !support::tshark::fields(&pcap, "ntlmssp.messagetype == 2", &["frame.number"], &[])
            .is_empty()
    );
    assert!(
        !support::tshark::fields(&pcap, "tcp.dstport == 3389 && cotp", &["frame.number"], &[])
            .is_empty()
    );
    check_every_output(
        dir.path(),
        &proxy.events,
        &pcap,
        &[USER, GW_USER, RDP_SECRET, GW_SECRET],
    );
}
