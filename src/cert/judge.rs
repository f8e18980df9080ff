//! Judging a server certificate chain the way an RDP client would, one problem at a time.
//!
//! Clients report certificate trouble as one vague dialog ("the certificate is not from
//! a trusted certifying authority", FreeRDP's "certificate verification failure"). Here
//! each cause is checked on its own, so the report can say exactly which are true:
//! expiry and name are judged directly, and the trust check deliberately ignores both so
//! a merely expired certificate from a good CA is not also called untrusted.

use crate::decode::note::Mirrored;
use crate::decode::x509;
use crate::decode::x509::{CertInfo, CertNames};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One thing wrong with the certificate a server presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum CertProblem {
    /// The leaf's notAfter is in the past.
    Expired {
        /// notAfter, RFC 3339.
        not_after: String,
    },
    /// The leaf's notBefore is in the future.
    NotYetValid {
        /// notBefore, RFC 3339.
        not_before: String,
    },
    /// The leaf does not name the host the client connected to.
    NameMismatch {
        /// The name the client used.
        expected: String,
        /// The names the certificate carries (SANs, or the CN when it has none).
        presented: Vec<String>,
    },
    /// The leaf's extended key usage does not allow server authentication.
    WrongUsage {
        /// The EKUs it does allow.
        ekus: Vec<String>,
    },
    /// The chain does not lead to a trusted root.
    Untrusted {
        /// Why, in plain English.
        reason: String,
    },
    /// The leaf is self-signed.
    SelfSigned,
    /// The leaf is not the certificate `--pin` names.
    PinMismatch {
        /// The presented leaf's SHA-256.
        presented: String,
    },
    /// The leaf says CA:TRUE. Clients accept it as a server certificate, so this is a
    /// note ([`CertProblem::is_note`]), never a reason a connection failed.
    CaCertificate,
}

impl CertProblem {
    /// Stable identifier of the cause, for verdicts and tests.
    pub fn cause_id(&self) -> &'static str {
        match self {
            CertProblem::Expired { .. } => "cert_expired",
            CertProblem::NotYetValid { .. } => "cert_not_yet_valid",
            CertProblem::NameMismatch { .. } => "cert_name_mismatch",
            CertProblem::WrongUsage { .. } => "cert_wrong_usage",
            CertProblem::Untrusted { .. } => "cert_untrusted",
            CertProblem::SelfSigned => "cert_self_signed",
            CertProblem::PinMismatch { .. } => "cert_pin_mismatch",
            CertProblem::CaCertificate => "cert_is_ca",
        }
    }

    /// How rdptap's certificate reproduces this problem for the client (mirroring);
    /// None for what no certificate can carry (a `--pin` mismatch, a note).
    pub fn mirrored_as(&self) -> Option<Mirrored> {
        Some(match self {
            CertProblem::Expired { .. } => Mirrored::Expired,
            CertProblem::NotYetValid { .. } => Mirrored::NotYetValid,
            CertProblem::NameMismatch { .. } => Mirrored::NameMismatch,
            CertProblem::WrongUsage { .. } => Mirrored::WrongUsage,
            CertProblem::Untrusted { .. } | CertProblem::SelfSigned => Mirrored::Untrusted,
            CertProblem::PinMismatch { .. } | CertProblem::CaCertificate => return None,
        })
    }

    /// A low-severity note: worth saying, but no client refuses a certificate for it,
    /// so it never becomes a cause, is never mirrored and never trips
    /// `--strict-upstream`.
    pub fn is_note(&self) -> bool {
        matches!(self, CertProblem::CaCertificate)
    }

    /// Specificity order: lower is the more specific explanation, reported first.
    pub fn rank(&self) -> u8 {
        match self {
            CertProblem::Expired { .. } => 0,
            CertProblem::NotYetValid { .. } => 1,
            CertProblem::NameMismatch { .. } => 2,
            CertProblem::WrongUsage { .. } => 3,
            CertProblem::Untrusted { .. } => 4,
            CertProblem::SelfSigned => 5,
            CertProblem::PinMismatch { .. } => 0,
            CertProblem::CaCertificate => 9,
        }
    }
}

/// The date part of an RFC 3339 timestamp ("2026-10-02" of "2026-10-02T11:00:00Z").
fn date_of(ts: &str) -> &str {
    ts.split('T').next().unwrap_or(ts)
}

impl fmt::Display for CertProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertProblem::Expired { not_after } => write!(
                f,
                "the certificate expired on {} (notAfter {not_after})",
                date_of(not_after)
            ),
            CertProblem::NotYetValid { not_before } => write!(
                f,
                "the certificate is not valid until {} (notBefore {not_before})",
                date_of(not_before)
            ),
            CertProblem::NameMismatch {
                expected,
                presented,
            } => {
                if presented.is_empty() {
                    write!(f, "the certificate names no host at all, not {expected}")
                } else {
                    write!(
                        f,
                        "the certificate names {}, not {expected}",
                        presented.join(", ")
                    )
                }
            }
            CertProblem::WrongUsage { ekus } => write!(
                f,
                "the certificate is only for {}, not for server authentication",
                ekus.join(", ")
            ),
            CertProblem::Untrusted { reason } => {
                write!(f, "the chain does not lead to a trusted root: {reason}")
            }
            CertProblem::SelfSigned => {
                f.write_str("the certificate is self-signed (not issued by a trusted CA)")
            }
            CertProblem::CaCertificate => f.write_str(
                "the certificate is a CA certificate (basicConstraints CA:TRUE), as openssl's and xrdp's defaults make it; clients accept it as a host certificate, so this is only a note",
            ),
            CertProblem::PinMismatch { presented } => write!(
                f,
                "the certificate is not the one --pin names (it is sha256 {presented})"
            ),
        }
    }
}

/// Judges a chain as [`assess`] does, then applies `--pin`: a leaf that matched the pin
/// is the admin's explicit trust in exactly that certificate, and one that did not match
/// is the first finding.
pub fn judge(
    chain: &[CertInfo],
    expected_name: &str,
    now_unix: i64,
    roots: &rustls::RootCertStore,
    pin_matched: Option<bool>,
) -> Vec<CertProblem> {
    let mut findings = assess(chain, expected_name, now_unix, roots);
    match pin_matched {
        Some(true) => findings
            .retain(|f| !matches!(f, CertProblem::Untrusted { .. } | CertProblem::SelfSigned)),
        Some(false) => findings.insert(
            0,
            CertProblem::PinMismatch {
                presented: chain.first().map(|c| c.sha256.clone()).unwrap_or_default(),
            },
        ),
        None => {}
    }
    findings
}

/// EKU names that let a certificate authenticate an RDP server.
const SERVER_EKUS: [&str; 3] = ["serverAuth", "remoteDesktopAuth", "anyExtendedKeyUsage"];

/// Judges a chain (leaf first) for a client that connected to `expected_name` at
/// `now_unix`, trusting `roots`. Problems come back sorted by [`CertProblem::rank`].
pub fn assess(
    chain: &[CertInfo],
    expected_name: &str,
    now_unix: i64,
    roots: &rustls::RootCertStore,
) -> Vec<CertProblem> {
    let Some(leaf) = chain.first() else {
        return vec![CertProblem::Untrusted {
            reason: "the server presented no certificate".to_string(),
        }];
    };
    let mut problems = Vec::new();
    if now_unix > leaf.not_after_unix {
        problems.push(CertProblem::Expired {
            not_after: leaf.not_after.clone(),
        });
    } else if now_unix < leaf.not_before_unix {
        problems.push(CertProblem::NotYetValid {
            not_before: leaf.not_before.clone(),
        });
    }
    if let Some(p) = name_problem(leaf, expected_name) {
        problems.push(p);
    }
    let wrong_usage =
        leaf.has_eku_extension && !leaf.ekus.iter().any(|e| SERVER_EKUS.contains(&e.as_str()));
    if wrong_usage {
        problems.push(CertProblem::WrongUsage {
            ekus: leaf.ekus.clone(),
        });
    }
    if let Some(reason) = trust_problem(chain, now_unix, roots, wrong_usage) {
        problems.push(CertProblem::Untrusted { reason });
        // A self-signed certificate in the trusted roots (`--trust` with the host's own
        // certificate) is trusted: then being self-signed is no problem at all.
        if leaf.self_signed {
            problems.push(CertProblem::SelfSigned);
        }
    }
    if leaf.is_ca {
        problems.push(CertProblem::CaCertificate);
    }
    problems.sort_by_key(CertProblem::rank);
    problems
}

/// The leaf's names: from the DER when we have it, else from the summary fields.
fn leaf_names(leaf: &CertInfo) -> CertNames {
    if let Some(n) = x509::names(&leaf.der) {
        return n;
    }
    let mut n = CertNames {
        has_san: !leaf.sans.is_empty(),
        ..CertNames::default()
    };
    for s in &leaf.sans {
        match s.parse::<IpAddr>() {
            Ok(ip) => n.ips.push(ip),
            Err(_) => n.dns.push(s.clone()),
        }
    }
    n.common_names = leaf
        .subject
        .split(',')
        .filter_map(|rdn| rdn.trim().strip_prefix("CN="))
        .map(str::to_string)
        .collect();
    n
}

/// Checks the leaf against the name the client used; None when it matches.
fn name_problem(leaf: &CertInfo, expected_name: &str) -> Option<CertProblem> {
    let wanted = expected_name
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.');
    if wanted.is_empty() {
        return None;
    }
    let names = leaf_names(leaf);
    // Without a subjectAltName, clients fall back to the subject CN; RDP hosts'
    // self-generated certificates often carry only "CN=<hostname>".
    let (matched, presented) = if names.has_san {
        let matched = match wanted.parse::<IpAddr>() {
            Ok(ip) => names.ips.contains(&ip),
            Err(_) => names.dns.iter().any(|d| dns_matches(d, wanted)),
        };
        let mut presented = names.dns.clone();
        presented.extend(names.ips.iter().map(|ip| ip.to_string()));
        (matched, presented)
    } else {
        let matched = match wanted.parse::<IpAddr>() {
            Ok(ip) => names
                .common_names
                .iter()
                .any(|cn| cn.parse::<IpAddr>().ok() == Some(ip)),
            Err(_) => names.common_names.iter().any(|cn| dns_matches(cn, wanted)),
        };
        (matched, names.common_names.clone())
    };
    (!matched).then(|| CertProblem::NameMismatch {
        expected: expected_name.trim().to_string(),
        presented,
    })
}

/// Case-insensitive DNS name match, allowing a wildcard for exactly one leftmost label.
fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    if let Some(suffix) = pattern.strip_prefix("*.") {
        // "*.example.com" covers "host.example.com" but neither "example.com" nor
        // "a.b.example.com", and a wildcard over a bare TLD is not honoured.
        if !suffix.contains('.') {
            return false;
        }
        return match name.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest.eq_ignore_ascii_case(suffix),
            None => false,
        };
    }
    pattern.eq_ignore_ascii_case(name)
}

/// Accepts the EKUs an RDP client accepts: none at all, serverAuth, Remote Desktop
/// Authentication or anyExtendedKeyUsage (or, when `any`, every EKU, because a wrong
/// leaf usage is already reported on its own).
struct RdpServerUsage {
    any: bool,
}

/// DER contents of the accepted EKU OIDs.
const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const EKU_ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
const EKU_REMOTE_DESKTOP_AUTH: &[u8] =
    &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x36, 0x01, 0x02];

impl webpki::ExtendedKeyUsageValidator for RdpServerUsage {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let accepted =
            [EKU_SERVER_AUTH, EKU_ANY, EKU_REMOTE_DESKTOP_AUTH].map(webpki::KeyPurposeId::new);
        let mut present = Vec::new();
        for id in iter {
            let id = id?;
            if self.any || accepted.contains(&id) {
                return Ok(());
            }
            present.push(id.to_decoded_oid());
        }
        if present.is_empty() {
            return Ok(());
        }
        Err(webpki::Error::RequiredEkuNotFoundContext(
            webpki::RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::server_auth(),
                present,
            },
        ))
    }
}

/// Why the chain does not verify to `roots`, ignoring the leaf's expiry and name.
fn trust_problem(
    chain: &[CertInfo],
    now_unix: i64,
    roots: &rustls::RootCertStore,
    lenient_usage: bool,
) -> Option<String> {
    let leaf = chain.first()?;
    if leaf.self_signed {
        // Its own signature verifies, so it is trusted exactly when it is itself a
        // trust anchor; any other verifier error (a root that only shares its name,
        // CA:TRUE on a leaf) would describe the search, not the certificate.
        return (!is_anchor(leaf, roots)).then(|| SELF_SIGNED_REASON.to_string());
    }
    // An intermediate that has expired breaks the chain even when the leaf is fine.
    let expired: Vec<String> = chain
        .iter()
        .skip(1)
        .filter(|c| now_unix > c.not_after_unix)
        .map(|c| format!("the intermediate {} expired on {}", c.subject, c.not_after))
        .collect();
    // Verify at a moment inside the leaf's validity window so that a lapsed leaf is
    // reported as Expired alone, not also as untrusted.
    let at = now_unix
        .min(leaf.not_after_unix)
        .max(leaf.not_before_unix)
        .max(0);
    let time = UnixTime::since_unix_epoch(Duration::from_secs(at.unsigned_abs()));
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .skip(1)
        .map(|c| CertificateDer::from(c.der.as_slice()))
        .collect();
    let result = webpki::EndEntityCert::try_from(&leaf_der).and_then(|ee| {
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &roots.roots,
            &intermediates,
            time,
            RdpServerUsage { any: lenient_usage },
            None,
            None,
        )
        .map(|_| ())
    });
    let mut reasons = expired;
    match result {
        Ok(()) => {}
        // webpki refuses any CA:TRUE leaf; clients do not, so follow the signatures.
        Err(webpki::Error::CaUsedAsEndEntity) if chains_to_anchor(chain, roots) => {}
        Err(webpki::Error::CaUsedAsEndEntity) => reasons.push(format!(
            "no trusted root or supplied intermediate issued it (issuer {})",
            leaf.issuer
        )),
        Err(e) => reasons.push(explain(&e, leaf, roots.is_empty())),
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Why a self-signed certificate that is not a trust anchor is untrusted.
const SELF_SIGNED_REASON: &str = "it is self-signed (not issued by a trusted CA)";

/// Whether `cert` is one of the trust anchors: same subject and same key.
fn is_anchor(cert: &CertInfo, roots: &rustls::RootCertStore) -> bool {
    let Some(n) = x509::raw_names(&cert.der) else {
        return false;
    };
    roots.roots.iter().any(|a| {
        a.subject.as_ref() == n.subject.as_slice()
            && a.subject_public_key_info.as_ref() == n.spki.as_slice()
    })
}

/// The longest chain of signatures followed for a CA:TRUE leaf.
const MAX_DEPTH: usize = 6;

/// Whether the leaf's signatures lead, through the supplied intermediates, to a trust
/// anchor. Used only for a CA:TRUE leaf, which webpki will not verify as a server
/// certificate although clients accept it.
fn chains_to_anchor(chain: &[CertInfo], roots: &rustls::RootCertStore) -> bool {
    let Some(mut cur) = chain.first().map(|c| c.der.as_slice()) else {
        return false;
    };
    for _ in 0..MAX_DEPTH {
        let Some(n) = x509::raw_names(cur) else {
            return false;
        };
        let by_anchor = roots.roots.iter().any(|a| {
            a.subject.as_ref() == n.issuer.as_slice()
                && x509::signed_by(cur, a.subject_public_key_info.as_ref()) == Some(true)
        });
        if by_anchor {
            return true;
        }
        let next = chain.iter().skip(1).find(|c| {
            x509::raw_names(&c.der).is_some_and(|cn| {
                cn.subject == n.issuer && x509::signed_by(cur, &cn.spki) == Some(true)
            })
        });
        match next {
            Some(c) if c.der.as_slice() != cur => cur = c.der.as_slice(),
            _ => return false,
        }
    }
    false
}

/// Plain-English reading of a webpki error.
fn explain(e: &webpki::Error, leaf: &CertInfo, no_roots: bool) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer if no_roots => "no trusted root certificates are available".into(),
        E::UnknownIssuer if leaf.self_signed => SELF_SIGNED_REASON.into(),
        E::UnknownIssuer => format!(
            "no trusted root or supplied intermediate issued it (issuer {})",
            leaf.issuer
        ),
        E::CertExpired { .. } | E::CertNotValidYet { .. } => {
            "a certificate above the leaf is outside its validity period".into()
        }
        // webpki found a certificate with the issuer's name but not its key: a root or
        // intermediate re-created with a new key, or a forged signature. It cannot tell
        // which, so neither does this.
        E::InvalidSignatureForPublicKey => format!(
            "the certificate named {} that rdptap knows did not sign it (a CA re-created with a new key, or a signature that does not verify)",
            leaf.issuer
        ),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "the chain uses a signature algorithm that is not accepted".into()
        }
        E::RequiredEkuNotFoundContext(_) => {
            "a certificate in the chain is not allowed for server authentication".into()
        }
        E::BadDer | E::BadDerTime => "a certificate in the chain is malformed".into(),
        other => format!("verification failed ({other})"),
    }
}

/// The platform's trusted roots, loaded once; unparsable roots are skipped, and the
/// store is empty when none can be loaded.
pub fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(loaded.certs);
            Arc::new(store)
        })
        .clone()
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
