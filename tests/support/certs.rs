//! Self-signed server certificates written to PEM files for the peers.

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

fn make_cert(common_name: &str, validity: Option<Validity>) -> CertFiles {
    // ECDSA P-256: the ring backend cannot generate RSA keys. xrdp's TLS and FreeRDP accept
    // it (xrdp's RDP Security keys come from rsakeys.ini, not from this certificate).
    let key = rcgen::KeyPair::generate().expect("generate key pair");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
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
    let cert = params.self_signed(&key).expect("self-sign certificate");
    let dir = TempDir::new("cert").expect("temp dir for certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let cert_pem = cert.pem();
    let key_pem = key.serialize_pem();
    fs::write(&cert_path, &cert_pem).expect("write cert.pem");
    fs::write(&key_path, &key_pem).expect("write key.pem");
    CertFiles {
        cert: cert_path,
        key: key_path,
        cert_pem,
        key_pem,
        cert_der: cert.der().to_vec(),
        _dir: dir,
    }
}
