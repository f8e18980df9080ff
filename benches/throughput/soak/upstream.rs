//! The soak's upstream: the RDP host behind rdptap (or behind the lab gateway). It reads
//! the Connection Request, learns the session from its cookie, and plays the host's side
//! of the session's plan: the Confirm, the rest of the opening (the fixture's TLS 1.2
//! flights replayed, or a real TLS handshake for interception), the replies, checking
//! every byte the client sent, or the fault the plan names (hang, reset, push into a
//! zero window).
//!
//! Its listener can be closed and opened again, so rdptap's dials in between are
//! refused: that is how some sessions meet a refusing upstream on the one target rdptap
//! has.

use super::plan::{parse_token, Framing, Kind, Plan, PUSH_CHUNK};
use crate::script::Script;
use crate::Res;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

/// Longest Connection Request read; longer is treated as not RDP.
const MAX_REQUEST: usize = 1024;
/// How long the upstream holds a connection that will never be answered (hang,
/// unknown bytes) before giving up on its own.
const HOLD: Duration = Duration::from_secs(300);
/// Most bytes a zero-window session's upstream tries to push.
const PUSH_MAX: u64 = 512 << 20;

/// What every upstream connection shares.
pub(crate) struct Shared {
    pub(crate) script: Arc<Script>,
    /// Some: answer the Confirm with a real TLS handshake (the interception variant).
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) framing: Framing,
    /// What went wrong on the upstream's side of a session, by session number:
    /// corrupted client bytes above all.
    pub(crate) problems: Mutex<HashMap<u64, String>>,
    /// When the upstream closed its connection, by session number (seconds since the
    /// epoch).
    pub(crate) closed: Mutex<HashMap<u64, f64>>,
    /// Connections that named no session (garbage, early close, a slowloris cut short,
    /// readiness probes).
    pub(crate) anonymous: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn new(script: Arc<Script>, tls: Option<TlsAcceptor>, framing: Framing) -> Self {
        Shared {
            script,
            tls,
            framing,
            problems: Mutex::new(HashMap::new()),
            closed: Mutex::new(HashMap::new()),
            anonymous: Default::default(),
        }
    }

    fn problem(&self, id: u64, what: String) {
        self.problems.lock().unwrap().entry(id).or_insert(what);
    }
}

pub(crate) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

enum Ctl {
    Close(oneshot::Sender<()>),
    Reopen(oneshot::Sender<io::Result<()>>),
}

/// The listening upstream; its accept loop runs on the runtime it was started in.
pub(crate) struct Upstream {
    pub(crate) port: u16,
    ctl: mpsc::UnboundedSender<Ctl>,
}

impl Upstream {
    /// Must be called inside a Tokio runtime; the accept loop ends when this is dropped.
    pub(crate) async fn start(shared: Arc<Shared>) -> Res<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (ctl, rx) = mpsc::unbounded_channel();
        tokio::spawn(accept_loop(Some(listener), addr, rx, shared));
        Ok(Upstream {
            port: addr.port(),
            ctl,
        })
    }

    /// Stops listening: dials from now on are refused.
    pub(crate) async fn close(&self) -> Res<()> {
        let (tx, rx) = oneshot::channel();
        self.ctl.send(Ctl::Close(tx)).map_err(|_| "upstream gone")?;
        Ok(rx.await?)
    }

    /// Listens again on the same port.
    pub(crate) async fn reopen(&self) -> Res<()> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(Ctl::Reopen(tx))
            .map_err(|_| "upstream gone")?;
        Ok(rx.await??)
    }
}

async fn accept_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    mut ctl: mpsc::UnboundedReceiver<Ctl>,
    sh: Arc<Shared>,
) {
    loop {
        let Some(l) = &listener else {
            match ctl.recv().await {
                None => return,
                Some(Ctl::Close(ack)) => {
                    let _ = ack.send(());
                }
                Some(Ctl::Reopen(ack)) => {
                    let r = rebind(addr).await;
                    let _ = ack.send(r.as_ref().map(|_| ()).map_err(clone_err));
                    listener = r.ok();
                }
            }
            continue;
        };
        tokio::select! {
            c = ctl.recv() => match c {
                None => return,
                Some(Ctl::Close(ack)) => {
                    // Connections rdptap completed a moment ago may still wait in the
                    // backlog; closing now would reset them, so take them first.
                    while let Ok(Ok((s, _))) =
                        tokio::time::timeout(Duration::from_millis(20), l.accept()).await
                    {
                        tokio::spawn(serve(s, sh.clone()));
                    }
                    listener = None;
                    let _ = ack.send(());
                }
                Some(Ctl::Reopen(ack)) => {
                    let _ = ack.send(Ok(()));
                }
            },
            a = l.accept() => match a {
                Ok((s, _)) => {
                    tokio::spawn(serve(s, sh.clone()));
                }
                // Out of descriptors: back off rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

fn clone_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

async fn rebind(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr).await {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            r => return r,
        }
    }
}

/// What the first bytes of a connection were.
enum First {
    /// Nothing, or a request cut short by the client's close.
    Nothing,
    /// Bytes that are not a Connection Request.
    NotRdp,
    Request(Vec<u8>),
}

/// Reads one TPKT frame, if the stream starts with one.
async fn read_request(s: &mut TcpStream) -> First {
    let mut v = vec![0u8; 4];
    let mut got = 0;
    let mut need = 4;
    while got < need {
        match s.read(&mut v[got..need]).await {
            Ok(0) | Err(_) => return First::Nothing,
            Ok(n) => got += n,
        }
        if v[0] != 0x03 {
            return First::NotRdp;
        }
        if got >= 4 && need == 4 {
            need = u16::from_be_bytes([v[2], v[3]]) as usize;
            if !(11..=MAX_REQUEST).contains(&need) {
                return First::NotRdp;
            }
            v.resize(need, 0);
        }
    }
    First::Request(v)
}

/// Reads and drops everything until the peer closes (or `HOLD` passes).
async fn drain<S: AsyncRead + Unpin>(s: &mut S) {
    let mut buf = vec![0u8; 16 * 1024];
    let _ = tokio::time::timeout(HOLD, async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

async fn serve(mut s: TcpStream, sh: Arc<Shared>) {
    let _ = s.set_nodelay(true);
    let plan = match read_request(&mut s).await {
        First::Nothing => None,
        First::NotRdp => {
            // As an RDP server does with bytes it cannot read: close its side, and let
            // the peer finish.
            let _ = s.shutdown().await;
            drain(&mut s).await;
            None
        }
        First::Request(cr) => match parse_token(&cr) {
            Some((kind, id)) => Some(Plan::new(id, kind)),
            None => {
                drain(&mut s).await;
                None
            }
        },
    };
    let Some(plan) = plan else {
        sh.anonymous
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return;
    };
    if let Err(e) = session(s, &sh, &plan).await {
        if matches!(plan.kind, Kind::Healthy | Kind::HalfClose) {
            sh.problem(plan.id, format!("upstream: {e}"));
        }
    }
    sh.closed.lock().unwrap().insert(plan.id, now_secs());
}

async fn session(mut s: TcpStream, sh: &Shared, plan: &Plan) -> Res<()> {
    if plan.kind == Kind::Hang {
        drain(&mut s).await;
        return Ok(());
    }
    s.write_all(&sh.script.cc).await?;
    match &sh.tls {
        None => {
            let sc = &sh.script;
            expect(&mut s, &sc.client[0], "the client's first TLS flight").await?;
            s.write_all(&sc.server[0]).await?;
            expect(&mut s, &sc.client[1], "the client's second TLS flight").await?;
            s.write_all(&sc.server[1]).await?;
            let reset = play(&mut s, sh, plan).await?;
            if reset {
                s.set_zero_linger()?;
            }
        }
        Some(acceptor) => {
            let mut tls = acceptor.accept(s).await?;
            let reset = play(&mut tls, sh, plan).await?;
            if reset {
                tls.get_ref().0.set_zero_linger()?;
            }
        }
    }
    Ok(())
}

async fn expect<S: AsyncRead + Unpin>(s: &mut S, want: &[u8], what: &str) -> Res<()> {
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).await?;
    if got != want {
        return Err(format!("{what} arrived altered").into());
    }
    Ok(())
}

/// The host's side of the session after the opening; true when the connection must be
/// reset rather than closed.
async fn play<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, sh: &Shared, plan: &Plan) -> Res<bool> {
    let f = sh.framing;
    let (mut up, mut down) = plan.streams();
    if plan.kind == Kind::ZeroWindow {
        let mut pushed = 0u64;
        while pushed < PUSH_MAX {
            let m = f.message(&mut down, PUSH_CHUNK);
            if s.write_all(&m).await.is_err() {
                break;
            }
            pushed += m.len() as u64;
        }
        return Ok(false);
    }
    for (i, r) in plan.rounds.iter().enumerate() {
        let want = f.message(&mut up, r.up);
        if let Err(e) = expect(s, &want, "").await {
            let what = if e.to_string().contains("altered") {
                format!("CORRUPTED: the client's message of round {i} differs")
            } else {
                format!("reading round {i}: {e}")
            };
            if what.starts_with("CORRUPTED") {
                sh.problem(plan.id, what.clone());
            }
            return Err(what.into());
        }
        let reply = f.message(&mut down, r.down);
        if plan.kind == Kind::Reset && i == plan.last {
            // Half the reply, then the reset, in the middle of the stream.
            s.write_all(&reply[..reply.len() / 2]).await?;
            s.flush().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(true);
        }
        s.write_all(&reply).await?;
        s.flush().await?;
    }
    match plan.kind {
        Kind::HalfClose => {
            // The client's FIN (or close_notify) comes where the next round would.
            let mut one = [0u8; 1];
            if s.read(&mut one).await? != 0 {
                return Err("the client sent more after its last round".into());
            }
            s.write_all(&f.message(&mut down, plan.last)).await?;
            s.shutdown().await?;
        }
        _ => {
            // Goodbye for goodbye, then the client's close, then ours: the answer comes
            // before the close because through a gateway the client's close ends the
            // tunnel.
            let bye = f.goodbye(&mut up);
            expect(s, &bye, "the client's goodbye").await?;
            s.write_all(&f.goodbye(&mut down)).await?;
            s.flush().await?;
            let mut one = [0u8; 1];
            if s.read(&mut one).await? != 0 {
                return Err("the client sent more after its goodbye".into());
            }
            s.shutdown().await?;
        }
    }
    Ok(false)
}
