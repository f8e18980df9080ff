//! TLS interception in direct mode (`--intercept`): rdptap relays the X.224 exchange,
//! and when the host selects plain TLS it completes its own TLS handshake with the host
//! first, then answers the client with a certificate from the local CA, and relays the
//! plaintext between the two legs so the decoders see MCS, licensing and the rest.
//!
//! Interception must never break a session that works without rdptap, so every doubt
//! ends in relaying the client's own bytes untouched: NLA (CredSSP binds the host's TLS
//! key), a client or host whose TLS rustls cannot speak, or a failed handshake upstream
//! (then a fresh connection replays the client's Connection Request).

pub mod client_leg;
pub mod downgrade;
pub mod frames;
pub mod held;
pub mod plain_pump;
pub mod prefixed;
pub mod tap;
mod upstream;
mod wire;

use crate::cert::CertProblem;
use crate::decode::names::Protocols;
use crate::decode::note::{NotIntercepted, Note};
use crate::decode::x509::CertInfo;
use crate::relay::{relay_after, Endpoint, Observer, RelayOptions, Resolver};
use crate::tls::leaf::LeafMinter;
use crate::vocab::Dir;
use crate::vocab::{EndKind, StreamEnd};
use bytes::Bytes;
use client_leg::ClientCtx;
use frames::{read_first, Expect, Read};
use held::Gate;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// What to do when the host selects NLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NlaPolicy {
    /// Relay the connection untouched (NLA works, nothing inside TLS is seen).
    #[default]
    Passthrough,
    /// Lab only: remove NLA from the client's request so the session can be intercepted.
    Downgrade,
}

/// Settings and caches shared by every intercepted connection.
pub struct InterceptCtx {
    /// Mints the certificates shown to clients.
    pub minter: Arc<LeafMinter>,
    /// rdptap's TLS client configuration towards hosts.
    pub upstream: Arc<rustls::ClientConfig>,
    /// The key log both legs write to, if any.
    pub key_log: Option<Arc<dyn rustls::KeyLog>>,
    /// The NLA policy.
    pub nla: NlaPolicy,
    /// Refuse hosts whose certificate has any finding.
    pub strict: bool,
    /// The expected SHA-256 of the host's leaf certificate.
    pub pin: Option<[u8; 32]>,
    /// Roots for judging the host's certificate (system plus --trust).
    pub roots: Arc<rustls::RootCertStore>,
    /// How long each TLS handshake may take.
    pub handshake_timeout: Duration,
    server_configs: Mutex<HashMap<String, Arc<ServerConfig>>>,
    judged: Mutex<HashMap<(String, [u8; 32]), Judged>>,
}

/// A host certificate chain already judged, with when.
#[derive(Clone)]
struct Judged {
    at: std::time::Instant,
    chain: Vec<CertInfo>,
    findings: Vec<CertProblem>,
    pin_matched: Option<bool>,
}

/// How long a chain's judgement is reused: parsing and verifying it costs more than a
/// resumed handshake, and expiry only moves by this much.
const JUDGED_FOR: Duration = Duration::from_secs(60);

/// The most server configurations kept (one per name a client asked for).
const MAX_CONFIGS: usize = 1024;

impl InterceptCtx {
    /// Shared interception settings.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        minter: Arc<LeafMinter>,
        key_log: Option<Arc<dyn rustls::KeyLog>>,
        nla: NlaPolicy,
        strict: bool,
        pin: Option<[u8; 32]>,
        roots: Arc<rustls::RootCertStore>,
        handshake_timeout: Duration,
    ) -> Self {
        InterceptCtx {
            minter,
            upstream: crate::tls::rustls_cfg::upstream_config(key_log.clone()),
            key_log,
            nla,
            strict,
            pin,
            roots,
            handshake_timeout,
            server_configs: Mutex::new(HashMap::new()),
            judged: Mutex::new(HashMap::new()),
        }
    }

    /// The host's chain parsed and judged for `target` (and `--pin`), cached briefly.
    fn judge(
        &self,
        chain_der: &[&[u8]],
        target: &str,
    ) -> (Vec<CertInfo>, Vec<CertProblem>, Option<bool>) {
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        for d in chain_der {
            h.update(&(d.len() as u32).to_be_bytes());
            h.update(d);
        }
        let mut key_hash = [0u8; 32];
        key_hash.copy_from_slice(h.finish().as_ref());
        let key = (target.to_ascii_lowercase(), key_hash);
        {
            let map = self.judged.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(j) = map.get(&key).filter(|j| j.at.elapsed() < JUDGED_FOR) {
                return (j.chain.clone(), j.findings.clone(), j.pin_matched);
            }
        }
        let chain: Vec<CertInfo> = chain_der
            .iter()
            .filter_map(|d| crate::decode::x509::parse(d).ok())
            .collect();
        let pin_matched = self.pin.map(|p| {
            chain_der
                .first()
                .is_some_and(|l| ring::digest::digest(&ring::digest::SHA256, l).as_ref() == p)
        });
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let findings = crate::cert::judge(&chain, target, now, &self.roots, pin_matched);
        let mut map = self.judged.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= 256 {
            map.clear();
        }
        map.insert(
            key,
            Judged {
                at: std::time::Instant::now(),
                chain: chain.clone(),
                findings: findings.clone(),
                pin_matched,
            },
        );
        (chain, findings, pin_matched)
    }

    /// The client-leg configuration for `name`, minting its leaf off the relay's path.
    async fn server_config(&self, name: &str) -> Result<Arc<ServerConfig>, String> {
        let key = name.to_ascii_lowercase();
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let leaf = self.minter.leaf(name).await.map_err(|e| e.to_string())?;
        let cfg = crate::tls::rustls_cfg::client_leg_config(leaf, self.key_log.clone());
        let mut map = self.lock();
        if map.len() >= MAX_CONFIGS {
            map.clear();
        }
        map.insert(key, cfg.clone());
        Ok(cfg)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ServerConfig>>> {
        self.server_configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// How to open a fresh connection to the host, for the passthrough fallback.
#[derive(Clone)]
pub struct Redial {
    /// What to dial.
    pub endpoint: Endpoint,
    /// How names resolve.
    pub resolver: Arc<dyn Resolver>,
    /// Connect timeout.
    pub timeout: Duration,
}

/// One accepted connection, already connected upstream.
pub struct Conn {
    /// The client's socket.
    pub client: TcpStream,
    /// The host's socket.
    pub server: TcpStream,
    /// Sees bytes, plaintext and notes.
    pub observer: Arc<dyn Observer>,
    /// Linger and idle timers.
    pub opts: RelayOptions,
    /// rdptap is stopping.
    pub shutdown: watch::Receiver<bool>,
    /// When the client was accepted.
    pub started: Instant,
    /// The host's name, for SNI and the certificate checks.
    pub target_name: String,
    /// For the fallback connection.
    pub redial: Redial,
}

/// Bytes already relayed per direction, and the parts of the connection in hand.
struct Pre {
    obs: Arc<dyn Observer>,
    opts: RelayOptions,
    shutdown: watch::Receiver<bool>,
    started: Instant,
    sent: [u64; 2],
}

impl Pre {
    /// Shows `bytes` to the observer and writes them on; errors surface in the relay.
    async fn forward(&mut self, dir: Dir, bytes: &Bytes, to: &mut TcpStream, observe: bool) {
        if bytes.is_empty() {
            return;
        }
        if observe {
            self.obs.on_data(dir, bytes);
        }
        self.sent[dir.idx()] += bytes.len() as u64;
        let _ = to.write_all(bytes).await;
    }

    /// Relays the rest untouched.
    async fn relay(self, client: TcpStream, server: TcpStream) -> [StreamEnd; 2] {
        relay_after(
            client,
            server,
            self.obs,
            self.opts,
            self.shutdown,
            self.started,
            self.sent,
        )
        .await
    }

    fn note(&self, n: Note) {
        self.obs.on_note(&n);
    }

    /// Ends both directions when rdptap itself gives up before relaying.
    fn ended(&self, c2s: EndKind, s2c: EndKind) -> [StreamEnd; 2] {
        let after = self.started.elapsed();
        let c = StreamEnd {
            kind: c2s,
            after,
            bytes: self.sent[0],
        };
        let s = StreamEnd {
            kind: s2c,
            after,
            bytes: self.sent[1],
        };
        self.obs.on_end(Dir::C2S, &c);
        self.obs.on_end(Dir::S2C, &s);
        [c, s]
    }
}

/// Relays one connection, intercepting its TLS when that is safe.
pub async fn run(ctx: Arc<InterceptCtx>, conn: Conn) -> [StreamEnd; 2] {
    let Conn {
        mut client,
        mut server,
        observer,
        opts,
        shutdown,
        started,
        target_name,
        redial,
    } = conn;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut pre = Pre {
        obs: observer,
        opts,
        shutdown,
        started,
        sent: [0, 0],
    };
    let wait = opts.idle_timeout;
    let first_by = opts.first_byte.map(|d| started + d);

    // The client's Connection Request.
    let cr = match read_first(&mut client, Expect::Tpkt, wait, first_by, &mut pre.shutdown).await {
        Read::Whole { msg, rest } if rest.is_empty() => msg,
        other => {
            if matches!(other, Read::Unexpected(_) | Read::Whole { .. }) {
                pre.note(Note::NotIntercepted {
                    reason: NotIntercepted::UnusualStart,
                });
            }
            let b = read_bytes(other);
            pre.forward(Dir::C2S, &b, &mut server, true).await;
            return pre.relay(client, server).await;
        }
    };
    let (cr, original) = match ctx.nla {
        NlaPolicy::Downgrade => match downgrade::strip_nla(&cr) {
            Some((f, requested, sent)) => {
                pre.note(Note::NlaDowngraded { requested, sent });
                (f, Some(requested))
            }
            None => (cr, None),
        },
        NlaPolicy::Passthrough => (cr, None),
    };
    pre.forward(Dir::C2S, &cr, &mut server, true).await;

    // The host's Connection Confirm.
    let cc = match read_first(&mut server, Expect::Tpkt, wait, None, &mut pre.shutdown).await {
        Read::Whole { msg, rest } if rest.is_empty() => msg,
        other => {
            let b = read_bytes(other);
            pre.forward(Dir::S2C, &b, &mut client, true).await;
            return pre.relay(client, server).await;
        }
    };
    pre.forward(Dir::S2C, &cc, &mut client, true).await;
    let why_not = match upstream::selected_protocol(&cc) {
        Some(p) if p == Protocols::SSL => None,
        Some(p) if p.is_nla() => Some(NotIntercepted::NlaPassthrough),
        Some(p) if p == Protocols::RDP => Some(NotIntercepted::RdpSecurity),
        Some(_) => Some(NotIntercepted::OtherProtocol),
        None => Some(NotIntercepted::NegotiationFailed),
    };
    if let Some(reason) = why_not {
        pre.note(Note::NotIntercepted { reason });
        return pre.relay(client, server).await;
    }

    tls_legs(&ctx, pre, client, server, cr, original, target_name, redial).await
}

/// Relays a connection that starts with TLS (an RD Gateway's HTTPS), intercepting it:
/// rdptap's own handshake with `target_name` first, then the client's with a leaf for the
/// name the client asked for, then plaintext. When rdptap cannot speak the upstream TLS,
/// the client's own TLS goes untouched to a fresh connection.
pub async fn run_tls(ctx: Arc<InterceptCtx>, conn: Conn) -> [StreamEnd; 2] {
    let Conn {
        client,
        server,
        observer,
        opts,
        shutdown,
        started,
        target_name,
        redial,
    } = conn;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let pre = Pre {
        obs: observer,
        opts,
        shutdown,
        started,
        sent: [0, 0],
    };
    tls_legs(
        &ctx,
        pre,
        client,
        server,
        Bytes::new(),
        None,
        target_name,
        redial,
    )
    .await
}

/// The TLS part shared by direct interception (after X.224) and gateway mode.
#[allow(clippy::too_many_arguments)]
async fn tls_legs(
    ctx: &InterceptCtx,
    pre: Pre,
    client: TcpStream,
    server: TcpStream,
    cr: Bytes,
    original: Option<Protocols>,
    target_name: String,
    redial: Redial,
) -> [StreamEnd; 2] {
    let mut hs = upstream::Handshake {
        cr,
        ch: Bytes::new(),
        ch_len: 0,
        ch_on_wire: false,
        hello: upstream::Hello::default(),
        original,
        target_name,
        redial,
    };
    // rdptap's own handshake with the host runs while the client sends its ClientHello
    // and rdptap computes its answer; the answer goes out only once the host's side has
    // succeeded (and passed --strict-upstream), so the two handshakes overlap instead of
    // adding up.
    let gate = Gate::new();
    let target = hs.target_name.clone();
    let (shutdown, obs) = (pre.shutdown.clone(), pre.obs.clone());
    let host = async {
        let up = upstream::connect(ctx, server, &target, shutdown, obs).await;
        let judged = upstream::judge(ctx, &up, &target);
        match &judged {
            Some(j) if !ctx.strict || j.findings.is_empty() => gate.open(),
            _ => gate.shut(),
        }
        (up, judged)
    };
    let client_side = client_leg::answer(
        ClientCtx {
            ctx,
            obs: pre.obs.clone(),
            wait: pre.opts.idle_timeout,
            // Only a connection that starts with TLS (gateway mode) waits for the
            // client's first byte here; in direct mode it sent its request already.
            first_by: (pre.sent[0] == 0)
                .then(|| pre.opts.first_byte.map(|d| pre.started + d))
                .flatten(),
            shutdown: pre.shutdown.clone(),
            gate: gate.clone(),
        },
        client,
        &mut hs,
    );
    let ((up, judged), side) = tokio::join!(host, client_side);
    upstream::intercept(ctx, pre, up, judged, side, hs).await
}

/// Everything a read returned, as one buffer.
fn read_bytes(r: Read) -> Bytes {
    match r {
        Read::Whole { msg, rest } => {
            let mut v = msg.to_vec();
            v.extend_from_slice(&rest);
            Bytes::from(v)
        }
        Read::Unexpected(b) | Read::Stopped(b) => b,
    }
}
