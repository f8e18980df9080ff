//! The local certificate authority that signs rdptap's interception certificates.
//!
//! A client only accepts the proxy's certificate if it chains to something the client
//! trusts, so the user installs this CA once and rdptap mints a leaf per host name from it.
//! Because an installed CA is powerful, it can be limited with X.509 name constraints to
//! the hosts under test; verifiers then refuse anything else it might sign.

#[path = "ca_error.rs"]
mod error;
#[path = "ca_files.rs"]
mod files;
#[path = "ca_names.rs"]
mod names;
#[cfg(test)]
#[path = "ca_tests.rs"]
pub(crate) mod tests;

pub use error::{shell_path, CaError, FileOp, NameProblem};
pub use files::default_ca_dir;
pub use names::CaName;

use crate::decode::x509;
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, GeneralSubtree,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, NameConstraints, PublicKeyData,
    SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

/// File name of the CA certificate (PEM) inside the CA directory.
pub const CERT_FILE: &str = "rdptap-ca.pem";
/// File name of the CA private key (PKCS#8 PEM) inside the CA directory.
pub const KEY_FILE: &str = "rdptap-ca.key";
/// Validity of a new CA when `--days` is not given.
pub const DEFAULT_DAYS: u32 = 30;
/// The longest validity `init` accepts: a CA that outlives its purpose is a liability.
pub const MAX_DAYS: u32 = 3650;

/// The common name of the per-run untrusted CA ([`Ca::untrusted_for_run`]).
pub const UNTRUSTED_CA_NAME: &str = "rdptap untrusted CA (made for one run; never trust it)";
/// Validity of the per-run untrusted CA; its leaves are cut short by it as any are.
const UNTRUSTED_DAYS: u32 = 365;

/// Start of validity is backdated by this much so that a client whose clock runs a little
/// behind does not reject a certificate made a moment ago.
pub(crate) const BACKDATE: Duration = Duration::hours(1);

/// The local CA: its certificate, its signing key and what they say.
pub struct Ca {
    dir: PathBuf,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    subject: String,
    serial_hex: String,
    fingerprint: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    constraints: Vec<CaName>,
    key_owner_only: bool,
}

impl fmt::Debug for Ca {
    // The signing key stays out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("dir", &self.dir)
            .field("subject", &self.subject)
            .field("sha256", &self.fingerprint)
            .field("not_after", &self.not_after)
            .field("constraints", &self.constraints)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Creates a new CA in `dir`, limited to `constrain` (plus the loopback names) when that
    /// is not empty, valid for `days`; refuses to replace an existing one unless `force`.
    pub fn init(dir: &Path, constrain: &[String], days: u32, force: bool) -> Result<Ca, CaError> {
        if days == 0 || days > MAX_DAYS {
            return Err(CaError::InvalidDays { days });
        }
        let constraints = names::parse_constraints(constrain)?;
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if !force && (exists(&cert_path) || exists(&key_path)) {
            return Err(CaError::AlreadyExists {
                dir: dir.to_path_buf(),
            });
        }
        files::create_private_dir(dir)?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(crypto("CA key"))?;
        let now = now_seconds();
        let mut params = issuer_params(ca_common_name(), KeyIdMethod::Sha256);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(i64::from(days));
        params.serial_number = Some(random_serial()?);
        if !constraints.is_empty() {
            params.name_constraints = Some(NameConstraints {
                permitted_subtrees: constraints.iter().map(subtree).collect(),
                excluded_subtrees: Vec::new(),
            });
        }
        let cert = params.self_signed(&key).map_err(crypto("CA certificate"))?;

        // Key first: if writing the certificate then fails, load reports the mismatch
        // instead of silently pairing a new certificate with an old key.
        files::write_replacing(&key_path, key.serialize_pem().as_bytes(), true)?;
        files::write_replacing(&cert_path, cert.pem().as_bytes(), false)?;
        Ca::from_parts(dir, cert.der().clone(), key, &cert_path, &key_path)
    }

    /// A CA made in memory for this run only: never written, never shown to anyone to
    /// trust. It signs the leaves that mirror a host certificate no client trusts
    /// (self-signed, or from an unknown issuer), so the client sees an untrusted issuer
    /// exactly as it would see the host's.
    pub fn untrusted_for_run() -> Result<Ca, CaError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(crypto("CA key"))?;
        let now = now_seconds();
        let common_name = UNTRUSTED_CA_NAME.to_string();
        let mut params = issuer_params(common_name.clone(), KeyIdMethod::Sha256);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(i64::from(UNTRUSTED_DAYS));
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key).map_err(crypto("CA certificate"))?;
        let cert_der = cert.der().clone();
        let bad = |problem: &str| CaError::Crypto {
            what: "untrusted CA",
            detail: problem.to_string(),
        };
        let (_, x509) = X509Certificate::from_der(&cert_der)
            .map_err(|_| bad("its certificate cannot be parsed"))?;
        Ok(Ca {
            dir: PathBuf::new(),
            subject: x509.subject().to_string(),
            serial_hex: serial_hex(x509.raw_serial()),
            fingerprint: x509::fingerprint(&cert_der),
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            constraints: Vec::new(),
            key_owner_only: true,
            issuer: Issuer::new(issuer_params(common_name, KeyIdMethod::Sha256), key),
            cert_der,
        })
    }

    /// Loads the CA from `dir`, checking that the key matches the certificate and that the
    /// certificate is valid now.
    pub fn load(dir: &Path) -> Result<Ca, CaError> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        let missing = |path: &Path| CaError::MissingFile {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        };
        match (exists(&cert_path), exists(&key_path)) {
            (false, false) => {
                return Err(CaError::NotFound {
                    dir: dir.to_path_buf(),
                })
            }
            (false, true) => return Err(missing(&cert_path)),
            (true, false) => return Err(missing(&key_path)),
            (true, true) => {}
        }
        let bad = |path: &Path, problem: String| CaError::BadFile {
            path: path.to_path_buf(),
            problem,
            dir: dir.to_path_buf(),
        };
        let cert_der = CertificateDer::from_pem_slice(&files::read(&cert_path)?)
            .map_err(|e| bad(&cert_path, format!("it holds no PEM certificate ({e})")))?;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(&files::read(&key_path)?)
            .map_err(|e| bad(&key_path, format!("it holds no PKCS#8 private key ({e})")))?;
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&key_der, &PKCS_ECDSA_P256_SHA256)
            .map_err(|_| bad(&key_path, "it is not an ECDSA P-256 key".to_string()))?;
        let ca = Ca::from_parts(dir, cert_der, key, &cert_path, &key_path)?;
        ca.check_current(OffsetDateTime::now_utc())?;
        Ok(ca)
    }

    /// Builds a `Ca` from a certificate and its key, reading every fact from the
    /// certificate itself so `init` and `load` describe the CA identically.
    fn from_parts(
        dir: &Path,
        cert_der: CertificateDer<'static>,
        key: KeyPair,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Ca, CaError> {
        let bad = |problem: &str| CaError::BadFile {
            path: cert_path.to_path_buf(),
            problem: problem.to_string(),
            dir: dir.to_path_buf(),
        };
        let (_, x509) = X509Certificate::from_der(&cert_der)
            .map_err(|_| bad("the certificate cannot be parsed"))?;
        match x509.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            _ => return Err(bad("the certificate is not a CA certificate")),
        }
        if x509.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(CaError::KeyMismatch {
                key: key_path.to_path_buf(),
                cert: cert_path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
        let common_name = single_utf8_common_name(&x509)
            .ok_or_else(|| bad("its subject is not the single common name rdptap writes"))?;
        let key_id = x509
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
            .map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified);
        let constraints = read_constraints(&x509).map_err(bad)?;
        let ca = Ca {
            dir: dir.to_path_buf(),
            subject: x509.subject().to_string(),
            serial_hex: serial_hex(x509.raw_serial()),
            fingerprint: x509::fingerprint(&cert_der),
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            constraints,
            key_owner_only: files::is_owner_only(key_path),
            issuer: Issuer::new(issuer_params(common_name, key_id), key),
            cert_der,
        };
        Ok(ca)
    }

    /// Fails when `now` is outside the certificate's validity.
    pub(crate) fn check_current(&self, now: OffsetDateTime) -> Result<(), CaError> {
        if now > self.not_after {
            return Err(CaError::Expired {
                path: self.cert_path(),
                not_after: rfc3339(self.not_after),
                dir: self.dir.clone(),
            });
        }
        if now < self.not_before {
            return Err(CaError::NotYetValid {
                path: self.cert_path(),
                not_before: rfc3339(self.not_before),
            });
        }
        Ok(())
    }

    /// The directory the CA lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the CA certificate (PEM), the file users install as trusted.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    /// Path of the private key (PEM), a secret.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// SHA-256 of the certificate, upper-case hex with colons.
    pub fn fingerprint_sha256(&self) -> &str {
        &self.fingerprint
    }

    /// The subject distinguished name, e.g. `CN=rdptap local CA (host)`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Serial number, upper-case hex without separators (what `certutil -delstore` takes).
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    /// Start of validity.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Days from now until the CA expires, counting a started day as a whole one (so a
    /// fresh 30-day CA has 30 left); zero or less once expired.
    pub fn days_left(&self) -> i64 {
        let secs = (self.not_after - OffsetDateTime::now_utc()).whole_seconds();
        secs.div_euclid(86_400) + i64::from(secs.rem_euclid(86_400) > 0)
    }

    /// The names the CA is limited to; empty when it is unconstrained.
    pub fn constraints(&self) -> &[CaName] {
        &self.constraints
    }

    /// Whether the certificate carries name constraints.
    pub fn is_constrained(&self) -> bool {
        !self.constraints.is_empty()
    }

    /// Whether the private key file is readable by its owner only (always true on Windows).
    pub fn key_is_owner_only(&self) -> bool {
        self.key_owner_only
    }

    /// Whether a leaf for `name` would pass the CA's name constraints: always when it is
    /// unconstrained, otherwise when a constraint equals the address or is the DNS name or
    /// one of its parent domains. Names that are not valid DNS names or addresses never pass.
    pub fn permits(&self, name: &str) -> bool {
        match CaName::parse(name) {
            Ok(name) => !self.is_constrained() || self.constraints.iter().any(|c| c.covers(&name)),
            Err(_) => false,
        }
    }

    /// Like `permits`, but with an error that names the constraints and the fix.
    pub(crate) fn check_permits(&self, name: &CaName) -> Result<(), CaError> {
        if !self.is_constrained() || self.constraints.iter().any(|c| c.covers(name)) {
            return Ok(());
        }
        Err(CaError::NotPermitted {
            name: name.to_string(),
            dir: self.dir.clone(),
            constraints: names::join(&self.constraints),
        })
    }

    /// The signer for leaves.
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

/// The serial number of whatever CA certificate sits in `dir`, if it can be read, whether
/// or not it is still valid; used to say which old certificate to remove after `--force`.
pub fn peek_serial(dir: &Path) -> Option<String> {
    let pem = std::fs::read(dir.join(CERT_FILE)).ok()?;
    let der = CertificateDer::from_pem_slice(&pem).ok()?;
    let (_, x509) = X509Certificate::from_der(&der).ok()?;
    Some(serial_hex(x509.raw_serial()))
}

/// RFC 3339 text of a timestamp, for messages.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The current time without sub-second digits, which X.509 times cannot carry; keeping
/// them would make the in-memory validity differ from what a reload reads back.
pub(crate) fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// A random, positive, 16-byte serial: unique per certificate so trust stores and
/// `certutil -delstore` can tell a re-created CA from its predecessor.
pub(crate) fn random_serial() -> Result<SerialNumber, CaError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CaError::Crypto {
            what: "serial number",
            detail: "the system random number generator failed".to_string(),
        })?;
    // Top bit clear keeps the integer positive; the next bit set keeps it exactly 16
    // bytes long, so its hex never loses a leading zero.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Maps an rcgen error to a `CaError` about making `what`.
pub(crate) fn crypto(what: &'static str) -> impl Fn(rcgen::Error) -> CaError {
    move |e| CaError::Crypto {
        what,
        detail: e.to_string(),
    }
}

fn exists(path: &Path) -> bool {
    // A dangling symlink still counts: overwriting it would be as surprising as
    // overwriting a file.
    path.symlink_metadata().is_ok()
}

fn ca_common_name() -> String {
    format!("rdptap local CA ({})", files::machine_label())
}

/// The parameters an `Issuer` needs: the subject as rcgen encodes it (one UTF8String CN, so
/// a leaf's issuer field is byte-identical to the CA's subject) and how to name the key.
fn issuer_params(common_name: String, key_id: KeyIdMethod) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.key_identifier_method = key_id;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn subtree(name: &CaName) -> GeneralSubtree {
    match name {
        CaName::Dns(dns) => GeneralSubtree::DnsName(dns.clone()),
        CaName::Ip(ip) => {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, prefix))
        }
    }
}

/// The CN, when the subject is exactly one UTF8String common name (what `init` writes).
/// Anything else could not be reproduced byte for byte as the leaves' issuer name.
fn single_utf8_common_name(x509: &X509Certificate<'_>) -> Option<String> {
    let mut attrs = x509.subject().iter_attributes();
    let only = attrs.next()?;
    if attrs.next().is_some()
        || only.attr_type() != &x509_parser::oid_registry::OID_X509_COMMON_NAME
        || only.attr_value().tag() != Tag::Utf8String
    {
        return None;
    }
    only.as_str().ok().map(str::to_string)
}

/// The permitted names from the certificate's name constraints, in order.
fn read_constraints(x509: &X509Certificate<'_>) -> Result<Vec<CaName>, &'static str> {
    let ext = match x509.name_constraints() {
        Ok(Some(ext)) => ext.value,
        Ok(None) => return Ok(Vec::new()),
        Err(_) => return Err("its name constraints cannot be parsed"),
    };
    if ext
        .excluded_subtrees
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        return Err("it has excluded name constraints, which rdptap never writes");
    }
    let mut out = Vec::new();
    for subtree in ext.permitted_subtrees.iter().flatten() {
        let name = match &subtree.base {
            GeneralName::DNSName(dns) => CaName::Dns(dns.to_ascii_lowercase()),
            GeneralName::IPAddress(bytes) => single_address(bytes)
                .ok_or("it constrains an address range, which rdptap never writes")?,
            _ => return Err("it has a kind of name constraint rdptap never writes"),
        };
        out.push(name);
    }
    Ok(out)
}

/// An iPAddress subtree (address followed by mask) that covers exactly one address.
fn single_address(bytes: &[u8]) -> Option<CaName> {
    let (addr, mask) = bytes.split_at(bytes.len() / 2);
    if !mask.iter().all(|&b| b == 0xff) {
        return None;
    }
    match addr.len() {
        4 => <[u8; 4]>::try_from(addr).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(addr).ok().map(IpAddr::from),
        _ => None,
    }
    .map(CaName::Ip)
}

/// Serial number bytes as upper-case hex, without the sign byte DER adds to integers whose
/// top bit is set.
fn serial_hex(raw: &[u8]) -> String {
    let raw = match raw {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => raw,
    };
    raw.iter().map(|b| format!("{b:02X}")).collect()
}
