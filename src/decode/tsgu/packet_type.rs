//! The packetType values of HTTP_PACKET_HEADER.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The packetType of an HTTP_PACKET_HEADER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PacketType {
    /// 0x01 PKT_TYPE_HANDSHAKE_REQUEST.
    HandshakeRequest,
    /// 0x02 PKT_TYPE_HANDSHAKE_RESPONSE.
    HandshakeResponse,
    /// 0x03 PKT_TYPE_EXTENDED_AUTH_MSG.
    ExtendedAuthMsg,
    /// 0x04 PKT_TYPE_TUNNEL_CREATE.
    TunnelCreate,
    /// 0x05 PKT_TYPE_TUNNEL_RESPONSE.
    TunnelResponse,
    /// 0x06 PKT_TYPE_TUNNEL_AUTH.
    TunnelAuth,
    /// 0x07 PKT_TYPE_TUNNEL_AUTH_RESPONSE.
    TunnelAuthResponse,
    /// 0x08 PKT_TYPE_CHANNEL_CREATE.
    ChannelCreate,
    /// 0x09 PKT_TYPE_CHANNEL_RESPONSE.
    ChannelResponse,
    /// 0x0A PKT_TYPE_DATA.
    Data,
    /// 0x0B PKT_TYPE_SERVICE_MESSAGE.
    ServiceMessage,
    /// 0x0C PKT_TYPE_REAUTH_MESSAGE.
    ReauthMessage,
    /// 0x0D PKT_TYPE_KEEPALIVE.
    Keepalive,
    /// 0x10 PKT_TYPE_CLOSE_CHANNEL.
    CloseChannel,
    /// 0x11 PKT_TYPE_CLOSE_CHANNEL_RESPONSE.
    CloseChannelResponse,
    /// Any other value.
    Unknown(u16),
}

/// (type, wire value, spec name) for every known type.
const TYPES: [(PacketType, u16, &str); 15] = [
    (PacketType::HandshakeRequest, 0x01, "HANDSHAKE_REQUEST"),
    (PacketType::HandshakeResponse, 0x02, "HANDSHAKE_RESPONSE"),
    (PacketType::ExtendedAuthMsg, 0x03, "EXTENDED_AUTH_MSG"),
    (PacketType::TunnelCreate, 0x04, "TUNNEL_CREATE"),
    (PacketType::TunnelResponse, 0x05, "TUNNEL_RESPONSE"),
    (PacketType::TunnelAuth, 0x06, "TUNNEL_AUTH"),
    (PacketType::TunnelAuthResponse, 0x07, "TUNNEL_AUTH_RESPONSE"),
    (PacketType::ChannelCreate, 0x08, "CHANNEL_CREATE"),
    (PacketType::ChannelResponse, 0x09, "CHANNEL_RESPONSE"),
    (PacketType::Data, 0x0A, "DATA"),
    (PacketType::ServiceMessage, 0x0B, "SERVICE_MESSAGE"),
    (PacketType::ReauthMessage, 0x0C, "REAUTH_MESSAGE"),
    (PacketType::Keepalive, 0x0D, "KEEPALIVE"),
    (PacketType::CloseChannel, 0x10, "CLOSE_CHANNEL"),
    (
        PacketType::CloseChannelResponse,
        0x11,
        "CLOSE_CHANNEL_RESPONSE",
    ),
];

impl PacketType {
    /// Decodes the wire value.
    pub fn from_u16(v: u16) -> PacketType {
        TYPES
            .iter()
            .find(|(_, w, _)| *w == v)
            .map_or(PacketType::Unknown(v), |(t, _, _)| *t)
    }

    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            PacketType::Unknown(v) => v,
            t => TYPES
                .iter()
                .find(|(k, _, _)| *k == t)
                .map_or(0, |(_, w, _)| *w),
        }
    }

    /// The spec name without its PKT_TYPE_ prefix, e.g. "TUNNEL_RESPONSE"; "UNKNOWN" otherwise.
    pub fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("UNKNOWN", |(_, _, n)| n)
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketType::Unknown(v) => write!(f, "UNKNOWN(0x{v:x})"),
            t => f.write_str(t.name()),
        }
    }
}
