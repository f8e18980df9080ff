use super::*;
use std::sync::atomic::{AtomicU32, Ordering};
use x509_parser::extensions::GeneralName;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(tag: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "rdptap-unit-{tag}-{}-{n}-{:x}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos() as u64
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TestDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside that does not exist yet, for testing directory creation.
    pub(crate) fn sub(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA in a fresh directory; the directory goes away with the returned guard.
pub(crate) fn test_ca(constrain: &[&str]) -> (Ca, TestDir) {
    let dir = TestDir::new("ca");
    let names: Vec<String> = constrain.iter().map(|s| s.to_string()).collect();
    let ca = Ca::init(&dir.sub("ca"), &names, DEFAULT_DAYS, false).expect("init");
    (ca, dir)
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der).expect("parse").1
}

#[test]
fn init_writes_certificate_and_private_key() {
    let (ca, _dir) = test_ca(&[]);
    let cert = std::fs::read_to_string(ca.cert_path()).unwrap();
    let key = std::fs::read_to_string(ca.key_path()).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    assert!(ca.key_is_owner_only());
    assert_eq!(ca.cert_path().file_name().unwrap(), CERT_FILE);
    assert_eq!(ca.key_path().file_name().unwrap(), KEY_FILE);
    // No temporary files are left behind.
    let entries = std::fs::read_dir(ca.dir()).unwrap().count();
    assert_eq!(entries, 2);
}

#[cfg(unix)]
#[test]
fn key_is_0600_and_dir_0700() {
    use std::os::unix::fs::PermissionsExt;
    let (ca, _dir) = test_ca(&[]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ca.key_path()), 0o600);
    assert_eq!(mode(ca.dir()), 0o700);
    // A replaced key is a new file, so it is 0600 too even if the old one was loosened.
    std::fs::set_permissions(ca.key_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(!Ca::load(ca.dir()).unwrap().key_is_owner_only());
    let again = Ca::init(ca.dir(), &[], 30, true).unwrap();
    assert_eq!(mode(&again.key_path()), 0o600);
}

#[test]
fn reinit_refuses_without_force_and_replaces_with_it() {
    let (ca, _dir) = test_ca(&[]);
    let err = Ca::init(ca.dir(), &[], 30, false).unwrap_err();
    assert!(matches!(err, CaError::AlreadyExists { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("--force") && msg.contains(&ca.dir().display().to_string()),
        "{msg}"
    );
    // The refused attempt did not touch the files.
    assert_eq!(
        Ca::load(ca.dir()).unwrap().fingerprint_sha256(),
        ca.fingerprint_sha256()
    );

    let replaced = Ca::init(ca.dir(), &[], 30, true).unwrap();
    assert_ne!(replaced.fingerprint_sha256(), ca.fingerprint_sha256());
    assert_ne!(replaced.serial_hex(), ca.serial_hex());
    assert_eq!(
        peek_serial(ca.dir()).as_deref(),
        Some(replaced.serial_hex())
    );
}

#[test]
fn a_lone_key_file_also_blocks_init() {
    let (ca, _dir) = test_ca(&[]);
    std::fs::remove_file(ca.cert_path()).unwrap();
    assert!(matches!(
        Ca::init(ca.dir(), &[], 30, false),
        Err(CaError::AlreadyExists { .. })
    ));
}

#[test]
fn load_round_trips() {
    let (ca, _dir) = test_ca(&["rdp.example.com", "10.0.0.5"]);
    let back = Ca::load(ca.dir()).unwrap();
    assert_eq!(back.cert_der(), ca.cert_der());
    assert_eq!(back.fingerprint_sha256(), ca.fingerprint_sha256());
    assert_eq!(back.serial_hex(), ca.serial_hex());
    assert_eq!(back.subject(), ca.subject());
    assert_eq!(back.not_before(), ca.not_before());
    assert_eq!(back.not_after(), ca.not_after());
    assert_eq!(back.constraints(), ca.constraints());
    assert_eq!(ca.serial_hex().len(), 32);
    assert_eq!(
        ca.fingerprint_sha256(),
        crate::decode::x509::fingerprint(ca.cert_der())
    );
    assert!(
        ca.subject().starts_with("CN=rdptap local CA ("),
        "{}",
        ca.subject()
    );
}

#[test]
fn default_validity_is_30_days_from_an_hour_ago() {
    let before = OffsetDateTime::now_utc();
    let (ca, _dir) = test_ca(&[]);
    assert_eq!(
        ca.not_after() - ca.not_before(),
        Duration::days(30) + Duration::hours(1)
    );
    let backdate = before - ca.not_before();
    assert!(backdate >= Duration::minutes(59) && backdate <= Duration::minutes(61));
    assert_eq!(ca.days_left(), 30);
}

#[test]
fn days_must_be_in_range() {
    let dir = TestDir::new("days");
    for days in [0, MAX_DAYS + 1] {
        let err = Ca::init(dir.path(), &[], days, false).unwrap_err();
        assert!(matches!(err, CaError::InvalidDays { .. }), "{err}");
    }
    let ca = Ca::init(dir.path(), &[], 7, false).unwrap();
    assert_eq!(
        ca.not_after() - ca.not_before(),
        Duration::days(7) + Duration::hours(1)
    );
}

#[test]
fn ca_certificate_has_the_right_extensions() {
    let (ca, _dir) = test_ca(&[]);
    let x = parse(ca.cert_der());
    let bc = x
        .basic_constraints()
        .unwrap()
        .expect("basicConstraints")
        .value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = x.key_usage().unwrap().expect("keyUsage").value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
    assert_eq!(x.subject(), x.issuer());
    assert!(x.name_constraints().unwrap().is_none(), "unconstrained");
    assert!(!ca.is_constrained());
    assert_eq!(
        x.public_key().algorithm.algorithm,
        x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
    );
}

#[test]
fn constraints_always_include_loopback_and_are_in_the_certificate() {
    let (ca, _dir) = test_ca(&["RDP.example.com", "10.0.0.5", "127.0.0.1"]);
    let shown: Vec<String> = ca.constraints().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "rdp.example.com",
            "10.0.0.5",
            "127.0.0.1",
            "localhost",
            "::1"
        ]
    );
    let x = parse(ca.cert_der());
    let nc = x.name_constraints().unwrap().expect("nameConstraints");
    assert!(nc.critical);
    assert!(nc.value.excluded_subtrees.is_none());
    let permitted: Vec<String> = nc
        .value
        .permitted_subtrees
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| match &s.base {
            GeneralName::DNSName(d) => format!("dns:{d}"),
            GeneralName::IPAddress(b) => format!("ip:{b:02x?}"),
            other => format!("{other:?}"),
        })
        .collect();
    let v6_loopback = {
        let mut b = vec![0u8; 15];
        b.push(1);
        b.extend([0xffu8; 16]);
        b
    };
    assert_eq!(
        permitted,
        [
            "dns:rdp.example.com".to_string(),
            format!("ip:{:02x?}", [10u8, 0, 0, 5, 255, 255, 255, 255]),
            format!("ip:{:02x?}", [127u8, 0, 0, 1, 255, 255, 255, 255]),
            "dns:localhost".to_string(),
            format!("ip:{v6_loopback:02x?}"),
        ]
    );
}

#[test]
fn permits_follows_dns_name_constraint_rules() {
    let (ca, _dir) = test_ca(&["example.com", "10.0.0.5"]);
    for ok in [
        "example.com",
        "host.example.com",
        "A.B.Example.COM",
        "10.0.0.5",
        "localhost",
        "127.0.0.1",
        "::1",
        "[::1]",
    ] {
        assert!(ca.permits(ok), "{ok} should be permitted");
    }
    for no in [
        "badexample.com",
        "example.org",
        "com",
        "10.0.0.6",
        "localhost.evil",
        "*.example.com",
        "",
    ] {
        assert!(!ca.permits(no), "{no} should not be permitted");
    }
    let (open, _dir2) = test_ca(&[]);
    assert!(open.permits("anything.example.org"));
    assert!(open.permits("192.0.2.1"));
    assert!(!open.permits("not a name"));
}

#[test]
fn bad_constraints_are_refused_before_anything_is_written() {
    let dir = TestDir::new("badname");
    let target = dir.sub("ca");
    let err = Ca::init(&target, &["*.example.com".to_string()], 30, false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("*.example.com") && msg.contains("wildcard"),
        "{msg}"
    );
    assert!(!target.exists());
}

#[test]
fn missing_ca_names_the_directory_and_the_command() {
    let dir = TestDir::new("empty");
    let err = Ca::load(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CaError::NotFound { .. }));
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("rdptap ca init --ca-dir"), "{msg}");
}

#[test]
fn half_a_ca_names_the_missing_file() {
    let (ca, _dir) = test_ca(&[]);
    std::fs::remove_file(ca.key_path()).unwrap();
    let msg = Ca::load(ca.dir()).unwrap_err().to_string();
    assert!(msg.contains(KEY_FILE) && msg.contains("--force"), "{msg}");
}

#[test]
fn a_key_from_another_ca_is_a_mismatch() {
    let (ca, _dir) = test_ca(&[]);
    let (other, _dir2) = test_ca(&[]);
    std::fs::copy(other.key_path(), ca.key_path()).unwrap();
    let err = Ca::load(ca.dir()).unwrap_err();
    assert!(matches!(err, CaError::KeyMismatch { .. }), "{err}");
}

#[test]
fn garbage_files_are_named() {
    let (ca, _dir) = test_ca(&[]);
    std::fs::write(ca.cert_path(), "not a certificate").unwrap();
    let msg = Ca::load(ca.dir()).unwrap_err().to_string();
    assert!(
        msg.contains(CERT_FILE) && msg.contains("no PEM certificate"),
        "{msg}"
    );

    let (ca, _dir) = test_ca(&[]);
    std::fs::write(
        ca.key_path(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let msg = Ca::load(ca.dir()).unwrap_err().to_string();
    assert!(msg.contains(KEY_FILE), "{msg}");
}

#[test]
fn expiry_is_an_error_that_says_how_to_renew() {
    let (ca, _dir) = test_ca(&[]);
    assert!(ca.check_current(OffsetDateTime::now_utc()).is_ok());
    let err = ca
        .check_current(ca.not_after() + Duration::seconds(1))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CaError::Expired { .. }));
    assert!(
        msg.contains("expired") && msg.contains("init") && msg.contains("--force"),
        "{msg}"
    );
    let early = ca.check_current(ca.not_before() - Duration::seconds(1));
    assert!(matches!(early, Err(CaError::NotYetValid { .. })));
}

#[test]
fn serial_hex_drops_only_the_sign_byte() {
    assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
    assert_eq!(serial_hex(&[0x00]), "00");
    assert_eq!(serial_hex(&[0x4a, 0x0b]), "4A0B");
}

#[test]
fn shell_path_quotes_only_when_needed() {
    assert_eq!(
        shell_path(Path::new("/home/u/.config/rdptap")),
        "/home/u/.config/rdptap"
    );
    assert_eq!(
        shell_path(Path::new("C:\\Users\\A B\\rdptap")),
        "\"C:\\Users\\A B\\rdptap\""
    );
}

#[test]
fn ca_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Ca>();
}

#[cfg(not(windows))]
#[test]
fn default_dir_follows_xdg_then_home() {
    use std::ffi::OsString;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let dir = |pairs| files::default_dir_from(env(pairs));
    assert_eq!(
        dir(&[("XDG_CONFIG_HOME", "/x/cfg"), ("HOME", "/home/u")]).unwrap(),
        PathBuf::from("/x/cfg/rdptap")
    );
    assert_eq!(
        dir(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/u")]).unwrap(),
        PathBuf::from("/home/u/.config/rdptap")
    );
    assert_eq!(
        dir(&[("XDG_CONFIG_HOME", ""), ("HOME", "/home/u")]).unwrap(),
        PathBuf::from("/home/u/.config/rdptap")
    );
    let msg = dir(&[]).unwrap_err().to_string();
    assert!(msg.contains("$HOME") && msg.contains("--ca-dir"), "{msg}");
}
