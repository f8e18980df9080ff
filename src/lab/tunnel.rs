//! The MS-TSGU server side of one tunnel: handshake, tunnel, authorization, channel,
//! then DATA both ways between the client and the RDP host.
//!
//! Requests must come in protocol order; anything else is answered with
//! E_PROXY_INTERNALERROR and the tunnel closes, as Windows and rdpgw do.

use super::auth::Identity;
use super::config::LabConfig;
use super::packet_io::{Inbound, Outbound};
use crate::decode::tsgu::packet::build;
use crate::decode::tsgu::{Caps, ExtendedAuth, Packet, RedirFlags, Status};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// E_PROXY_INTERNALERROR: a request out of order or malformed.
const E_PROXY_INTERNALERROR: Status = Status(0x8007_59D8);
/// E_PROXY_TS_CONNECTFAILED: the RDP host could not be reached.
const E_PROXY_TS_CONNECTFAILED: Status = Status(0x8007_59DD);

/// How long dialling the RDP host may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the client gets to acknowledge a CLOSE_CHANNEL.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long the client may take between requests before the channel is open.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The capabilities the gateway grants when the client offers them.
const GRANTABLE: Caps = Caps(Caps::IDLE_TIMEOUT.0 | Caps::MESSAGING_SERVICE_MSG.0);

/// Where in the protocol a tunnel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Handshake,
    TunnelCreate,
    TunnelAuth,
    ChannelCreate,
    Data,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Handshake => "HANDSHAKE_REQUEST",
            Stage::TunnelCreate => "TUNNEL_CREATE",
            Stage::TunnelAuth => "TUNNEL_AUTH",
            Stage::ChannelCreate => "CHANNEL_CREATE",
            Stage::Data => "DATA",
        })
    }
}

/// Facts about one tunnel for its log lines.
#[derive(Debug, Clone)]
pub struct TunnelInfo {
    /// The tunnel id the client is given.
    pub id: u32,
    /// "WebSocket" or "HTTP".
    pub transport: &'static str,
    /// The client's address (the OUT channel's for HTTP).
    pub peer: SocketAddr,
    /// Who the OUT (or only) channel authenticated as.
    pub identity: Identity,
}

/// How a tunnel ended, for its info line.
enum End {
    ClientClosed,
    ClientClosedInData,
    ClientClosedChannel,
    TargetClosed,
    FailedOnPurpose(Stage, Status),
    Refused(String),
    Broken(String),
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::ClientClosed => f.write_str("the client closed the connection"),
            End::ClientClosedInData => f.write_str("ok: the client closed the connection"),
            End::ClientClosedChannel => f.write_str("ok: the client closed the channel"),
            End::TargetClosed => f.write_str("ok: the RDP host closed the connection"),
            End::FailedOnPurpose(stage, s) => {
                write!(f, "failed on purpose: {stage} answered with {s}")
            }
            End::Refused(why) => write!(f, "refused: {why}"),
            End::Broken(why) => write!(f, "error: {why}"),
        }
    }
}

/// Runs one tunnel to its end and logs one info line about it.
pub async fn run(cfg: &LabConfig, info: TunnelInfo, mut inbound: Inbound, mut outbound: Outbound) {
    let mut t = Tunnel {
        cfg,
        info: &info,
        resource: None,
        dialled: None,
        stage: Stage::Handshake,
        to_host: 0,
        to_client: 0,
    };
    let end = t.serve(&mut inbound, &mut outbound).await;
    outbound.close().await;
    let relayed = if t.stage == Stage::Data {
        format!(
            ", {} bytes to the host and {} to the client",
            t.to_host, t.to_client
        )
    } else {
        String::new()
    };
    tracing::info!(
        "tunnel {}: user {} via {} from {}, resource {}{}: {end}{relayed}",
        info.id,
        info.identity,
        info.transport,
        info.peer,
        t.resource.as_deref().unwrap_or("(none)"),
        t.dialled
            .as_deref()
            .map(|d| format!(" (dialled {d})"))
            .unwrap_or_default(),
    );
}

struct Tunnel<'a> {
    cfg: &'a LabConfig,
    info: &'a TunnelInfo,
    resource: Option<String>,
    dialled: Option<String>,
    stage: Stage,
    to_host: u64,
    to_client: u64,
}

/// What one request led to.
enum Next {
    Continue,
    Open(TcpStream),
    Stop(End),
}

impl Tunnel<'_> {
    async fn serve(&mut self, inbound: &mut Inbound, out: &mut Outbound) -> End {
        let target = loop {
            let frame = match tokio::time::timeout(SETUP_TIMEOUT, inbound.next()).await {
                Err(_) => {
                    return End::Broken(format!(
                        "no {} from the client within {}s",
                        self.stage,
                        SETUP_TIMEOUT.as_secs()
                    ))
                }
                Ok(Ok(Some(f))) => f,
                Ok(Ok(None)) => return End::ClientClosed,
                Ok(Err(e)) => return End::Broken(e.to_string()),
            };
            match self.setup_step(&frame, out).await {
                Ok(Next::Continue) => {}
                Ok(Next::Open(stream)) => break stream,
                Ok(Next::Stop(end)) => return end,
                Err(e) => return End::Broken(format!("writing to the client: {e}")),
            }
        };
        self.relay(inbound, out, target).await
    }

    async fn send(&self, out: &mut Outbound, packet: &[u8]) -> std::io::Result<()> {
        if let Ok(p) = Packet::decode(packet) {
            tracing::debug!("tunnel {} ← {}", self.info.id, describe(&p));
        }
        out.send(packet).await
    }

    async fn setup_step(&mut self, frame: &[u8], out: &mut Outbound) -> std::io::Result<Next> {
        let packet = match Packet::decode(frame) {
            Ok(p) => p,
            Err(e) => {
                self.send(out, &build::close_channel(E_PROXY_INTERNALERROR))
                    .await?;
                return Ok(Next::Stop(End::Refused(format!("malformed packet: {e}"))));
            }
        };
        tracing::debug!("tunnel {} → {}", self.info.id, describe(&packet));
        let fail = &self.cfg.fail;
        match (&packet, self.stage) {
            (Packet::HandshakeRequest { .. }, Stage::Handshake) => {
                let status = fail.handshake.unwrap_or(Status(0));
                self.send(out, &build::handshake_response(status, ExtendedAuth::NONE))
                    .await?;
                self.advance(Stage::TunnelCreate, status)
            }
            (Packet::TunnelCreate { caps, .. }, Stage::TunnelCreate) => {
                let status = fail.tunnel.unwrap_or(Status(0));
                let granted = Caps(caps.0 & GRANTABLE.0);
                self.send(
                    out,
                    &build::tunnel_response(status, self.info.id, granted, None),
                )
                .await?;
                self.advance(Stage::TunnelAuth, status)
            }
            (Packet::TunnelAuth { client_name, .. }, Stage::TunnelAuth) => {
                tracing::debug!("tunnel {}: client name {client_name:?}", self.info.id);
                let status = fail.tunnel_auth.unwrap_or(Status(0));
                self.send(
                    out,
                    &build::tunnel_auth_response(
                        status,
                        RedirFlags::ENABLE_ALL,
                        self.cfg.idle_timeout_min,
                    ),
                )
                .await?;
                if status.is_ok() {
                    if let Some(m) = &fail.service_message {
                        self.send(out, &build::service_message(m)).await?;
                    }
                }
                self.advance(Stage::ChannelCreate, status)
            }
            (
                Packet::ChannelCreate {
                    resources, port, ..
                },
                Stage::ChannelCreate,
            ) => self.channel_create(resources, *port, out).await,
            (Packet::Keepalive, s) if s != Stage::Handshake => {
                self.send(out, &build::keepalive()).await?;
                Ok(Next::Continue)
            }
            (Packet::CloseChannel { .. }, _) => {
                self.send(out, &build::close_channel_response(Status(0)))
                    .await?;
                Ok(Next::Stop(End::ClientClosedChannel))
            }
            (p, stage) => {
                let answer = error_answer(p);
                self.send(out, &answer).await?;
                Ok(Next::Stop(End::Refused(format!(
                    "{} while waiting for {stage}; answered E_PROXY_INTERNALERROR",
                    p.packet_type()
                ))))
            }
        }
    }

    fn advance(&mut self, next: Stage, status: Status) -> std::io::Result<Next> {
        if status.is_ok() {
            self.stage = next;
            Ok(Next::Continue)
        } else {
            Ok(Next::Stop(End::FailedOnPurpose(self.stage, status)))
        }
    }

    async fn channel_create(
        &mut self,
        resources: &[String],
        port: u16,
        out: &mut Outbound,
    ) -> std::io::Result<Next> {
        let resource = resources.first().cloned().unwrap_or_default();
        self.resource = Some(format!("{resource}:{port}"));
        if let Some(status) = self.cfg.fail.channel {
            self.send(out, &build::channel_response(status, 0)).await?;
            return Ok(Next::Stop(End::FailedOnPurpose(
                Stage::ChannelCreate,
                status,
            )));
        }
        let dial = if self.cfg.route_by_resource {
            if resource.contains(':') && !resource.starts_with('[') {
                format!("[{resource}]:{port}")
            } else {
                format!("{resource}:{port}")
            }
        } else {
            self.cfg.target.clone()
        };
        self.dialled = Some(dial.clone());
        let stream = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&dial)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                self.send(out, &build::channel_response(E_PROXY_TS_CONNECTFAILED, 0))
                    .await?;
                return Ok(Next::Stop(End::Broken(format!(
                    "cannot connect to {dial}: {e}"
                ))));
            }
            Err(_) => {
                self.send(out, &build::channel_response(E_PROXY_TS_CONNECTFAILED, 0))
                    .await?;
                return Ok(Next::Stop(End::Broken(format!(
                    "connecting to {dial} took longer than {}s",
                    DIAL_TIMEOUT.as_secs()
                ))));
            }
        };
        let _ = stream.set_nodelay(true);
        self.send(out, &build::channel_response(Status(0), self.info.id))
            .await?;
        self.stage = Stage::Data;
        Ok(Next::Open(stream))
    }

    async fn relay(&mut self, inbound: &mut Inbound, out: &mut Outbound, target: TcpStream) -> End {
        let (mut from_host, mut to_host) = target.into_split();
        let mut buf = vec![0u8; 64 * 1024 - 1];
        let id = self.info.id;
        loop {
            tokio::select! {
                frame = inbound.next() => {
                    let frame = match frame {
                        Ok(Some(f)) => f,
                        Ok(None) => return End::ClientClosedInData,
                        Err(e) => return End::Broken(e.to_string()),
                    };
                    if let Some(payload) = Packet::data_payload(&frame) {
                        tracing::trace!("tunnel {id} → DATA {} bytes", payload.len());
                        if let Err(e) = to_host.write_all(payload).await {
                            return End::Broken(format!("writing to the RDP host: {e}"));
                        }
                        self.to_host += payload.len() as u64;
                        continue;
                    }
                    match self.setup_step(&frame, out).await {
                        Ok(Next::Continue) => {}
                        Ok(Next::Stop(end)) => return end,
                        Ok(Next::Open(_)) => {}
                        Err(e) => return End::Broken(format!("writing to the client: {e}")),
                    }
                }
                n = from_host.read(&mut buf) => {
                    match n {
                        Ok(0) | Err(_) => {
                            return self.close_from_host(inbound, out).await;
                        }
                        Ok(n) => {
                            tracing::trace!("tunnel {id} ← DATA {n} bytes");
                            if let Err(e) = out.send(&build::data(&buf[..n])).await {
                                return End::Broken(format!("writing to the client: {e}"));
                            }
                            self.to_client += n as u64;
                        }
                    }
                }
            }
        }
    }

    /// The host closed: CLOSE_CHANNEL to the client, and a bounded wait for its answer.
    async fn close_from_host(&mut self, inbound: &mut Inbound, out: &mut Outbound) -> End {
        if self
            .send(out, &build::close_channel(Status(0)))
            .await
            .is_err()
        {
            return End::TargetClosed;
        }
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Ok(Some(frame)) = inbound.next().await {
                if let Ok(p @ Packet::CloseChannelResponse { .. }) = Packet::decode(&frame) {
                    tracing::debug!("tunnel {} → {}", self.info.id, describe(&p));
                    break;
                }
            }
        })
        .await;
        End::TargetClosed
    }
}

/// The answer to a packet that came at the wrong time: its own response type with
/// E_PROXY_INTERNALERROR, or CLOSE_CHANNEL for packets that have none.
fn error_answer(p: &Packet) -> Vec<u8> {
    let e = E_PROXY_INTERNALERROR;
    match p {
        Packet::HandshakeRequest { .. } => build::handshake_response(e, ExtendedAuth::NONE),
        Packet::TunnelCreate { .. } => build::tunnel_response(e, 0, Caps(0), None),
        Packet::TunnelAuth { .. } => build::tunnel_auth_response(e, RedirFlags(0), 0),
        Packet::ChannelCreate { .. } => build::channel_response(e, 0),
        _ => build::close_channel(e),
    }
}

/// One short line about a packet, without payloads.
fn describe(p: &Packet) -> String {
    match p {
        Packet::Data { data_len } => format!("DATA {data_len} bytes"),
        other => {
            let json = serde_json::to_string(other).unwrap_or_default();
            format!("{} {json}", other.packet_type())
        }
    }
}

#[cfg(test)]
#[path = "tunnel_tests.rs"]
mod tests;
