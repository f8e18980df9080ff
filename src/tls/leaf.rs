//! Leaf certificates minted on demand by the local CA, cached per name.
//!
//! Key generation and signing take a noticeable fraction of a millisecond, far more than a
//! relay should stall for, so `leaf` mints on the blocking pool and every later connection
//! for the same name reuses the result.

#[cfg(test)]
#[path = "leaf_tests.rs"]
mod tests;

use crate::tls::ca::{self, Ca, CaError, CaName};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

/// How many names the cache holds before it starts forgetting some.
pub const CACHE_CAPACITY: usize = 1024;

/// The longest a leaf is valid; it is also cut short by the CA's own expiry.
pub const LEAF_LIFETIME: Duration = Duration::days(30);

/// A cached leaf is replaced this long before it expires, so no handshake ever gets one
/// that runs out mid-connection.
const RENEW_BEFORE: Duration = Duration::hours(1);

/// Mints and caches leaf certificates signed by the local CA. Cloning is cheap and shares
/// the cache.
#[derive(Clone)]
pub struct LeafMinter {
    shared: Arc<Shared>,
}

struct Shared {
    ca: Ca,
    capacity: usize,
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    key: Arc<CertifiedKey>,
    renew_at: OffsetDateTime,
}

impl std::fmt::Debug for LeafMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafMinter")
            .field("ca", &self.shared.ca)
            .field("cached", &self.lock().len())
            .finish()
    }
}

/// A freshly signed leaf before it is wrapped for rustls.
pub(crate) struct Minted {
    /// The leaf certificate.
    pub cert: rcgen::Certificate,
    /// Its private key.
    pub key: KeyPair,
    /// Its notAfter.
    pub not_after: OffsetDateTime,
}

impl LeafMinter {
    /// A minter signing with `ca`, caching up to `CACHE_CAPACITY` names.
    pub fn new(ca: Ca) -> LeafMinter {
        LeafMinter::with_capacity(ca, CACHE_CAPACITY)
    }

    /// A minter caching up to `capacity` names (at least one).
    pub fn with_capacity(ca: Ca, capacity: usize) -> LeafMinter {
        LeafMinter {
            shared: Arc::new(Shared {
                ca,
                capacity: capacity.max(1),
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The CA leaves are signed with.
    pub fn ca(&self) -> &Ca {
        &self.shared.ca
    }

    /// The cached leaf for `name` (case-insensitive), if one is cached and not near expiry.
    pub fn cached(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let key = CaName::parse(name).ok()?.to_string();
        let now = OffsetDateTime::now_utc();
        self.lock()
            .get(&key)
            .filter(|c| now < c.renew_at)
            .map(|c| Arc::clone(&c.key))
    }

    /// The leaf for `name`: from the cache, or minted on the blocking pool and cached.
    /// Two simultaneous first requests for one name may both mint; the later one wins the
    /// cache slot, and both leaves are equally valid.
    pub async fn leaf(&self, name: &str) -> Result<Arc<CertifiedKey>, CaError> {
        if let Some(hit) = self.cached(name) {
            return Ok(hit);
        }
        let minter = self.clone();
        let owned = name.to_string();
        tokio::task::spawn_blocking(move || minter.mint(&owned))
            .await
            .map_err(|_| CaError::TaskFailed {
                name: name.to_string(),
            })?
    }

    /// Mints a leaf for `name` now, on the calling thread, and caches it. Fails when the
    /// name is invalid, outside the CA's constraints, or the CA has expired.
    pub fn mint(&self, name: &str) -> Result<Arc<CertifiedKey>, CaError> {
        let name = CaName::parse(name)?;
        let ca = &self.shared.ca;
        ca.check_permits(&name)?;
        ca.check_current(OffsetDateTime::now_utc())?;
        let minted = sign_leaf(ca, &name)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(minted.key.serialize_der()));
        let signer = rustls::crypto::ring::sign::any_supported_type(&key_der).map_err(|e| {
            CaError::Crypto {
                what: "TLS signing key",
                detail: e.to_string(),
            }
        })?;
        let chain = vec![minted.cert.der().clone(), ca.cert_der().clone()];
        let certified = Arc::new(CertifiedKey::new(chain, signer));
        self.insert(
            name.to_string(),
            Cached {
                key: Arc::clone(&certified),
                renew_at: minted.not_after - RENEW_BEFORE,
            },
        );
        Ok(certified)
    }

    fn insert(&self, key: String, entry: Cached) {
        let mut cache = self.lock();
        if cache.len() >= self.shared.capacity && !cache.contains_key(&key) {
            let now = OffsetDateTime::now_utc();
            cache.retain(|_, c| now < c.renew_at);
            // Still full: any victim will do. Re-minting a forgotten name costs about a
            // millisecond, so a smarter policy would not pay for itself.
            if cache.len() >= self.shared.capacity {
                if let Some(victim) = cache.keys().next().cloned() {
                    cache.remove(&victim);
                }
            }
        }
        cache.insert(key, entry);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (each operation is one insert or removal), so keep using it.
        self.shared
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn cached_len(&self) -> usize {
        self.lock().len()
    }
}

/// Signs a leaf for `name` with `ca`, without checking the CA's constraints (callers do,
/// except tests proving that verifiers enforce them).
pub(crate) fn sign_leaf(ca: &Ca, name: &CaName) -> Result<Minted, CaError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(ca::crypto("leaf key"))?;
    let now = ca::now_seconds();
    let not_after = (now + LEAF_LIFETIME).min(ca.not_after());

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name.to_string());
    params.distinguished_name = dn;
    // The loopback names let a client that dials the proxy by address still match the
    // certificate; the requested name comes first because some tools show only the first.
    let mut sans: Vec<CaName> = vec![name.clone()];
    for n in CaName::loopback() {
        if !sans.contains(&n) {
            sans.push(n);
        }
    }
    params.subject_alt_names = sans
        .iter()
        .map(|n| match n {
            CaName::Dns(dns) => dns
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(ca::crypto("leaf name")),
            CaName::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - ca::BACKDATE;
    params.not_after = not_after;
    params.serial_number = Some(ca::random_serial()?);
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, ca.issuer())
        .map_err(ca::crypto("leaf certificate"))?;
    Ok(Minted {
        cert,
        key,
        not_after,
    })
}

/// The leaf minter `rdptap proxy --intercept` (and `--gateway`) uses, with the target's
/// leaf minted ahead so the first connection does not wait for it.
pub fn minter_for_proxy(dir: &std::path::Path, target: &str) -> Result<LeafMinter, ca::CaError> {
    let ca = Ca::load(dir)?;
    if ca.days_left() < 3 {
        tracing::warn!(
            "the local CA expires in {} day(s); renew it with `rdptap ca init --ca-dir {} --force` (clients must trust the new one)",
            ca.days_left(),
            ca::shell_path(dir)
        );
    }
    let minter = LeafMinter::new(ca);
    if let Err(e) = minter.mint(target) {
        // Clients may still connect by localhost, which every CA permits.
        tracing::warn!("no certificate for {target}: {e}");
    }
    Ok(minter)
}
