//! Mirrored leaves reproduce exactly the host's problem, judged by the same rules
//! rdptap judges hosts with.

use super::*;
use crate::cert::assess;
use crate::decode::note::LeafSigner;
use crate::tls::ca::tests::test_ca;
use crate::tls::ca::CaName;
use crate::tls::leaf::{LeafMinter, Spec};
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls_pki_types::CertificateDer;
use std::sync::Arc;

/// A host certificate for `names` (CN `cn`), self-signed, valid `from`..`to` (Unix).
fn host(names: &[&str], cn: &str, from: i64, to: i64) -> CertInfo {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
    p.not_after = time::OffsetDateTime::from_unix_timestamp(to).unwrap();
    let key = KeyPair::generate().unwrap();
    x509::parse(p.self_signed(&key).unwrap().der()).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

const DAY: i64 = 86_400;

/// The local CA as the only root.
fn roots(ca: &Ca) -> rustls::RootCertStore {
    let mut r = rustls::RootCertStore::empty();
    r.add(ca.cert_der().clone()).unwrap();
    r
}

/// The proxy's minter over `ca`, with a per-run untrusted CA.
fn mirroring(ca: Ca, target: &str) -> LeafMinter {
    LeafMinter::for_proxy(ca, Some(Ca::untrusted_for_run().unwrap()), target, None)
}

/// What a client trusting only the local CA finds wrong with the leaf minted for `m`.
fn judged_leaf(minter: &LeafMinter, name: &str, m: Mirror) -> Vec<&'static str> {
    let spec = Spec {
        name: CaName::parse(name).unwrap(),
        mirror: m,
    };
    let leaf = minter.mint_spec(&spec).unwrap();
    let chain: Vec<CertInfo> = leaf
        .key
        .cert
        .iter()
        .map(|c| x509::parse(c.as_ref()).unwrap())
        .collect();
    assess(&chain[..1], name, now(), &roots(minter.ca()))
        .iter()
        .map(CertProblem::cause_id)
        .collect()
}

#[test]
fn a_clean_host_gets_a_clean_leaf_from_the_local_ca() {
    let (ca, _dir) = test_ca(&[]);
    let h = host(&["127.0.0.1"], "127.0.0.1", now() - DAY, now() + DAY);
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(&[], Some(&h));
    assert!(m.is_clean());
    assert!(judged_leaf(&minter, "127.0.0.1", m).is_empty());
}

#[test]
fn a_self_signed_host_gets_a_leaf_no_client_trusts() {
    let (ca, _dir) = test_ca(&[]);
    let h = host(&["127.0.0.1"], "127.0.0.1", now() - DAY, now() + DAY);
    let findings = assess(std::slice::from_ref(&h), "127.0.0.1", now(), &roots(&ca));
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(&findings, Some(&h));
    assert!(m.untrusted);
    assert_eq!(m.mirrors, vec![Mirrored::Untrusted]);
    assert_eq!(
        judged_leaf(&minter, "127.0.0.1", m.clone()),
        vec!["cert_untrusted"]
    );
    let leaf = minter
        .mint_spec(&Spec {
            name: CaName::parse("127.0.0.1").unwrap(),
            mirror: m,
        })
        .unwrap();
    assert_eq!(leaf.shown.signed_by, LeafSigner::UntrustedCa);
    assert_ne!(leaf.key.cert[1], *minter.ca().cert_der());
}

#[test]
fn an_expired_host_gets_its_own_dates() {
    let (ca, _dir) = test_ca(&[]);
    let (from, to) = (now() - 400 * DAY, now() - 35 * DAY);
    let h = host(&["127.0.0.1"], "127.0.0.1", from, to);
    let findings: Vec<CertProblem> = assess(std::slice::from_ref(&h), "127.0.0.1", now(), &{
        let mut r = roots(&ca);
        r.add(CertificateDer::from(h.der.clone())).unwrap();
        r
    });
    assert_eq!(findings.len(), 1, "{findings:?}");
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(&findings, Some(&h));
    assert_eq!(m.validity, Some((from, to)));
    assert!(!m.untrusted, "the host is trusted: the local CA signs");
    assert_eq!(
        judged_leaf(&minter, "127.0.0.1", m.clone()),
        vec!["cert_expired"]
    );
    let leaf = minter
        .mint_spec(&Spec {
            name: CaName::parse("127.0.0.1").unwrap(),
            mirror: m,
        })
        .unwrap();
    assert_eq!(leaf.shown.not_after, x509::rfc3339_unix(to));
    assert_eq!(leaf.shown.mirrors, vec![Mirrored::Expired]);
}

#[test]
fn a_host_not_yet_valid_gets_its_own_dates() {
    let (ca, _dir) = test_ca(&[]);
    let h = host(
        &["127.0.0.1"],
        "127.0.0.1",
        now() + 10 * DAY,
        now() + 40 * DAY,
    );
    let findings = vec![CertProblem::NotYetValid {
        not_before: h.not_before.clone(),
    }];
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(&findings, Some(&h));
    assert_eq!(
        judged_leaf(&minter, "127.0.0.1", m),
        vec!["cert_not_yet_valid"]
    );
}

#[test]
fn a_wrong_name_carries_the_hosts_own_names_only() {
    let (ca, _dir) = test_ca(&[]);
    let h = host(
        &["other-host.example", "*.corp.example"],
        "other-host.example",
        now() - DAY,
        now() + DAY,
    );
    let findings = vec![CertProblem::NameMismatch {
        expected: "127.0.0.1".into(),
        presented: vec!["other-host.example".into()],
    }];
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(&findings, Some(&h));
    assert!(!m.untrusted, "an unconstrained local CA may carry any name");
    assert_eq!(
        judged_leaf(&minter, "127.0.0.1", m.clone()),
        vec!["cert_name_mismatch"]
    );
    let leaf = minter
        .mint_spec(&Spec {
            name: CaName::parse("127.0.0.1").unwrap(),
            mirror: m,
        })
        .unwrap();
    assert_eq!(
        leaf.shown.names,
        vec!["other-host.example".to_string(), "*.corp.example".into()],
        "no loopback names: the client must meet the mismatch"
    );
}

#[test]
fn names_outside_the_constraints_go_to_the_untrusted_ca() {
    let (ca, _dir) = test_ca(&["rdp.example.com"]);
    let h = host(
        &["other.example.org"],
        "other.example.org",
        now() - DAY,
        now() + DAY,
    );
    let findings = vec![CertProblem::NameMismatch {
        expected: "rdp.example.com".into(),
        presented: vec!["other.example.org".into()],
    }];
    let minter = mirroring(ca, "rdp.example.com");
    let m = minter.plan(&findings, Some(&h));
    assert!(m.untrusted);
    assert_eq!(m.mirrors, vec![Mirrored::NameMismatch]);
    let leaf = minter
        .mint_spec(&Spec {
            name: CaName::parse("rdp.example.com").unwrap(),
            mirror: m,
        })
        .unwrap();
    assert_eq!(leaf.shown.signed_by, LeafSigner::UntrustedCa);
}

#[test]
fn a_wrong_usage_carries_the_hosts_usages() {
    let (ca, _dir) = test_ca(&[]);
    let findings = vec![CertProblem::WrongUsage {
        ekus: vec!["clientAuth".into(), "1.2.3.4".into()],
    }];
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(&findings, None);
    assert_eq!(
        judged_leaf(&minter, "127.0.0.1", m),
        vec!["cert_wrong_usage"]
    );
    assert_eq!(
        eku_purposes(&["remoteDesktopAuth".into(), "nonsense".into()]),
        vec![ExtendedKeyUsagePurpose::Other(vec![
            1, 3, 6, 1, 4, 1, 311, 54, 1, 2
        ])]
    );
}

#[test]
fn a_pin_mismatch_and_notes_are_not_mirrored() {
    let (ca, _dir) = test_ca(&[]);
    let minter = mirroring(ca, "127.0.0.1");
    let m = minter.plan(
        &[
            CertProblem::PinMismatch {
                presented: "ab".into(),
            },
            CertProblem::CaCertificate,
        ],
        None,
    );
    assert!(m.is_clean());
}

#[test]
fn without_mirroring_nothing_is_planned() {
    let (ca, _dir) = test_ca(&[]);
    let minter = LeafMinter::new(ca);
    assert!(!minter.mirroring());
    assert!(minter.plan(&[CertProblem::SelfSigned], None).is_clean());
}

#[test]
fn leaves_are_cached_by_name_and_mirror() {
    let (ca, _dir) = test_ca(&[]);
    let minter = mirroring(ca, "127.0.0.1");
    let name = CaName::parse("127.0.0.1").unwrap();
    let clean = minter.mint_spec(&Spec::clean(name.clone())).unwrap();
    let untrusted = Spec {
        name,
        mirror: Mirror {
            untrusted: true,
            mirrors: vec![Mirrored::Untrusted],
            ..Mirror::default()
        },
    };
    let a = minter.mint_spec(&untrusted).unwrap();
    let b = minter.mint_spec(&untrusted).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &clean));
}

#[test]
fn the_untrusted_ca_lives_only_in_memory() {
    let a = Ca::untrusted_for_run().unwrap();
    let b = Ca::untrusted_for_run().unwrap();
    assert_ne!(a.fingerprint_sha256(), b.fingerprint_sha256());
    assert_eq!(a.dir(), std::path::Path::new(""));
    assert!(!a.is_constrained());
    assert!(a.subject().contains("never trust it"), "{}", a.subject());
    let parsed = x509::parse(a.cert_der()).unwrap();
    assert!(parsed.is_ca && parsed.self_signed);
}
