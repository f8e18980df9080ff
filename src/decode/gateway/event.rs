//! Events of the gateway tunnel layer, and the wrapper that marks inner RDP events.

use crate::decode::tsgu::order::GwStage;
use crate::decode::tsgu::packet::Packet;
use crate::decode::DecodeEvent;
use crate::vocab::Dir;
use serde::{Deserialize, Serialize, Serializer};

/// What the tunnel layer saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GwEvent {
    /// One MS-TSGU packet. DATA packets are counted, and only the first each way is
    /// reported; every other packet is reported.
    TsguPacket {
        /// The packet and its fields.
        #[serde(flatten)]
        packet: Packet,
        /// Bytes on the wire, header included.
        len: usize,
    },
    /// A packet came out of the order the protocol requires.
    TsguViolation {
        /// The tunnel's stage when it came.
        stage: GwStage,
        /// What was wrong, in plain English.
        reason: String,
    },
    /// The tunnel body could not be split into packets; decoding stopped for it.
    TsguFramingError {
        /// What was wrong.
        reason: String,
    },
    /// The random seed the gateway sends before its first packet on the OUT channel.
    TsguSeed {
        /// Its length.
        bytes: usize,
    },
    /// A stream ended in the middle of the tunnel body.
    TsguCut {
        /// What it ended inside.
        inside: String,
        /// Bytes of it that came.
        got: usize,
        /// Bytes it should have had, when known.
        expected: Option<usize>,
    },
    /// The tunnel entered a new stage.
    TsguStage {
        /// The stage.
        stage: GwStage,
    },
}

/// An event of the RDP connection inside the tunnel, labelled as inner.
#[derive(Debug, Clone, PartialEq)]
pub struct Inner(pub Box<DecodeEvent>);

impl Serialize for Inner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let v = serde_json::to_value(&*self.0).map_err(serde::ser::Error::custom)?;
        match v {
            serde_json::Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len() + 1))?;
                for (k, v) in &m {
                    map.serialize_entry(k, v)?;
                }
                map.serialize_entry("inner", &true)?;
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Marks the side of the tunnel an inner event came from, for messages.
pub fn inner_side(dir: Dir) -> &'static str {
    match dir {
        Dir::C2S => "client",
        Dir::S2C => "host (through the gateway)",
    }
}
