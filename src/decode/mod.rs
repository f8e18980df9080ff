//! Sans-IO protocol decoders: fed in-order byte chunks, they emit typed events.
//!
//! Every decoder here does no IO, reads no clock, never panics on input and keeps its
//! memory bounded (see [`reassembly::Reassembler`]) however hostile the bytes are.

pub mod gateway;
pub mod http;
pub mod json;
pub mod limits;
pub mod mcs;
pub mod names;
pub mod note;
pub mod pdu;
pub mod plain;
pub mod rdp;
pub mod reassembly;
#[cfg(test)]
pub mod test_support;
pub mod tls;
pub mod tpkt;
pub mod tsgu;
pub mod wire;
pub mod ws;
pub mod x224;
pub mod x509;

#[cfg(test)]
mod json_garbage_tests;
#[cfg(test)]
mod json_gateway_tests;
#[cfg(test)]
mod json_names_tests;
#[cfg(test)]
mod json_notes_tests;
#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod short_read_tests;

use crate::vocab::{Dir, Layer};
use serde::{Deserialize, Serialize};

/// One decoded fact, in the direction it travelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The direction of the bytes that produced it.
    pub dir: Dir,
    /// What was decoded.
    pub event: DecodeEvent,
}

/// A typed event from one of the protocol decoders.
///
/// Written untagged (each event carries its own `kind`); read back with
/// [`DecodeEvent::from_json`], which picks the type by the layer written next to it.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "decode_error")]
pub struct DecodeError {
    /// The layer whose decoder gave up.
    pub layer: Layer,
    /// Byte offset in the direction's stream where the problem was found.
    pub offset: u64,
    /// What was wrong, in plain English.
    pub reason: String,
}
