//! Certificate mirroring tests' shared vocabulary: the certificate problems under test,
//! how the client treats them, and how its outcome is compared between a direct run
//! and a run through rdptap.

use super::proxy::run_rdptap;
use super::{CertFiles, ClientOutput, TempDir, TestCa};
use std::time::Duration;

/// A certificate problem under test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Problem {
    /// Issued by the lab CA, valid only during 2020.
    Expired,
    /// Issued by the lab CA for another name than the one the client dials.
    WrongName,
    /// Signed by its own key.
    SelfSigned,
    /// Issued by a CA that neither the client nor rdptap trusts.
    UnknownIssuer,
    /// Issued by the lab CA, valid only from 2099 on.
    NotYetValid,
    /// Issued by the lab CA for the name the client dials: nothing wrong.
    Clean,
}

impl Problem {
    /// The verdict's cause (or warning) for the problem.
    pub fn cause(self) -> Option<&'static str> {
        match self {
            Problem::Expired => Some("cert_expired"),
            Problem::WrongName => Some("cert_name_mismatch"),
            Problem::SelfSigned => Some("cert_self_signed"),
            Problem::UnknownIssuer => Some("cert_untrusted"),
            Problem::NotYetValid => Some("cert_not_yet_valid"),
            Problem::Clean => None,
        }
    }

    /// What `leaf_presented` says rdptap's certificate mirrors.
    pub fn mirrors(self) -> Vec<&'static str> {
        match self {
            Problem::Expired => vec!["expired"],
            Problem::WrongName => vec!["name_mismatch"],
            Problem::SelfSigned | Problem::UnknownIssuer => vec!["untrusted"],
            Problem::NotYetValid => vec!["not_yet_valid"],
            Problem::Clean => vec![],
        }
    }

    /// xrdp's certificate with this problem.
    pub fn host_cert(self, lab: &TestCa) -> CertFiles {
        let here = ["127.0.0.1", "localhost"];
        match self {
            Problem::Expired => lab.issue(
                &here,
                Some((
                    rcgen::date_time_ymd(2020, 1, 1),
                    rcgen::date_time_ymd(2021, 1, 1),
                )),
            ),
            Problem::WrongName => lab.issue(&["other-host.rdptap.invalid"], None),
            Problem::SelfSigned => CertFiles::normal("mirror-self-signed"),
            Problem::UnknownIssuer => TestCa::new("rdptap mirror unknown root").issue(&here, None),
            Problem::NotYetValid => lab.issue(
                &here,
                Some((
                    rcgen::date_time_ymd(2099, 1, 1),
                    rcgen::date_time_ymd(2100, 1, 1),
                )),
            ),
            Problem::Clean => lab.issue(&here, None),
        }
    }
}

/// How the client treats a certificate that does not verify.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Client {
    /// `/cert:ignore`: accepts it.
    Ignore,
    /// `/cert:deny`: refuses it.
    Deny,
}

impl Client {
    pub fn flag(self) -> &'static str {
        match self {
            Client::Ignore => "/cert:ignore",
            Client::Deny => "/cert:deny",
        }
    }
}

/// A fresh local CA for rdptap in a private directory.
pub fn rdptap_ca() -> TempDir {
    let dir = TempDir::new("ca").expect("temp dir");
    let d = dir.path().display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &d], Duration::from_secs(30));
    assert_eq!(code, Some(0), "rdptap ca init failed: {out}");
    dir
}

/// The last FreeRDP error code in a client log (e.g. ERRCONNECT_TLS_CONNECT_FAILED).
pub fn last_error(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter_map(|l| {
            let i = l.find("ERRCONNECT_")?;
            Some(
                l[i..]
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()?
                    .to_string(),
            )
        })
        .next()
}

/// The client's outcome, as compared between the direct and the proxied run.
pub fn outcome(out: &ClientOutput) -> (Option<i32>, Option<String>) {
    (out.code, last_error(&out.log))
}
