//! rustls configurations for the two legs rdptap terminates when intercepting.
//!
//! Upstream, rdptap must reach hosts whose certificates a strict client would refuse
//! (self-signed ones are the norm on RDP hosts), and judge the certificate itself
//! afterwards ([`crate::cert::assess`]) so that every problem is named instead of
//! the first one aborting the handshake. So the verifier here accepts any chain, but
//! still checks the handshake signature against the presented key: the session is then
//! at least bound to that certificate.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use std::sync::Arc;

/// The one crypto provider rdptap uses for rustls (ring, as rcgen does), with AES-128-GCM
/// preferred.
///
/// An intercepting relay decrypts and re-encrypts every byte, so it pays for the cipher
/// twice; AES-128-GCM is as safe for this purpose as AES-256-GCM (it is TLS 1.3's
/// mandatory suite) and about a third cheaper. The other suites stay, in ring's order.
pub fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        s if s.as_str().is_some_and(|n| n.starts_with("TLS13")) => 1,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 2,
        _ => 3,
    });
    Arc::new(p)
}

/// Accepts any certificate chain; checks only the handshake signature.
#[derive(Debug)]
struct AcceptAnyChain {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client configuration for rdptap's own TLS to the host.
pub fn upstream_config(key_log: Option<Arc<dyn rustls::KeyLog>>) -> Arc<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap_or_else(|_| {
            // The ring provider supports both versions; this cannot fail, but a
            // default configuration is still better than a panic.
            ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
        });
    let mut cfg = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyChain { provider }))
        .with_no_client_auth();
    if let Some(k) = key_log {
        cfg.key_log = k;
    }
    Arc::new(cfg)
}

/// Always presents the one leaf minted for this connection.
#[derive(Debug)]
struct OneLeaf(Arc<CertifiedKey>);

impl ResolvesServerCert for OneLeaf {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The server configuration for the client's leg, presenting `leaf`.
pub fn client_leg_config(
    leaf: Arc<CertifiedKey>,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
) -> Arc<ServerConfig> {
    let provider = provider();
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(OneLeaf(leaf)));
    // rdptap's order (AES-128-GCM first) decides, not the client's: see `provider`.
    cfg.ignore_client_order = true;
    // RDP clients reconnect with a fresh handshake (auto-reconnect uses its own cookie),
    // so session tickets would only add two records to every handshake.
    cfg.send_tls13_tickets = 0;
    if let Some(k) = key_log {
        cfg.key_log = k;
    }
    Arc::new(cfg)
}

/// True when a client offering these versions and suites can complete a handshake with
/// rustls: TLS 1.2 or 1.3, and one suite the ring provider implements.
pub fn client_offer_is_speakable(versions: &[u16], suites: &[u16]) -> bool {
    let provider = rustls::crypto::ring::default_provider();
    let version_ok = versions.iter().any(|v| *v == 0x0303 || *v == 0x0304);
    let suite_ok = provider
        .cipher_suites
        .iter()
        .any(|s| suites.contains(&u16::from(s.suite())));
    version_ok && suite_ok
}

/// Parses a `--pin` value: a SHA-256 fingerprint as 64 hex digits, colons allowed.
pub fn parse_pin(s: &str) -> Result<[u8; 32], String> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    let hex = hex.strip_prefix("sha256/").unwrap_or(&hex).to_string();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "'{s}' is not a SHA-256 fingerprint: expected 64 hex digits (colons allowed), as `rdptap` prints in the certificate's sha256 field or `openssl x509 -noout -fingerprint -sha256` shows"
        ));
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_or_without_colons() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_pin(&hex).unwrap(), [0xab; 32]);
        let colons: Vec<String> = (0..32).map(|_| "AB".to_string()).collect();
        assert_eq!(parse_pin(&colons.join(":")).unwrap(), [0xab; 32]);
        assert!(parse_pin("abcd").unwrap_err().contains("64 hex digits"));
    }

    #[test]
    fn old_only_clients_are_not_speakable() {
        // TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA only, as an old client offers.
        assert!(!client_offer_is_speakable(&[0x0301], &[0x002f]));
        // TLS 1.2 with ECDHE-RSA-AES128-GCM.
        assert!(client_offer_is_speakable(&[0x0303], &[0xc02f]));
        // TLS 1.2 but CBC suites only.
        assert!(!client_offer_is_speakable(&[0x0303], &[0x002f, 0x0035]));
    }

    #[test]
    fn configs_build() {
        let _ = upstream_config(None);
    }

    #[test]
    fn aes_128_gcm_comes_first() {
        let p = provider();
        assert_eq!(
            p.cipher_suites[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert_eq!(
            p.cipher_suites.len(),
            rustls::crypto::ring::default_provider().cipher_suites.len()
        );
    }
}
