//! Certificate mirroring: the leaf rdptap presents reproduces the host's certificate
//! problem, so the client makes the same trust decision as it would without rdptap.
//!
//! Interception replaces the host's certificate with rdptap's. Were that always a clean
//! certificate, a client would accept a host it would otherwise warn about or refuse
//! (and send its credentials to it). So the leaf copies what is wrong: the host's
//! dates when they are outside their window, the host's own names when they do not
//! match, the host's key usages when they exclude server authentication, and, when no
//! client could trust the host's chain, a signature from a per-run CA that no client
//! trusts. rdptap's trusted CA signs only leaves for hosts whose certificate verifies,
//! or that `--trust`/`--pin` vouches for.

use crate::cert::CertProblem;
use crate::decode::note::Mirrored;
use crate::decode::x509::{self, CertInfo};
use crate::tls::ca::Ca;
use rcgen::ExtendedKeyUsagePurpose;
use std::net::IpAddr;

/// The most host names a mirrored leaf carries; a host certificate with more is
/// reproduced with its first ones (still a mismatch for the name the client used).
pub const MAX_NAMES: usize = 64;

/// What a leaf reproduces of the host's certificate. The default reproduces nothing:
/// a clean leaf from the local CA for the requested name and the loopback names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Mirror {
    /// Sign with the per-run untrusted CA instead of the local CA.
    pub untrusted: bool,
    /// The host's notBefore and notAfter, Unix seconds.
    pub validity: Option<(i64, i64)>,
    /// The host's own names, instead of the requested name and the loopback names.
    pub names: Option<HostNames>,
    /// The host's extended key usages, by the names `decode::x509` gives them.
    pub ekus: Option<Vec<String>>,
    /// The host's problems this reproduces, in the order of [`Mirrored::ALL`].
    pub mirrors: Vec<Mirrored>,
}

/// The names a host certificate carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HostNames {
    /// Its first subject common name, if any.
    pub common_name: Option<String>,
    /// Its dNSName entries (wildcards kept).
    pub dns: Vec<String>,
    /// Its iPAddress entries.
    pub ips: Vec<IpAddr>,
}

impl HostNames {
    /// The names of `leaf`, bounded and reduced to what a certificate can carry again.
    pub fn of(leaf: &CertInfo) -> HostNames {
        let parsed = x509::names(&leaf.der).unwrap_or_default();
        let mut dns: Vec<String> = if parsed.has_san {
            parsed.dns.clone()
        } else {
            // Without a SAN, clients match the CN; rcgen then writes the CN alone.
            Vec::new()
        };
        dns.retain(|d| is_carriable(d));
        dns.truncate(MAX_NAMES);
        let mut ips = parsed.ips.clone();
        ips.truncate(MAX_NAMES);
        HostNames {
            common_name: parsed
                .common_names
                .iter()
                .find(|c| is_carriable(c))
                .cloned(),
            dns,
            ips,
        }
    }

    /// Every name as text, DNS names first.
    pub fn all(&self) -> Vec<String> {
        let mut v = self.dns.clone();
        v.extend(self.ips.iter().map(IpAddr::to_string));
        v
    }
}

/// A name rcgen can write back as a dNSName or CN: printable ASCII, no spaces, the
/// length of a DNS name at most.
fn is_carriable(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.bytes().all(|b| b.is_ascii_graphic())
}

impl Mirror {
    /// What to reproduce for a host whose leaf is `host_leaf` and whose judged
    /// findings are `findings` (after `--trust` and `--pin`). `trusted` is the local CA:
    /// names it may not carry (its `--constrain` list) go to the untrusted CA instead.
    pub fn plan(findings: &[CertProblem], host_leaf: Option<&CertInfo>, trusted: &Ca) -> Mirror {
        let mut m = Mirror::default();
        for f in findings {
            let Some(kind) = f.mirrored_as() else {
                continue;
            };
            let done = match (f, host_leaf) {
                (CertProblem::Expired { .. } | CertProblem::NotYetValid { .. }, Some(l)) => {
                    m.validity = Some((l.not_before_unix, l.not_after_unix));
                    true
                }
                (CertProblem::NameMismatch { .. }, Some(l)) => {
                    m.names = Some(HostNames::of(l));
                    true
                }
                (CertProblem::WrongUsage { ekus }, _) => {
                    m.ekus = Some(ekus.clone());
                    true
                }
                (CertProblem::Untrusted { .. } | CertProblem::SelfSigned, _) => {
                    m.untrusted = true;
                    true
                }
                _ => false,
            };
            if done && !m.mirrors.contains(&kind) {
                m.mirrors.push(kind);
            }
        }
        // The local CA never signs names outside its constraints; a client would refuse
        // such a leaf anyway, so the untrusted CA signs it and the client still warns.
        if let Some(n) = &m.names {
            let all_permitted = !trusted.is_constrained()
                || n.all()
                    .iter()
                    .chain(n.common_name.iter())
                    .all(|name| trusted.permits(name));
            if !all_permitted {
                m.untrusted = true;
            }
        }
        m.mirrors
            .sort_by_key(|k| Mirrored::ALL.iter().position(|a| a == k));
        m
    }

    /// True when the leaf reproduces nothing of the host's certificate.
    pub fn is_clean(&self) -> bool {
        *self == Mirror::default()
    }
}

/// The extended key usages named as `decode::x509` names them, for rcgen. Names it does
/// not know are taken as dotted OIDs; anything else is left out.
pub fn eku_purposes(names: &[String]) -> Vec<ExtendedKeyUsagePurpose> {
    names
        .iter()
        .filter_map(|n| {
            Some(match n.as_str() {
                "anyExtendedKeyUsage" => ExtendedKeyUsagePurpose::Any,
                "serverAuth" => ExtendedKeyUsagePurpose::ServerAuth,
                "clientAuth" => ExtendedKeyUsagePurpose::ClientAuth,
                "codeSigning" => ExtendedKeyUsagePurpose::CodeSigning,
                "emailProtection" => ExtendedKeyUsagePurpose::EmailProtection,
                "timeStamping" => ExtendedKeyUsagePurpose::TimeStamping,
                "OCSPSigning" => ExtendedKeyUsagePurpose::OcspSigning,
                "remoteDesktopAuth" => {
                    ExtendedKeyUsagePurpose::Other(oid(x509::OID_REMOTE_DESKTOP_AUTH)?)
                }
                "documentSigning" => {
                    ExtendedKeyUsagePurpose::Other(oid("1.3.6.1.4.1.311.10.3.12")?)
                }
                "smartcardLogon" => ExtendedKeyUsagePurpose::Other(oid("1.3.6.1.4.1.311.20.2.2")?),
                dotted => ExtendedKeyUsagePurpose::Other(oid(dotted)?),
            })
        })
        .collect()
}

/// A dotted OID as its arcs; None when it is not one.
fn oid(dotted: &str) -> Option<Vec<u64>> {
    let arcs: Option<Vec<u64>> = dotted.split('.').map(|a| a.parse().ok()).collect();
    arcs.filter(|a| a.len() >= 2 && a.len() <= 32)
}

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
