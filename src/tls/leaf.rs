//! Leaf certificates minted on demand by the local CA (or, to mirror an untrusted host,
//! by the per-run untrusted CA), cached.
//!
//! Key generation and signing take a noticeable fraction of a millisecond, far more than a
//! relay should stall for, so minting runs on one worker thread behind a bounded queue: a
//! burst of new names waits its turn instead of taking a blocking thread each. Every later
//! connection for the same leaf reuses it from an LRU cache that never evicts the
//! target's own leaf.

#[cfg(test)]
#[path = "leaf_tests.rs"]
mod tests;

use super::leaf_cache::Lru;
use super::mirror::{eku_purposes, Mirror};
use crate::decode::note::{LeafSigner, Mirrored};
use crate::decode::x509;
use crate::tls::ca::{self, Ca, CaError, CaName};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use time::{Duration, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};

/// How many leaves the cache holds before it forgets the least recently used.
pub const CACHE_CAPACITY: usize = 1024;

/// How many mint requests may wait for the worker; more wait to be queued.
pub const MINT_QUEUE: usize = 64;

/// The longest a leaf is valid; it is also cut short by the CA's own expiry.
pub const LEAF_LIFETIME: Duration = Duration::days(30);

/// A cached leaf is replaced this long before it expires, so no handshake ever gets one
/// that runs out mid-connection.
const RENEW_BEFORE: Duration = Duration::hours(1);

/// How long a leaf that copies the host's dates is reused: its dates never move, but the
/// host may fix its certificate.
const MIRRORED_DATES_FOR: Duration = Duration::hours(1);

/// What a leaf is minted for: the name asked for, and what it reproduces of the host's
/// certificate. Leaves are cached by both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spec {
    /// The name the client asked for (or the target's).
    pub name: CaName,
    /// What it mirrors of the host's certificate.
    pub mirror: Mirror,
}

impl Spec {
    /// A leaf for `name` mirroring `mirror`.
    pub fn new(name: CaName, mirror: Mirror) -> Spec {
        Spec { name, mirror }
    }

    /// A clean leaf for `name` (nothing mirrored).
    pub fn clean(name: CaName) -> Spec {
        Spec::new(name, Mirror::default())
    }
}

/// A minted leaf, ready to present.
pub struct Leaf {
    /// The certificate chain and its key.
    pub key: Arc<CertifiedKey>,
    /// The client leg's configuration presenting it.
    pub config: Arc<ServerConfig>,
    /// What it says, for the events.
    pub shown: Shown,
}

/// What a minted leaf says, for the `leaf_presented` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// Which of rdptap's CAs signed it.
    pub signed_by: LeafSigner,
    /// What of the host's certificate it reproduces.
    pub mirrors: Vec<Mirrored>,
    /// Its subjectAltName entries.
    pub names: Vec<String>,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
}

/// Mints and caches leaf certificates. Cloning is cheap and shares the cache and worker.
#[derive(Clone)]
pub struct LeafMinter {
    core: Arc<Core>,
    /// The worker's queue, started on first use; it stops when the last clone is gone.
    worker: Arc<OnceLock<Option<mpsc::Sender<Job>>>>,
}

/// What the worker and the callers share.
struct Core {
    ca: Ca,
    untrusted: Option<Ca>,
    target: Option<CaName>,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
    cache: Mutex<Lru<Spec, Cached>>,
}

struct Cached {
    leaf: Arc<Leaf>,
    renew_at: OffsetDateTime,
}

/// One request to the worker.
struct Job {
    spec: Spec,
    reply: oneshot::Sender<Result<Arc<Leaf>, CaError>>,
}

impl std::fmt::Debug for LeafMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafMinter")
            .field("ca", &self.core.ca)
            .field("mirroring", &self.core.untrusted.is_some())
            .field("cached", &self.core.lock().len())
            .finish()
    }
}

/// A freshly signed leaf before it is wrapped for rustls.
pub(crate) struct Minted {
    /// The leaf certificate.
    pub cert: rcgen::Certificate,
    /// Its private key.
    pub key: KeyPair,
    /// Its notBefore.
    pub not_before: OffsetDateTime,
    /// Its notAfter.
    pub not_after: OffsetDateTime,
    /// Its subjectAltName entries, as text.
    pub names: Vec<String>,
}

impl LeafMinter {
    /// A minter signing with `ca`, caching up to `CACHE_CAPACITY` leaves.
    pub fn new(ca: Ca) -> LeafMinter {
        LeafMinter::with_capacity(ca, CACHE_CAPACITY)
    }

    /// A minter caching up to `capacity` leaves (at least one).
    pub fn with_capacity(ca: Ca, capacity: usize) -> LeafMinter {
        LeafMinter::build(ca, None, None, None, capacity)
    }

    /// The proxy's minter: the local CA, the per-run untrusted CA when mirroring is on,
    /// the target whose leaf the cache keeps, and the key log every leg writes to.
    pub fn for_proxy(
        ca: Ca,
        untrusted: Option<Ca>,
        target: &str,
        key_log: Option<Arc<dyn rustls::KeyLog>>,
    ) -> LeafMinter {
        LeafMinter::build(
            ca,
            untrusted,
            CaName::parse(target).ok(),
            key_log,
            CACHE_CAPACITY,
        )
    }

    fn build(
        ca: Ca,
        untrusted: Option<Ca>,
        target: Option<CaName>,
        key_log: Option<Arc<dyn rustls::KeyLog>>,
        capacity: usize,
    ) -> LeafMinter {
        LeafMinter {
            core: Arc::new(Core {
                ca,
                untrusted,
                target,
                key_log,
                cache: Mutex::new(Lru::new(capacity)),
            }),
            worker: Arc::new(OnceLock::new()),
        }
    }

    /// The CA clean leaves are signed with.
    pub fn ca(&self) -> &Ca {
        &self.core.ca
    }

    /// True when leaves mirror the host's certificate problems (a per-run untrusted CA
    /// exists to sign the untrusted ones).
    pub fn mirroring(&self) -> bool {
        self.core.untrusted.is_some()
    }

    /// What a leaf should reproduce for a host with these findings and this leaf;
    /// nothing when mirroring is off.
    pub fn plan(
        &self,
        findings: &[crate::cert::CertProblem],
        host_leaf: Option<&x509::CertInfo>,
    ) -> Mirror {
        if !self.mirroring() {
            return Mirror::default();
        }
        Mirror::plan(findings, host_leaf, &self.core.ca)
    }

    /// The name to mint for when the client asked for `asked` (its SNI) of a proxy in
    /// front of `target`: the asked name when rdptap expects it (the target, a loopback
    /// name, or a name inside the local CA's constraints), else the target's. A client
    /// cannot make rdptap mint for names of its choosing, and one that asks for another
    /// name meets the target's certificate, as it would meet the host's.
    pub fn leaf_name(&self, asked: Option<&str>, target: &str) -> String {
        let Some(asked) = asked.filter(|a| !a.is_empty()) else {
            return target.to_string();
        };
        let Ok(name) = CaName::parse(asked) else {
            return target.to_string();
        };
        let ca = &self.core.ca;
        let expected = CaName::parse(target).is_ok_and(|t| t == name)
            || CaName::loopback().contains(&name)
            || (ca.is_constrained() && ca.permits(asked));
        if expected {
            asked.to_string()
        } else {
            target.to_string()
        }
    }

    /// The cached clean leaf for `name` (case-insensitive), if cached and not near expiry.
    pub fn cached(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let spec = Spec::clean(CaName::parse(name).ok()?);
        self.core.cached(&spec).map(|l| Arc::clone(&l.key))
    }

    /// The clean leaf for `name`: from the cache, or minted on the worker and cached.
    pub async fn leaf(&self, name: &str) -> Result<Arc<CertifiedKey>, CaError> {
        let spec = Spec::clean(CaName::parse(name)?);
        Ok(Arc::clone(&self.leaf_for(spec).await?.key))
    }

    /// The leaf for `spec`: from the cache, or minted on the worker and cached. The
    /// worker takes one request at a time from a queue of `MINT_QUEUE`; a caller waits
    /// while the queue is full.
    pub async fn leaf_for(&self, spec: Spec) -> Result<Arc<Leaf>, CaError> {
        if let Some(hit) = self.core.cached(&spec) {
            return Ok(hit);
        }
        let Some(queue) = self.queue() else {
            // No thread could be started: mint here rather than not at all.
            return self.core.mint(&spec);
        };
        let failed = || CaError::TaskFailed {
            name: spec.name.to_string(),
        };
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job {
                spec: spec.clone(),
                reply,
            })
            .await
            .map_err(|_| failed())?;
        answer.await.map_err(|_| failed())?
    }

    /// Mints a clean leaf for `name` now, on the calling thread, and caches it. Fails
    /// when the name is invalid, outside the CA's constraints, or the CA has expired.
    pub fn mint(&self, name: &str) -> Result<Arc<CertifiedKey>, CaError> {
        let spec = Spec::clean(CaName::parse(name)?);
        Ok(Arc::clone(&self.core.mint(&spec)?.key))
    }

    /// Mints the leaf for `spec` now, on the calling thread (or takes it from the cache).
    pub fn mint_spec(&self, spec: &Spec) -> Result<Arc<Leaf>, CaError> {
        self.core.mint(spec)
    }

    /// The worker's queue, starting the worker on first use.
    fn queue(&self) -> Option<&mpsc::Sender<Job>> {
        self.worker
            .get_or_init(|| {
                let (tx, mut rx) = mpsc::channel::<Job>(MINT_QUEUE);
                let core = Arc::clone(&self.core);
                std::thread::Builder::new()
                    .name("rdptap-mint".into())
                    .spawn(move || {
                        // Ends when the last minter (and with it the sender) is gone.
                        while let Some(job) = rx.blocking_recv() {
                            // A queued repeat of a name minted meanwhile is a cache hit.
                            // Should minting ever panic, that request fails and the
                            // worker carries on for the others.
                            let minted =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    core.mint(&job.spec)
                                }))
                                .unwrap_or_else(|_| {
                                    Err(CaError::TaskFailed {
                                        name: job.spec.name.to_string(),
                                    })
                                });
                            let _ = job.reply.send(minted);
                        }
                    })
                    .ok()
                    .map(|_| tx)
            })
            .as_ref()
    }

    #[cfg(test)]
    fn cached_len(&self) -> usize {
        self.core.lock().len()
    }
}

impl Core {
    fn cached(&self, spec: &Spec) -> Option<Arc<Leaf>> {
        let now = OffsetDateTime::now_utc();
        let mut cache = self.lock();
        match cache.get(spec) {
            Some(c) if now < c.renew_at => Some(Arc::clone(&c.leaf)),
            Some(_) => {
                cache.remove(spec);
                None
            }
            None => None,
        }
    }

    fn mint(&self, spec: &Spec) -> Result<Arc<Leaf>, CaError> {
        if let Some(hit) = self.cached(spec) {
            return Ok(hit);
        }
        let (ca, signer) = if spec.mirror.untrusted {
            let ca = self.untrusted.as_ref().ok_or_else(|| CaError::Crypto {
                what: "mirrored certificate",
                detail: "this run has no untrusted CA (mirroring is off)".to_string(),
            })?;
            (ca, LeafSigner::UntrustedCa)
        } else {
            // The local CA signs only names it may carry: mirrored host names were
            // checked when the mirror was planned.
            if spec.mirror.names.is_none() {
                self.ca.check_permits(&spec.name)?;
            }
            (&self.ca, LeafSigner::LocalCa)
        };
        ca.check_current(OffsetDateTime::now_utc())?;
        let minted = sign_spec(ca, spec)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(minted.key.serialize_der()));
        let sign = rustls::crypto::ring::sign::any_supported_type(&key_der).map_err(|e| {
            CaError::Crypto {
                what: "TLS signing key",
                detail: e.to_string(),
            }
        })?;
        let chain = vec![minted.cert.der().clone(), ca.cert_der().clone()];
        let key = Arc::new(CertifiedKey::new(chain, sign));
        let leaf = Arc::new(Leaf {
            config: crate::tls::rustls_cfg::client_leg_config(
                Arc::clone(&key),
                self.key_log.clone(),
            ),
            key,
            shown: Shown {
                signed_by: signer,
                mirrors: spec.mirror.mirrors.clone(),
                names: minted.names.clone(),
                not_before: ca::rfc3339(minted.not_before),
                not_after: ca::rfc3339(minted.not_after),
            },
        });
        let renew_at = if spec.mirror.validity.is_some() {
            OffsetDateTime::now_utc() + MIRRORED_DATES_FOR
        } else {
            minted.not_after - RENEW_BEFORE
        };
        let mut cache = self.lock();
        cache.insert(
            spec.clone(),
            Cached {
                leaf: Arc::clone(&leaf),
                renew_at,
            },
        );
        if self.target.as_ref() == Some(&spec.name) {
            cache.pin(spec.clone());
        }
        Ok(leaf)
    }

    fn lock(&self) -> MutexGuard<'_, Lru<Spec, Cached>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (each operation is one insert or removal), so keep using it.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Signs a clean leaf for `name` with `ca`, without checking the CA's constraints (for
/// tests proving that verifiers enforce them).
#[cfg(test)]
pub(crate) fn sign_leaf(ca: &Ca, name: &CaName) -> Result<Minted, CaError> {
    sign_spec(ca, &Spec::clean(name.clone()))
}

/// Signs the leaf `spec` describes with `ca`: the requested name and the loopback
/// names valid from now, or what it mirrors of the host's certificate.
fn sign_spec(ca: &Ca, spec: &Spec) -> Result<Minted, CaError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(ca::crypto("leaf key"))?;
    let now = ca::now_seconds();
    let (not_before, not_after) = match spec.mirror.validity {
        Some((nb, na)) => (
            OffsetDateTime::from_unix_timestamp(nb).map_err(|e| bad_date(e.to_string()))?,
            OffsetDateTime::from_unix_timestamp(na).map_err(|e| bad_date(e.to_string()))?,
        ),
        None => (
            now - ca::BACKDATE,
            (now + LEAF_LIFETIME).min(ca.not_after()),
        ),
    };

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let (common_name, sans) = match &spec.mirror.names {
        Some(host) => {
            let mut sans: Vec<SanType> = host
                .dns
                .iter()
                .filter_map(|d| d.as_str().try_into().ok().map(SanType::DnsName))
                .collect();
            sans.extend(host.ips.iter().map(|ip| SanType::IpAddress(*ip)));
            let cn = host
                .common_name
                .clone()
                .or_else(|| host.all().into_iter().next())
                .unwrap_or_else(|| "rdptap mirror of a certificate without names".to_string());
            (cn, sans)
        }
        None => {
            // The loopback names let a client that dials the proxy by address still
            // match; the requested name comes first because some tools show only it.
            let mut names: Vec<CaName> = vec![spec.name.clone()];
            for n in CaName::loopback() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            let sans = names
                .iter()
                .map(|n| match n {
                    CaName::Dns(dns) => dns
                        .as_str()
                        .try_into()
                        .map(SanType::DnsName)
                        .map_err(ca::crypto("leaf name")),
                    CaName::Ip(ip) => Ok(SanType::IpAddress(*ip)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            (spec.name.to_string(), sans)
        }
    };
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let names = sans
        .iter()
        .map(|s| match s {
            SanType::DnsName(d) => d.as_str().to_string(),
            SanType::IpAddress(ip) => ip.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = match &spec.mirror.ekus {
        Some(ekus) => eku_purposes(ekus),
        None => vec![ExtendedKeyUsagePurpose::ServerAuth],
    };
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(ca::random_serial()?);
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, ca.issuer())
        .map_err(ca::crypto("leaf certificate"))?;
    Ok(Minted {
        cert,
        key,
        not_before,
        not_after,
        names,
    })
}

fn bad_date(detail: String) -> CaError {
    CaError::Crypto {
        what: "mirrored leaf's dates",
        detail,
    }
}

/// The leaf minter `rdptap proxy --intercept` (and gateway mode) uses, with the
/// target's leaf minted ahead so the first connection does not wait for it. With
/// `mirror`, a per-run untrusted CA is made too, for leaves that mirror an untrusted
/// host certificate.
pub fn minter_for_proxy(
    dir: &std::path::Path,
    target: &str,
    mirror: bool,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
) -> Result<LeafMinter, CaError> {
    let ca = Ca::load(dir)?;
    if ca.days_left() < 3 {
        tracing::warn!(
            "the local CA expires in {} day(s); renew it with `rdptap ca init --ca-dir {} --force` (clients must trust the new one)",
            ca.days_left(),
            ca::shell_path(dir)
        );
    }
    let untrusted = if mirror {
        Some(Ca::untrusted_for_run()?)
    } else {
        None
    };
    let minter = LeafMinter::for_proxy(ca, untrusted, target, key_log);
    if let Err(e) = minter.mint(target) {
        // Clients may still connect by localhost, which every CA permits.
        tracing::warn!("no certificate for {target}: {e}");
    }
    Ok(minter)
}
