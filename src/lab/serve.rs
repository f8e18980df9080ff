//! One client connection: TLS, the HTTP authentication rounds, then what the request
//! asks for (a WebSocket tunnel, one half of a two-channel tunnel, or a refusal).

use super::auth::{ChannelAuth, Identity, Step};
use super::channels::Registry;
use super::config::{CloseAt, LabConfig};
use super::fail::{partial_head, Budget};
use super::http_io::{read_head, response_head, Request, MAX_HEAD};
use super::packet_io::{Inbound, Outbound, Reader, Writer};
use super::tunnel::{self, TunnelInfo};
use super::ws_io::accept_key;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The TLS stream of one client connection.
pub type Tls = TlsStream<TcpStream>;

/// How long the TLS handshake may take.
const TLS_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a client may take to send its next request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of random seed at the start of the OUT channel body (what FreeRDP skips).
const SEED_LEN: usize = 10;

/// The IN channel of a two-channel tunnel, waiting for its OUT channel.
pub struct InHalf {
    stream: Tls,
    leftover: Vec<u8>,
    identity: Identity,
}

/// State shared by every connection.
pub struct Shared {
    /// The configuration.
    pub cfg: LabConfig,
    /// TLS with the lab certificate.
    pub acceptor: TlsAcceptor,
    /// IN channels and OUT channels waiting for each other.
    pub registry: Registry<InHalf>,
    /// The next tunnel id.
    pub next_tunnel: AtomicU32,
}

/// Serves one accepted connection to its end.
pub async fn connection(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(TLS_TIMEOUT, shared.acceptor.accept(tcp)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            // With --fail cert=… this is the expected outcome: the client refused the
            // certificate.
            tracing::info!("{peer}: TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::info!("{peer}: no TLS handshake within {}s", TLS_TIMEOUT.as_secs());
            return;
        }
    };
    let c = Conn {
        shared: &shared,
        peer,
        tls,
        buf: Vec::new(),
    };
    if let Err(e) = c.serve().await {
        tracing::info!("{peer}: {e}");
    }
}

struct Conn<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    tls: Tls,
    /// Bytes read past the last request head.
    buf: Vec<u8>,
}

impl Conn<'_> {
    async fn next_request(&mut self) -> io::Result<Option<Request>> {
        let req = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut self.tls, &mut self.buf))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no request within {}s", HEAD_TIMEOUT.as_secs()),
                )
            })??;
        if let Some(r) = &req {
            tracing::debug!("{} → {} {} ({})", self.peer, r.method, r.target, summary(r));
        }
        Ok(req)
    }

    async fn respond(
        &mut self,
        status: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) -> io::Result<()> {
        tracing::debug!("{} ← {status} {reason}", self.peer);
        let head = response_head(status, reason, headers);
        self.tls.write_all(&head).await?;
        self.tls.flush().await
    }

    /// A short text answer, then close.
    async fn refuse(&mut self, status: u16, reason: &str, text: &str) -> io::Result<()> {
        let body = format!("{text}\r\n");
        let headers = [
            ("Server", "rdptap-lab".to_string()),
            ("Content-Type", "text/plain; charset=utf-8".to_string()),
            ("Content-Length", body.len().to_string()),
            ("Connection", "close".to_string()),
        ];
        self.respond(status, reason, &headers).await?;
        self.tls.write_all(body.as_bytes()).await?;
        let _ = self.tls.shutdown().await;
        Ok(())
    }

    /// Skips a small request body (auth rounds carry none or little). Large declared
    /// bodies (RPC_IN_DATA's 1 GiB) are left alone: such requests are refused anyway.
    async fn skip_body(&mut self, req: &Request) -> io::Result<()> {
        let len = req.content_length();
        if req.chunked() || len > MAX_HEAD as u64 {
            return Ok(());
        }
        let mut left = usize::try_from(len).unwrap_or(0);
        let from_buf = left.min(self.buf.len());
        self.buf.drain(..from_buf);
        left -= from_buf;
        let mut scratch = [0u8; 4096];
        while left > 0 {
            let n = self.tls.read(&mut scratch[..left.min(4096)]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed inside a request body",
                ));
            }
            left -= n;
        }
        Ok(())
    }

    async fn serve(mut self) -> io::Result<()> {
        let shared = self.shared;
        let cfg = &shared.cfg;
        let mut auth = ChannelAuth::new(cfg.auth, cfg.fail.auth_final_401);
        let (req, identity) = loop {
            let Some(req) = self.next_request().await? else {
                return Ok(());
            };
            self.skip_body(&req).await?;
            let peer = self.peer;
            let step = auth.step(&req, &mut |note| tracing::debug!("{peer}: {note}"));
            match step {
                Step::Accept(id) => break (req, id),
                Step::Challenge(offers) => {
                    let mut headers: Vec<(&str, String)> = offers
                        .into_iter()
                        .map(|o| ("WWW-Authenticate", o))
                        .collect();
                    headers.push(("Server", "rdptap-lab".to_string()));
                    headers.push(("Content-Length", "0".to_string()));
                    self.respond(401, "Unauthorized", &headers).await?;
                }
                Step::Deny(offers) => {
                    let mut headers: Vec<(&str, String)> = offers
                        .into_iter()
                        .map(|o| ("WWW-Authenticate", o))
                        .collect();
                    headers.push(("Server", "rdptap-lab".to_string()));
                    headers.push(("Content-Length", "0".to_string()));
                    headers.push(("Connection", "close".to_string()));
                    self.respond(401, "Unauthorized", &headers).await?;
                    let _ = self.tls.shutdown().await;
                    tracing::info!(
                        "{}: {} {}: final authentication round answered 401 on purpose (--fail auth=final-401)",
                        self.peer, req.method, req.target
                    );
                    return Ok(());
                }
            }
        };
        tracing::debug!(
            "{}: {} authenticated as {identity} ({})",
            self.peer,
            req.method,
            identity.scheme
        );
        match req.method.as_str() {
            "RDG_OUT_DATA" if req.wants_websocket() => self.websocket(&req, identity).await,
            "RDG_OUT_DATA" => self.out_channel(&req, identity).await,
            "RDG_IN_DATA" => self.in_channel(&req, identity).await,
            "RPC_IN_DATA" | "RPC_OUT_DATA" => {
                tracing::info!(
                    "{}: {} {}: answered 503, RPC over HTTP is not implemented",
                    self.peer,
                    req.method,
                    req.target
                );
                self.refuse(
                    503,
                    "Service Unavailable",
                    "The rdptap lab gateway does not implement the RPC over HTTP transport; use the HTTP or WebSocket transport (xfreerdp /gt:http).",
                )
                .await
            }
            other => {
                tracing::info!("{}: {other} {}: answered 404", self.peer, req.target);
                self.refuse(
                    404,
                    "Not Found",
                    "This is the rdptap lab gateway: it answers RDG_OUT_DATA and RDG_IN_DATA only.",
                )
                .await
            }
        }
    }

    /// The final OUT-side head, honouring `close=out-headers` and `close=out-preamble`.
    /// Returns false when the connection was closed on purpose.
    async fn final_head(
        &mut self,
        status: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) -> io::Result<bool> {
        let head = response_head(status, reason, headers);
        if self.shared.cfg.fail.close == Some(CloseAt::OutHeaders) {
            tracing::debug!("{} ← {status} {reason} (cut short)", self.peer);
            self.tls.write_all(partial_head(&head)).await?;
            self.tls.flush().await?;
            let _ = self.tls.shutdown().await;
            tracing::info!(
                "{}: closed after part of the {status} head on purpose (--fail close=out-headers)",
                self.peer
            );
            return Ok(false);
        }
        tracing::debug!("{} ← {status} {reason}", self.peer);
        self.tls.write_all(&head).await?;
        self.tls.flush().await?;
        Ok(true)
    }

    fn budget(&self) -> Budget {
        match self.shared.cfg.fail.close {
            Some(CloseAt::OutBody(n)) => Budget::bytes(n),
            _ => Budget::unlimited(),
        }
    }

    fn tunnel_id(&self) -> u32 {
        self.shared.next_tunnel.fetch_add(1, Ordering::Relaxed)
    }

    async fn websocket(mut self, req: &Request, identity: Identity) -> io::Result<()> {
        let Some(key) = req.header("Sec-WebSocket-Key").map(str::to_string) else {
            return self
                .refuse(
                    400,
                    "Bad Request",
                    "WebSocket upgrade without Sec-WebSocket-Key",
                )
                .await;
        };
        let headers = [
            ("Server", "rdptap-lab".to_string()),
            ("Upgrade", "websocket".to_string()),
            ("Connection", "Upgrade".to_string()),
            ("Sec-WebSocket-Accept", accept_key(&key)),
        ];
        if !self
            .final_head(101, "Switching Protocols", &headers)
            .await?
        {
            return Ok(());
        }
        if self.shared.cfg.fail.close == Some(CloseAt::OutPreamble) {
            let _ = self.tls.shutdown().await;
            tracing::info!(
                "{}: closed right after the 101 on purpose (--fail close=out-preamble)",
                self.peer
            );
            return Ok(());
        }
        let info = TunnelInfo {
            id: self.tunnel_id(),
            transport: "WebSocket",
            peer: self.peer,
            identity,
        };
        let budget = self.budget();
        let Conn {
            tls, buf, shared, ..
        } = self;
        let (r, w) = tokio::io::split(tls);
        let inbound = Inbound::websocket(Box::new(r) as Reader, buf);
        let outbound = Outbound::websocket(Box::new(w) as Writer, budget);
        tunnel::run(&shared.cfg, info, inbound, outbound).await;
        Ok(())
    }

    async fn out_channel(mut self, req: &Request, identity: Identity) -> io::Result<()> {
        let Some(conn_id) = req.header("RDG-Connection-Id").map(str::to_string) else {
            return self
                .refuse(400, "Bad Request", "RDG_OUT_DATA without RDG-Connection-Id")
                .await;
        };
        // The body runs until the connection closes, whatever --out-framing declares.
        let framing = self.shared.cfg.out_framing;
        let mut headers = vec![
            ("Server", "rdptap-lab".to_string()),
            ("Cache-Control", "no-cache".to_string()),
        ];
        headers.extend(framing.header());
        if !self.final_head(200, "OK", &headers).await? {
            return Ok(());
        }
        let seed = random_seed();
        let preamble = self.shared.cfg.fail.close == Some(CloseAt::OutPreamble);
        let budget = if preamble {
            Budget::bytes(4)
        } else {
            self.budget()
        };
        let id = self.tunnel_id();
        let Conn {
            tls,
            shared,
            peer: out_peer,
            ..
        } = self;
        let mut outbound = Outbound::http(Box::new(tls) as Writer, budget, framing);
        if preamble {
            let _ = outbound.write(&seed).await;
            tracing::info!(
                "{out_peer}: closed after 4 of the {SEED_LEN} seed bytes on purpose (--fail close=out-preamble)"
            );
            return Ok(());
        }
        if let Err(e) = outbound.write(&seed).await {
            tracing::info!("{out_peer}: OUT channel {conn_id}: {e}");
            return Ok(());
        }
        tracing::debug!("{out_peer}: OUT channel {conn_id} waits for its IN channel");
        let half = match shared.registry.out_wait(&conn_id).await {
            Ok(h) => h,
            Err(e) => {
                tracing::info!("{out_peer}: OUT channel {conn_id}: {e}");
                outbound.close().await;
                return Ok(());
            }
        };
        tracing::debug!(
            "{out_peer}: OUT channel {conn_id} paired with its IN channel (user {})",
            half.identity
        );
        let info = TunnelInfo {
            id,
            transport: "HTTP",
            peer: out_peer,
            identity,
        };
        let inbound = Inbound::chunked(Box::new(half.stream) as Reader, half.leftover);
        tunnel::run(&shared.cfg, info, inbound, outbound).await;
        Ok(())
    }

    async fn in_channel(mut self, req: &Request, identity: Identity) -> io::Result<()> {
        let Some(conn_id) = req.header("RDG-Connection-Id").map(str::to_string) else {
            return self
                .refuse(400, "Bad Request", "RDG_IN_DATA without RDG-Connection-Id")
                .await;
        };
        let headers = [
            ("Server", "rdptap-lab".to_string()),
            ("Cache-Control", "no-cache".to_string()),
            ("Content-Length", "0".to_string()),
        ];
        self.respond(200, "OK", &headers).await?;
        // The client now sends the head of the long-running chunked request.
        let Some(body_req) = self.next_request().await? else {
            return Ok(());
        };
        if body_req.method != "RDG_IN_DATA" || !body_req.chunked() {
            return self
                .refuse(
                    400,
                    "Bad Request",
                    "expected RDG_IN_DATA with Transfer-Encoding: chunked after the authenticated RDG_IN_DATA",
                )
                .await;
        }
        let Conn {
            tls,
            buf,
            shared,
            peer,
        } = self;
        let half = InHalf {
            stream: tls,
            leftover: buf,
            identity,
        };
        if let Err(e) = shared.registry.in_arrive(&conn_id, half) {
            tracing::info!("{peer}: IN channel {conn_id}: {e}");
        }
        Ok(())
    }
}

fn random_seed() -> [u8; SEED_LEN] {
    use ring::rand::SecureRandom;
    let mut seed = [0u8; SEED_LEN];
    // Clients skip the seed unread; zeros after an RNG failure would do as well.
    let _ = ring::rand::SystemRandom::new().fill(&mut seed);
    seed
}

/// The secret-free facts about a request for its debug line.
fn summary(r: &Request) -> String {
    let mut parts = Vec::new();
    if let Some(a) = r.header("Authorization") {
        let scheme = a.split(' ').next().unwrap_or("");
        parts.push(format!("Authorization: {scheme} <{} bytes>", a.len()));
    }
    if r.wants_websocket() {
        parts.push("Upgrade: websocket".to_string());
    }
    if r.chunked() {
        parts.push("chunked".to_string());
    } else {
        parts.push(format!("Content-Length {}", r.content_length()));
    }
    if let Some(id) = r.header("RDG-Connection-Id") {
        parts.push(format!("RDG-Connection-Id {id}"));
    }
    parts.join(", ")
}
