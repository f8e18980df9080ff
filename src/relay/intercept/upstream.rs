//! The two TLS handshakes of an intercepted connection (the host's first), the
//! passthrough fallback, and the plaintext relay that follows.

use super::client_leg::ClientSide;
use super::downgrade::Restore;
use super::plain_pump::{self, PlainCtx, Side};
use super::prefixed::Prefixed;
use super::tap::Tap;
use super::wire::Wire;
use super::{InterceptCtx, Pre, Redial};
use crate::cert::CertProblem;
use crate::decode::names::Protocols;
use crate::decode::note::{LegTls, NotIntercepted, Note};
use crate::decode::tls::names::{AlertDescription, CipherSuite, TlsVersion};
use crate::decode::tls::{TlsDecoder, TlsEvent};
use crate::decode::x224::{self, Tpdu, X224Event};
use crate::decode::x509::CertInfo;
use crate::relay::timers::Timers;
use crate::vocab::Dir;
use crate::vocab::Leg;
use crate::vocab::{EndKind, StreamEnd};
use bytes::Bytes;
use rustls::pki_types::ServerName;
use std::io;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// What the client offered in its ClientHello.
#[derive(Debug, Default)]
pub struct Hello {
    /// server_name, if any.
    pub sni: Option<String>,
    /// Offered versions.
    pub versions: Vec<u16>,
    /// Offered suites.
    pub suites: Vec<u16>,
}

/// Everything the handshake step needs from the negotiation step.
pub struct Handshake {
    /// The Connection Request as sent to the host (replayed by the fallback).
    pub cr: Bytes,
    /// The client's ClientHello records.
    pub ch: Bytes,
    /// Their length.
    pub ch_len: u64,
    /// The ClientHello is already in the trace's client leg.
    pub ch_on_wire: bool,
    /// What they offer.
    pub hello: Hello,
    /// The client's original requestedProtocols, when `--nla downgrade` changed them.
    pub original: Option<Protocols>,
    /// The host's name.
    pub target_name: String,
    /// For the fallback connection.
    pub redial: Redial,
}

/// The protocol a Connection Confirm selects; None for a negotiation failure.
pub fn selected_protocol(frame: &[u8]) -> Option<Protocols> {
    match x224::decode_tpdu(frame) {
        Ok(Tpdu::Event(X224Event::ConnectionConfirm {
            selected_protocol, ..
        })) => Some(selected_protocol.unwrap_or(Protocols::RDP)),
        _ => None,
    }
}

/// Reads the offer out of ClientHello records with the passive decoder. Only the first
/// [`crate::decode::tls::MAX_LISTED_SUITES`] suites are read: when rustls speaks none of
/// them the connection is relayed untouched, which is safe, if not intercepted.
pub fn hello_of(ch: &[u8]) -> Hello {
    let mut dec = TlsDecoder::new();
    let mut evs = Vec::new();
    let _ = dec.feed(Dir::C2S, ch, &mut evs);
    for e in evs {
        if let TlsEvent::ClientHello {
            versions,
            cipher_suites,
            sni,
            ..
        } = e
        {
            return Hello {
                sni,
                versions: versions.iter().map(|v| v.0).collect(),
                suites: cipher_suites.iter().map(|c| c.0).collect(),
            };
        }
    }
    Hello::default()
}

/// What the host's handshake reply said, decoded from the bytes it sent.
fn host_reply(seen: &[u8]) -> (Option<AlertDescription>, Option<String>) {
    let mut dec = TlsDecoder::new();
    let mut evs = Vec::new();
    let _ = dec.feed(Dir::S2C, seen, &mut evs);
    let mut alert = None;
    let mut said = None;
    for e in evs {
        match e {
            TlsEvent::ServerHello {
                version,
                cipher_suite,
                ..
            } => {
                said = Some(format!(
                    "the host answered with {version} and {cipher_suite}"
                ))
            }
            TlsEvent::Alert { description, .. } if alert.is_none() => alert = Some(description),
            _ => {}
        }
    }
    (alert, said)
}

/// Names a failed rustls handshake.
fn failure_text(e: &io::Error, who: &str) -> (Option<AlertDescription>, String) {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => {
            let d = AlertDescription(u8::from(*a));
            (Some(d), format!("{who} sent the TLS alert {d}"))
        }
        Some(t) => (None, format!("TLS: {t}")),
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof => (None, format!("{who} closed the connection")),
            io::ErrorKind::TimedOut => (None, "the handshake timed out".to_string()),
            _ if plain_pump::is_reset(e) => (None, format!("{who} reset the connection")),
            _ => (None, e.to_string()),
        },
    }
}

fn server_name(target: &str, peer: Option<std::net::IpAddr>) -> ServerName<'static> {
    let t = target.trim_start_matches('[').trim_end_matches(']');
    match ServerName::try_from(t.to_string()) {
        Ok(n) => n,
        // A name rustls cannot put in SNI: send none, as for an address.
        Err(_) => ServerName::IpAddress(
            peer.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
                .into(),
        ),
    }
}

/// rdptap's own TLS connection to the host, or why there is none.
pub enum Upstream {
    /// The handshake completed.
    Up {
        /// The connection.
        tls: Box<tokio_rustls::client::TlsStream<Tap<Wire<TcpStream>>>>,
        /// Handshake time.
        ms: f64,
        /// The SNI sent.
        sni: Option<String>,
    },
    /// The handshake failed.
    Failed {
        /// The error.
        error: io::Error,
        /// What the host sent, for naming its reply.
        seen: Arc<std::sync::Mutex<Vec<u8>>>,
    },
    /// rdptap is stopping.
    Stopped,
}

/// rdptap's TLS handshake with the host. It runs while the client is still sending its
/// ClientHello, so the two legs' handshakes overlap instead of adding up.
pub async fn connect(
    ctx: &InterceptCtx,
    server: TcpStream,
    target: &str,
    mut shutdown: watch::Receiver<bool>,
    obs: Arc<dyn crate::relay::Observer>,
) -> Upstream {
    let peer_ip = server.peer_addr().ok().map(|a| a.ip());
    let (tapped, seen) = Tap::new(Wire::new(server, obs, Leg::Upstream));
    let t0 = Instant::now();
    let connector = TlsConnector::from(ctx.upstream.clone());
    let name = server_name(target, peer_ip);
    let sni = match &name {
        ServerName::DnsName(d) => Some(d.as_ref().to_string()),
        _ => None,
    };
    let handshake = tokio::time::timeout(ctx.handshake_timeout, connector.connect(name, tapped));
    tokio::select! {
        biased;
        _ = shutdown.changed() => Upstream::Stopped,
        r = handshake => match r {
            Ok(Ok(tls)) => Upstream::Up { tls: Box::new(tls), ms: ms(t0), sni },
            Ok(Err(error)) => Upstream::Failed { error, seen },
            Err(_) => Upstream::Failed {
                error: io::Error::new(io::ErrorKind::TimedOut, "the handshake timed out"),
                seen,
            },
        },
    }
}

/// The host's certificate chain, judged for the target name (and `--pin`).
pub struct Judgement {
    /// The chain, parsed.
    pub chain: Vec<CertInfo>,
    /// What is wrong with it.
    pub findings: Vec<CertProblem>,
    /// Whether it matched `--pin`, when one is set.
    pub pin_matched: Option<bool>,
}

/// Judges the host's chain when its handshake succeeded.
pub fn judge(ctx: &InterceptCtx, up: &Upstream, target: &str) -> Option<Judgement> {
    let Upstream::Up { tls, .. } = up else {
        return None;
    };
    let chain_der: Vec<&[u8]> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.as_ref()).collect())
        .unwrap_or_default();
    let (chain, findings, pin_matched) = ctx.judge(&chain_der, target);
    Some(Judgement {
        chain,
        findings,
        pin_matched,
    })
}

/// With both sides done: the plaintext relay, or the fallback, or the end.
pub async fn intercept(
    ctx: &InterceptCtx,
    mut pre: Pre,
    up: Upstream,
    judged: Option<Judgement>,
    side: ClientSide,
    mut hs: Handshake,
) -> [StreamEnd; 2] {
    // Problems with the client's ClientHello come first, whatever the host did.
    let side = match side {
        ClientSide::NoHello { read, client } => {
            drop(up);
            return no_hello(pre, client, read, &mut hs).await;
        }
        ClientSide::Unspeakable { client } => {
            drop(up);
            return fallback(
                pre,
                client,
                &hs,
                Some(NotIntercepted::ClientTlsIncompatible),
            )
            .await;
        }
        side => side,
    };
    let (up, handshake_ms, sni) = match up {
        Upstream::Stopped => return pre.ended(EndKind::Shutdown, EndKind::Shutdown),
        Upstream::Failed { error, seen } => {
            let (mut alert, mut text) = failure_text(&error, "the host");
            let (host_alert, said) = host_reply(&seen.lock().unwrap_or_else(|p| p.into_inner()));
            alert = alert.or(host_alert);
            if let Some(s) = said {
                text = format!("{text}; {s}");
            }
            pre.note(Note::UpstreamTlsFailed {
                alert,
                error: text,
                fallback: true,
            });
            return match side.into_client() {
                Ok(client) => {
                    fallback(
                        pre,
                        client,
                        &hs,
                        Some(NotIntercepted::UpstreamTlsIncompatible),
                    )
                    .await
                }
                Err(kind) => pre.ended(kind, EndKind::Aborted),
            };
        }
        Upstream::Up { tls, ms, sni } => (*tls, ms, sni),
    };
    let (_, conn) = up.get_ref();
    let leg = LegTls {
        version: conn.protocol_version().map(|v| TlsVersion(u16::from(v))),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| CipherSuite(u16::from(s.suite()))),
        sni,
        handshake_ms,
    };
    let resumed = matches!(conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
    let j = judged.unwrap_or(Judgement {
        chain: Vec::new(),
        findings: Vec::new(),
        pin_matched: None,
    });
    pre.note(Note::UpstreamTls {
        tls: leg,
        chain: j.chain,
        resumed,
        pin_matched: j.pin_matched,
    });
    if ctx.strict && !j.findings.is_empty() {
        pre.note(Note::StrictRefused {
            findings: j.findings.iter().map(|f| f.to_string()).collect(),
        });
        drop(up);
        if let Ok(client) = side.into_client() {
            crate::relay::close_gently(client).await;
        }
        return pre.ended(EndKind::Aborted, EndKind::Aborted);
    }

    let (result, leaf_for, started) = match side {
        ClientSide::MintFailed { error, client } => {
            pre.note(Note::MintFailed { error });
            drop(up);
            return fallback(
                pre,
                client,
                &hs,
                Some(NotIntercepted::UpstreamTlsIncompatible),
            )
            .await;
        }
        ClientSide::Accepted {
            result,
            leaf_for,
            started,
        } => (result, leaf_for, started),
        ClientSide::TimedOut => {
            let e = io::Error::new(io::ErrorKind::TimedOut, "the handshake timed out");
            return client_failed(pre, up, &e, &hs).await;
        }
        _ => return pre.ended(EndKind::Shutdown, EndKind::Shutdown),
    };
    let down = match result {
        Ok(down) => *down,
        Err((e, _)) => return client_failed(pre, up, &e, &hs).await,
    };
    let (_, sconn) = down.get_ref();
    pre.note(Note::ClientTls {
        tls: LegTls {
            version: sconn.protocol_version().map(|v| TlsVersion(u16::from(v))),
            cipher_suite: sconn
                .negotiated_cipher_suite()
                .map(|s| CipherSuite(u16::from(s.suite()))),
            sni: sconn.server_name().map(str::to_string),
            handshake_ms: ms(started),
        },
        leaf_for,
    });
    pre.sent[0] += hs.ch_len;
    plaintext(pre, down, up, hs.original).await
}

/// The client's TLS handshake with rdptap failed: say how, and end both sides.
async fn client_failed(
    mut pre: Pre,
    mut up: tokio_rustls::client::TlsStream<Tap<Wire<TcpStream>>>,
    e: &io::Error,
    hs: &Handshake,
) -> [StreamEnd; 2] {
    let (alert, error) = failure_text(e, "the client");
    pre.note(Note::ClientTlsFailed {
        alert,
        error: error.clone(),
    });
    let _ = up.shutdown().await;
    let c2s = if plain_pump::is_reset(e) {
        EndKind::Rst
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        EndKind::Fin
    } else {
        EndKind::Error { error }
    };
    pre.sent[0] += hs.ch_len;
    pre.ended(c2s, EndKind::Aborted)
}

/// No ClientHello came: the client left, or sent something else, which goes untouched
/// to a fresh connection.
async fn no_hello(
    pre: Pre,
    client: TcpStream,
    read: super::frames::Read,
    hs: &mut Handshake,
) -> [StreamEnd; 2] {
    use super::frames::Read;
    let reason = match &read {
        Read::Stopped(b) if b.is_empty() => {
            // The client left, stayed silent past a deadline, or rdptap is stopping,
            // before its ClientHello.
            let elapsed = pre.started.elapsed();
            let past = |d: Option<std::time::Duration>| d.is_some_and(|d| elapsed >= d);
            let (c2s, s2c) = if *pre.shutdown.borrow() {
                (EndKind::Shutdown, EndKind::Shutdown)
            } else if past(pre.opts.idle_timeout) {
                (EndKind::IdleTimeout, EndKind::IdleTimeout)
            } else if past(pre.opts.first_byte) {
                (EndKind::FirstByteTimeout, EndKind::FirstByteTimeout)
            } else {
                (EndKind::Fin, EndKind::Aborted)
            };
            return pre.ended(c2s, s2c);
        }
        Read::Stopped(_) => None,
        _ => Some(NotIntercepted::UnusualStart),
    };
    let b = super::read_bytes(read);
    pre.obs.on_decode_only(Dir::C2S, &b);
    hs.ch_len = b.len() as u64;
    hs.ch = b;
    fallback(pre, client, hs, reason).await
}

impl ClientSide {
    /// The client's socket, when the client's side still has it untouched beyond its
    /// ClientHello; otherwise how the client's direction ended.
    fn into_client(self) -> Result<TcpStream, EndKind> {
        match self {
            ClientSide::NoHello { client, .. }
            | ClientSide::Unspeakable { client }
            | ClientSide::MintFailed { client, .. } => Ok(client),
            ClientSide::Accepted {
                result: Err((_, io)),
                ..
            } => Ok(super::client_leg::into_tcp(*io)),
            // The gate only opens once the host's side succeeded.
            ClientSide::Accepted { result: Ok(_), .. } => Err(EndKind::Aborted),
            ClientSide::Stopped => Err(EndKind::Shutdown),
            ClientSide::TimedOut => Err(EndKind::Error {
                error: "the handshake timed out".to_string(),
            }),
        }
    }
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// Relays plaintext between the two legs until both directions end.
async fn plaintext<C, S>(
    pre: Pre,
    down: tokio_rustls::server::TlsStream<C>,
    up: tokio_rustls::client::TlsStream<S>,
    original: Option<Protocols>,
) -> [StreamEnd; 2]
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + AsTcp,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + AsTcp,
{
    let (c_r, c_w) = tokio::io::split(down);
    let (s_r, s_w) = tokio::io::split(up);
    let (c2s_tx, c2s_rx) = watch::channel(Side::Open);
    let (s2c_tx, s2c_rx) = watch::channel(Side::Open);
    let timers = Timers::new(pre.started, pre.opts.linger, pre.opts.idle_timeout);
    let gate = pre.obs.backpressure();
    let mk = |dir: Dir, me, sibling, restore| PlainCtx {
        dir,
        gate: gate.clone(),
        observer: pre.obs.clone(),
        timers: timers.clone(),
        me,
        sibling,
        shutdown: pre.shutdown.clone(),
        bytes_before: pre.sent[dir.idx()],
        restore,
    };
    let c2s = plain_pump::pump(mk(Dir::C2S, c2s_tx, s2c_rx, None), c_r, s_w);
    let s2c = plain_pump::pump(
        mk(Dir::S2C, s2c_tx, c2s_rx, original.map(Restore::new)),
        s_r,
        c_w,
    );
    let ((c2s_end, c_r, s_w), (s2c_end, s_r, c_w)) = tokio::join!(c2s, s2c);
    let down = c_r.unsplit(c_w);
    let up = s_r.unsplit(s_w);
    // Mirror a reset to the other side, as a direct connection would show it.
    if matches!(c2s_end.kind, EndKind::Rst) {
        let _ = up.get_ref().0.tcp().set_zero_linger();
    }
    if matches!(s2c_end.kind, EndKind::Rst) {
        let _ = down.get_ref().0.tcp().set_zero_linger();
    }
    [c2s_end, s2c_end]
}

/// Reaches the TCP socket under a wrapped stream.
pub trait AsTcp {
    /// The socket.
    fn tcp(&self) -> &TcpStream;
}

impl AsTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl<T: AsTcp> AsTcp for Prefixed<T> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().tcp()
    }
}

impl<T: AsTcp> AsTcp for Tap<T> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().tcp()
    }
}

impl<T: AsTcp> AsTcp for Wire<T> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().tcp()
    }
}

/// Relays the client's own TLS to a fresh connection to the host.
pub async fn fallback(
    mut pre: Pre,
    mut client: TcpStream,
    hs: &Handshake,
    reason: Option<NotIntercepted>,
) -> [StreamEnd; 2] {
    if let Some(reason) = reason {
        pre.note(Note::NotIntercepted { reason });
    }
    let r = &hs.redial;
    let mut server = match crate::relay::dial(&r.endpoint, r.resolver.as_ref(), r.timeout).await {
        Ok(s) => s,
        Err(e) => {
            pre.note(Note::FallbackFailed {
                error: e.to_string(),
            });
            crate::relay::close_gently(client).await;
            return pre.ended(EndKind::Aborted, EndKind::Aborted);
        }
    };
    let _ = server.set_nodelay(true);
    if let (Ok(local), Ok(peer)) = (server.local_addr(), server.peer_addr()) {
        pre.obs.on_redial(local, peer);
    }
    // In the trace the client's ClientHello crosses both legs.
    if !hs.ch_on_wire {
        pre.obs.on_wire(Leg::Client, Dir::C2S, &hs.ch);
    }
    if hs.cr.is_empty() {
        // A connection that starts with TLS (gateway mode): nothing to replay.
        pre.sent[0] += hs.ch_len;
        pre.obs.on_wire(Leg::Upstream, Dir::C2S, &hs.ch);
        let _ = server.write_all(&hs.ch).await;
        return pre.relay(client, server).await;
    }
    pre.obs.on_wire(Leg::Upstream, Dir::C2S, &hs.cr);
    let wait = pre.opts.idle_timeout;
    if server.write_all(&hs.cr).await.is_err() {
        let _ = client.shutdown().await;
    }
    let selected = match super::frames::read_first(
        &mut server,
        super::frames::Expect::Tpkt,
        wait,
        None,
        &mut pre.shutdown,
    )
    .await
    {
        super::frames::Read::Whole { msg, .. } => selected_protocol(&msg),
        _ => None,
    };
    pre.note(Note::FallbackReplayed { selected });
    // The client already saw a Confirm on the first connection; this one's is dropped
    // and the client's ClientHello follows as if nothing happened.
    pre.sent[0] += hs.ch_len;
    pre.obs.on_wire(Leg::Upstream, Dir::C2S, &hs.ch);
    let _ = server.write_all(&hs.ch).await;
    pre.relay(client, server).await
}
