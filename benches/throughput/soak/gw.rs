//! The soak's clients in gateway mode: each session opens an MS-TSGU tunnel through
//! `rdptap proxy --gateway` and `rdptap lab gateway` to the soak's upstream, over the
//! WebSocket or the HTTP transport in turn, and plays the RDP-shaped session inside
//! DATA packets, checked byte for byte.
//!
//! Faults here: the host refuses (the channel names a closed port; the lab gateway
//! answers CHANNEL_RESPONSE with an error), the host resets mid-stream, the host hangs,
//! the client closes right after connecting, the client sends garbage instead of a TLS
//! ClientHello, and the client stops reading while the host pushes (zero window).

use super::client::{Outcome, Rec, HANG, STEP, WAIT_CLOSE, ZERO_HOLD};
use super::events::{Claim, Events};
use super::plan::{request_with, Framing, Gen, Kind, Plan};
use super::upstream::now_secs;
use crate::gateway_client::{GwClient, Transport, Tunnel};
use crate::script::Script;
use crate::Res;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The faults the gateway variant plays.
pub(crate) const FAULTS: [Kind; 6] = [
    Kind::Refuse,
    Kind::Reset,
    Kind::Hang,
    Kind::EarlyClose,
    Kind::Garbage,
    Kind::ZeroWindow,
];

/// What every gateway session shares.
pub(crate) struct Ctx {
    /// rdptap's port (in gateway mode).
    pub(crate) port: u16,
    pub(crate) client: GwClient,
    /// The RDP host behind the lab gateway (the soak's upstream).
    pub(crate) host: u16,
    /// A port where nothing listens: the refusing host.
    pub(crate) closed: u16,
    pub(crate) script: Arc<Script>,
    pub(crate) events: Arc<Events>,
}

/// One session, start to end; the transport alternates with the session number.
pub(crate) async fn session(ctx: &Ctx, plan: Plan) -> Rec {
    let start = now_secs();
    let mut addrs = Vec::new();
    let t = if plan.id.is_multiple_of(2) {
        Transport::WebSocket
    } else {
        Transport::Http
    };
    let r = run(ctx, &plan, t, &mut addrs).await;
    let claims: Vec<Claim> = addrs.iter().map(|a| ctx.events.claim(*a)).collect();
    let outcome = match r {
        Ok(o) => o,
        Err(e) if plan.kind == Kind::Healthy => {
            let s = e.to_string();
            if s.starts_with("CORRUPTED") {
                Outcome::Corrupted(s)
            } else {
                Outcome::Lost(format!("{t}: {s}"))
            }
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

async fn raw(ctx: &Ctx, addrs: &mut Vec<SocketAddr>) -> Res<TcpStream> {
    let s = timeout(STEP, TcpStream::connect(("127.0.0.1", ctx.port)))
        .await
        .map_err(|_| "connecting to rdptap timed out")??;
    addrs.push(s.local_addr()?);
    Ok(s)
}

async fn run(ctx: &Ctx, plan: &Plan, t: Transport, addrs: &mut Vec<SocketAddr>) -> Res<Outcome> {
    match plan.kind {
        Kind::EarlyClose => {
            drop(raw(ctx, addrs).await?);
            return Ok(Outcome::Fault("closed at once"));
        }
        Kind::Garbage => {
            let mut s = raw(ctx, addrs).await?;
            let mut junk = Vec::new();
            plan.streams().0.take(256, &mut junk);
            // Not a TLS record type, so it cannot pass for a ClientHello.
            junk[0] = 0xa5;
            s.write_all(&junk).await?;
            let mut buf = [0u8; 4096];
            let closed = timeout(WAIT_CLOSE, async {
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await
            .is_ok();
            return Ok(Outcome::Fault(if closed {
                "closed by the far side"
            } else {
                "closed by the client at its limit"
            }));
        }
        Kind::Refuse => {
            let to = ("127.0.0.1", ctx.closed);
            return Ok(
                match ctx.client.open_channel(ctx.port, t, to, addrs).await {
                    Err(e) if e.to_string().contains("CHANNEL_RESPONSE") => {
                        Outcome::Fault("channel refused")
                    }
                    // Over WebSocket the close frame follows the refusal in the same read.
                    Err(e) if e.to_string().contains("WsClose") => {
                        Outcome::Fault("closed by the gateway")
                    }
                    Err(_) => Outcome::Fault("error"),
                    Ok(tun) => {
                        tun.close().await;
                        Outcome::Fault("channel opened")
                    }
                },
            );
        }
        _ => {}
    }
    let to = ("127.0.0.1", ctx.host);
    let mut tun = ctx.client.open_channel(ctx.port, t, to, addrs).await?;
    let cr = request_with(&ctx.script.cr, &plan.token()).ok_or("fixture has no cookie")?;
    tun.send_data(&cr).await?;
    if plan.kind == Kind::Hang {
        let o = match timeout(HANG, tun.recv_data(1)).await {
            Ok(Ok(_)) => Outcome::Fault("answered"),
            Ok(Err(_)) => Outcome::Fault("closed by the far side"),
            Err(_) => Outcome::Fault("closed by the client at its limit"),
        };
        tun.close().await;
        return Ok(o);
    }
    let sc = &ctx.script;
    expect(&mut tun, &sc.cc, "the Connection Confirm").await?;
    tun.send_data(&sc.client[0]).await?;
    expect(&mut tun, &sc.server[0], "the server's first TLS flight").await?;
    tun.send_data(&sc.client[1]).await?;
    expect(&mut tun, &sc.server[1], "the server's second TLS flight").await?;
    if plan.kind == Kind::ZeroWindow {
        // Reads nothing more while the host pushes; then leaves with data unread.
        tokio::time::sleep(ZERO_HOLD).await;
        drop(tun);
        return Ok(Outcome::Fault("closed by the client at its limit"));
    }
    let f = Framing::Records;
    let (mut up, mut down): (Gen, Gen) = plan.streams();
    for (i, r) in plan.rounds.iter().enumerate() {
        tun.send_data(&f.message(&mut up, r.up)).await?;
        let want = f.message(&mut down, r.down);
        let got = expect(&mut tun, &want, &format!("the reply of round {i}")).await;
        if plan.kind == Kind::Reset && i == plan.last {
            drop(tun);
            return Ok(match got {
                Err(e) if e.to_string().starts_with("CORRUPTED") => {
                    Outcome::Corrupted(e.to_string())
                }
                Err(_) => Outcome::Fault("reset seen"),
                Ok(()) => Outcome::Fault("no reset seen"),
            });
        }
        got?;
        tokio::time::sleep(r.think).await;
    }
    tun.send_data(&f.goodbye(&mut up)).await?;
    expect(&mut tun, &f.goodbye(&mut down), "the host's goodbye").await?;
    tun.close().await;
    Ok(Outcome::Verified)
}

async fn expect(tun: &mut Tunnel, want: &[u8], what: &str) -> Res<()> {
    let got = timeout(STEP, tun.recv_data(want.len()))
        .await
        .map_err(|_| format!("{what}: nothing for {} s", STEP.as_secs()))?
        .map_err(|e| format!("{what}: {e}"))?;
    if got != want {
        return Err(format!("CORRUPTED: {what} arrived altered").into());
    }
    Ok(())
}
