//! Real RDP-over-TLS peers for the interception benchmark: a server that answers the
//! X.224 Connection Request with a Connection Confirm selecting PROTOCOL_SSL and then
//! speaks TLS, and a client that does the same opening and accepts any certificate
//! (as an RDP client does after the user clicks through the warning).
//!
//! Unlike the replayed fixture of the relay benchmark, both ends really encrypt, so an
//! intercepting rdptap has genuine handshakes to complete and records to decrypt.
//!
//! After the handshake the client drives the server with a 9-byte command: one
//! operation byte and a little-endian u64 length.
//! - `U`: the client sends that many bytes; the server answers one byte once it has
//!   read them all, so the client's clock covers the whole transfer.
//! - `D`: the server sends that many bytes.
//! - `E`: the server echoes that many bytes back.
//!
//! Lengths, not end-of-stream, delimit transfers: a relay's handling of half-closed
//! TLS connections is not what this benchmark measures.

use crate::{Res, IO_TIMEOUT};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{self, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// X.224 Connection Request in a TPKT, with an RDP_NEG_REQ asking for PROTOCOL_SSL.
pub(crate) const CR_SSL: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x01,
    0x00, 0x00, 0x00,
];
/// X.224 Connection Confirm in a TPKT, with an RDP_NEG_RSP selecting PROTOCOL_SSL.
pub(crate) const CC_SSL: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01,
    0x00, 0x00, 0x00,
];
/// The name the client asks for. Any rdptap CA may sign it: `ca init` always
/// permits localhost.
const SERVER_NAME: &str = "localhost";
/// Bytes per write of bulk data, and per read.
const CHUNK: usize = 1 << 20;
/// Largest echo the server accepts; echoes are small messages.
const MAX_ECHO: u64 = 64 * 1024;

pub(crate) type ClientTls = tokio_rustls::client::TlsStream<TcpStream>;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// A fixed payload that is not all zeros, so nothing on the way gains from zeros.
pub(crate) fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
        .collect()
}

// ---------------------------------------------------------------- server

/// The RDP-over-TLS server, on its own thread with a single-threaded runtime, so its
/// crypto competes for the CPUs as a separate server process would.
pub(crate) struct TlsServer {
    pub(crate) port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    pub(crate) fn start() -> Res<TlsServer> {
        let acceptor = TlsAcceptor::from(Arc::new(server_config()?));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Registered with this runtime's reactor, here, so a failure is reported.
        let listener = {
            let _in_rt = rt.enter();
            TcpListener::from_std(std_listener)?
        };
        let thread = thread::spawn(move || {
            rt.block_on(async move {
                let bulk = Arc::new(pattern(CHUNK));
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        conn = listener.accept() => {
                            let Ok((s, _)) = conn else {
                                // Out of descriptors: back off rather than spin.
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            };
                            let (acceptor, bulk) = (acceptor.clone(), bulk.clone());
                            tokio::spawn(async move {
                                if let Err(e) = serve(s, acceptor, &bulk).await {
                                    if !is_disconnect(&e) {
                                        eprintln!("  tls server: {e}");
                                    }
                                }
                            });
                        }
                    }
                }
            });
            // Dropping the runtime here cancels every connection task still open.
        });
        Ok(TlsServer {
            port,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An ECDSA P-256 self-signed certificate for localhost, TLS 1.2 and 1.3.
fn server_config() -> Res<ServerConfig> {
    Ok(server_config_and_cert()?.0)
}

/// [`server_config`]'s settings, and its certificate (to pin it).
pub(crate) fn server_config_and_cert() -> Res<(ServerConfig, CertificateDer<'static>)> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()])?.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)?;
    // The bench client never resumes (every setup is a full handshake), so tickets
    // would be work that no one uses.
    cfg.send_tls13_tickets = 0;
    Ok((cfg, cert.der().clone()))
}

/// Closing without a word (readiness probes) or tearing a finished connection down is
/// not worth reporting.
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

async fn serve(mut s: TcpStream, acceptor: TlsAcceptor, bulk: &[u8]) -> io::Result<()> {
    s.set_nodelay(true)?;
    if read_tpkt(&mut s).await? != CR_SSL {
        // A relay that rewrote the request would make every number meaningless.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the Connection Request arrived altered",
        ));
    }
    s.write_all(&CC_SSL).await?;
    let mut tls = acceptor.accept(s).await?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut cmd = [0u8; 9];
        match tls.read(&mut cmd[..1]).await? {
            0 => return Ok(()),
            _ => tls.read_exact(&mut cmd[1..]).await?,
        };
        let len = u64::from_le_bytes(cmd[1..].try_into().expect("8 bytes"));
        match cmd[0] {
            b'U' => {
                let mut left = len;
                while left > 0 {
                    let want = left.min(buf.len() as u64) as usize;
                    match tls.read(&mut buf[..want]).await? {
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => left -= n as u64,
                    }
                }
                tls.write_all(b"k").await?;
            }
            b'D' => {
                let mut left = len;
                while left > 0 {
                    let n = left.min(bulk.len() as u64) as usize;
                    tls.write_all(&bulk[..n]).await?;
                    left -= n as u64;
                }
            }
            b'E' if len <= MAX_ECHO => {
                let msg = &mut buf[..len as usize];
                tls.read_exact(msg).await?;
                tls.write_all(msg).await?;
            }
            op => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown command {op:#04x} (length {len})"),
                ))
            }
        }
        tls.flush().await?;
    }
}

/// Reads one TPKT frame (version 3, big-endian length including the 4-byte header).
async fn read_tpkt<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 4];
    s.read_exact(&mut frame).await?;
    let len = u16::from_be_bytes([frame[2], frame[3]]) as usize;
    if frame[0] != 3 || len < 4 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a TPKT"));
    }
    frame.resize(len, 0);
    s.read_exact(&mut frame[4..]).await?;
    Ok(frame)
}

// ---------------------------------------------------------------- client

/// Accepts any server certificate but still checks the handshake signatures, so the
/// client does the same public-key work as a real one.
#[derive(Debug)]
pub(crate) struct AcceptAnyCert(pub(crate) Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
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
        crypto::verify_tls12_signature(
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
        crypto::verify_tls13_signature(
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

/// The bench client's TLS settings, shared by every connection it opens.
pub(crate) struct TlsClient {
    connector: TlsConnector,
}

impl TlsClient {
    pub(crate) fn new() -> Res<TlsClient> {
        let p = provider();
        let mut cfg = ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(p)))
            .with_no_client_auth();
        // Every connection pays a full handshake, so setup times compare like with
        // like whether or not the relay in between resumes sessions.
        cfg.resumption = Resumption::disabled();
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(cfg)),
        })
    }

    /// The TLS connector, for clients that do their own opening.
    pub(crate) fn connector(&self) -> TlsConnector {
        self.connector.clone()
    }

    /// TCP connect, CR/CC selecting PROTOCOL_SSL, then the TLS handshake.
    pub(crate) async fn open(&self, port: u16) -> Res<ClientTls> {
        let fut = async {
            let mut s = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| format!("connect: {e}"))?;
            // As RDP clients do; it also keeps small messages free of Nagle delays.
            s.set_nodelay(true)?;
            s.write_all(&CR_SSL).await?;
            let cc = read_tpkt(&mut s)
                .await
                .map_err(|e| format!("reading the Connection Confirm: {e}"))?;
            if cc != CC_SSL {
                return Err(format!("unexpected Connection Confirm {cc:02x?}").into());
            }
            let name = ServerName::try_from(SERVER_NAME)?;
            let tls = self.connector.connect(name, s).await;
            Ok(tls.map_err(|e| format!("TLS handshake: {e}"))?)
        };
        timed_out(fut, "opening").await
    }
}

/// Bounds an operation, so a stuck relay fails the run instead of hanging it.
async fn timed_out<T>(fut: impl std::future::Future<Output = Res<T>>, what: &str) -> Res<T> {
    tokio::time::timeout(IO_TIMEOUT, fut)
        .await
        .map_err(|_| format!("{what} took longer than {} s", IO_TIMEOUT.as_secs()))?
}

/// What the client leg negotiated, e.g. "TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519".
pub(crate) fn negotiated(s: &ClientTls) -> String {
    let c = s.get_ref().1;
    let part = |o: Option<String>| o.unwrap_or_else(|| "?".into());
    format!(
        "{} {} {}",
        part(c.protocol_version().map(|v| format!("{v:?}"))),
        part(
            c.negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
        ),
        part(
            c.negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name()))
        ),
    )
}

async fn command<S: AsyncWrite + Unpin>(s: &mut S, op: u8, len: u64) -> io::Result<()> {
    let mut cmd = [op; 9];
    cmd[1..].copy_from_slice(&len.to_le_bytes());
    s.write_all(&cmd).await
}

/// Sends `total` bytes in `chunk`-sized writes; the time until the server confirmed
/// it has read them all.
pub(crate) async fn upload(s: &mut ClientTls, chunk: &[u8], total: u64) -> Res<Duration> {
    let fut = async {
        let start = Instant::now();
        command(s, b'U', total).await?;
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            s.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
        s.flush().await?;
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).await?;
        Ok(start.elapsed())
    };
    timed_out(fut, "upload").await
}

/// Asks for `total` bytes; the time until the last one arrived.
pub(crate) async fn download(s: &mut ClientTls, buf: &mut [u8], total: u64) -> Res<Duration> {
    let fut = async {
        let start = Instant::now();
        command(s, b'D', total).await?;
        s.flush().await?;
        let mut left = total;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            match s.read(&mut buf[..want]).await? {
                0 => return Err(format!("stream ended with {left} bytes still due").into()),
                n => left -= n as u64,
            }
        }
        Ok(start.elapsed())
    };
    timed_out(fut, "download").await
}

/// One small message there and back.
pub(crate) async fn echo(s: &mut ClientTls, msg: &[u8]) -> Res<()> {
    let fut = async {
        command(s, b'E', msg.len() as u64).await?;
        s.write_all(msg).await?;
        s.flush().await?;
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).await?;
        if got != msg {
            return Err("echo differs from the message".into());
        }
        Ok(())
    };
    timed_out(fut, "echo").await
}

/// Sends close_notify and closes, so the peers see an orderly end, not an error.
pub(crate) async fn close(mut s: ClientTls) {
    let _ = tokio::time::timeout(Duration::from_secs(5), s.shutdown()).await;
}
