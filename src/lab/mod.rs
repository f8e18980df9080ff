//! `rdptap lab gateway`: a small RD Gateway (MS-TSGU over HTTP and WebSocket) that
//! tunnels to one RDP host, lets every client in, and fails on request.
//!
//! It exists to reproduce gateway failures on loopback, with real clients, without a
//! Windows server: each `--fail` knob makes one step of the protocol go wrong the way a
//! misconfigured or broken gateway would.

pub mod auth;
pub mod channels;
pub mod config;
pub mod fail;
pub mod http_io;
pub mod ntlm_challenge;
pub mod out_framing;
pub mod packet_io;
pub mod serve;
pub mod tls;
pub mod tunnel;
pub mod ws_io;

use crate::runtime::console::say;
use crate::runtime::workers::Workers;
use crate::tls::keylog::KeyLogFile;
use config::LabConfig;
use serve::Shared;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Runs the lab gateway until Ctrl-C or SIGTERM; returns the exit status.
pub async fn run(cfg: LabConfig) -> Result<i32, String> {
    let name = if cfg.listen.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        cfg.listen.ip().to_string()
    };
    let key_log = match &cfg.keylog {
        Some(p) => Some(Arc::new(KeyLogFile::create(p).map_err(|e| {
            format!(
                "cannot create the key log {}: {e}; check the directory exists and is writable",
                p.display()
            )
        })?) as Arc<dyn rustls::KeyLog>),
        None => None,
    };
    let server = tls::server_config(&cfg.ca_dir, &name, cfg.fail.cert, key_log)?;
    let listener = TcpListener::bind(cfg.listen).await.map_err(|e| {
        let advice = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "; {}",
                crate::runtime::ports::in_use_advice(cfg.listen, "--listen")
            )
        } else {
            String::new()
        };
        format!("cannot listen on {}: {e}{advice}", cfg.listen)
    })?;
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    announce(&cfg, addr);
    let shared = Arc::new(Shared {
        registry: channels::Registry::new(cfg.pair_timeout),
        acceptor: tokio_rustls::TlsAcceptor::from(server),
        next_tunnel: AtomicU32::new(1),
        cfg,
    });
    // Each connection stays on the worker thread that accepted it (see
    // relay::workers): no cross-thread wake-ups on the tunnel's hot path.
    let workers = Workers::per_core("rdptap-lab")
        .map_err(|e| format!("cannot start the connection threads: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let listener = listener
        .into_std()
        .map_err(|e| format!("cannot share the listening socket: {e}"))?;
    workers
        .listen(listener, stop_rx, move |tcp, peer| {
            tracing::debug!("{peer}: connected");
            Some(serve::connection(Arc::clone(&shared), tcp, peer))
        })
        .map_err(|e| format!("cannot accept connections: {e}"))?;
    crate::runtime::signal::shutdown_signal().await;
    let _ = stop_tx.send(true);
    say("rdptap lab gateway stopped");
    Ok(0)
}

fn announce(cfg: &LabConfig, addr: std::net::SocketAddr) {
    say(format!(
        "rdptap lab gateway listening on {addr} (HTTP and WebSocket transports, {}), tunnels go to {}",
        cfg.auth,
        if cfg.route_by_resource {
            "the resource each client names".to_string()
        } else {
            cfg.target.clone()
        }
    ));
    say("  connect through it, for example:");
    say(format!(
        "    xfreerdp /v:rdp-host /g:{addr} /gu:anyuser /gp:anypass /gt:http /cert:ignore"
    ));
    match cfg.fail.cert {
        Some(c) => say(format!("  TLS presents {c} (--fail cert)")),
        None => say(format!(
            "  TLS certificate from the local CA in {} (clients must trust it or skip the check)",
            cfg.ca_dir.display()
        )),
    }
    if cfg.out_framing != Default::default() {
        eprintln!(
            "  the HTTP transport's OUT channel body: {} (--out-framing)",
            cfg.out_framing
        );
    }
    for line in cfg.fail.describe() {
        say(format!("  --fail: {line}"));
    }
    if let Some(k) = &cfg.keylog {
        say(format!(
            "  WARNING: TLS keys are written to {}: with it, anyone holding a capture can read the lab's connections, credentials included",
            k.display()
        ));
    }
}
