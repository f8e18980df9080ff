//! `rdptap ca …` as a user runs it: the files it writes, what it prints, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "rdptap-ca-cli-{tag}-{}-{}-{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn rdptap(args: &[&str], dir: &Path) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_rdptap"))
        .args(args)
        .arg("--ca-dir")
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run rdptap");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The value printed after `label` on its own line of `ca show` output.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"))
        .trim()
}

#[test]
fn init_then_show_then_remove_instructions() {
    let tmp = TempDir::new("basic");
    let dir = tmp.path().join("ca");
    let cert = dir.join("rdptap-ca.pem").display().to_string();

    let init = rdptap(&["ca", "init"], &dir);
    assert_eq!(init.code, Some(0), "{}", init.stderr);
    assert!(dir.join("rdptap-ca.pem").is_file() && dir.join("rdptap-ca.key").is_file());
    assert!(
        init.stdout.starts_with("Created a new CA in "),
        "{}",
        init.stdout
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("rdptap-ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let show = rdptap(&["ca", "show"], &dir);
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(
        init.stdout.ends_with(&show.stdout),
        "init prints what show prints"
    );
    assert_eq!(field(&show.stdout, "CA certificate:"), cert);
    let sha = field(&show.stdout, "SHA-256:");
    assert_eq!(sha.len(), 32 * 3 - 1, "{sha}");
    assert!(field(&show.stdout, "Subject:").starts_with("CN=rdptap local CA ("));
    assert!(field(&show.stdout, "Valid:").ends_with("(30 days left)"));
    assert!(field(&show.stdout, "Limited to:").starts_with("any name"));
    assert!(show
        .stdout
        .contains("Recommended: limit the CA with --constrain"));
    for command in [
        format!("certutil -user -addstore Root {cert}"),
        format!(
            "sudo cp {cert} /usr/local/share/ca-certificates/rdptap-ca.crt && sudo update-ca-certificates"
        ),
        "/cert:ignore".to_string(),
        "/cert:tofu".to_string(),
    ] {
        assert!(show.stdout.contains(&command), "missing {command:?} in:\n{}", show.stdout);
    }

    let serial = field(&show.stdout, "Serial:").to_string();
    let remove = rdptap(&["ca", "remove-instructions"], &dir);
    assert_eq!(remove.code, Some(0), "{}", remove.stderr);
    for command in [
        format!("certutil -user -delstore Root {serial}"),
        "sudo rm /usr/local/share/ca-certificates/rdptap-ca.crt && sudo update-ca-certificates --fresh"
            .to_string(),
        "~/.config/freerdp/known_hosts2".to_string(),
        format!("rmdir {}", dir.display()),
    ] {
        assert!(remove.stdout.contains(&command), "missing {command:?} in:\n{}", remove.stdout);
    }
}

#[test]
fn constrained_ca_lists_its_names() {
    let tmp = TempDir::new("constrained");
    let init = rdptap(
        &[
            "ca",
            "init",
            "--constrain",
            "rdp.example.com,10.0.0.5",
            "--days",
            "7",
        ],
        tmp.path(),
    );
    assert_eq!(init.code, Some(0), "{}", init.stderr);
    assert_eq!(
        field(&init.stdout, "Limited to:"),
        "rdp.example.com, 10.0.0.5, localhost, 127.0.0.1, ::1"
    );
    assert!(field(&init.stdout, "Valid:").ends_with("(7 days left)"));
    assert!(!init.stdout.contains("Recommended"), "{}", init.stdout);
}

#[test]
fn reinit_needs_force_and_names_the_old_serial() {
    let tmp = TempDir::new("force");
    assert_eq!(rdptap(&["ca", "init"], tmp.path()).code, Some(0));
    let old_serial = field(&rdptap(&["ca", "show"], tmp.path()).stdout, "Serial:").to_string();

    let again = rdptap(&["ca", "init"], tmp.path());
    assert_eq!(again.code, Some(2));
    assert!(
        again.stderr.starts_with("rdptap: a CA already exists"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    let forced = rdptap(&["ca", "init", "--force"], tmp.path());
    assert_eq!(forced.code, Some(0), "{}", forced.stderr);
    assert!(forced
        .stdout
        .contains(&format!("certutil -user -delstore Root {old_serial}")));
    assert_ne!(field(&forced.stdout, "Serial:"), old_serial);
}

#[test]
fn show_on_an_empty_dir_says_how_to_create_one() {
    let tmp = TempDir::new("empty");
    let show = rdptap(&["ca", "show"], tmp.path());
    assert_eq!(show.code, Some(2));
    assert!(show.stdout.is_empty());
    let expected = format!("rdptap: no CA in {}", tmp.path().display());
    assert!(show.stderr.starts_with(&expected), "{}", show.stderr);
    assert!(
        show.stderr.contains("rdptap ca init --ca-dir"),
        "{}",
        show.stderr
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let tmp = TempDir::new("bad");
    let wildcard = rdptap(&["ca", "init", "--constrain", "*.example.com"], tmp.path());
    assert_eq!(wildcard.code, Some(2));
    assert!(
        wildcard.stderr.contains("wildcards are not accepted"),
        "{}",
        wildcard.stderr
    );
    let empty = rdptap(
        &["ca", "init", "--constrain", "a.example,,b.example"],
        tmp.path(),
    );
    assert_eq!(empty.code, Some(2));
    assert!(empty.stderr.contains("empty"), "{}", empty.stderr);
    let days = rdptap(&["ca", "init", "--days", "0"], tmp.path());
    assert_eq!(days.code, Some(2));
    assert!(days.stderr.contains("--days 0"), "{}", days.stderr);
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn remove_instructions_work_without_a_ca() {
    let tmp = TempDir::new("noca");
    let remove = rdptap(&["ca", "remove-instructions"], tmp.path());
    assert_eq!(remove.code, Some(0), "{}", remove.stderr);
    assert!(
        remove
            .stdout
            .contains("certutil -user -delstore Root SERIAL"),
        "{}",
        remove.stdout
    );
}

#[test]
fn openssl_reads_what_init_wrote() {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => {}
        _ if std::env::var_os("CI").is_some() => panic!("openssl is required when CI is set"),
        _ => {
            eprintln!("note: openssl not found; skipping the OpenSSL cross-check");
            return;
        }
    }
    let tmp = TempDir::new("openssl");
    let init = rdptap(
        &["ca", "init", "--constrain", "rdp.example.com"],
        tmp.path(),
    );
    assert_eq!(init.code, Some(0), "{}", init.stderr);
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-fingerprint", "-sha256", "-in"])
        .arg(tmp.path().join("rdptap-ca.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Name Constraints"), "{text}");
    assert!(text.contains("DNS:rdp.example.com"), "{text}");
    let sha = field(&init.stdout, "SHA-256:");
    assert!(
        text.contains(sha),
        "openssl's fingerprint matches `ca show`:\n{text}"
    );
    let key = Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(tmp.path().join("rdptap-ca.key"))
        .status()
        .unwrap();
    assert!(key.success(), "the key file is a readable PKCS#8 key");
}
