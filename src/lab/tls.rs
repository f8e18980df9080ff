//! The lab gateway's TLS: a leaf from the local CA, or on request a deliberately bad
//! certificate, so clients' certificate errors can be reproduced on purpose.

use crate::tls::ca::{self, Ca};
use crate::tls::leaf::LeafMinter;
use crate::tls::rustls_cfg;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use time::Duration;

/// Which bad certificate `--fail cert=…` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadCert {
    /// Signed by the local CA, but notAfter is in the past.
    Expired,
    /// Signed by the local CA for a name the client did not dial.
    WrongName,
    /// Not from the CA at all: signed by its own key.
    SelfSigned,
}

impl BadCert {
    /// The accepted `cert=` values.
    pub const VALUES: &'static [&'static str] = &["expired", "wrong-name", "self-signed"];

    /// Parses a `cert=` value.
    pub fn parse(s: &str) -> Option<BadCert> {
        match s {
            "expired" => Some(BadCert::Expired),
            "wrong-name" => Some(BadCert::WrongName),
            "self-signed" => Some(BadCert::SelfSigned),
            _ => None,
        }
    }
}

impl fmt::Display for BadCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadCert::Expired => "an expired certificate from the local CA",
            BadCert::WrongName => "a certificate from the local CA for another name",
            BadCert::SelfSigned => "a self-signed certificate",
        })
    }
}

/// The name a [`BadCert::WrongName`] certificate is issued to.
pub const WRONG_NAME: &str = "not-this-gateway.rdptap.invalid";

/// The server configuration: a leaf for `name` from the CA in `ca_dir`, or the bad
/// certificate `bad` asks for.
pub fn server_config(
    ca_dir: &Path,
    name: &str,
    bad: Option<BadCert>,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
) -> Result<Arc<ServerConfig>, String> {
    let load = || {
        Ca::load(ca_dir)
            .map_err(|e| format!("the lab gateway's TLS certificate comes from the local CA: {e}"))
    };
    let key = match bad {
        None => {
            let minter = LeafMinter::new(load()?);
            minter
                .mint(name)
                .map_err(|e| format!("cannot issue a certificate for {name}: {e}"))?
        }
        Some(BadCert::SelfSigned) => bad_leaf(None, &[name], false)?,
        Some(BadCert::Expired) => bad_leaf(Some(&load()?), &[name], true)?,
        Some(BadCert::WrongName) => bad_leaf(Some(&load()?), &[WRONG_NAME], false)?,
    };
    Ok(rustls_cfg::client_leg_config(key, key_log))
}

/// A leaf for `names` (plus the loopback names unless it is the wrong-name leaf), signed
/// by `ca` or by itself, and expired when asked.
fn bad_leaf(ca: Option<&Ca>, names: &[&str], expired: bool) -> Result<Arc<CertifiedKey>, String> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(err("a key"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.first().copied().unwrap_or("lab"));
    params.distinguished_name = dn;
    let mut sans = Vec::new();
    for n in names {
        sans.push(san(n)?);
    }
    if names != [WRONG_NAME] {
        for ip in [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ] {
            if !sans.contains(&SanType::IpAddress(ip)) {
                sans.push(SanType::IpAddress(ip));
            }
        }
        let localhost = san("localhost")?;
        if !sans.contains(&localhost) {
            sans.push(localhost);
        }
    }
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = ca::now_seconds();
    if expired {
        params.not_before = now - Duration::days(30);
        params.not_after = now - Duration::days(1);
    } else {
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(30);
    }
    params.serial_number = Some(ca::random_serial().map_err(|e| e.to_string())?);
    let (cert, chain_tail): (rcgen::Certificate, Vec<CertificateDer<'static>>) = match ca {
        Some(ca) => {
            params.use_authority_key_identifier_extension = true;
            let cert = params
                .signed_by(&key, ca.issuer())
                .map_err(err("a certificate"))?;
            (cert, vec![ca.cert_der().clone()])
        }
        None => (
            params.self_signed(&key).map_err(err("a certificate"))?,
            Vec::new(),
        ),
    };
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signer = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| format!("cannot use the certificate's key: {e}"))?;
    let mut chain = vec![cert.der().clone()];
    chain.extend(chain_tail);
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

fn err(what: &'static str) -> impl Fn(rcgen::Error) -> String {
    move |e| format!("cannot make {what}: {e}")
}

fn san(name: &str) -> Result<SanType, String> {
    match name.parse::<IpAddr>() {
        Ok(ip) => Ok(SanType::IpAddress(ip)),
        Err(_) => name
            .try_into()
            .map(SanType::DnsName)
            .map_err(|e| format!("{name:?} cannot be a certificate name: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    fn leaf_of(k: &CertifiedKey) -> X509Certificate<'_> {
        X509Certificate::from_der(k.cert[0].as_ref()).unwrap().1
    }

    #[test]
    fn bad_certs_are_bad_in_the_intended_way() {
        let dir = std::env::temp_dir().join(format!("rdptap-lab-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = Ca::init(&dir, &[], 2, false).unwrap();

        let expired = bad_leaf(Some(&ca), &["127.0.0.1"], true).unwrap();
        let x = leaf_of(&expired);
        assert!(!x.validity().is_valid());
        assert_eq!(
            x.issuer(),
            X509Certificate::from_der(ca.cert_der())
                .unwrap()
                .1
                .subject()
        );
        assert_eq!(expired.cert.len(), 2);

        let wrong = bad_leaf(Some(&ca), &[WRONG_NAME], false).unwrap();
        let x = leaf_of(&wrong);
        assert!(x.validity().is_valid());
        let sans = x.subject_alternative_name().unwrap().unwrap();
        assert_eq!(sans.value.general_names.len(), 1);

        let own = bad_leaf(None, &["127.0.0.1"], false).unwrap();
        let x = leaf_of(&own);
        assert_eq!(x.issuer(), x.subject());
        assert_eq!(own.cert.len(), 1);

        assert!(server_config(&dir, "127.0.0.1", None, None).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cert_values_parse() {
        assert_eq!(BadCert::parse("expired"), Some(BadCert::Expired));
        assert_eq!(BadCert::parse("self-signed"), Some(BadCert::SelfSigned));
        assert_eq!(BadCert::parse("revoked"), None);
    }
}
