//! The soak's clients in front of rdptap: one session per call, healthy or faulty as its
//! plan says, over plain TCP (rdptap relays the RDP-over-TLS shape untouched) or with a
//! real TLS session that `rdptap --intercept` terminates.

use super::events::{Claim, Events};
use super::plan::{request_with, Framing, Kind, Plan};
use super::upstream::{now_secs, Upstream};
use crate::script::Script;
use crate::Res;
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedRwLockReadGuard, RwLock};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// How long one step of a healthy session may take before it counts as lost.
pub(crate) const STEP: Duration = Duration::from_secs(30);
/// How long a faulty client waits for the far side to close before closing itself.
pub(crate) const WAIT_CLOSE: Duration = Duration::from_secs(10);
/// How long a hanging upstream is waited for.
pub(crate) const HANG: Duration = Duration::from_secs(20);
/// A slowloris client's pause between bytes, and its whole life.
pub(crate) const SLOW_EVERY: Duration = Duration::from_secs(2);
pub(crate) const SLOW_LIFE: Duration = Duration::from_secs(30);
/// How long a zero-window client holds its connection without reading.
pub(crate) const ZERO_HOLD: Duration = Duration::from_secs(20);
/// How long a new connection may wait for rdptap to report its dial.
const DIAL_WAIT: Duration = Duration::from_secs(10);

/// How a session ended, from the client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A healthy (or half-close) session got every byte, intact, and closed in order.
    Verified,
    /// Bytes arrived altered.
    Corrupted(String),
    /// A healthy session failed otherwise (error, early end, timeout).
    Lost(String),
    /// A fault played out; how it ended.
    Fault(&'static str),
}

/// One finished session.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    /// Seconds since the epoch.
    pub(crate) start: f64,
    pub(crate) end: f64,
    /// One per TCP connection the session opened to rdptap.
    pub(crate) claims: Vec<Claim>,
    pub(crate) outcome: Outcome,
}

/// Refused sessions wait for a window in which the upstream's listener is closed; every
/// other session holds a read lock until rdptap has dialled for it, so no other dial
/// falls in the window.
#[derive(Clone)]
pub(crate) struct Gate {
    rw: Arc<RwLock<()>>,
    reqs: mpsc::UnboundedSender<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
}

impl Gate {
    /// Starts the window keeper for `up`; windows are counted in `windows`.
    pub(crate) fn start(up: Arc<Upstream>, windows: Arc<std::sync::atomic::AtomicU64>) -> Gate {
        let rw = Arc::new(RwLock::new(()));
        let (reqs, mut rx) =
            mpsc::unbounded_channel::<(oneshot::Sender<()>, oneshot::Receiver<()>)>();
        let lock = rw.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Gather the refusals due in the next moment into one window.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut batch = vec![first];
                while let Ok(r) = rx.try_recv() {
                    batch.push(r);
                }
                let _w = lock.write().await;
                if let Err(e) = up.close().await {
                    eprintln!("  soak: cannot close the upstream's listener: {e}");
                    return;
                }
                let mut dialled = Vec::new();
                for (go, done) in batch {
                    let _ = go.send(());
                    dialled.push(done);
                }
                for d in dialled {
                    let _ = timeout(DIAL_WAIT, d).await;
                }
                if let Err(e) = up.reopen().await {
                    eprintln!("  soak: cannot listen again on the upstream's port: {e}");
                    return;
                }
                windows.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Gate { rw, reqs }
    }
}

/// What every client session shares.
pub(crate) struct Ctx {
    /// rdptap's port.
    pub(crate) port: u16,
    pub(crate) script: Arc<Script>,
    pub(crate) framing: Framing,
    pub(crate) events: Arc<Events>,
    pub(crate) gate: Option<Gate>,
    /// Some: the interception variant's TLS client.
    pub(crate) tls: Option<TlsConnector>,
}

/// One session through rdptap, start to end.
pub(crate) async fn session(ctx: &Ctx, plan: Plan) -> Rec {
    let start = now_secs();
    let mut claims = Vec::new();
    let outcome = match run(ctx, &plan, &mut claims).await {
        Ok(o) => o,
        Err(e) if plan.kind == Kind::Healthy || plan.kind == Kind::HalfClose => {
            Outcome::Lost(e.to_string())
        }
        Err(_) => Outcome::Fault("error"),
    };
    Rec {
        id: plan.id,
        kind: plan.kind,
        start,
        end: now_secs(),
        claims,
        outcome,
    }
}

async fn connect(ctx: &Ctx, claims: &mut Vec<Claim>, refused: bool) -> Res<TcpStream> {
    let guard: Option<OwnedRwLockReadGuard<()>> = match (&ctx.gate, refused) {
        (Some(g), false) => Some(g.rw.clone().read_owned().await),
        _ => None,
    };
    let s = timeout(STEP, TcpStream::connect(("127.0.0.1", ctx.port)))
        .await
        .map_err(|_| "connecting to rdptap timed out")??;
    s.set_nodelay(true)?;
    let claim = ctx.events.claim(s.local_addr()?);
    claims.push(claim.clone());
    if let Some(g) = guard {
        let ev = ctx.events.clone();
        tokio::spawn(async move {
            ev.dialled(&claim, DIAL_WAIT).await;
            drop(g);
        });
    }
    Ok(s)
}

/// Reads until the far side closes (or errs); false when `limit` passed first.
async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, limit: Duration) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    timeout(limit, async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .is_ok()
}

async fn run(ctx: &Ctx, plan: &Plan, claims: &mut Vec<Claim>) -> Res<Outcome> {
    let far = |closed| {
        Outcome::Fault(if closed {
            "closed by the far side"
        } else {
            "closed by the client at its limit"
        })
    };
    match plan.kind {
        Kind::Refuse => {
            let gate = ctx.gate.as_ref().ok_or("refusals need the gate")?;
            let (go, wait) = oneshot::channel();
            let (done, dialled) = oneshot::channel::<()>();
            gate.reqs.send((go, dialled)).map_err(|_| "gate gone")?;
            wait.await?;
            let mut s = connect(ctx, claims, true).await?;
            if let Some(c) = claims.last() {
                ctx.events.dialled(c, DIAL_WAIT).await;
            }
            drop(done);
            return Ok(far(closed_within(&mut s, WAIT_CLOSE).await));
        }
        Kind::EarlyClose => {
            drop(connect(ctx, claims, false).await?);
            return Ok(Outcome::Fault("closed at once"));
        }
        Kind::Garbage => {
            let mut s = connect(ctx, claims, false).await?;
            let mut junk = Vec::new();
            plan.streams().0.take(256, &mut junk);
            // Never a TPKT version byte, so it cannot pass for a request.
            junk[0] = 0xa5;
            s.write_all(&junk).await?;
            return Ok(far(closed_within(&mut s, WAIT_CLOSE).await));
        }
        _ => {}
    }
    let mut s = connect(ctx, claims, false).await?;
    let cr = request_with(&ctx.script.cr, &plan.token()).ok_or("fixture has no cookie")?;
    match plan.kind {
        Kind::Slowloris => {
            let t0 = tokio::time::Instant::now();
            for b in &cr {
                s.write_all(std::slice::from_ref(b)).await?;
                let left = SLOW_LIFE.saturating_sub(t0.elapsed());
                if closed_within(&mut s, SLOW_EVERY.min(left)).await {
                    return Ok(far(true));
                }
                if left <= SLOW_EVERY {
                    break;
                }
            }
            return Ok(far(false));
        }
        Kind::Hang => {
            s.write_all(&cr).await?;
            return Ok(far(closed_within(&mut s, HANG).await));
        }
        _ => {}
    }
    s.write_all(&cr).await?;
    step(expect(&mut s, &ctx.script.cc, "the Connection Confirm")).await?;
    match &ctx.tls {
        None => {
            let sc = &ctx.script;
            s.write_all(&sc.client[0]).await?;
            step(expect(
                &mut s,
                &sc.server[0],
                "the server's first TLS flight",
            ))
            .await?;
            s.write_all(&sc.client[1]).await?;
            step(expect(
                &mut s,
                &sc.server[1],
                "the server's second TLS flight",
            ))
            .await?;
            play(&mut s, ctx.framing, plan).await
        }
        Some(c) => {
            let name = ServerName::try_from("localhost")?;
            let mut t = step(async { Ok(c.connect(name, s).await?) }).await?;
            play(&mut t, ctx.framing, plan).await
        }
    }
}

async fn step<T>(f: impl std::future::Future<Output = Res<T>>) -> Res<T> {
    timeout(STEP, f)
        .await
        .map_err(|_| format!("a step took longer than {} s", STEP.as_secs()))?
}

async fn expect<S: AsyncRead + Unpin>(s: &mut S, want: &[u8], what: &str) -> Res<()> {
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got)
        .await
        .map_err(|e| format!("reading {what}: {e}"))?;
    if got != want {
        return Err(format!("CORRUPTED: {what} arrived altered").into());
    }
    Ok(())
}

/// The client's side after the opening.
async fn play<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    f: Framing,
    plan: &Plan,
) -> Res<Outcome> {
    let (mut up, mut down) = plan.streams();
    if plan.kind == Kind::ZeroWindow {
        // Reads nothing more while the upstream pushes; then leaves with data unread.
        tokio::time::sleep(ZERO_HOLD).await;
        return Ok(Outcome::Fault("closed by the client at its limit"));
    }
    for (i, r) in plan.rounds.iter().enumerate() {
        s.write_all(&f.message(&mut up, r.up)).await?;
        s.flush().await?;
        let want = f.message(&mut down, r.down);
        let got = step(expect(s, &want, &format!("the reply of round {i}"))).await;
        if plan.kind == Kind::Reset && i == plan.last {
            return Ok(match got {
                Err(e) if e.to_string().starts_with("CORRUPTED") => {
                    Outcome::Corrupted(e.to_string())
                }
                Err(_) => Outcome::Fault("reset seen"),
                Ok(()) => Outcome::Fault("no reset seen"),
            });
        }
        if let Err(e) = got {
            return Ok(verdict_of(e));
        }
        tokio::time::sleep(r.think).await;
    }
    let end = async {
        if plan.kind == Kind::HalfClose {
            s.shutdown().await?;
            let last = f.message(&mut down, plan.last);
            expect(s, &last, "the last message after the half-close").await?;
        } else {
            let bye = f.goodbye(&mut up);
            s.write_all(&bye).await?;
            s.flush().await?;
            expect(s, &f.goodbye(&mut down), "the server's goodbye").await?;
            s.shutdown().await?;
        }
        let mut one = [0u8; 1];
        match s.read(&mut one).await {
            Ok(0) => Ok(()),
            Ok(_) => Err("bytes after the end".into()),
            Err(e) => Err(format!("the close: {e}").into()),
        }
    };
    Ok(match step(end).await {
        Ok(()) => Outcome::Verified,
        Err(e) => verdict_of(e),
    })
}

fn verdict_of(e: Box<dyn std::error::Error + Send + Sync>) -> Outcome {
    let s = e.to_string();
    if s.starts_with("CORRUPTED") {
        Outcome::Corrupted(s)
    } else {
        Outcome::Lost(s)
    }
}
