//! The gateway benchmark's client: it speaks MS-TSGU itself, over the WebSocket
//! transport (one TLS connection upgraded with `RDG_OUT_DATA`) or the HTTP transport
//! (an `RDG_OUT_DATA` channel for packets from the gateway and a chunked `RDG_IN_DATA`
//! channel for packets to it), trusting only the run's CA.
//!
//! It opens the tunnel (handshake, tunnel, tunnel authorization, channel), plays the
//! client's side of the RDP opening inside DATA packets (the X.224 Connection Request,
//! then the TLS 1.2 handshake flights of the relay benchmark's fixture), then moves
//! bulk payload: up as DATA packets of at most 65,535 bytes each (one WebSocket
//! frame or one HTTP chunk per packet), down by counting the payload of the gateway's
//! DATA packets.

use crate::script::Script;
use crate::tls_peer::ClientTls;
use crate::{Res, IO_TIMEOUT};
use rdptap::decode::tsgu::packet::build;
use rdptap::decode::tsgu::{Caps, ExtendedAuth, Packet, PacketType, Status, TsguFramer};
use rdptap::decode::ws::{self, Opcode, WsDecoder, WsEvent};
use rdptap::vocab::Dir;
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Most payload bytes one DATA packet carries.
const DATA_MAX: usize = u16::MAX as usize;
/// Bytes of random seed before the first packet of an HTTP OUT channel body.
const SEED_LEN: usize = 10;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Fixed WebSocket mask: masking costs the same XOR whatever the key.
const MASK: [u8; 4] = [0x3c, 0xa5, 0x17, 0x6e];
/// Numbers the tunnels' RDG-Connection-Id values.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// The two transports of MS-TSGU over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    WebSocket,
    Http,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::WebSocket => "WebSocket",
            Transport::Http => "HTTP",
        })
    }
}

/// TLS settings shared by every tunnel: the run's CA is the only trust anchor.
pub(crate) struct GwClient {
    connector: TlsConnector,
}

impl GwClient {
    pub(crate) fn new(ca_pem: &Path) -> Res<GwClient> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca_pem)? {
            roots.add(c?)?;
        }
        let p: Arc<CryptoProvider> = Arc::new(crypto::ring::default_provider());
        let cfg = ClientConfig::builder_with_provider(p)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(GwClient {
            connector: TlsConnector::from(Arc::new(cfg)),
        })
    }

    async fn connect(&self, port: u16, addrs: &mut Vec<SocketAddr>) -> Res<ClientTls> {
        let s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true)?;
        addrs.push(s.local_addr()?);
        // The lab gateway's certificate, and the leaf rdptap mints in front of it,
        // both name the address the gateway was given.
        let name = ServerName::try_from("127.0.0.1")?;
        let tls = self.connector.connect(name, s).await;
        Ok(tls.map_err(|e| format!("TLS handshake: {e}"))?)
    }

    /// A tunnel through the gateway at `port`, past the RDP opening of `script`.
    pub(crate) async fn open(&self, port: u16, t: Transport, script: &Script) -> Res<Tunnel> {
        let fut = async {
            let mut tun = self
                .open_inner(port, t, ("rdp-host", 3389), &mut Vec::new())
                .await?;
            tun.setup(script).await?;
            Ok(tun)
        };
        timed(fut, "opening the tunnel").await
    }

    /// A tunnel through the gateway at `port` with its channel open to `resource`, before
    /// any RDP; the local address of each TCP connection is added to `addrs` as soon as
    /// it is connected.
    pub(crate) async fn open_channel(
        &self,
        port: u16,
        t: Transport,
        resource: (&str, u16),
        addrs: &mut Vec<SocketAddr>,
    ) -> Res<Tunnel> {
        timed(
            self.open_inner(port, t, resource, addrs),
            "opening the tunnel",
        )
        .await
    }

    async fn open_inner(
        &self,
        port: u16,
        t: Transport,
        resource: (&str, u16),
        addrs: &mut Vec<SocketAddr>,
    ) -> Res<Tunnel> {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let id = format!("{{{:08X}-0000-4000-8000-{:012X}}}", std::process::id(), n);
        let mut tun = match t {
            Transport::WebSocket => {
                let mut s = self.connect(port, addrs).await?;
                let extra = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                             Sec-WebSocket-Version: 13\r\n";
                let rest = request(&mut s, "RDG_OUT_DATA", port, &id, extra, 101).await?;
                let mut tun = Tunnel::new(s, None, Incoming::new(true, 0));
                tun.rx.absorb(&rest)?;
                tun
            }
            Transport::Http => {
                // OUT first, as clients do; the gateway holds it until IN arrives.
                let mut out = self.connect(port, addrs).await?;
                let extra = "Connection: Keep-Alive\r\nContent-Length: 0\r\n";
                let rest = request(&mut out, "RDG_OUT_DATA", port, &id, extra, 200).await?;
                let mut inn = self.connect(port, addrs).await?;
                request(&mut inn, "RDG_IN_DATA", port, &id, extra, 200).await?;
                // The authenticated IN request is followed by the long chunked one.
                let head = head("RDG_IN_DATA", port, &id, "Transfer-Encoding: chunked\r\n");
                inn.write_all(head.as_bytes()).await?;
                let mut tun = Tunnel::new(out, Some(inn), Incoming::new(false, SEED_LEN));
                tun.rx.absorb(&rest)?;
                tun
            }
        };
        tun.channel(resource).await?;
        Ok(tun)
    }
}

fn head(method: &str, port: u16, id: &str, extra: &str) -> String {
    format!(
        "{method} /remoteDesktopGateway/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Accept: */*\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n\
         User-Agent: MS-RDGateway/1.0\r\nRDG-Connection-Id: {id}\r\n{extra}\r\n"
    )
}

/// Sends a request head and reads the response head, which must have status `want`;
/// returns the bytes that followed it.
async fn request(
    s: &mut ClientTls,
    method: &str,
    port: u16,
    id: &str,
    extra: &str,
    want: u16,
) -> Res<Vec<u8>> {
    s.write_all(head(method, port, id, extra).as_bytes())
        .await?;
    s.flush().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(format!("{method}: closed before the response head").into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf)? {
            httparse::Status::Complete(used) => {
                let code = resp.code.unwrap_or(0);
                if code != want {
                    return Err(format!("{method}: answered {code}, not {want}").into());
                }
                return Ok(buf.split_off(used));
            }
            httparse::Status::Partial if buf.len() > MAX_HEAD => {
                return Err(format!("{method}: response head over {MAX_HEAD} bytes").into())
            }
            httparse::Status::Partial => {}
        }
    }
}

/// Bounds an operation, so a stuck gateway fails the run instead of hanging it.
pub(crate) async fn timed<T>(fut: impl std::future::Future<Output = Res<T>>, what: &str) -> Res<T> {
    tokio::time::timeout(IO_TIMEOUT, fut)
        .await
        .map_err(|_| format!("{what} took longer than {} s", IO_TIMEOUT.as_secs()))?
}

/// Packets from the gateway: the OUT body (after the seed) or the WebSocket frames,
/// cut into packets. DATA payload is counted, and kept only while `keep` is set.
struct Incoming {
    ws: Option<WsDecoder>,
    seed_left: usize,
    framer: TsguFramer,
    control: VecDeque<Vec<u8>>,
    data: Vec<u8>,
    keep: bool,
    counted: u64,
}

impl Incoming {
    fn new(ws: bool, seed: usize) -> Incoming {
        Incoming {
            ws: ws.then(|| WsDecoder::new(Dir::S2C)),
            seed_left: seed,
            framer: TsguFramer::new(),
            control: VecDeque::new(),
            data: Vec::new(),
            keep: true,
            counted: 0,
        }
    }

    fn absorb(&mut self, bytes: &[u8]) -> Res<()> {
        let skip = self.seed_left.min(bytes.len());
        self.seed_left -= skip;
        let bytes = &bytes[skip..];
        let Incoming {
            ws,
            framer,
            control,
            data,
            keep,
            counted,
            ..
        } = self;
        let mut packets = |payload: &[u8]| {
            framer.push(
                payload,
                &mut |frame: &[u8]| match Packet::data_payload(frame) {
                    Some(d) => {
                        *counted += d.len() as u64;
                        if *keep {
                            data.extend_from_slice(d);
                        }
                    }
                    None => control.push_back(frame.to_vec()),
                },
            )
        };
        if let Some(dec) = ws {
            let mut events = Vec::new();
            dec.feed(bytes, &mut events, &mut packets);
            for e in events {
                if let WsEvent::WsClose { .. } | WsEvent::WsViolation { .. } = e {
                    return Err(format!("WebSocket from the gateway: {e:?}").into());
                }
            }
            if let Some(e) = dec.error() {
                return Err(format!("WebSocket from the gateway: {e}").into());
            }
        } else {
            packets(bytes);
        }
        if let Some(e) = framer.error() {
            return Err(format!("packets from the gateway: {e}").into());
        }
        Ok(())
    }
}

/// One open tunnel.
pub(crate) struct Tunnel {
    /// The WebSocket connection, or the HTTP OUT channel.
    out: ClientTls,
    /// The HTTP IN channel.
    inn: Option<ClientTls>,
    rx: Incoming,
    buf: Vec<u8>,
    wire: Vec<u8>,
}

impl Tunnel {
    fn new(out: ClientTls, inn: Option<ClientTls>, rx: Incoming) -> Tunnel {
        Tunnel {
            out,
            inn,
            rx,
            buf: vec![0u8; 256 * 1024],
            wire: Vec::with_capacity(1 << 21),
        }
    }

    /// Appends `packet` to the outgoing bytes as the transport frames it.
    fn frame(&mut self, packet: &[u8]) {
        if self.inn.is_some() {
            self.wire
                .extend_from_slice(format!("{:x}\r\n", packet.len()).as_bytes());
            self.wire.extend_from_slice(packet);
            self.wire.extend_from_slice(b"\r\n");
        } else {
            ws::encode_frame(Opcode::Binary, packet, Some(MASK), &mut self.wire);
        }
    }

    /// Writes the framed bytes to the gateway.
    async fn flush_wire(&mut self) -> Res<()> {
        let w = self.inn.as_mut().unwrap_or(&mut self.out);
        w.write_all(&self.wire).await?;
        self.wire.clear();
        Ok(())
    }

    async fn send(&mut self, packet: &[u8]) -> Res<()> {
        self.frame(packet);
        self.flush_wire().await?;
        let w = self.inn.as_mut().unwrap_or(&mut self.out);
        Ok(w.flush().await?)
    }

    /// Reads once from the gateway; an end of stream is an error.
    async fn fill(&mut self) -> Res<()> {
        let n = self.out.read(&mut self.buf).await?;
        if n == 0 {
            return Err("the gateway closed the stream".into());
        }
        self.rx.absorb(&self.buf[..n])
    }

    /// The next non-DATA packet, which must be `want` with a success status.
    async fn expect(&mut self, want: PacketType) -> Res<Packet> {
        let frame = loop {
            if let Some(f) = self.rx.control.pop_front() {
                break f;
            }
            self.fill().await?;
        };
        let p = Packet::decode(&frame).map_err(|e| format!("{e:?}"))?;
        let status = match &p {
            Packet::HandshakeResponse { error, .. }
            | Packet::TunnelAuthResponse { error, .. }
            | Packet::ChannelResponse { error, .. } => *error,
            Packet::TunnelResponse { status, .. } => *status,
            _ => Status(0),
        };
        if p.packet_type() != want || !status.is_ok() {
            return Err(format!("expected {want}, got {} ({status})", p.packet_type()).into());
        }
        Ok(p)
    }

    /// Sends `send` as DATA, then waits for exactly `want` in the gateway's DATA.
    async fn exchange(&mut self, send: &[u8], want: &[u8]) -> Res<()> {
        if !send.is_empty() {
            self.send(&build::data(send)).await?;
        }
        while self.rx.data.len() < want.len() {
            self.fill().await?;
        }
        if !self.rx.data.starts_with(want) {
            return Err("the RDP host's bytes arrived altered".into());
        }
        self.rx.data.drain(..want.len());
        Ok(())
    }

    /// Handshake, tunnel, tunnel authorization and a channel to `resource`.
    async fn channel(&mut self, resource: (&str, u16)) -> Res<()> {
        self.send(&build::handshake_request(ExtendedAuth::NONE))
            .await?;
        self.expect(PacketType::HandshakeResponse).await?;
        self.send(&build::tunnel_create(Caps::IDLE_TIMEOUT, None))
            .await?;
        self.expect(PacketType::TunnelResponse).await?;
        self.send(&build::tunnel_auth("rdptap-bench")).await?;
        self.expect(PacketType::TunnelAuthResponse).await?;
        self.send(&build::channel_create(resource.0, resource.1))
            .await?;
        self.expect(PacketType::ChannelResponse).await?;
        Ok(())
    }

    /// The RDP opening of `script` inside the tunnel; DATA is only counted afterwards.
    pub(crate) async fn setup(&mut self, script: &Script) -> Res<()> {
        self.exchange(&script.cr, &script.cc).await?;
        self.exchange(&script.client[0], &script.server[0]).await?;
        self.exchange(&script.client[1], &script.server[1]).await?;
        if !self.rx.data.is_empty() {
            return Err("the RDP host sent more than its side of the opening".into());
        }
        self.rx.keep = false;
        self.rx.data = Vec::new();
        Ok(())
    }

    /// Sends `bytes` as DATA packets of at most 65,535 bytes, in one write.
    pub(crate) async fn send_data(&mut self, bytes: &[u8]) -> Res<()> {
        for piece in bytes.chunks(DATA_MAX) {
            self.frame(&build::data(piece));
        }
        self.flush_wire().await?;
        let w = self.inn.as_mut().unwrap_or(&mut self.out);
        Ok(w.flush().await?)
    }

    /// The next `n` bytes of DATA payload from the gateway; any other packet first is
    /// an error that names it.
    pub(crate) async fn recv_data(&mut self, n: usize) -> Res<Vec<u8>> {
        self.rx.keep = true;
        while self.rx.data.len() < n {
            if let Some(f) = self.rx.control.pop_front() {
                let what = Packet::decode(&f)
                    .map(|p| p.packet_type().to_string())
                    .unwrap_or_else(|e| format!("{e:?}"));
                return Err(format!("{what} instead of DATA").into());
            }
            self.fill().await?;
        }
        Ok(self.rx.data.drain(..n).collect())
    }

    /// Sends `total` payload bytes, `chunk` at a time (one write per chunk), as DATA
    /// packets of at most 65,535 bytes.
    pub(crate) async fn upload(&mut self, chunk: &[u8], total: u64) -> Res<()> {
        let fut = async {
            let mut left = total;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                for piece in chunk[..n].chunks(DATA_MAX) {
                    self.frame(&build::data(piece));
                }
                self.flush_wire().await?;
                left -= n as u64;
            }
            let w = self.inn.as_mut().unwrap_or(&mut self.out);
            Ok(w.flush().await?)
        };
        timed(fut, "upload").await
    }

    /// Reads the gateway's packets until `total` more DATA payload bytes arrived.
    pub(crate) async fn download(&mut self, total: u64) -> Res<()> {
        let fut = async {
            let goal = self.rx.counted + total;
            while self.rx.counted < goal {
                self.fill().await?;
                if let Some(f) = self.rx.control.pop_front() {
                    let what = Packet::decode(&f)
                        .map(|p| p.packet_type().to_string())
                        .unwrap_or_else(|e| format!("{e:?}"));
                    return Err(format!("{what} during the download").into());
                }
            }
            Ok(())
        };
        timed(fut, "download").await
    }

    /// Ends the tunnel with close_notify on every channel.
    pub(crate) async fn close(mut self) {
        let end = async {
            if let Some(mut i) = self.inn.take() {
                let _ = i.write_all(b"0\r\n\r\n").await;
                let _ = i.shutdown().await;
            }
            let _ = self.out.shutdown().await;
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), end).await;
    }
}
