//! Tests for certificate assessment, with certificates made on the fly by rcgen.

use super::*;
use crate::decode::x509::parse;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// 2026-06-01T00:00:00Z.
const NOW: i64 = 1_780_272_000;

fn params(sans: &[&str], cn: &str) -> CertificateParams {
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = date_time_ymd(2026, 1, 1);
    p.not_after = date_time_ymd(2027, 1, 1);
    p
}

fn self_signed(p: &CertificateParams) -> CertInfo {
    let key = KeyPair::generate().unwrap();
    parse(p.self_signed(&key).unwrap().der()).unwrap()
}

fn empty_roots() -> rustls::RootCertStore {
    rustls::RootCertStore::empty()
}

fn ids(problems: &[CertProblem]) -> Vec<&'static str> {
    problems.iter().map(CertProblem::cause_id).collect()
}

/// A CA (self-signed) and its issuer handle.
fn ca(cn: &str, not_after: (i32, u8, u8)) -> (CertInfo, Issuer<'static, KeyPair>) {
    let mut p = params(&[], cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
    let key = KeyPair::generate().unwrap();
    let info = parse(p.self_signed(&key).unwrap().der()).unwrap();
    (info, Issuer::new(p, key))
}

fn signed(p: &CertificateParams, issuer: &Issuer<'_, KeyPair>) -> CertInfo {
    let key = KeyPair::generate().unwrap();
    parse(p.signed_by(&key, issuer).unwrap().der()).unwrap()
}

fn roots_of(certs: &[&CertInfo]) -> rustls::RootCertStore {
    let mut r = empty_roots();
    for c in certs {
        r.add(CertificateDer::from(c.der.clone())).unwrap();
    }
    r
}

#[test]
fn self_signed_rdp_host_cert() {
    let leaf = self_signed(&params(&["lab-host"], "lab-host"));
    let p = assess(&[leaf], "lab-host", NOW, &empty_roots());
    assert_eq!(ids(&p), vec!["cert_untrusted", "cert_self_signed"]);
    assert_eq!(
        p[0].to_string(),
        "the chain does not lead to a trusted root: it is self-signed (not issued by a trusted CA)"
    );
    assert_eq!(
        p[1].to_string(),
        "the certificate is self-signed (not issued by a trusted CA)"
    );
}

#[test]
fn expired_and_not_yet_valid() {
    let mut p = params(&["lab-host"], "lab-host");
    p.not_before = date_time_ymd(2025, 10, 2);
    p.not_after = time::OffsetDateTime::from_unix_timestamp(1_790_938_800).unwrap();
    let leaf = self_signed(&p);
    let later = 1_790_938_800 + 86_400;
    let problems = assess(
        std::slice::from_ref(&leaf),
        "lab-host",
        later,
        &empty_roots(),
    );
    assert_eq!(problems[0].cause_id(), "cert_expired");
    assert_eq!(
        problems[0].to_string(),
        "the certificate expired on 2026-10-02 (notAfter 2026-10-02T11:00:00Z)"
    );
    let early = assess(&[leaf], "lab-host", 1_700_000_000, &empty_roots());
    assert_eq!(early[0].cause_id(), "cert_not_yet_valid");
    assert!(early[0].to_string().contains("2025-10-02"));
}

#[test]
fn name_checks() {
    let leaf = self_signed(&params(&["lab-host", "*.corp.example", "10.1.2.3"], "x"));
    let ok = |name: &str| {
        !ids(&assess(
            std::slice::from_ref(&leaf),
            name,
            NOW,
            &empty_roots(),
        ))
        .contains(&"cert_name_mismatch")
    };
    assert!(ok("lab-host"));
    assert!(ok("LAB-HOST"));
    assert!(ok("rdp.corp.example"));
    assert!(ok("RDP.Corp.Example."));
    assert!(ok("10.1.2.3"));
    assert!(!ok("a.b.corp.example"));
    assert!(!ok("corp.example"));
    assert!(!ok("10.1.2.4"));
    assert!(!ok("127.0.0.1"));
    // The CN is ignored when SANs exist.
    assert!(!ok("x"));
    let p = assess(
        std::slice::from_ref(&leaf),
        "127.0.0.1",
        NOW,
        &empty_roots(),
    );
    let mismatch = p
        .iter()
        .find(|p| p.cause_id() == "cert_name_mismatch")
        .unwrap();
    assert_eq!(
        mismatch.to_string(),
        "the certificate names lab-host, *.corp.example, 10.1.2.3, not 127.0.0.1"
    );
}

#[test]
fn cn_only_cert_falls_back_to_cn() {
    let leaf = self_signed(&params(&[], "LAB-HOST"));
    assert!(leaf.sans.is_empty());
    let p = assess(std::slice::from_ref(&leaf), "lab-host", NOW, &empty_roots());
    assert!(!ids(&p).contains(&"cert_name_mismatch"), "{p:?}");
    let p = assess(&[leaf], "127.0.0.1", NOW, &empty_roots());
    assert_eq!(
        p[0],
        CertProblem::NameMismatch {
            expected: "127.0.0.1".into(),
            presented: vec!["LAB-HOST".into()],
        }
    );
    assert_eq!(
        p[0].to_string(),
        "the certificate names LAB-HOST, not 127.0.0.1"
    );
}

#[test]
fn client_auth_only_is_wrong_usage() {
    let mut p = params(&["lab-host"], "lab-host");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let problems = assess(&[self_signed(&p)], "lab-host", NOW, &empty_roots());
    assert_eq!(
        problems[0],
        CertProblem::WrongUsage {
            ekus: vec!["clientAuth".into()]
        }
    );
    assert!(problems[0].to_string().contains("clientAuth"));
    // Remote Desktop Authentication alone is fine for RDP.
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![
        1, 3, 6, 1, 4, 1, 311, 54, 1, 2,
    ])];
    let problems = assess(&[self_signed(&p)], "lab-host", NOW, &empty_roots());
    assert!(!ids(&problems).contains(&"cert_wrong_usage"));
}

#[test]
fn ca_signed_leaf_with_custom_roots() {
    let (root, issuer) = ca("Lab Root", (2030, 1, 1));
    let mut p = params(&["lab-host"], "lab-host");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = signed(&p, &issuer);
    assert!(!leaf.self_signed);
    let trusted = roots_of(&[&root]);
    assert!(assess(std::slice::from_ref(&leaf), "lab-host", NOW, &trusted).is_empty());
    // Expired but otherwise trusted: only Expired, not also Untrusted.
    let p2 = assess(
        std::slice::from_ref(&leaf),
        "lab-host",
        1_900_000_000,
        &trusted,
    );
    assert_eq!(ids(&p2), vec!["cert_expired"]);
    // Wrong name but trusted: only the name.
    let p3 = assess(std::slice::from_ref(&leaf), "other", NOW, &trusted);
    assert_eq!(ids(&p3), vec!["cert_name_mismatch"]);
    // Another root: untrusted, naming the issuer.
    let (other_root, _) = ca("Other Root", (2030, 1, 1));
    let p4 = assess(&[leaf], "lab-host", NOW, &roots_of(&[&other_root]));
    assert_eq!(ids(&p4), vec!["cert_untrusted"]);
    assert!(p4[0].to_string().contains("CN=Lab Root"), "{}", p4[0]);
}

#[test]
fn remote_desktop_auth_leaf_is_trusted_and_client_auth_is_reported_once() {
    let (root, issuer) = ca("Lab Root", (2030, 1, 1));
    let trusted = roots_of(&[&root]);
    let mut p = params(&["lab-host"], "lab-host");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![
        1, 3, 6, 1, 4, 1, 311, 54, 1, 2,
    ])];
    assert!(assess(&[signed(&p, &issuer)], "lab-host", NOW, &trusted).is_empty());
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let problems = assess(&[signed(&p, &issuer)], "lab-host", NOW, &trusted);
    assert_eq!(ids(&problems), vec!["cert_wrong_usage"]);
}

#[test]
fn intermediate_chain_and_expired_intermediate() {
    let (root, root_issuer) = ca("Lab Root", (2035, 1, 1));
    let trusted = roots_of(&[&root]);
    let build = |int_not_after: (i32, u8, u8)| {
        let mut ip = params(&[], "Lab Issuing CA");
        ip.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ip.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        ip.not_before = date_time_ymd(2020, 1, 1);
        ip.not_after = date_time_ymd(int_not_after.0, int_not_after.1, int_not_after.2);
        let ikey = KeyPair::generate().unwrap();
        let int = parse(ip.signed_by(&ikey, &root_issuer).unwrap().der()).unwrap();
        let int_issuer = Issuer::new(ip, ikey);
        let leaf = signed(&params(&["lab-host"], "lab-host"), &int_issuer);
        vec![leaf, int]
    };
    let good = build((2030, 1, 1));
    assert!(assess(&good, "lab-host", NOW, &trusted).is_empty());
    // Without the intermediate the chain is broken.
    let p = assess(&good[..1], "lab-host", NOW, &trusted);
    assert_eq!(ids(&p), vec!["cert_untrusted"]);
    let stale = build((2026, 3, 1));
    let p = assess(&stale, "lab-host", NOW, &trusted);
    assert_eq!(ids(&p), vec!["cert_untrusted"]);
    assert!(p[0].to_string().contains("intermediate"), "{}", p[0]);
    assert!(p[0].to_string().contains("2026-03-01"), "{}", p[0]);
}

#[test]
fn sorted_by_rank_and_serialized_with_finding_tag() {
    let mut p = params(&["lab-host"], "lab-host");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let problems = assess(
        &[self_signed(&p)],
        "elsewhere",
        1_900_000_000,
        &empty_roots(),
    );
    assert_eq!(
        ids(&problems),
        vec![
            "cert_expired",
            "cert_name_mismatch",
            "cert_wrong_usage",
            "cert_untrusted",
            "cert_self_signed"
        ]
    );
    let ranks: Vec<u8> = problems.iter().map(CertProblem::rank).collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]));
    let json = serde_json::to_value(&problems[0]).unwrap();
    assert_eq!(json["finding"], "expired");
    assert_eq!(
        serde_json::to_value(CertProblem::SelfSigned).unwrap()["finding"],
        "self_signed"
    );
    assert_eq!(
        serde_json::to_value(CertProblem::NotYetValid {
            not_before: String::new()
        })
        .unwrap()["finding"],
        "not_yet_valid"
    );
}

#[test]
fn empty_chain_and_missing_der() {
    assert_eq!(
        ids(&assess(&[], "h", NOW, &empty_roots())),
        vec!["cert_untrusted"]
    );
    // A summary without DER still gets name and validity checks from its fields.
    let mut leaf = self_signed(&params(&[], "lab-host"));
    leaf.der.clear();
    let p = assess(&[leaf], "lab-host", NOW, &empty_roots());
    assert_eq!(ids(&p), vec!["cert_untrusted", "cert_self_signed"]);
}

#[test]
fn system_roots_loads_once() {
    let a = system_roots();
    let b = system_roots();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn wildcard_rules() {
    assert!(dns_matches("*.example.com", "a.example.com"));
    assert!(!dns_matches("*.example.com", ".example.com"));
    assert!(!dns_matches("*.com", "example.com"));
    assert!(!dns_matches("a*.example.com", "ab.example.com"));
    assert!(dns_matches("Host.Example.com.", "host.example.com"));
}

// ---------------------------------------------------------------------------------------
// Self-signed and CA:TRUE host certificates, as xrdp and openssl make them

/// A self-signed host certificate with basicConstraints CA:TRUE, as `openssl req -x509`
/// and xrdp's key generator make by default.
fn openssl_style(cn: &str) -> CertInfo {
    let mut p = params(&[cn], cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    self_signed(&p)
}

#[test]
fn a_root_that_only_shares_the_name_is_not_a_bad_signature() {
    // The system store often holds another certificate named CN=localhost (Debian's
    // snakeoil): the host's own signature verifies, so it is simply self-signed.
    let host = self_signed(&params(&["localhost"], "localhost"));
    let twin = self_signed(&params(&["localhost"], "localhost"));
    let p = assess(&[host], "localhost", NOW, &roots_of(&[&twin]));
    assert_eq!(ids(&p), vec!["cert_untrusted", "cert_self_signed"]);
    for f in &p {
        assert!(!f.to_string().contains("does not verify"), "{f}");
    }
    assert!(p[0]
        .to_string()
        .contains("self-signed (not issued by a trusted CA)"));
}

#[test]
fn trusting_the_hosts_own_certificate_makes_it_trusted() {
    let host = self_signed(&params(&["lab-host"], "lab-host"));
    let p = assess(
        std::slice::from_ref(&host),
        "lab-host",
        NOW,
        &roots_of(&[&host]),
    );
    assert!(p.is_empty(), "{p:?}");
    // xrdp's and openssl's CA:TRUE kind too, which webpki refuses as a leaf: it is
    // trusted, and CA:TRUE is only a note.
    let xrdp = openssl_style("lab-host");
    assert!(xrdp.is_ca);
    let p = assess(
        std::slice::from_ref(&xrdp),
        "lab-host",
        NOW,
        &roots_of(&[&xrdp]),
    );
    assert_eq!(ids(&p), vec!["cert_is_ca"]);
    assert!(p[0].is_note());
    assert!(p[0].mirrored_as().is_none());
}

#[test]
fn a_ca_true_host_certificate_is_a_note_not_a_failure() {
    let xrdp = openssl_style("lab-host");
    let p = assess(&[xrdp], "lab-host", NOW, &empty_roots());
    assert_eq!(
        ids(&p),
        vec!["cert_untrusted", "cert_self_signed", "cert_is_ca"]
    );
    assert!(p[0]
        .to_string()
        .contains("self-signed (not issued by a trusted CA)"));
    assert!(p[2].to_string().contains("CA:TRUE"), "{}", p[2]);
    assert!(!p[0].is_note() && !p[1].is_note() && p[2].is_note());
    // Issued by a trusted CA, CA:TRUE changes nothing but the note.
    let (root, issuer) = ca("Lab Root", (2030, 1, 1));
    let mut lp = params(&["lab-host"], "lab-host");
    lp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let leaf = signed(&lp, &issuer);
    let trusted = roots_of(&[&root]);
    assert_eq!(
        ids(&assess(
            std::slice::from_ref(&leaf),
            "lab-host",
            NOW,
            &trusted
        )),
        vec!["cert_is_ca"]
    );
    let (other, _) = ca("Other Root", (2030, 1, 1));
    let p = assess(&[leaf], "lab-host", NOW, &roots_of(&[&other]));
    assert_eq!(ids(&p), vec!["cert_untrusted", "cert_is_ca"]);
    assert!(p[0].to_string().contains("CN=Lab Root"), "{}", p[0]);
}

#[test]
fn a_re_created_ca_is_named_as_such() {
    // The trusted root has the leaf's issuer name, but another key signed the leaf.
    let (_, issuer) = ca("Lab Root", (2030, 1, 1));
    let (recreated, _) = ca("Lab Root", (2030, 1, 1));
    let leaf = signed(&params(&["lab-host"], "lab-host"), &issuer);
    let p = assess(&[leaf], "lab-host", NOW, &roots_of(&[&recreated]));
    assert_eq!(ids(&p), vec!["cert_untrusted"]);
    let text = p[0].to_string();
    assert!(text.contains("CN=Lab Root"), "{text}");
    assert!(text.contains("did not sign it"), "{text}");
}

#[test]
fn each_problem_has_its_mirror() {
    use crate::decode::note::Mirrored;
    let cases = [
        (
            CertProblem::Expired {
                not_after: String::new(),
            },
            Some(Mirrored::Expired),
        ),
        (
            CertProblem::NotYetValid {
                not_before: String::new(),
            },
            Some(Mirrored::NotYetValid),
        ),
        (
            CertProblem::NameMismatch {
                expected: String::new(),
                presented: vec![],
            },
            Some(Mirrored::NameMismatch),
        ),
        (
            CertProblem::WrongUsage { ekus: vec![] },
            Some(Mirrored::WrongUsage),
        ),
        (
            CertProblem::Untrusted {
                reason: String::new(),
            },
            Some(Mirrored::Untrusted),
        ),
        (CertProblem::SelfSigned, Some(Mirrored::Untrusted)),
        (
            CertProblem::PinMismatch {
                presented: String::new(),
            },
            None,
        ),
        (CertProblem::CaCertificate, None),
    ];
    for (p, m) in cases {
        assert_eq!(p.mirrored_as(), m, "{p:?}");
    }
}
