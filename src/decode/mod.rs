//! Sans-IO protocol decoders: fed in-order byte chunks, they emit typed events.
//!
//! Every decoder here does no IO, reads no clock, never panics on input and keeps its
//! memory bounded (see [`reassembly::Reassembler`]) however hostile the bytes are.

pub mod gateway;
pub mod http;
pub mod mcs;
pub mod names;
pub mod pdu;
pub mod plain;
pub mod rdp;
pub mod reassembly;
pub mod tls;
pub mod tpkt;
pub mod tsgu;
pub mod wire;
pub mod ws;
pub mod x224;

use serde::Serialize;
use std::fmt;

/// Which way bytes travel through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Dir {
    /// Client to server (the client's bytes).
    #[serde(rename = "c2s")]
    C2S,
    /// Server to client (the server's bytes).
    #[serde(rename = "s2c")]
    S2C,
}

impl Dir {
    /// The opposite direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }

    /// Index 0 for c2s, 1 for s2c, for per-direction arrays.
    pub fn idx(self) -> usize {
        self as usize
    }

    /// The side that sends in this direction.
    pub fn sender(self) -> &'static str {
        match self {
            Dir::C2S => "client",
            Dir::S2C => "server",
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::C2S => "c2s",
            Dir::S2C => "s2c",
        })
    }
}

/// The protocol layer an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// TCP and socket state, as seen by the relay.
    Tcp,
    /// TPKT/X.224 connection setup.
    X224,
    /// TLS records and handshake.
    Tls,
    /// MCS/GCC (T.125), seen in the clear under standard RDP security or when intercepting.
    Mcs,
    /// RDP PDUs on the MCS I/O channel (Client Info, licensing, capabilities, errors).
    Rdp,
    /// RD Gateway HTTP: requests, responses, authentication and body framing.
    Http,
    /// WebSocket frames (the RD Gateway WebSocket transport).
    Ws,
    /// MS-TSGU packets: the RD Gateway tunnel.
    Tsgu,
    /// The decoders themselves (a decoder gave up on a stream).
    Decoder,
    /// The per-connection session: phases and the verdict.
    Session,
    /// The packet capture (`--pcap`): packets left out, or the sink switched off.
    Capture,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Tcp => "tcp",
            Layer::X224 => "x224",
            Layer::Tls => "tls",
            Layer::Mcs => "mcs",
            Layer::Rdp => "rdp",
            Layer::Http => "http",
            Layer::Ws => "ws",
            Layer::Tsgu => "tsgu",
            Layer::Decoder => "decoder",
            Layer::Session => "session",
            Layer::Capture => "capture",
        })
    }
}

/// One decoded fact, in the direction it travelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The direction of the bytes that produced it.
    pub dir: Dir,
    /// What was decoded.
    pub event: DecodeEvent,
}

/// A typed event from one of the protocol decoders.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DecodeEvent {
    /// TPKT/X.224 connection setup.
    X224(x224::X224Event),
    /// TLS records and handshake.
    Tls(tls::TlsEvent),
    /// MCS/GCC in the clear.
    Mcs(mcs::McsEvent),
    /// RDP PDUs on the I/O channel.
    Rdp(pdu::RdpEvent),
    /// RD Gateway HTTP.
    Http(Box<http::HttpEvent>),
    /// WebSocket frames of the gateway's WebSocket transport.
    Ws(ws::WsEvent),
    /// The MS-TSGU tunnel.
    Gw(gateway::GwEvent),
    /// An event of the RDP connection inside a gateway tunnel (written with `"inner": true`).
    Inner(gateway::Inner),
    /// A decoder met bytes it cannot parse and stopped for this stream.
    Error(DecodeError),
}

impl DecodeEvent {
    /// The layer this event belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            DecodeEvent::X224(_) => Layer::X224,
            DecodeEvent::Tls(_) => Layer::Tls,
            DecodeEvent::Mcs(_) => Layer::Mcs,
            DecodeEvent::Rdp(_) => Layer::Rdp,
            DecodeEvent::Http(_) => Layer::Http,
            DecodeEvent::Ws(_) => Layer::Ws,
            DecodeEvent::Gw(_) => Layer::Tsgu,
            DecodeEvent::Inner(i) => i.0.layer(),
            DecodeEvent::Error(e) => e.layer,
        }
    }

    /// The stable snake_case `kind` of this event, as written to the event file.
    pub fn kind(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("unknown")
                .to_string(),
            _ => "unknown".to_string(),
        }
    }
}

/// A decoder gave up: the bytes were not what the layer expected.
///
/// The relay keeps forwarding; only decoding of that stream stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename = "decode_error")]
pub struct DecodeError {
    /// The layer whose decoder gave up.
    pub layer: Layer,
    /// Byte offset in the direction's stream where the problem was found.
    pub offset: u64,
    /// What was wrong, in plain English.
    pub reason: String,
}
