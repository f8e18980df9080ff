//! A recording man-in-the-middle for making plaintext fixtures from real peers.
//!
//! It sits between one real client and one real server on loopback and passes the X.224
//! Connection Request and Confirm through untouched. When the server selects TLS it ends
//! TLS on both sides, so the bytes that follow the handshakes can be kept in the clear.
//! Otherwise it relays and keeps the raw stream. Only the ignored capture tests use it.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod peers;

/// Bound on each step before the relay: connecting, one TPKT each way, each TLS handshake.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// RDP_NEG_RSP selectedProtocol value for TLS without CredSSP.
const PROTOCOL_SSL: u32 = 1;

/// What the server's Connection Confirm led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PROTOCOL_SSL: TLS ended on both legs, plaintext kept.
    Tls,
    /// Anything else: bytes relayed and kept as they are.
    Raw,
}

/// How one side stopped sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// A TLS close_notify (the TCP FIN follows it).
    CloseNotify,
    /// A TCP FIN; under TLS, one with no close_notify before it.
    Fin,
    /// A TCP RST.
    Reset,
    /// Any other read error.
    Error(String),
}

/// Everything one capture saw. Times count from the moment the client connected.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// None until the Connection Confirm has been read.
    pub mode: Option<Mode>,
    /// The Connection Request TPKT, as sent.
    pub x224_c2s: Vec<u8>,
    /// The Connection Confirm TPKT, as sent.
    pub x224_s2c: Vec<u8>,
    /// Client bytes after the Connection Request: plaintext under TLS, raw otherwise.
    pub c2s: Vec<u8>,
    /// Server bytes after the Connection Confirm: plaintext under TLS, raw otherwise.
    pub s2c: Vec<u8>,
    /// How and when the client stopped sending; None while it still sends.
    pub client_end: Option<(End, Duration)>,
    /// How and when the server stopped sending; None while it still sends.
    pub server_end: Option<(End, Duration)>,
    /// TLS version and suite agreed with the client.
    pub client_tls: String,
    /// TLS version and suite agreed with the server.
    pub server_tls: String,
    /// Why the capture stopped early, if it did.
    pub error: Option<String>,
}

impl Recording {
    /// Write `NAME.plain.c2s.bin` / `NAME.plain.s2c.bin`: the plaintext after TLS.
    pub fn write_plain(&self, dir: &Path, name: &str) -> io::Result<()> {
        fs::write(dir.join(format!("{name}.plain.c2s.bin")), &self.c2s)?;
        fs::write(dir.join(format!("{name}.plain.s2c.bin")), &self.s2c)
    }

    /// Write `NAME.c2s.bin` / `NAME.s2c.bin`: the whole raw streams, X.224 included.
    pub fn write_raw(&self, dir: &Path, name: &str) -> io::Result<()> {
        let join = |a: &[u8], b: &[u8]| [a, b].concat();
        fs::write(
            dir.join(format!("{name}.c2s.bin")),
            join(&self.x224_c2s, &self.c2s),
        )?;
        fs::write(
            dir.join(format!("{name}.s2c.bin")),
            join(&self.x224_s2c, &self.s2c),
        )
    }

    /// How each side ended, the earlier one first, for logs and the fixture notes.
    pub fn ends(&self) -> String {
        let mut sides = [("client", &self.client_end), ("server", &self.server_end)];
        sides.sort_by_key(|(_, e)| e.as_ref().map_or(Duration::MAX, |(_, at)| *at));
        let show = |(who, e): &(&str, &Option<(End, Duration)>)| match e {
            Some((end, at)) => format!("{who} {end:?} at {:.3}s", at.as_secs_f64()),
            None => format!("{who} still open"),
        };
        format!("{}; then {}", show(&sides[0]), show(&sides[1]))
    }
}

/// A running capture: one client, one upstream server, on its own small runtime so the
/// synchronous peer harness can drive it.
pub struct Capture {
    addr: SocketAddr,
    rec: Arc<Mutex<Recording>>,
    task: Option<tokio::task::JoinHandle<()>>,
    rt: tokio::runtime::Runtime,
}

impl Capture {
    /// Listen on 127.0.0.1 (kernel-chosen port) and relay the first client to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<Capture> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = rt.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
        let addr = listener.local_addr()?;
        let rec = Arc::new(Mutex::new(Recording::default()));
        let task = rt.spawn(run(listener, upstream, rec.clone()));
        Ok(Capture {
            addr,
            rec,
            task: Some(task),
            rt,
        })
    }

    /// Where the client should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of what has been seen so far.
    pub fn snapshot(&self) -> Recording {
        lock(&self.rec).clone()
    }

    /// Poll until `done` holds for the recording so far, or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&Recording) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&lock(&self.rec)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait up to `timeout` for both sides to finish, then stop and return the recording.
    /// A side that is still open then shows as `None` in its `*_end`.
    pub fn finish(mut self, timeout: Duration) -> Recording {
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            let done = self
                .rt
                .block_on(async { tokio::time::timeout(timeout, task).await });
            if done.is_err() {
                abort.abort();
            }
        }
        lock(&self.rec).clone()
    }
}

fn lock(m: &Mutex<Recording>) -> MutexGuard<'_, Recording> {
    // A panic elsewhere must not hide the bytes already recorded.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn run(listener: TcpListener, upstream: SocketAddr, rec: Arc<Mutex<Recording>>) {
    if let Err(e) = session(listener, upstream, &rec).await {
        lock(&rec).error = Some(e.to_string());
    }
}

/// Run a future with the per-step bound.
async fn step<T>(what: &str, f: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(STEP_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}"))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what}: no progress within {STEP_TIMEOUT:?}"),
        )),
    }
}

async fn session(
    listener: TcpListener,
    upstream: SocketAddr,
    rec: &Mutex<Recording>,
) -> io::Result<()> {
    let (mut client, _) = listener.accept().await?;
    let t0 = Instant::now();
    drop(listener);
    let mut server = step("connect upstream", TcpStream::connect(upstream)).await?;
    // Without NODELAY, Nagle plus delayed ACKs stall every small round trip of the
    // connection sequence.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;

    let cr = step("read Connection Request", read_tpkt(&mut client)).await?;
    server.write_all(&cr).await?;
    let cc = step("read Connection Confirm", read_tpkt(&mut server)).await?;
    client.write_all(&cc).await?;
    let mode = if selected_protocol(&cc) == Some(PROTOCOL_SSL) {
        Mode::Tls
    } else {
        Mode::Raw
    };
    {
        let mut r = lock(rec);
        r.x224_c2s = cr;
        r.x224_s2c = cc;
        r.mode = Some(mode);
    }
    let (mut c, mut s) = match mode {
        Mode::Raw => (Leg::Raw(client), Leg::Raw(server)),
        Mode::Tls => {
            let (acceptor, connector) = tls_ends()?;
            let name = ServerName::IpAddress(upstream.ip().into());
            // Both handshakes at once: the server may give up on a TLS accept that waits.
            let (c, s) = tokio::join!(
                step("TLS with the client", acceptor.accept(client)),
                step("TLS with the server", connector.connect(name, server)),
            );
            let (c, s) = (c?, s?);
            {
                let mut r = lock(rec);
                let (_, cc) = c.get_ref();
                let (_, sc) = s.get_ref();
                r.client_tls = describe_tls(cc.protocol_version(), cc.negotiated_cipher_suite());
                r.server_tls = describe_tls(sc.protocol_version(), sc.negotiated_cipher_suite());
            }
            (Leg::FromClient(Box::new(c)), Leg::ToServer(Box::new(s)))
        }
    };
    relay(&mut c, &mut s, rec, t0).await;
    Ok(())
}

fn describe_tls(
    v: Option<rustls::ProtocolVersion>,
    suite: Option<rustls::SupportedCipherSuite>,
) -> String {
    match (v, suite) {
        (Some(v), Some(s)) => format!("{v:?} {:?}", s.suite()),
        _ => "unknown".to_string(),
    }
}

/// One TPKT: version 3, a reserved byte, a big-endian length that counts the header.
async fn read_tpkt(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4];
    s.read_exact(&mut buf).await?;
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if buf[0] != 3 || len < 4 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a TPKT header: {:02x?}", buf),
        ));
    }
    buf.resize(len, 0);
    s.read_exact(&mut buf[4..]).await?;
    Ok(buf)
}

/// selectedProtocol of the RDP_NEG_RSP in a Connection Confirm; None when there is none.
fn selected_protocol(cc: &[u8]) -> Option<u32> {
    // TPKT (4 bytes) and the fixed 7-byte X.224 CC header; the length indicator also
    // counts the negotiation data, so it cannot be used to find it.
    let rsp = cc.get(11..19)?;
    (rsp[0] == 0x02).then(|| u32::from_le_bytes([rsp[4], rsp[5], rsp[6], rsp[7]]))
}

// ---------------------------------------------------------------------------------------
// TLS on both legs

fn tls_ends() -> io::Result<(tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    let bad = |e: rustls::Error| io::Error::other(e.to_string());

    // The client runs with /cert:ignore, so a throwaway self-signed certificate will do.
    let key = rcgen::KeyPair::generate().map_err(|e| io::Error::other(e.to_string()))?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .and_then(|p| p.self_signed(&key))
        .map_err(|e| io::Error::other(e.to_string()))?;
    let server_cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(bad)?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .map_err(bad)?;

    let client_cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(bad)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_no_client_auth();
    Ok((
        tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg)),
        tokio_rustls::TlsConnector::from(Arc::new(client_cfg)),
    ))
}

/// Accepts whatever certificate the test server shows (they are self-signed), but still
/// checks the handshake signatures so the TLS session itself is sound.
#[derive(Debug)]
struct AnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------
// The relay

/// One side of the relay, raw or with TLS ended here.
enum Leg {
    Raw(TcpStream),
    FromClient(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    ToServer(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Leg {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Leg::Raw(s) => s.read(buf).await,
            Leg::FromClient(s) => s.read(buf).await,
            Leg::ToServer(s) => s.read(buf).await,
        }
    }

    async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Leg::Raw(s) => s.write_all(data).await,
            Leg::FromClient(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Leg::ToServer(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
        }
    }

    fn is_tls(&self) -> bool {
        !matches!(self, Leg::Raw(_))
    }

    fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Leg::Raw(s) => s,
            Leg::FromClient(s) => s.get_mut().0,
            Leg::ToServer(s) => s.get_mut().0,
        }
    }

    /// Pass on how the other side ended, so each peer sees the close the other one made:
    /// close_notify and FIN, a bare FIN, or (via a zero linger and the drop that follows) RST.
    async fn mirror(&mut self, end: &End) {
        match (end, &mut *self) {
            (End::CloseNotify, Leg::FromClient(s)) => drop(s.shutdown().await),
            (End::CloseNotify, Leg::ToServer(s)) => drop(s.shutdown().await),
            (End::Reset, _) => drop(self.tcp().set_zero_linger()),
            _ => drop(self.tcp().shutdown().await),
        }
    }
}

fn classify(r: io::Result<usize>, tls: bool) -> End {
    match r {
        Ok(_) if tls => End::CloseNotify,
        Ok(_) => End::Fin,
        // rustls reports a TCP FIN that came without close_notify this way.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => End::Fin,
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => End::Reset,
        Err(e) => End::Error(e.to_string()),
    }
}

/// Relay both ways until both sides have stopped sending, or one resets. Writing toward a
/// side that has gone stops, but the other side is still read, so what it sends is kept.
async fn relay(c: &mut Leg, s: &mut Leg, rec: &Mutex<Recording>, t0: Instant) {
    let mut cbuf = vec![0u8; 64 * 1024];
    let mut sbuf = vec![0u8; 64 * 1024];
    let (mut c_open, mut s_open) = (true, true);
    let (mut to_c, mut to_s) = (true, true);
    while c_open || s_open {
        tokio::select! {
            r = c.read(&mut cbuf), if c_open => match r {
                Ok(n) if n > 0 => {
                    lock(rec).c2s.extend_from_slice(&cbuf[..n]);
                    if to_s && s.send(&cbuf[..n]).await.is_err() {
                        to_s = false;
                    }
                }
                other => {
                    let end = classify(other, c.is_tls());
                    c_open = false;
                    lock(rec).client_end = Some((end.clone(), t0.elapsed()));
                    s.mirror(&end).await;
                    if end == End::Reset {
                        return;
                    }
                }
            },
            r = s.read(&mut sbuf), if s_open => match r {
                Ok(n) if n > 0 => {
                    lock(rec).s2c.extend_from_slice(&sbuf[..n]);
                    if to_c && c.send(&sbuf[..n]).await.is_err() {
                        to_c = false;
                    }
                }
                other => {
                    let end = classify(other, s.is_tls());
                    s_open = false;
                    lock(rec).server_end = Some((end.clone(), t0.elapsed()));
                    c.mirror(&end).await;
                    if end == End::Reset {
                        return;
                    }
                }
            },
        }
    }
}
