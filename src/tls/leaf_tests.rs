use super::*;
use crate::tls::ca::tests::{test_ca, TestDir};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use std::process::Command;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

fn name(s: &str) -> CaName {
    CaName::parse(s).unwrap()
}

/// Chain-checks `leaf` against the CA as the only trust anchor, then checks it is valid for
/// `host`, the way rustls's client verifier does.
fn webpki_verify(ca: &Ca, leaf: &CertificateDer<'_>, host: &str) -> Result<(), webpki::Error> {
    let anchor = webpki::anchor_from_trusted_cert(ca.cert_der())?;
    let ee = webpki::EndEntityCert::try_from(leaf)?;
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        OffsetDateTime::now_utc().unix_timestamp() as u64,
    ));
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &[],
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )?;
    let host = ServerName::try_from(host).expect("server name");
    ee.verify_is_valid_for_subject_name(&host)
}

fn sans(der: &[u8]) -> Vec<String> {
    let (_, x) = X509Certificate::from_der(der).unwrap();
    let ext = x
        .subject_alternative_name()
        .unwrap()
        .expect("SAN extension");
    ext.value
        .general_names
        .iter()
        .map(|g| match g {
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(b) if b.len() == 4 => {
                format!(
                    "IP:{}",
                    std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap())
                )
            }
            GeneralName::IPAddress(b) => {
                format!(
                    "IP:{}",
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap())
                )
            }
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn leaf_names_usage_and_validity() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    let leaf = minter.mint("RDP.Example.COM").unwrap();
    assert_eq!(leaf.cert.len(), 2, "leaf then CA");
    assert_eq!(&leaf.cert[1], minter.ca().cert_der());
    let (_, x) = X509Certificate::from_der(&leaf.cert[0]).unwrap();

    assert_eq!(x.subject().to_string(), "CN=rdp.example.com");
    assert_eq!(x.issuer().to_string(), minter.ca().subject());
    assert_eq!(
        sans(&leaf.cert[0]),
        [
            "DNS:rdp.example.com",
            "DNS:localhost",
            "IP:127.0.0.1",
            "IP:::1"
        ]
    );
    let eku = x.extended_key_usage().unwrap().expect("EKU").value;
    assert!(eku.server_auth && !eku.client_auth && !eku.any);
    let ku = x.key_usage().unwrap().expect("keyUsage").value;
    assert!(ku.digital_signature() && !ku.key_cert_sign());
    let bc = x
        .basic_constraints()
        .unwrap()
        .expect("basicConstraints")
        .value;
    assert!(!bc.ca);
    assert_eq!(
        x.public_key().algorithm.algorithm,
        x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
    );

    let nb = x.validity().not_before.to_datetime();
    let na = x.validity().not_after.to_datetime();
    // The CA here lives as long as a leaf (30 days), so a leaf minted a second after
    // the CA ends with the CA, a second short of its full lifetime.
    let full = nb + LEAF_LIFETIME + ca::BACKDATE;
    assert_eq!(na, full.min(minter.ca().not_after()));
    assert!(full - na <= Duration::seconds(5), "{nb} {na}");
    assert!(leaf
        .key
        .choose_scheme(&[rustls::SignatureScheme::ECDSA_NISTP256_SHA256])
        .is_some());
}

#[test]
fn ip_names_become_ip_sans_without_repeats() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    let leaf = minter.mint("10.0.0.5").unwrap();
    assert_eq!(
        sans(&leaf.cert[0]),
        ["IP:10.0.0.5", "DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    );
    let leaf = minter.mint("127.0.0.1").unwrap();
    assert_eq!(
        sans(&leaf.cert[0]),
        ["IP:127.0.0.1", "DNS:localhost", "IP:::1"]
    );
    let leaf = minter.mint("[::1]").unwrap();
    assert_eq!(
        sans(&leaf.cert[0]),
        ["IP:::1", "DNS:localhost", "IP:127.0.0.1"]
    );
}

#[test]
fn leaf_never_outlives_the_ca() {
    let dir = TestDir::new("short");
    let ca = Ca::init(dir.path(), &[], 1, false).unwrap();
    let ca_end = ca.not_after();
    let minted = sign_leaf(&ca, &name("rdp.example.com")).unwrap();
    assert_eq!(minted.not_after, ca_end);
    let (_, x) = X509Certificate::from_der(minted.cert.der()).unwrap();
    assert_eq!(x.validity().not_after.to_datetime(), ca_end);
}

#[test]
fn leaf_chains_to_the_ca_in_webpki() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    let leaf = minter.mint("rdp.example.com").unwrap();
    for host in ["rdp.example.com", "localhost", "127.0.0.1", "::1"] {
        webpki_verify(minter.ca(), &leaf.cert[0], host).unwrap_or_else(|e| panic!("{host}: {e:?}"));
    }
    assert!(webpki_verify(minter.ca(), &leaf.cert[0], "other.example.com").is_err());
}

#[test]
fn a_reloaded_ca_signs_leaves_that_still_chain() {
    let (ca, _dir) = test_ca(&["rdp.example.com"]);
    let reloaded = Ca::load(ca.dir()).unwrap();
    let minter = LeafMinter::new(reloaded);
    let leaf = minter.mint("rdp.example.com").unwrap();
    webpki_verify(&ca, &leaf.cert[0], "rdp.example.com").unwrap();
}

#[test]
fn name_constraints_are_enforced_by_webpki() {
    let (ca, _dir) = test_ca(&["example.com", "10.0.0.5"]);
    for inside in ["example.com", "rdp.example.com", "10.0.0.5", "localhost"] {
        let minted = sign_leaf(&ca, &name(inside)).unwrap();
        webpki_verify(&ca, minted.cert.der(), inside)
            .unwrap_or_else(|e| panic!("{inside} should pass: {e:?}"));
    }
    for outside in ["rdp.example.org", "badexample.com", "10.0.0.6"] {
        let minted = sign_leaf(&ca, &name(outside)).unwrap();
        let err = webpki_verify(&ca, minted.cert.der(), outside).unwrap_err();
        assert_eq!(err, webpki::Error::NameConstraintViolation, "{outside}");
    }
}

#[test]
fn mint_refuses_names_outside_the_constraints() {
    let (ca, _dir) = test_ca(&["example.com"]);
    let minter = LeafMinter::new(ca);
    let err = minter.mint("rdp.example.org").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CaError::NotPermitted { .. }), "{msg}");
    assert!(
        msg.contains("example.com") && msg.contains("--constrain rdp.example.org"),
        "{msg}"
    );
    assert!(minter.mint("*.example.com").is_err());
    assert!(minter.mint("rdp.example.com").is_ok());
}

/// Runs a TLS handshake in memory: a rustls client trusting only the CA, a rustls server
/// presenting `leaf`.
fn handshake(ca: &Ca, leaf: Arc<CertifiedKey>, host: &str) -> Result<(), rustls::Error> {
    #[derive(Debug)]
    struct Fixed(Arc<CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(leaf)));
    let server_name = ServerName::try_from(host.to_string()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(client_config), server_name)?;
    let mut server = rustls::ServerConnection::new(Arc::new(server_config))?;
    for _ in 0..10 {
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        server.read_tls(&mut buf.as_slice()).unwrap();
        server.process_new_packets()?;
        buf.clear();
        server.write_tls(&mut buf).unwrap();
        client.read_tls(&mut buf.as_slice()).unwrap();
        client.process_new_packets()?;
    }
    panic!("handshake did not finish");
}

#[test]
fn rustls_client_accepts_the_leaf_and_enforces_constraints() {
    let (ca, _dir) = test_ca(&["rdp.example.com"]);
    let minter = LeafMinter::new(Ca::load(ca.dir()).unwrap());
    let leaf = minter.mint("rdp.example.com").unwrap();
    handshake(&ca, Arc::clone(&leaf), "rdp.example.com").unwrap();
    handshake(&ca, leaf, "localhost").unwrap();

    let minted = sign_leaf(&ca, &name("intranet.example.org")).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(minted.key.serialize_der()));
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
    let outside = Arc::new(CertifiedKey::new(
        vec![minted.cert.der().clone(), ca.cert_der().clone()],
        signer,
    ));
    let err = handshake(&ca, outside, "intranet.example.org").unwrap_err();
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
}

#[test]
fn cache_returns_the_same_leaf_case_insensitively() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    assert!(minter.cached("rdp.example.com").is_none());
    let first = minter.mint("rdp.example.com").unwrap();
    let hit = minter.cached("RDP.example.com.").expect("cached");
    assert!(Arc::ptr_eq(&first, &hit));
    // A clone shares the cache.
    let clone = minter.clone();
    assert!(Arc::ptr_eq(
        &first,
        &clone.cached("rdp.example.com").unwrap()
    ));
    assert!(minter.cached("not a name").is_none());
}

#[test]
fn cache_is_bounded() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::with_capacity(ca, 2);
    for n in ["a.example", "b.example", "c.example", "d.example"] {
        minter.mint(n).unwrap();
        assert!(minter.cached(n).is_some(), "the newest leaf is always kept");
        assert!(minter.cached_len() <= 2);
    }
    // Re-minting a cached name replaces it instead of evicting another.
    minter.mint("d.example").unwrap();
    assert_eq!(minter.cached_len(), 2);
}

#[tokio::test]
async fn leaf_mints_off_the_runtime_and_then_hits_the_cache() {
    let (ca, _dir) = test_ca(&["rdp.example.com"]);
    let minter = LeafMinter::new(ca);
    let first = minter.leaf("rdp.example.com").await.unwrap();
    let second = minter.leaf("RDP.EXAMPLE.COM").await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    let err = minter.leaf("elsewhere.example.org").await.unwrap_err();
    assert!(matches!(err, CaError::NotPermitted { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_all_get_a_valid_leaf() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let m = minter.clone();
            tokio::spawn(async move { m.leaf(&format!("h{}.example", i % 3)).await })
        })
        .collect();
    for t in tasks {
        let leaf = t.await.unwrap().unwrap();
        let host = X509Certificate::from_der(&leaf.cert[0])
            .unwrap()
            .1
            .subject()
            .to_string();
        let host = host.trim_start_matches("CN=");
        webpki_verify(minter.ca(), &leaf.cert[0], host).unwrap();
    }
    assert_eq!(minter.cached_len(), 3);
}

#[test]
fn minter_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<LeafMinter>();
}

/// `openssl` if installed; a missing one skips the test, except in CI where it must exist.
fn openssl() -> Option<Command> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => Some(Command::new("openssl")),
        _ if std::env::var_os("CI").is_some() => panic!("openssl is required when CI is set"),
        _ => {
            eprintln!("note: openssl not found; skipping the OpenSSL cross-check");
            None
        }
    }
}

fn run(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn write_leaf(dir: &Path, file: &str, minted: &Minted) -> std::path::PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, minted.cert.pem()).unwrap();
    path
}

#[test]
fn openssl_sees_the_constraints_and_accepts_the_leaf() {
    let Some(_) = openssl() else { return };
    let (ca, dir) = test_ca(&["rdp.example.com", "10.0.0.5"]);

    let mut text = openssl().unwrap();
    text.args(["x509", "-noout", "-text", "-in"])
        .arg(ca.cert_path());
    let (ok, out) = run(text);
    assert!(ok, "{out}");
    for expected in [
        "Name Constraints",
        "DNS:rdp.example.com",
        "IP:10.0.0.5/255.255.255.255",
        "DNS:localhost",
        "pathlen:0",
        "Certificate Sign, CRL Sign",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    let inside = write_leaf(
        dir.path(),
        "inside.pem",
        &sign_leaf(&ca, &name("rdp.example.com")).unwrap(),
    );
    let mut verify = openssl().unwrap();
    verify
        .args([
            "verify",
            "-purpose",
            "sslserver",
            "-verify_hostname",
            "rdp.example.com",
        ])
        .arg("-CAfile")
        .arg(ca.cert_path())
        .arg(&inside);
    let (ok, out) = run(verify);
    assert!(ok && out.contains(": OK"), "{out}");

    let outside = write_leaf(
        dir.path(),
        "outside.pem",
        &sign_leaf(&ca, &name("rdp.example.org")).unwrap(),
    );
    let mut verify = openssl().unwrap();
    verify
        .arg("verify")
        .arg("-CAfile")
        .arg(ca.cert_path())
        .arg(&outside);
    let (ok, out) = run(verify);
    assert!(!ok, "a leaf outside the constraints must fail:\n{out}");
    assert!(out.contains("subtree"), "{out}");
}

#[test]
fn openssl_sees_no_constraints_on_an_unconstrained_ca() {
    let Some(mut text) = openssl() else { return };
    let (ca, _dir) = test_ca(&[]);
    text.args(["x509", "-noout", "-text", "-in"])
        .arg(ca.cert_path());
    let (ok, out) = run(text);
    assert!(ok, "{out}");
    assert!(!out.contains("Name Constraints"), "{out}");
    assert!(out.contains("CA:TRUE"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Bounded minting: expected names only, one worker, an LRU that keeps the target's leaf

#[test]
fn only_expected_names_are_minted_for() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    let target = "rdp.example.com";
    assert_eq!(minter.leaf_name(None, target), target);
    assert_eq!(minter.leaf_name(Some(""), target), target);
    assert_eq!(
        minter.leaf_name(Some("RDP.example.com"), target),
        "RDP.example.com"
    );
    assert_eq!(minter.leaf_name(Some("localhost"), target), "localhost");
    // An unconstrained CA has no list of names: a name the client chose gets the
    // target's leaf, as the host would answer with its own certificate.
    assert_eq!(minter.leaf_name(Some("evil.example.org"), target), target);
    assert_eq!(minter.leaf_name(Some("not a name"), target), target);

    let (constrained, _dir2) = test_ca(&["example.com"]);
    let minter = LeafMinter::new(constrained);
    assert_eq!(
        minter.leaf_name(Some("other.example.com"), target),
        "other.example.com",
        "inside the CA's constraints"
    );
    assert_eq!(minter.leaf_name(Some("example.org"), target), target);
}

#[test]
fn a_flood_of_names_never_evicts_the_targets_leaf() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::build(ca, None, Some(name("rdp.example.com")), None, 4);
    let target = minter.mint("rdp.example.com").unwrap();
    for i in 0..40 {
        minter.mint(&format!("h{i}.example")).unwrap();
        assert!(minter.cached_len() <= 4);
    }
    let again = minter
        .cached("rdp.example.com")
        .expect("the target's leaf is kept");
    assert!(Arc::ptr_eq(&target, &again));
    assert!(
        minter.cached("h0.example").is_none(),
        "the oldest other name is gone"
    );
    assert!(minter.cached("h39.example").is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn minting_runs_on_one_worker_behind_a_bounded_queue() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    // More requests at once than the queue holds: the rest wait for room, and every
    // one is answered, by the single worker thread.
    let n = MINT_QUEUE * 2 + 3;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let m = minter.clone();
            tokio::spawn(async move { m.leaf(&format!("w{}.example", i % 50)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(minter.cached_len(), 50);
    assert!(
        matches!(minter.worker.get(), Some(Some(_))),
        "the worker was started"
    );
    // The worker is a thread of its own, named for what it does.
    let names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    if !names.is_empty() {
        assert!(names.iter().any(|n| n == "rdptap-mint"), "{names:?}");
    }
}

#[test]
fn the_proxys_minter_pins_the_target_and_mirrors_with_its_own_ca() {
    let (ca, _dir) = test_ca(&[]);
    let untrusted = Ca::untrusted_for_run().unwrap();
    let minter = LeafMinter::for_proxy(ca, Some(untrusted), "127.0.0.1", None);
    assert!(minter.mirroring());
    let leaf = minter
        .mint_spec(&Spec {
            name: name("127.0.0.1"),
            mirror: crate::tls::mirror::Mirror {
                untrusted: true,
                mirrors: vec![crate::decode::note::Mirrored::Untrusted],
                ..Default::default()
            },
        })
        .unwrap();
    assert!(webpki_verify(minter.ca(), &leaf.key.cert[0], "127.0.0.1").is_err());
    assert_eq!(leaf.shown.signed_by, LeafSigner::UntrustedCa);
    let clean = minter.mint_spec(&Spec::clean(name("127.0.0.1"))).unwrap();
    webpki_verify(minter.ca(), &clean.key.cert[0], "127.0.0.1").unwrap();
    assert_eq!(clean.shown.signed_by, LeafSigner::LocalCa);
    assert!(clean.shown.mirrors.is_empty());
}
