//! The tunnel state machine driven over in-memory WebSocket streams, with a loopback
//! echo server as the RDP host.

use super::*;
use crate::decode::tsgu::framer::TsguFramer;
use crate::decode::ws::{encode_frame, Opcode, WsDecoder};
use crate::lab::auth::AuthMode;
use crate::lab::config::FailPlan;
use crate::lab::fail::Budget;
use crate::vocab::Dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;

/// The client's end of a tunnel under test.
struct Client {
    to_gw: DuplexStream,
    from_gw: DuplexStream,
    ws: WsDecoder,
    framer: TsguFramer,
    ready: std::collections::VecDeque<Vec<u8>>,
}

impl Client {
    async fn send(&mut self, packet: &[u8]) {
        let mut frame = Vec::new();
        encode_frame(
            Opcode::Binary,
            packet,
            Some([0x11, 0x22, 0x33, 0x44]),
            &mut frame,
        );
        self.to_gw.write_all(&frame).await.unwrap();
    }

    /// The next whole packet from the gateway, `None` once it closed.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        let deadline = Duration::from_secs(5);
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Some(p);
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(deadline, self.from_gw.read(&mut buf))
                .await
                .expect("the gateway answers within 5s")
                .unwrap();
            if n == 0 {
                return None;
            }
            let (framer, ready) = (&mut self.framer, &mut self.ready);
            let mut events = Vec::new();
            self.ws.feed(&buf[..n], &mut events, &mut |p: &[u8]| {
                framer.push(p, &mut |f| ready.push_back(f.to_vec()))
            });
        }
    }

    async fn expect(&mut self) -> Packet {
        let frame = self.recv().await.expect("a packet, not the end");
        Packet::decode(&frame).unwrap()
    }
}

fn config(target: String, fail: FailPlan) -> LabConfig {
    LabConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        target,
        route_by_resource: false,
        ca_dir: std::env::temp_dir(),
        auth: AuthMode::None,
        fail,
        out_framing: Default::default(),
        pair_timeout: Duration::from_secs(1),
        idle_timeout_min: 30,
        keylog: None,
    }
}

/// A tunnel task against an RDP host that echoes what it gets.
async fn start(fail: FailPlan) -> Client {
    start_with(fail, true).await
}

/// A tunnel task against an RDP host that echoes, or (`echo` false) hangs up at once.
async fn start_with(fail: FailPlan, echo: bool) -> Client {
    let host = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = host.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = host.accept().await {
            if echo {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        }
    });
    let (to_gw, gw_in) = tokio::io::duplex(1 << 20);
    let (gw_out, from_gw) = tokio::io::duplex(1 << 20);
    let cfg = config(addr.to_string(), fail);
    tokio::spawn(async move {
        let info = TunnelInfo {
            id: 7,
            transport: "WebSocket",
            peer: "127.0.0.1:1".parse().unwrap(),
            identity: Identity::default(),
        };
        let inbound = Inbound::websocket(Box::new(gw_in), Vec::new());
        let outbound = Outbound::websocket(Box::new(gw_out), Budget::unlimited());
        run(&cfg, info, inbound, outbound).await;
    });
    Client {
        to_gw,
        from_gw,
        ws: WsDecoder::new(Dir::S2C),
        framer: TsguFramer::new(),
        ready: Default::default(),
    }
}

#[tokio::test]
async fn full_tunnel_relays_data_answers_keepalive_and_closes() {
    let mut c = start(FailPlan::default()).await;
    c.send(&build::handshake_request(ExtendedAuth::NONE)).await;
    assert!(matches!(c.expect().await, Packet::HandshakeResponse { error, .. } if error.is_ok()));

    c.send(&build::tunnel_create(Caps(0xd), None)).await;
    match c.expect().await {
        Packet::TunnelResponse {
            status,
            tunnel_id,
            caps,
            ..
        } => {
            assert!(status.is_ok());
            assert_eq!(tunnel_id, Some(7));
            // Only what the client offered and the gateway grants: SERVICE_MSG.
            assert_eq!(caps, Some(Caps::MESSAGING_SERVICE_MSG));
        }
        other => panic!("{other:?}"),
    }

    c.send(&build::tunnel_auth("client-pc")).await;
    match c.expect().await {
        Packet::TunnelAuthResponse {
            error,
            redir_flags,
            idle_timeout_min,
            ..
        } => {
            assert!(error.is_ok());
            assert_eq!(redir_flags, Some(RedirFlags::ENABLE_ALL));
            assert_eq!(idle_timeout_min, Some(30));
        }
        other => panic!("{other:?}"),
    }

    c.send(&build::channel_create("lab-host", 3389)).await;
    assert!(matches!(
        c.expect().await,
        Packet::ChannelResponse { error, channel_id: Some(7), .. } if error.is_ok()
    ));

    // 70 000 bytes: more than one DATA packet each way.
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    c.send(&build::data(&payload)).await;
    let mut echoed = Vec::new();
    while echoed.len() < payload.len() {
        let frame = c.recv().await.expect("DATA");
        let data = Packet::data_payload(&frame).expect("a DATA packet");
        assert!(data.len() <= 65_535);
        echoed.extend_from_slice(data);
    }
    assert_eq!(echoed, payload);

    c.send(&build::keepalive()).await;
    assert_eq!(c.expect().await, Packet::Keepalive);

    c.send(&build::close_channel(Status(0))).await;
    assert!(matches!(
        c.expect().await,
        Packet::CloseChannelResponse { .. }
    ));
}

#[tokio::test]
async fn out_of_order_request_gets_internal_error_and_close() {
    let mut c = start(FailPlan::default()).await;
    c.send(&build::channel_create("lab-host", 3389)).await;
    assert!(matches!(
        c.expect().await,
        Packet::ChannelResponse { error, .. } if error == E_PROXY_INTERNALERROR
    ));
    // Then the stream ends (after the WebSocket close frame).
    assert_eq!(c.recv().await, None);
}

#[tokio::test]
async fn fail_knob_answers_with_the_status_and_closes() {
    let fail = FailPlan {
        tunnel_auth: Some(Status(0x8007_59DB)),
        ..FailPlan::default()
    };
    let mut c = start(fail).await;
    c.send(&build::handshake_request(ExtendedAuth::NONE)).await;
    c.expect().await;
    c.send(&build::tunnel_create(Caps(0xd), None)).await;
    c.expect().await;
    c.send(&build::tunnel_auth("client-pc")).await;
    assert!(matches!(
        c.expect().await,
        Packet::TunnelAuthResponse {
            error: Status(0x8007_59DB),
            ..
        }
    ));
    assert_eq!(c.recv().await, None);
}

#[tokio::test]
async fn host_hanging_up_sends_close_channel() {
    let mut c = start_with(FailPlan::default(), false).await;
    c.send(&build::handshake_request(ExtendedAuth::NONE)).await;
    c.expect().await;
    c.send(&build::tunnel_create(Caps(0), None)).await;
    c.expect().await;
    c.send(&build::tunnel_auth("client-pc")).await;
    c.expect().await;
    c.send(&build::channel_create("lab-host", 3389)).await;
    assert!(matches!(c.expect().await, Packet::ChannelResponse { error, .. } if error.is_ok()));
    assert!(matches!(c.expect().await, Packet::CloseChannel { .. }));
    c.send(&build::close_channel_response(Status(0))).await;
    assert_eq!(c.recv().await, None);
}
