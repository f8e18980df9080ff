//! `rdptap proxy`: the proxy server. It owns the listening socket, the sinks and the
//! accept loop, and wires each accepted connection to its tracker and the relay.

use super::announce::{announce, print_summary, Tally};
use super::config::{InterceptConfig, ProxyConfig};
use super::conn::{handle, ConnCtx};
use super::keys::KeyTee;
use crate::record::capture::{Capture, CaptureThread};
use crate::record::{jsonl, Recorder};
use crate::relay::intercept::InterceptCtx;
use crate::relay::SystemResolver;
use crate::runtime::signal::shutdown_signal;
use crate::runtime::workers::Workers;
use crate::session::event::{Body, EventLine};
use crate::session::Cause;
use crate::tls::keylog::KeyLogFile;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Why the proxy could not start.
#[derive(Debug)]
pub struct StartError(pub String);

/// A proxy that is listening, with its sinks open, ready to run.
pub struct ProxyServer {
    cfg: Arc<ProxyConfig>,
    listener: TcpListener,
    recorder: Recorder,
    sink_thread: Option<std::thread::JoinHandle<()>>,
    capture: Option<(Capture, CaptureThread)>,
    roots: Arc<rustls::RootCertStore>,
    intercept: Option<Arc<InterceptCtx>>,
}

impl ProxyServer {
    /// Binds the listening socket, opens the event file and the capture, loads the CA
    /// when intercepting, and says where clients should connect.
    pub async fn start(cfg: ProxyConfig) -> Result<ProxyServer, StartError> {
        let listener = TcpListener::bind(cfg.listen).await.map_err(|e| {
            StartError(format!(
                "cannot listen on {}: {}",
                cfg.listen,
                bind_error(&e, &cfg)
            ))
        })?;
        let (recorder, sink_thread) = open_events(&cfg)?;
        started_event(&recorder, &cfg);
        let capture = match &cfg.capture {
            None => None,
            Some(opts) => Some(Capture::start(opts.clone(), recorder.clone()).map_err(|e| {
                StartError(format!(
                    "cannot create the packet capture {}: {e}; check the directory exists and is writable, or choose another with --pcap",
                    opts.path.display()
                ))
            })?),
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
        Ok(ProxyServer {
            cfg: Arc::new(cfg),
            listener,
            recorder,
            sink_thread,
            capture,
            roots,
            intercept,
        })
    }

    /// Serves connections until Ctrl-C / SIGTERM (or the first verdict with --once),
    /// then lets open connections write their verdicts, flushes every sink and prints the
    /// summary. Returns the process exit status.
    pub async fn run(self) -> Result<i32, StartError> {
        let ProxyServer {
            cfg,
            listener,
            recorder,
            sink_thread,
            capture,
            roots,
            intercept,
        } = self;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (verdict_tx, mut verdict_rx) = mpsc::unbounded_channel::<Cause>();
        let next_id = AtomicU64::new(1);
        let admission = super::admission::Admission::new(cfg.max_connections, recorder.clone());
        let admitted = admission.clone();
        let template = ConnCtx {
            cfg: cfg.clone(),
            gateways: Arc::new(super::tunnels::Registry::new()),
            recorder: recorder.clone(),
            roots,
            resolver: Arc::new(SystemResolver),
            intercept,
            shutdown: shutdown_rx.clone(),
            tally: tally.clone(),
            verdicts: verdict_tx,
            capture: capture.as_ref().map(|c| c.0.clone()),
            epoch: Instant::now(),
        };
        let workers = Workers::per_core("rdptap-conn")
            .map_err(|e| StartError(format!("cannot start the connection threads: {e}")))?;
        let listener = listener
            .into_std()
            .map_err(|e| StartError(format!("cannot share the listening socket: {e}")))?;
        workers
            .listen(listener, shutdown_rx, move |client, peer| {
                // Beyond --max-connections the socket is dropped here: closed at once.
                let slot = admitted.admit(peer)?;
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                if template.cfg.once && id > 1 {
                    // --once diagnoses one connection; later ones are refused by closing.
                    return None;
                }
                let conn = handle(template.clone(), id, client, peer, SystemTime::now());
                Some(async move {
                    conn.await;
                    drop(slot);
                })
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
        admission.finish();
        // It holds a recorder: the event writer ends only once every recorder is gone.
        drop(admission);
        if let Some((c, t)) = capture {
            let (packets, bytes) = c.dropped();
            if packets > 0 {
                eprintln!("rdptap: {packets} packets ({bytes} bytes) were not captured: the capture queue was full (--capture-overflow drop)");
            }
            c.close(t).await;
        }
        recorder.flush().await;
        let dropped = recorder.dropped();
        if dropped > 0 {
            eprintln!("rdptap: {dropped} events were dropped, not written: the event queue was full (the event file could not keep up); see the events_dropped lines");
        }
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
}

/// Why the listening socket could not be bound, with what to do about it.
fn bind_error(e: &std::io::Error, cfg: &ProxyConfig) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "the address is already in use (another rdptap, or a Remote Desktop service on that port?); choose another with --listen, e.g. --listen 127.0.0.1:{}",
            cfg.listen.port().wrapping_add(1).max(1024)
        )
    } else {
        e.to_string()
    }
}

/// Opens the event file now, so a bad path fails at start-up, and starts its writer.
fn open_events(
    cfg: &ProxyConfig,
) -> Result<(Recorder, Option<std::thread::JoinHandle<()>>), StartError> {
    let Some(t) = &cfg.events else {
        return Ok((Recorder::none(), None));
    };
    let out = jsonl::open(t).map_err(|e| {
        let name = match t {
            jsonl::Target::Stdout => "standard output".to_string(),
            jsonl::Target::File { path, .. } => path.display().to_string(),
        };
        StartError(format!("cannot open the events file {name}: {e}; check the directory exists and is writable, or choose another with --events"))
    })?;
    let (recorder, rx) = Recorder::channel(crate::record::EVENT_QUEUE);
    let h = std::thread::Builder::new()
        .name("rdptap-events".into())
        .spawn(move || jsonl::run(out, rx))
        .map_err(|e| StartError(format!("cannot start the event writer: {e}")))?;
    Ok((recorder, Some(h)))
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
    let minter =
        crate::tls::leaf::minter_for_proxy(&i.ca_dir, &cfg.target.host).map_err(StartError)?;
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

/// The first event line: rdptap's version and the settings in force, for the report
/// and the bundle. Paths are kept; nothing in the settings is a secret (a pin is a
/// public fingerprint).
fn started_event(recorder: &Recorder, cfg: &ProxyConfig) {
    if !recorder.is_active() {
        return;
    }
    recorder.event(EventLine::run(
        time::OffsetDateTime::now_utc(),
        Body::ProxyStarted {
            version: env!("CARGO_PKG_VERSION").into(),
            config: super::settings::describe(cfg),
        },
    ));
}
