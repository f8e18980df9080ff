//! The command line of interception: option checks, the local CA at start-up, and the
//! banner's warnings.

mod support;

use std::time::Duration;
use support::proxy::{run_rdptap, Proxy};
use support::TempDir;

const QUICK: Duration = Duration::from_secs(20);

#[test]
fn keylog_and_downgrade_need_intercept() {
    let (code, out) = run_rdptap(
        &["proxy", "--target", "127.0.0.1", "--keylog", "k.log"],
        QUICK,
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--keylog") && out.contains("--intercept"),
        "{out}"
    );
    let (code, out) = run_rdptap(
        &["proxy", "--target", "127.0.0.1", "--nla", "downgrade"],
        QUICK,
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("--nla"), "{out}");
    let (code, out) = run_rdptap(&["proxy", "--target", "127.0.0.1", "--no-mirror"], QUICK);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--no-mirror") && out.contains("--intercept"),
        "{out}"
    );
}

#[test]
fn banner_says_whether_certificates_are_mirrored() {
    let dir = TempDir::new("mirror-banner").unwrap();
    let d = dir.path().join("ca").display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], QUICK);
    assert_eq!(code, Some(0), "{out}");
    let mut p = Proxy::start("127.0.0.1:9", &["--intercept", "--ca-dir", &d]);
    let text = p.stderr_text();
    p.stop();
    assert!(
        text.contains("mirrors the host's certificate problems"),
        "{text}"
    );
    let mut p = Proxy::start(
        "127.0.0.1:9",
        &["--intercept", "--ca-dir", &d, "--no-mirror"],
    );
    let text = p.stderr_text();
    p.stop();
    assert!(text.contains("--no-mirror: interception hides"), "{text}");
}

#[test]
fn intercept_without_a_ca_says_how_to_make_one() {
    let dir = TempDir::new("noca").unwrap();
    let d = dir.path().display().to_string();
    let (code, out) = run_rdptap(
        &[
            "proxy",
            "--target",
            "127.0.0.1",
            "--intercept",
            "--ca-dir",
            &d,
        ],
        QUICK,
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("rdptap ca init"), "{out}");
    assert!(out.contains(&d), "{out}");
}

#[test]
fn gateway_without_a_ca_says_to_make_one_not_to_add_intercept() {
    let dir = TempDir::new("noca-gw").unwrap();
    let d = dir.path().display().to_string();
    let listen = support::loopback(support::free_port()).to_string();
    let (code, out) = run_rdptap(
        &[
            "proxy",
            "--gateway",
            "rdgw.example.com",
            "--listen",
            &listen,
            "--ca-dir",
            &d,
        ],
        QUICK,
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("--gateway:"), "{out}");
    assert!(out.contains("rdptap ca init"), "{out}");
    assert!(out.contains("--constrain rdgw.example.com"), "{out}");
    assert!(out.contains(&d), "{out}");
    assert!(out.contains("--gateway-passthrough"), "{out}");
    assert!(!out.contains("--intercept"), "{out}");
}

#[test]
fn bad_pin_and_trust_files_are_named() {
    let (code, out) = run_rdptap(&["proxy", "--target", "127.0.0.1", "--pin", "abc"], QUICK);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--pin") && out.contains("64 hex digits"),
        "{out}"
    );
    let dir = TempDir::new("trust").unwrap();
    let f = dir.path().join("empty.pem");
    std::fs::write(&f, "not a certificate\n").unwrap();
    let fs = f.display().to_string();
    let (code, out) = run_rdptap(&["proxy", "--target", "127.0.0.1", "--trust", &fs], QUICK);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--trust") && out.contains("empty.pem"),
        "{out}"
    );
}

#[test]
fn banner_announces_interception_downgrade_and_key_log() {
    let dir = TempDir::new("banner").unwrap();
    let d = dir.path().join("ca").display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], QUICK);
    assert_eq!(code, Some(0), "{out}");
    let keys = dir.path().join("keys.log");
    let k = keys.display().to_string();
    let mut p = Proxy::start(
        "127.0.0.1:9",
        &[
            "--intercept",
            "--ca-dir",
            &d,
            "--nla",
            "downgrade",
            "--keylog",
            &k,
        ],
    );
    let text = p.stderr_text();
    p.stop();
    assert!(text.contains("intercepting TLS"), "{text}");
    assert!(text.contains("WARNING: --nla downgrade"), "{text}");
    assert!(text.contains("lab use only"), "{text}");
    assert!(
        text.contains("secret") || text.contains("anyone with this file"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn ca_help_has_examples() {
    for sub in ["init", "show", "remove-instructions"] {
        let (code, out) = run_rdptap(&["ca", sub, "--help"], QUICK);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("Examples:"), "{sub}: {out}");
    }
}
