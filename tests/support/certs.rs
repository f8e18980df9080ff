//! Server certificates (self-signed, or issued by a lab CA) written to PEM files for the
//! peers.

use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::TempDir;

/// A self-signed server certificate and its key, as PEM files (xrdp reads paths) and in
/// memory. The files live as long as this value.
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    _dir: TempDir,
}

impl CertFiles {
    /// Valid now, for `common_name` and the SAN `localhost` plus 127.0.0.1.
    pub fn normal(common_name: &str) -> CertFiles {
        make_cert(common_name, None)
    }

    /// Like [`CertFiles::normal`] but with basicConstraints CA:TRUE, as `openssl req
    /// -x509` and xrdp's own key generator make host certificates by default.
    pub fn ca_true(common_name: &str) -> CertFiles {
        let key = rcgen::KeyPair::generate().expect("generate key pair");
        let mut params = host_params(common_name, &["localhost", "127.0.0.1"], None);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("self-sign certificate");
        write_files(cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    /// Expired: valid only during 2020.
    pub fn expired(common_name: &str) -> CertFiles {
        make_cert(
            common_name,
            Some((
                rcgen::date_time_ymd(2020, 1, 1),
                rcgen::date_time_ymd(2021, 1, 1),
            )),
        )
    }
}

impl fmt::Debug for CertFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

type Validity = (time::OffsetDateTime, time::OffsetDateTime);

/// Host certificate parameters: `names` as SANs, `common_name` as CN, valid from a day
/// ago for 30 days unless `validity` says otherwise.
fn host_params(
    common_name: &str,
    names: &[&str],
    validity: Option<Validity>,
) -> rcgen::CertificateParams {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    if let Some((not_before, not_after)) = validity {
        params.not_before = not_before;
        params.not_after = not_after;
    } else {
        let now = std::time::SystemTime::now();
        params.not_before = (now - Duration::from_secs(24 * 3600)).into();
        params.not_after = (now + Duration::from_secs(30 * 24 * 3600)).into();
    }
    params
}

/// Writes a certificate and its key as PEM files in a fresh directory.
fn write_files(cert_pem: String, key_pem: String, cert_der: Vec<u8>) -> CertFiles {
    let dir = TempDir::new("cert").expect("temp dir for certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    fs::write(&cert_path, &cert_pem).expect("write cert.pem");
    fs::write(&key_path, &key_pem).expect("write key.pem");
    CertFiles {
        cert: cert_path,
        key: key_path,
        cert_pem,
        key_pem,
        cert_der,
        _dir: dir,
    }
}

fn make_cert(common_name: &str, validity: Option<Validity>) -> CertFiles {
    // ECDSA P-256: the ring backend cannot generate RSA keys. xrdp's TLS and FreeRDP accept
    // it (xrdp's RDP Security keys come from rsakeys.ini, not from this certificate).
    let key = rcgen::KeyPair::generate().expect("generate key pair");
    let params = host_params(common_name, &["localhost", "127.0.0.1"], validity);
    let cert = params.self_signed(&key).expect("self-sign certificate");
    write_files(cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// A certificate authority for the lab, which issues host certificates. Clients and
/// rdptap (`--trust`) can be told to trust it; its certificate is `cert.pem` in `dir`.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA certificate as PEM.
    pub pem: String,
    /// The CA certificate's file.
    pub cert: PathBuf,
    _dir: TempDir,
}

impl TestCa {
    /// A fresh CA named `common_name`.
    pub fn new(common_name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let now = std::time::SystemTime::now();
        params.not_before = (now - Duration::from_secs(24 * 3600)).into();
        params.not_after = (now + Duration::from_secs(365 * 24 * 3600)).into();
        let cert = params.self_signed(&key).expect("self-sign CA");
        let dir = TempDir::new("test-ca").expect("temp dir for CA");
        let path = dir.path().join("cert.pem");
        let pem = cert.pem();
        fs::write(&path, &pem).expect("write CA cert.pem");
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
            cert: path,
            _dir: dir,
        }
    }

    /// A host certificate for `names` (the first is also the CN), issued by this CA,
    /// valid from a day ago for 30 days unless `validity` says otherwise.
    pub fn issue(&self, names: &[&str], validity: Option<Validity>) -> CertFiles {
        let key = rcgen::KeyPair::generate().expect("generate key pair");
        let cn = names.first().copied().unwrap_or("host");
        let mut params = host_params(cn, names, validity);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("issue certificate");
        write_files(cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}
