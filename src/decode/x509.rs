//! What a certificate says, parsed with x509-parser.
//!
//! Parsing is defensive: the DER comes straight off the wire from a host that may be
//! misconfigured or hostile, so every failure is a `String`, never a panic, and any
//! extension we cannot read is simply left out of the summary.

use ring::signature;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The facts about one certificate that matter for diagnosis.
///
/// Read back from JSON, the Unix times are recomputed from the RFC 3339 ones and the
/// DER, which is never written, is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WrittenCert")]
pub struct CertInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses from subjectAltName.
    pub sans: Vec<String>,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// notBefore as seconds since the Unix epoch (for comparisons).
    #[serde(skip)]
    pub not_before_unix: i64,
    /// notAfter as seconds since the Unix epoch (for comparisons).
    #[serde(skip)]
    pub not_after_unix: i64,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
    /// basicConstraints says CA:TRUE (openssl's and xrdp's defaults make such host
    /// certificates). Written only when true, so files from before it read the same.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_ca: bool,
    /// Public key type, e.g. "RSA" or "EC P-256".
    pub key_type: String,
    /// Public key size in bits, when known.
    pub key_bits: Option<u32>,
    /// Signature algorithm name, e.g. "sha256WithRSAEncryption".
    pub signature_algorithm: String,
    /// Extended key usages by name; empty when the extension is absent (any usage).
    pub ekus: Vec<String>,
    /// True when the EKU extension is present.
    pub has_eku_extension: bool,
    /// SHA-256 fingerprint of the DER, hex.
    pub sha256: String,
    /// The DER encoding, kept for chain verification (not written to events).
    #[serde(skip)]
    pub der: Vec<u8>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A [`CertInfo`] as written: every field but the skipped ones.
#[derive(Deserialize)]
struct WrittenCert {
    subject: String,
    issuer: String,
    sans: Vec<String>,
    not_before: String,
    not_after: String,
    self_signed: bool,
    // Event files written before the field existed read back as not a CA.
    #[serde(default)]
    is_ca: bool,
    key_type: String,
    key_bits: Option<u32>,
    signature_algorithm: String,
    ekus: Vec<String>,
    has_eku_extension: bool,
    sha256: String,
}

impl TryFrom<WrittenCert> for CertInfo {
    type Error = String;

    fn try_from(w: WrittenCert) -> Result<CertInfo, String> {
        Ok(CertInfo {
            not_before_unix: unix_of(&w.not_before)?,
            not_after_unix: unix_of(&w.not_after)?,
            subject: w.subject,
            issuer: w.issuer,
            sans: w.sans,
            not_before: w.not_before,
            not_after: w.not_after,
            self_signed: w.self_signed,
            is_ca: w.is_ca,
            key_type: w.key_type,
            key_bits: w.key_bits,
            signature_algorithm: w.signature_algorithm,
            ekus: w.ekus,
            has_eku_extension: w.has_eku_extension,
            sha256: w.sha256,
            der: Vec::new(),
        })
    }
}

/// The Unix time of a time written by [`rfc3339`]: RFC 3339, or `@secs` for the years
/// RFC 3339 cannot hold.
pub fn unix_of(written: &str) -> Result<i64, String> {
    if let Some(secs) = written.strip_prefix('@') {
        return secs
            .parse()
            .map_err(|_| format!("bad Unix time '{written}'"));
    }
    OffsetDateTime::parse(written, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("bad RFC 3339 time '{written}': {e}"))
}

/// EKU OID of Remote Desktop Authentication, which RDP hosts accept instead of serverAuth.
pub const OID_REMOTE_DESKTOP_AUTH: &str = "1.3.6.1.4.1.311.54.1.2";

/// Names by which the host may be addressed, as the certificate lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// True when a subjectAltName extension is present.
    pub has_san: bool,
    /// dNSName entries.
    pub dns: Vec<String>,
    /// iPAddress entries (4 or 16 bytes), as addresses.
    pub ips: Vec<IpAddr>,
    /// Subject commonName values.
    pub common_names: Vec<String>,
}

/// Parses one DER certificate into its diagnostic summary.
pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
    let (_, x) = X509Certificate::from_der(der).map_err(|e| format!("bad certificate: {e}"))?;
    let names = names_of(&x);
    let mut sans: Vec<String> = names.dns.clone();
    sans.extend(names.ips.iter().map(|ip| ip.to_string()));
    let validity = x.validity();
    let nb = validity.not_before.to_datetime();
    let na = validity.not_after.to_datetime();
    let (ekus, has_eku_extension) = ekus_of(&x);
    let (key_type, key_bits) = key_of(&x);
    let subject = x.subject().to_string();
    let issuer = x.issuer().to_string();
    // Names are compared as DER first; the string form catches the same name encoded
    // with different string types, which some certificate generators produce.
    let same_name = x.subject().as_raw() == x.issuer().as_raw() || subject == issuer;
    let self_signed = same_name && signed_by_own_key(&x);
    let is_ca = matches!(x.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    Ok(CertInfo {
        subject,
        issuer,
        sans,
        not_before: rfc3339(nb),
        not_after: rfc3339(na),
        not_before_unix: nb.unix_timestamp(),
        not_after_unix: na.unix_timestamp(),
        self_signed,
        is_ca,
        key_type,
        key_bits,
        signature_algorithm: sig_alg_name(&x.signature_algorithm.algorithm.to_id_string()),
        ekus,
        has_eku_extension,
        sha256: fingerprint(der),
        der: der.to_vec(),
    })
}

/// The subjectAltName entries and subject CNs of a DER certificate, if it parses.
pub fn names(der: &[u8]) -> Option<CertNames> {
    X509Certificate::from_der(der)
        .ok()
        .map(|(_, x)| names_of(&x))
}

/// Colon-separated uppercase SHA-256 of the DER ("AB:CD:..").
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut s = String::with_capacity(digest.as_ref().len() * 3);
    for (i, b) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Formats a time as RFC 3339; years RFC 3339 cannot hold fall back to the Unix time.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| format!("@{}", t.unix_timestamp()))
}

/// Formats Unix seconds as RFC 3339 (UTC).
pub fn rfc3339_unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_else(|_| format!("@{secs}"))
}

fn names_of(x: &X509Certificate<'_>) -> CertNames {
    let mut n = CertNames::default();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        n.has_san = true;
        for g in &san.value.general_names {
            match g {
                GeneralName::DNSName(d) => n.dns.push((*d).to_string()),
                GeneralName::IPAddress(b) => {
                    if let Some(ip) = ip_from_bytes(b) {
                        n.ips.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    for cn in x.subject().iter_common_name() {
        if let Ok(s) = cn.as_str() {
            n.common_names.push(s.to_string());
        }
    }
    n
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// EKU names, and whether the extension is present at all (absent = any usage).
fn ekus_of(x: &X509Certificate<'_>) -> (Vec<String>, bool) {
    let Some(ext) = x
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "2.5.29.37")
    else {
        return (Vec::new(), false);
    };
    let mut names = Vec::new();
    if let ParsedExtension::ExtendedKeyUsage(eku) = ext.parsed_extension() {
        let flags = [
            (eku.any, "anyExtendedKeyUsage"),
            (eku.server_auth, "serverAuth"),
            (eku.client_auth, "clientAuth"),
            (eku.code_signing, "codeSigning"),
            (eku.email_protection, "emailProtection"),
            (eku.time_stamping, "timeStamping"),
            (eku.ocsp_signing, "OCSPSigning"),
        ];
        names.extend(flags.iter().filter(|f| f.0).map(|f| f.1.to_string()));
        for oid in &eku.other {
            let id = oid.to_id_string();
            names.push(match id.as_str() {
                OID_REMOTE_DESKTOP_AUTH => "remoteDesktopAuth".to_string(),
                "1.3.6.1.4.1.311.10.3.12" => "documentSigning".to_string(),
                "1.3.6.1.4.1.311.20.2.2" => "smartcardLogon".to_string(),
                _ => id,
            });
        }
    }
    (names, true)
}

/// The named-curve OID of an EC key (its algorithm parameters), dotted.
fn curve_oid(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<String> {
    spki.algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
}

/// Curve name for a named-curve OID in an EC key's parameters.
fn curve_name(oid: &str) -> Option<(&'static str, u32)> {
    Some(match oid {
        "1.2.840.10045.3.1.7" => ("P-256", 256),
        "1.3.132.0.34" => ("P-384", 384),
        "1.3.132.0.35" => ("P-521", 521),
        "1.3.132.0.10" => ("secp256k1", 256),
        _ => return None,
    })
}

/// Key type and size: RSA modulus bits, EC curve, or the algorithm OID when unknown.
fn key_of(x: &X509Certificate<'_>) -> (String, Option<u32>) {
    let spki = x.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.3.101.112" => return ("Ed25519".to_string(), Some(256)),
        "1.3.101.113" => return ("Ed448".to_string(), Some(456)),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".to_string(), Some(significant_bits(rsa.modulus))),
        Ok(PublicKey::EC(point)) => {
            let curve = curve_oid(spki);
            match curve.as_deref().and_then(curve_name) {
                Some((name, bits)) => (format!("EC {name}"), Some(bits)),
                None => {
                    let bits = point.key_size() as u32;
                    ("EC".to_string(), (bits > 0).then_some(bits))
                }
            }
        }
        Ok(PublicKey::DSA(y)) => ("DSA".to_string(), Some(significant_bits(y))),
        _ => (alg, None),
    }
}

/// Bits in a big-endian unsigned integer, ignoring leading zero bits.
fn significant_bits(n: &[u8]) -> u32 {
    let mut it = n.iter().skip_while(|&&b| b == 0);
    match it.next() {
        None => 0,
        Some(&first) => (8 - first.leading_zeros()) + 8 * it.count() as u32,
    }
}

/// Friendly names for the signature algorithm OIDs seen on certificates.
pub fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-sha256",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => return other.to_string(),
    }
    .to_string()
}

/// Whether the certificate's signature verifies with its own public key.
///
/// Uses ring for the common algorithms. For ones ring cannot check (RSA-PSS, DSA,
/// Ed448) it falls back to the key identifiers: self-issued certificates name their own
/// key in authorityKeyIdentifier, or carry no AKI at all.
fn signed_by_own_key(x: &X509Certificate<'_>) -> bool {
    signed_by_key(x, x.public_key()).unwrap_or_else(|| key_ids_match(x))
}

/// Whether the DER certificate `der` was signed by the key whose SubjectPublicKeyInfo
/// contents (without the SEQUENCE header, as trust anchors keep it) are `spki`. None
/// when either does not parse or ring cannot check the algorithm.
pub fn signed_by(der: &[u8], spki: &[u8]) -> Option<bool> {
    let (_, x) = X509Certificate::from_der(der).ok()?;
    let whole = der_sequence(spki);
    let (_, key) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&whole).ok()?;
    signed_by_key(&x, &key)
}

/// `contents` wrapped in a DER SEQUENCE header.
fn der_sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// Whether `x`'s signature verifies with the key `spki`; None when ring cannot check
/// the algorithm. Not x509-parser's `verify` feature: it refuses RSA keys under 2048
/// bits, which old hosts' self-signed certificates still carry, and would then call
/// their valid signature bad.
fn signed_by_key(
    x: &X509Certificate<'_>,
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Option<bool> {
    let key = spki.subject_public_key.data.as_ref();
    let curve = curve_oid(spki);
    let p384 = curve.as_deref() == Some("1.3.132.0.34");
    let alg: &'static dyn signature::VerificationAlgorithm =
        match x.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.5" => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
            "1.2.840.113549.1.1.13" => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            "1.2.840.10045.4.3.2" if p384 => &signature::ECDSA_P384_SHA256_ASN1,
            "1.2.840.10045.4.3.2" => &signature::ECDSA_P256_SHA256_ASN1,
            "1.2.840.10045.4.3.3" if p384 => &signature::ECDSA_P384_SHA384_ASN1,
            "1.2.840.10045.4.3.3" => &signature::ECDSA_P256_SHA384_ASN1,
            "1.3.101.112" => &signature::ED25519,
            _ => return None,
        };
    Some(
        signature::UnparsedPublicKey::new(alg, key)
            .verify(x.tbs_certificate.as_ref(), &x.signature_value.data)
            .is_ok(),
    )
}

/// The subject and issuer names of a DER certificate, each as the contents of its
/// Name SEQUENCE (the form trust anchors keep), and its SubjectPublicKeyInfo contents.
pub fn raw_names(der: &[u8]) -> Option<RawNames> {
    let (_, x) = X509Certificate::from_der(der).ok()?;
    Some(RawNames {
        subject: der_contents(x.subject().as_raw())?.to_vec(),
        issuer: der_contents(x.issuer().as_raw())?.to_vec(),
        spki: der_contents(x.public_key().raw)?.to_vec(),
    })
}

/// A certificate's names and key as DER contents, for matching against trust anchors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawNames {
    /// The subject Name's contents.
    pub subject: Vec<u8>,
    /// The issuer Name's contents.
    pub issuer: Vec<u8>,
    /// The SubjectPublicKeyInfo's contents.
    pub spki: Vec<u8>,
}

/// The contents of one DER element (its value without tag and length).
fn der_contents(tlv: &[u8]) -> Option<&[u8]> {
    let len_byte = *tlv.get(1)?;
    let (len, start) = if len_byte < 0x80 {
        (usize::from(len_byte), 2)
    } else {
        let n = usize::from(len_byte & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = tlv.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            2 + n,
        )
    };
    tlv.get(start..start.checked_add(len)?)
}

/// True when authorityKeyIdentifier is absent or names the certificate's own key.
fn key_ids_match(x: &X509Certificate<'_>) -> bool {
    let mut aki = None;
    let mut ski = None;
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => aki = Some(a.key_identifier.clone()),
            ParsedExtension::SubjectKeyIdentifier(s) => ski = Some(s.0),
            _ => {}
        }
    }
    match (aki, ski) {
        (None, _) | (Some(None), _) => true,
        (Some(Some(a)), Some(s)) => a.0 == s,
        (Some(Some(_)), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, SanType};

    fn self_signed(params: &CertificateParams) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn parses_a_self_signed_ec_cert() {
        let mut p =
            CertificateParams::new(vec!["lab-host".to_string(), "10.0.0.5".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "lab-host");
        p.not_before = rcgen::date_time_ymd(2025, 1, 2);
        p.not_after = rcgen::date_time_ymd(2026, 10, 2);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 4, 1, 311, 54, 1, 2]),
        ];
        let der = self_signed(&p);
        let c = parse(&der).unwrap();
        assert!(c.subject.contains("CN=lab-host"), "{}", c.subject);
        assert_eq!(c.subject, c.issuer);
        assert_eq!(c.sans, vec!["lab-host".to_string(), "10.0.0.5".into()]);
        assert_eq!(c.not_before, "2025-01-02T00:00:00Z");
        assert_eq!(c.not_after, "2026-10-02T00:00:00Z");
        assert_eq!(c.not_after_unix, 1_790_899_200);
        assert!(c.self_signed);
        assert_eq!(c.key_type, "EC P-256");
        assert_eq!(c.key_bits, Some(256));
        assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
        assert!(c.has_eku_extension);
        assert_eq!(c.ekus, vec!["serverAuth", "remoteDesktopAuth"]);
        assert_eq!(c.sha256.len(), 32 * 3 - 1);
        assert!(c
            .sha256
            .chars()
            .all(|ch| ch == ':' || ch.is_ascii_hexdigit()));
        assert_eq!(c.sha256, c.sha256.to_uppercase());
        assert_eq!(c.der, der);
        let n = names(&der).unwrap();
        assert!(n.has_san);
        assert_eq!(n.common_names, vec!["lab-host"]);
        assert_eq!(n.ips, vec!["10.0.0.5".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn ca_signed_leaf_is_not_self_signed() {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "Lab CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf = CertificateParams::new(vec!["host".to_string()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress("::1".parse().unwrap()));
        let key = KeyPair::generate().unwrap();
        let der = leaf.signed_by(&key, &issuer).unwrap().der().to_vec();
        let c = parse(&der).unwrap();
        assert!(!c.self_signed);
        assert!(!c.has_eku_extension);
        assert!(c.ekus.is_empty());
        assert_eq!(c.sans, vec!["host".to_string(), "::1".into()]);
    }

    #[test]
    fn same_name_but_other_key_is_not_self_signed() {
        // Issuer name equals subject, but a different key signed it.
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name.push(DnType::CommonName, "twin");
        let issuer = Issuer::new(ca.clone(), KeyPair::generate().unwrap());
        let der = ca
            .signed_by(&KeyPair::generate().unwrap(), &issuer)
            .unwrap()
            .der()
            .to_vec();
        let c = parse(&der).unwrap();
        assert_eq!(c.subject, c.issuer);
        assert!(!c.self_signed);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x30, 0x82, 0xff, 0xff, 1, 2, 3]).is_err());
        let der = self_signed(&CertificateParams::default());
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            assert!(parse(&der[..cut]).is_err());
        }
    }

    #[test]
    fn bit_counting() {
        assert_eq!(significant_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(significant_bits(&[0x01, 0xff]), 9);
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(rfc3339_unix(0), "1970-01-01T00:00:00Z");
    }
}
