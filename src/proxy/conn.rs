//! One accepted connection: its tracker and sinks, the dial, the relay (plain or
//! intercepting), and its verdict on the console.

use super::announce::{info_desc, Tally};
use super::config::ProxyConfig;
use super::live::{LiveConn, Sinks};
use super::tunnels::Registry;
use crate::record::capture::Capture;
use crate::record::{console, Recorder};
use crate::relay::intercept::{self, InterceptCtx};
use crate::relay::{self, RelayOptions, Resolver};
use crate::session::event::Source;
use crate::session::tracker::{ConnInfo, DirectTracker, Fact, GatewayTracker, Tracker};
use crate::session::Cause;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What every connection shares.
#[derive(Clone)]
pub struct ConnCtx {
    pub cfg: Arc<ProxyConfig>,
    pub gateways: Arc<Registry>,
    pub recorder: Recorder,
    pub roots: Arc<rustls::RootCertStore>,
    pub resolver: Arc<dyn Resolver>,
    pub intercept: Option<Arc<InterceptCtx>>,
    pub shutdown: watch::Receiver<bool>,
    pub tally: Arc<Mutex<Tally>>,
    pub verdicts: mpsc::UnboundedSender<Cause>,
    pub capture: Option<Capture>,
    /// When the proxy started: gateway channels are put on one timeline from here.
    pub epoch: Instant,
}

/// Relays and diagnoses one connection, accepted at `wall_start`.
pub async fn handle(
    ctx: ConnCtx,
    id: u64,
    client: TcpStream,
    peer: SocketAddr,
    wall_start: SystemTime,
) {
    let started = Instant::now();
    relay::sockopt::bound_unacked(&client);
    let cfg = &ctx.cfg;
    let info = ConnInfo {
        id,
        target_name: cfg.target.host.clone(),
        target_desc: if cfg.dial == cfg.target {
            cfg.target.to_string()
        } else {
            format!("{} (dialled as {})", cfg.target, cfg.dial)
        },
        linger: cfg.linger,
        redact_users: cfg.redact_users,
        roots: ctx.roots.clone(),
        wall_start,
        source: Source::Proxy,
        start_offset: started.saturating_duration_since(ctx.epoch),
    };
    let listen = client.local_addr().unwrap_or(cfg.listen);
    let capture = ctx.capture.as_ref().map(|c| {
        let cc = c.conn(id, format!("connection {id}: {peer} -> {}", info_desc(cfg)));
        cc.client_leg(peer, listen);
        Arc::new(cc)
    });
    let tracker: Box<dyn Tracker> = match cfg.gateway {
        Some(g) => Box::new(GatewayTracker::new(
            info,
            Box::new(ctx.gateways.link(id, capture.clone())),
            g.passthrough,
        )),
        None => Box::new(DirectTracker::new(info)),
    };
    let sinks = Sinks {
        recorder: ctx.recorder.clone(),
        gate: ctx.capture.as_ref().and_then(|c| c.gate()),
        capture,
        http: cfg.gateway.is_some(),
    };
    let conn = LiveConn::new(id, started, wall_start, tracker, sinks);
    conn.fact(Fact::Accepted {
        client: peer.to_string(),
        listen: cfg.listen.to_string(),
    });
    match relay::dial(&cfg.dial, ctx.resolver.as_ref(), cfg.connect_timeout).await {
        Ok(server) => {
            if let (Some(cc), Ok(local), Ok(remote)) =
                (conn.capture(), server.local_addr(), server.peer_addr())
            {
                cc.upstream_leg(local, remote);
            }
            conn.fact(Fact::Connected {
                addr: server
                    .peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| cfg.dial.to_string()),
                connect_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            });
            let opts = RelayOptions {
                linger: cfg.linger,
                idle_timeout: cfg.idle_timeout,
                first_byte: cfg.first_byte_timeout,
            };
            match &ctx.intercept {
                Some(ictx) => {
                    let c = intercept::Conn {
                        client,
                        server,
                        observer: conn.clone(),
                        opts,
                        shutdown: ctx.shutdown.clone(),
                        started,
                        target_name: cfg.target.host.clone(),
                        redial: intercept::Redial {
                            endpoint: cfg.dial.clone(),
                            resolver: ctx.resolver.clone(),
                            timeout: cfg.connect_timeout,
                        },
                    };
                    // Boxed: the two handshakes' state would otherwise make every
                    // connection's task as large as an intercepted one.
                    if cfg.gateway.is_some() {
                        Box::pin(intercept::run_tls(ictx.clone(), c)).await;
                    } else {
                        Box::pin(intercept::run(ictx.clone(), c)).await;
                    }
                }
                None => {
                    relay::relay(
                        client,
                        server,
                        conn.clone(),
                        opts,
                        ctx.shutdown.clone(),
                        started,
                    )
                    .await;
                }
            }
        }
        Err(error) => {
            conn.fact(Fact::ConnectFailed(error));
            relay::close_gently(client).await;
        }
    }
    let done = conn.finish();
    console::print(id, &done.verdict);
    if let Some(s) = &done.session {
        console::print_session(&s.key, &s.verdict);
    }
    {
        let mut t = ctx.tally.lock().unwrap_or_else(|p| p.into_inner());
        *t.by_cause.entry(done.verdict.cause.id()).or_default() += 1;
        t.total += 1;
    }
    let _ = ctx.verdicts.send(done.verdict.cause);
}
