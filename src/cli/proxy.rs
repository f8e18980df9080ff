//! `rdptap proxy`: accept clients, relay each to the host, print each verdict.

use super::config::{InterceptConfig, ProxyConfig};
use crate::record::capture::Capture;
use crate::record::keylog::{KeyLogFile, KeyTee};
use crate::record::{console, jsonl, Recorder};
use crate::relay::intercept::{self, InterceptCtx, NlaPolicy};
use crate::relay::{self, RelayOptions, Resolver, SystemResolver};
use crate::runtime::workers::Workers;
use crate::session::conn::{ConnInfo, Session};
use crate::session::{Cause, TcpEvent};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Why the proxy could not start.
#[derive(Debug)]
pub struct StartError(pub String);

/// Verdict counts by cause, for the summary printed at exit.
#[derive(Debug, Default)]
struct Tally {
    by_cause: BTreeMap<&'static str, u64>,
    total: u64,
}

/// Run the proxy until Ctrl-C / SIGTERM (or the first verdict with --once).
/// Returns the process exit status.
pub async fn run(cfg: ProxyConfig) -> Result<i32, StartError> {
    let listener = TcpListener::bind(cfg.listen).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "the address is already in use (another rdptap, or a Remote Desktop service on that port?); choose another with --listen, e.g. --listen 127.0.0.1:{}",
                cfg.listen.port().wrapping_add(1).max(1024)
            )
        } else {
            e.to_string()
        };
        StartError(format!("cannot listen on {}: {why}", cfg.listen))
    })?;
    let (recorder, sink_thread) = match &cfg.events {
        None => (Recorder::none(), None),
        Some(t) => {
            let out = jsonl::open(t).map_err(|e| {
                let name = match t {
                    jsonl::Target::Stdout => "standard output".to_string(),
                    jsonl::Target::File { path, .. } => path.display().to_string(),
                };
                StartError(format!("cannot open the events file {name}: {e}; check the directory exists and is writable, or choose another with --events"))
            })?;
            let (tx, rx) = mpsc::unbounded_channel();
            let h = std::thread::Builder::new()
                .name("rdptap-events".into())
                .spawn(move || jsonl::run(out, rx))
                .map_err(|e| StartError(format!("cannot start the event writer: {e}")))?;
            (Recorder::new(tx), Some(h))
        }
    };
    started_event(&recorder, &cfg);
    let capture = match &cfg.capture {
        None => None,
        Some(opts) => {
            let (c, t) = Capture::start(opts.clone(), recorder.clone()).map_err(|e| {
                StartError(format!(
                    "cannot create the packet capture {}: {e}; check the directory exists and is writable, or choose another with --pcap",
                    opts.path.display()
                ))
            })?;
            Some((c, t))
        }
    };
    let roots = roots_with(&cfg.trust)?;
    let intercept = match &cfg.intercept {
        Some(i) => Some(Arc::new(intercept_ctx(
            &cfg,
            i,
            roots.clone(),
            capture.as_ref().map(|c| c.0.clone()),
        )?)),
        None => None,
    };
    announce(&cfg, &listener);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (verdict_tx, mut verdict_rx) = mpsc::unbounded_channel::<Cause>();
    let next_id = AtomicU64::new(1);
    let template = ConnCtx {
        cfg: Arc::new(cfg),
        gateways: Arc::new(crate::session::gateway::Registry::new()),
        recorder: recorder.clone(),
        roots,
        resolver: Arc::new(SystemResolver),
        intercept,
        shutdown: shutdown_rx.clone(),
        tally: tally.clone(),
        verdicts: verdict_tx,
        capture: capture.as_ref().map(|c| c.0.clone()),
    };
    let cfg = template.cfg.clone();
    let workers = Workers::per_core("rdptap-conn")
        .map_err(|e| StartError(format!("cannot start the connection threads: {e}")))?;
    let listener = listener
        .into_std()
        .map_err(|e| StartError(format!("cannot share the listening socket: {e}")))?;
    workers
        .listen(listener, shutdown_rx, move |client, peer| {
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            if template.cfg.once && id > 1 {
                // --once diagnoses one connection; later ones are refused by closing.
                return None;
            }
            Some(handle(template.clone(), id, client, peer))
        })
        .map_err(|e| StartError(format!("cannot accept connections: {e}")))?;
    let mut once_cause = None;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => {
                tracing::info!("stopping: flushing traces");
                break;
            }
            Some(cause) = verdict_rx.recv() => {
                if cfg.once {
                    once_cause = Some(cause);
                    break;
                }
            }
        }
    }
    // Stop open connections; each still writes its verdict.
    let _ = shutdown_tx.send(true);
    let _ = workers.idle(Duration::from_secs(3)).await;
    if let Some((c, t)) = capture {
        let (packets, bytes) = c.dropped();
        if packets > 0 {
            eprintln!("rdptap: {packets} packets ({bytes} bytes) were not captured: the capture queue was full (--capture-overflow drop)");
        }
        c.close(t).await;
    }
    recorder.flush().await;
    drop(recorder);
    if let Some(h) = sink_thread {
        let _ = tokio::task::spawn_blocking(move || h.join()).await;
    }
    print_summary(&tally.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(match once_cause {
        Some(Cause::Ok) => 0,
        Some(_) => 1,
        None if cfg.once => 1,
        None => 0,
    })
}

#[derive(Clone)]
struct ConnCtx {
    cfg: Arc<ProxyConfig>,
    gateways: Arc<crate::session::gateway::Registry>,
    recorder: Recorder,
    roots: Arc<rustls::RootCertStore>,
    resolver: Arc<dyn Resolver>,
    intercept: Option<Arc<InterceptCtx>>,
    shutdown: watch::Receiver<bool>,
    tally: Arc<Mutex<Tally>>,
    verdicts: mpsc::UnboundedSender<Cause>,
    capture: Option<Capture>,
}

async fn handle(ctx: ConnCtx, id: u64, client: TcpStream, peer: std::net::SocketAddr) {
    let started = Instant::now();
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
    };
    let session = match cfg.gateway {
        Some(g) => Session::new_gateway(
            info,
            started,
            ctx.recorder.clone(),
            ctx.roots.clone(),
            ctx.gateways.clone(),
            g.passthrough,
        ),
        None => Session::new(info, started, ctx.recorder.clone(), ctx.roots.clone()),
    };
    let listen = client.local_addr().unwrap_or(cfg.listen);
    if let Some(c) = &ctx.capture {
        let cc = c.conn(id, format!("connection {id}: {peer} -> {}", info_desc(cfg)));
        cc.client_leg(peer, listen);
        session.attach_capture(Arc::new(cc), c.gate());
    }
    session.tcp(
        None,
        TcpEvent::Accepted {
            client: peer.to_string(),
            listen: cfg.listen.to_string(),
        },
    );
    match relay::dial(&cfg.dial, ctx.resolver.as_ref(), cfg.connect_timeout).await {
        Ok(server) => {
            if let (Some(cc), Ok(local), Ok(remote)) = (
                session.capture_handle(),
                server.local_addr(),
                server.peer_addr(),
            ) {
                cc.upstream_leg(local, remote);
            }
            session.tcp(
                None,
                TcpEvent::UpstreamConnected {
                    addr: server
                        .peer_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_else(|_| cfg.dial.to_string()),
                    connect_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
                },
            );
            let opts = RelayOptions {
                linger: cfg.linger,
                idle_timeout: cfg.idle_timeout,
            };
            match &ctx.intercept {
                Some(ictx) if cfg.gateway.is_some() => {
                    let conn = intercept::Conn {
                        client,
                        server,
                        observer: session.clone(),
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
                    Box::pin(intercept::run_tls(ictx.clone(), conn)).await;
                }
                Some(ictx) => {
                    let conn = intercept::Conn {
                        client,
                        server,
                        observer: session.clone(),
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
                    Box::pin(intercept::run(ictx.clone(), conn)).await;
                }
                None => {
                    relay::relay(
                        client,
                        server,
                        session.clone(),
                        opts,
                        ctx.shutdown.clone(),
                        started,
                    )
                    .await;
                }
            }
        }
        Err(error) => {
            session.tcp(None, TcpEvent::UpstreamFailed { error });
            relay::close_gently(client).await;
        }
    }
    let verdict = session.finish();
    console::print(id, &verdict);
    {
        let mut t = ctx.tally.lock().unwrap_or_else(|p| p.into_inner());
        *t.by_cause.entry(verdict.cause.id()).or_default() += 1;
        t.total += 1;
    }
    let _ = ctx.verdicts.send(verdict.cause);
}

/// The system roots plus every certificate in the `--trust` files.
fn roots_with(files: &[PathBuf]) -> Result<Arc<rustls::RootCertStore>, StartError> {
    let system = crate::cert::system_roots();
    if files.is_empty() {
        return Ok(system);
    }
    let mut roots = (*system).clone();
    for f in files {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(f)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                StartError(format!(
                    "--trust {}: cannot read PEM certificates: {e}; give a file with one or more '-----BEGIN CERTIFICATE-----' blocks",
                    f.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(StartError(format!(
                "--trust {}: no certificates in the file; give a PEM file with '-----BEGIN CERTIFICATE-----' blocks",
                f.display()
            )));
        }
        for c in certs {
            roots.add(c).map_err(|e| {
                StartError(format!(
                    "--trust {}: a certificate cannot be used as a trust anchor: {e}",
                    f.display()
                ))
            })?;
        }
    }
    Ok(Arc::new(roots))
}

/// Loads the CA, opens the key log and builds the shared interception state.
fn intercept_ctx(
    cfg: &ProxyConfig,
    i: &InterceptConfig,
    roots: Arc<rustls::RootCertStore>,
    capture: Option<Capture>,
) -> Result<InterceptCtx, StartError> {
    let minter = super::ca::minter_for_proxy(&i.ca_dir, &cfg.target.host).map_err(StartError)?;
    let file = match &i.keylog {
        Some(p) => Some(KeyLogFile::create(p).map_err(|e| {
            StartError(format!(
                "cannot create the key log {}: {e}; check the directory exists and is writable",
                p.display()
            ))
        })?),
        None => None,
    };
    let capture = capture.filter(|_| cfg.capture.as_ref().is_some_and(|c| c.keys));
    let key_log: Option<Arc<dyn rustls::KeyLog>> = if file.is_some() || capture.is_some() {
        Some(Arc::new(KeyTee { file, capture }))
    } else {
        None
    };
    Ok(InterceptCtx::new(
        Arc::new(minter),
        key_log,
        i.nla,
        i.strict_upstream,
        cfg.pin,
        roots,
        HANDSHAKE_TIMEOUT,
    ))
}

/// How long each of rdptap's TLS handshakes may take before it gives up on it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

fn announce(cfg: &ProxyConfig, listener: &TcpListener) {
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    let port = addr.port();
    let dial = if cfg.dial == cfg.target {
        String::new()
    } else {
        format!(" (dialling {})", cfg.dial)
    };
    eprintln!(
        "rdptap listening on {addr}, relaying to {}{dial}",
        cfg.target
    );
    let host = if addr.ip().is_loopback() {
        "localhost".to_string()
    } else {
        addr.ip().to_string()
    };
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let ip = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip
    };
    if let Some(g) = cfg.gateway {
        eprintln!("  RD Gateway mode: set the client's RD Gateway to rdptap:");
        eprintln!("    mstsc: Advanced → Settings → Use these RD Gateway server settings → Server name {host}:{port}");
        eprintln!("    xfreerdp /v:HOST /g:{ip}:{port} /gu:USER /gp:PASSWORD /gt:http");
        if let Some(k) = cfg.intercept.as_ref().and_then(|i| i.keylog.as_ref()) {
            eprintln!("  WARNING: TLS keys are written to {} — anyone with this file and a capture can read the gateway traffic, credentials included", k.display());
        }
        if g.passthrough {
            eprintln!("  --gateway-passthrough: the gateway's TLS is relayed untouched; only its TLS facts, certificate (TLS 1.2) and closes are seen");
        } else {
            eprintln!("  the gateway's TLS is terminated with a certificate from the local CA, so clients must trust it (`rdptap ca show` prints how); if authentication fails only through rdptap, the gateway enforces Extended Protection: use --gateway-passthrough");
        }
    } else {
        eprintln!("  connect the client to rdptap:");
        eprintln!("    mstsc /v:{host}:{port}");
        eprintln!("    xfreerdp /v:{ip}:{port}");
    }
    let target_is_local = cfg.target.host == "localhost"
        || cfg
            .target
            .host
            .parse::<std::net::IpAddr>()
            .map(|i| i.is_loopback())
            .unwrap_or(false);
    if addr.ip().is_loopback() && !target_is_local {
        eprintln!(
            "  note: pointing the client at localhost changes the failure itself: Kerberos asks for TERMSRV/localhost (and falls back to NTLM), and the host's certificate will not match the name. To keep the real name {}, map it to 127.0.0.x in the hosts file and listen there on 3389 (see README, \"Keeping the host's name\").",
            cfg.target.host
        );
    }
    if let (Some(i), None) = (&cfg.intercept, cfg.gateway) {
        eprintln!(
            "  intercepting TLS with the local CA in {} (clients must trust it: `rdptap ca show` prints how)",
            i.ca_dir.display()
        );
        eprintln!("  interception hides the host's own certificate problems from the client; rdptap reports them instead");
        if i.nla == NlaPolicy::Downgrade {
            eprintln!("  WARNING: --nla downgrade is on (lab use only): NLA is removed from every client's request, so the host shows its logon screen before anyone authenticates and credentials travel inside the session instead of CredSSP");
        } else {
            eprintln!("  NLA connections are relayed untouched (--nla passthrough): CredSSP binds the host's own TLS key");
        }
        if let Some(k) = &i.keylog {
            eprintln!("  WARNING: TLS keys are written to {} — anyone with this file and a capture can read the sessions, passwords typed at a logon screen included", k.display());
        }
        if i.strict_upstream {
            eprintln!("  --strict-upstream: hosts whose certificate has any problem are refused");
        }
    }
    if let Some(c) = &cfg.capture {
        let where_ = if c.split {
            format!(
                "{} (one file per connection)",
                crate::record::capture::split_path(&c.path, 1)
                    .display()
                    .to_string()
                    .replace("-conn1", "-connN")
            )
        } else {
            c.path.display().to_string()
        };
        eprintln!(
            "  packet capture: {where_} (pcapng; queue {} MiB, {} when full)",
            c.queue_bytes >> 20,
            c.overflow
        );
        if c.redact {
            eprintln!("  secrets (Authorization, passwords, cookies, keystrokes, clipboard) are scrubbed from the decrypted flows; --no-redact keeps them");
            if c.redact_users {
                eprintln!("  user and domain names are hidden in the trace too (--redact-users)");
            }
        } else {
            eprintln!("  WARNING: --no-redact: the trace keeps passwords, authentication tokens, cookies, keystrokes and clipboard contents; do not send it to anyone");
            if cfg.redact_users {
                eprintln!("  WARNING: --redact-users with --no-redact: user names are hidden in the events and the report, but the trace keeps them");
            }
        }
        let keylog = cfg.intercept.as_ref().and_then(|i| i.keylog.as_ref());
        if c.keys {
            eprintln!("  WARNING: --pcap-keys: the trace holds the TLS keys, so anyone with it can decrypt the raw legs, secrets included: redaction covers only the decrypted flows");
        } else if c.redact && keylog.is_some() {
            eprintln!("  WARNING: --keylog with --pcap: the key log decrypts the trace's raw legs, and redaction cannot reach them; keep the key log out of anything you send");
        }
    }
    match &cfg.events {
        Some(jsonl::Target::Stdout) => eprintln!("  events: standard output (JSON Lines)"),
        Some(jsonl::Target::File { path, append }) => eprintln!(
            "  events: {} ({})",
            path.display(),
            if *append { "appending" } else { "truncated" }
        ),
        None => {}
    }
}

/// How the target shows in a trace's interface description.
fn info_desc(cfg: &ProxyConfig) -> String {
    if cfg.gateway.is_some() {
        format!("gateway {}", cfg.target)
    } else {
        cfg.target.to_string()
    }
}

/// The first event line: rdptap's version and the settings in force, for the report
/// and the bundle. Paths are kept; nothing in the settings is a secret (a pin is a
/// public fingerprint).
fn started_event(recorder: &Recorder, cfg: &ProxyConfig) {
    if !recorder.is_active() {
        return;
    }
    recorder.event(crate::record::EventRecord {
        ts: time::OffsetDateTime::now_utc(),
        conn: 0,
        dir: None,
        layer: crate::vocab::Layer::Session,
        body: serde_json::json!({
            "kind": "proxy_started",
            "version": env!("CARGO_PKG_VERSION"),
            "config": super::settings::describe(cfg),
        }),
    });
}

fn print_summary(t: &Tally) {
    let parts: Vec<String> = t.by_cause.iter().map(|(c, n)| format!("{c} {n}")).collect();
    eprintln!(
        "rdptap stopped: {} connection{} seen{}",
        t.total,
        if t.total == 1 { "" } else { "s" },
        if parts.is_empty() {
            String::new()
        } else {
            format!("; verdicts: {}", parts.join(", "))
        }
    );
}

/// Ctrl-C everywhere; SIGTERM too on Unix, so service managers stop rdptap cleanly.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
