//! MS-TSGU HTTP-transport packets (MS-TSGU 2.2.10): the 8-byte header and every
//! packet type, decoded into typed fields and encoded back.
//!
//! Secrets and opaque blobs (PAA cookies, NTLM blobs, SoH data, nonces, server
//! certificates, authn cookies) are never kept: only their lengths (and the NTLM
//! message type) appear in a [`Packet`].

use super::names::{Caps, ExtendedAuth, RedirFlags};
use super::status::Status;
use super::HEADER_LEN;
use crate::decode::names::utf16_text;
use crate::decode::wire::{le_u16, le_u32, Reader, Short};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Builders for whole packets, including the opaque fields a [`Packet`] leaves out.
#[path = "build.rs"]
pub mod build;

/// Longest client or resource name we keep, in characters.
pub const NAME_MAX_CHARS: usize = 256;
/// Longest service or consent message we keep, in characters.
pub const MESSAGE_MAX_CHARS: usize = 4096;
/// Length of a DATA packet's header plus its cbDataLen.
pub const DATA_HEADER_LEN: usize = HEADER_LEN + 2;
/// Length of the nonce that precedes the server certificate in TUNNEL_RESPONSE.
pub const NONCE_LEN: usize = 20;
/// The NTLMSSP signature that starts every NTLM message.
const NTLMSSP: &[u8; 8] = b"NTLMSSP\0";

/// fieldsPresent bits of each packet that has optional fields.
pub mod fields {
    /// TUNNEL_CREATE: a PAA cookie follows.
    pub const TUNNEL_CREATE_PAA_COOKIE: u16 = 0x1;
    /// TUNNEL_CREATE: a reauthTunnelContext follows.
    pub const TUNNEL_CREATE_REAUTH: u16 = 0x2;
    /// TUNNEL_RESPONSE: tunnelId.
    pub const TUNNEL_RESPONSE_TUNNEL_ID: u16 = 0x1;
    /// TUNNEL_RESPONSE: capsFlags.
    pub const TUNNEL_RESPONSE_CAPS: u16 = 0x2;
    /// TUNNEL_RESPONSE: nonce and server certificate (SoH request).
    pub const TUNNEL_RESPONSE_SOH_REQ: u16 = 0x4;
    /// TUNNEL_RESPONSE: consent message.
    pub const TUNNEL_RESPONSE_CONSENT_MSG: u16 = 0x10;
    /// TUNNEL_AUTH: a statement of health follows.
    pub const TUNNEL_AUTH_SOH: u16 = 0x1;
    /// TUNNEL_AUTH_RESPONSE: redirFlags.
    pub const TUNNEL_AUTH_RESPONSE_REDIR_FLAGS: u16 = 0x1;
    /// TUNNEL_AUTH_RESPONSE: idleTimeout.
    pub const TUNNEL_AUTH_RESPONSE_IDLE_TIMEOUT: u16 = 0x2;
    /// TUNNEL_AUTH_RESPONSE: SoH response.
    pub const TUNNEL_AUTH_RESPONSE_SOH_RESPONSE: u16 = 0x4;
    /// CHANNEL_RESPONSE: channelId.
    pub const CHANNEL_RESPONSE_CHANNEL_ID: u16 = 0x1;
    /// CHANNEL_RESPONSE: authnCookie.
    pub const CHANNEL_RESPONSE_AUTHN_COOKIE: u16 = 0x2;
    /// CHANNEL_RESPONSE: udpPort.
    pub const CHANNEL_RESPONSE_UDP_PORT: u16 = 0x4;
}
use fields::*;

pub use super::packet_type::PacketType;

/// Why a frame could not be decoded as an MS-TSGU packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketError {
    /// What was wrong, in plain English.
    pub reason: String,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PacketError {}

fn err(reason: String) -> PacketError {
    PacketError { reason }
}

/// One MS-TSGU packet. DATA payloads are not copied into the packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "packet", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Packet {
    /// The client opens the protocol.
    HandshakeRequest {
        /// verMajor (1).
        ver_major: u8,
        /// verMinor (0).
        ver_minor: u8,
        /// clientVersion (0).
        client_version: u16,
        /// The extended authentication methods the client offers.
        extended_auth: ExtendedAuth,
    },
    /// The gateway's answer to the handshake.
    HandshakeResponse {
        /// errorCode.
        error: Status,
        /// verMajor.
        ver_major: u8,
        /// verMinor.
        ver_minor: u8,
        /// serverVersion.
        server_version: u16,
        /// The extended authentication method the gateway chose.
        extended_auth: ExtendedAuth,
    },
    /// An extended-authentication round (NTLM for SSPI_NTLM).
    ExtendedAuthMsg {
        /// errorCode.
        error: Status,
        /// cbBlob; the blob itself is never kept.
        blob_len: u16,
        /// The NTLM message type (1, 2 or 3) when the blob is NTLMSSP.
        ntlm_type: Option<u32>,
    },
    /// The client asks for a tunnel.
    TunnelCreate {
        /// The capabilities the client offers.
        caps: Caps,
        /// fieldsPresent, raw.
        fields_present: u16,
        /// Length of the PAA cookie in bytes (the cookie is never kept).
        paa_cookie_len: Option<u16>,
        /// reauthTunnelContext, when this tunnel replaces one being reauthenticated.
        reauth_context: Option<u64>,
    },
    /// The gateway's answer to TUNNEL_CREATE.
    TunnelResponse {
        /// serverVersion.
        server_version: u16,
        /// statusCode.
        status: Status,
        /// fieldsPresent, raw.
        fields_present: u16,
        /// tunnelId.
        tunnel_id: Option<u32>,
        /// The capabilities the gateway grants.
        caps: Option<Caps>,
        /// The consent (logon) message the user must accept.
        consent_message: Option<String>,
        /// Length of the server certificate in bytes (the nonce and cert are not kept).
        server_cert_len: Option<u16>,
    },
    /// The client asks for tunnel authorization.
    TunnelAuth {
        /// fieldsPresent, raw.
        fields_present: u16,
        /// The client machine name.
        client_name: String,
        /// Length of the statement of health in bytes.
        soh_len: Option<u16>,
    },
    /// The gateway's answer to TUNNEL_AUTH.
    TunnelAuthResponse {
        /// errorCode.
        error: Status,
        /// fieldsPresent, raw.
        fields_present: u16,
        /// The device redirections the gateway allows.
        redir_flags: Option<RedirFlags>,
        /// Idle timeout in minutes (0 = none).
        idle_timeout_min: Option<u32>,
        /// Length of the SoH response in bytes.
        soh_response_len: Option<u16>,
    },
    /// The client asks for a channel to a host.
    ChannelCreate {
        /// Target host names.
        resources: Vec<String>,
        /// Alternative target host names.
        alt_resources: Vec<String>,
        /// Target port.
        port: u16,
        /// Protocol (3 = RDP).
        protocol: u16,
    },
    /// The gateway's answer to CHANNEL_CREATE.
    ChannelResponse {
        /// errorCode.
        error: Status,
        /// fieldsPresent, raw.
        fields_present: u16,
        /// channelId.
        channel_id: Option<u32>,
        /// UDP side-channel port.
        udp_port: Option<u16>,
        /// Length of the UDP authentication cookie in bytes.
        authn_cookie_len: Option<u16>,
    },
    /// Tunnelled bytes (the payload is not copied; see [`Packet::data_payload`]).
    Data {
        /// cbDataLen.
        data_len: u16,
    },
    /// An administrative message from the gateway.
    ServiceMessage {
        /// The message text.
        message: String,
    },
    /// The gateway asks the client to reauthenticate.
    ReauthMessage {
        /// reauthTunnelContext.
        context: u64,
    },
    /// A keepalive.
    Keepalive,
    /// Either side closes the channel.
    CloseChannel {
        /// The reason.
        status: Status,
    },
    /// The answer to CLOSE_CHANNEL.
    CloseChannelResponse {
        /// The status.
        status: Status,
    },
    /// A packet type we do not know.
    Unknown {
        /// packetType.
        packet_type: u16,
        /// packetLength. In a [`crate::decode::gateway::GwEvent::TsguPacket`] the
        /// event's own `len` overwrites it in the JSON, so it may be missing when read
        /// back; [`crate::decode::DecodeEvent::from_json`] restores it.
        #[serde(default)]
        len: u32,
    },
}

/// Reads one packet's fields through the shared [`Reader`], naming the field in errors.
struct Fields<'a> {
    r: Reader<'a>,
    ty: PacketType,
}

impl<'a> Fields<'a> {
    /// The words for a read of `field` past the end, which event files keep.
    fn short(ty: PacketType, field: &str) -> impl FnOnce(Short) -> PacketError + '_ {
        move |s| {
            err(format!(
                "{ty} of {} bytes is too short for its {field} ({} bytes at offset {})",
                s.len, s.need, s.at
            ))
        }
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], PacketError> {
        self.r.take(n).map_err(Self::short(self.ty, field))
    }

    fn u8(&mut self, field: &str) -> Result<u8, PacketError> {
        self.r.u8().map_err(Self::short(self.ty, field))
    }

    fn u16(&mut self, field: &str) -> Result<u16, PacketError> {
        self.r.u16_le().map_err(Self::short(self.ty, field))
    }

    fn u32(&mut self, field: &str) -> Result<u32, PacketError> {
        self.r.u32_le().map_err(Self::short(self.ty, field))
    }

    fn u64(&mut self, field: &str) -> Result<u64, PacketError> {
        self.r.u64_le().map_err(Self::short(self.ty, field))
    }

    fn status(&mut self, field: &str) -> Result<Status, PacketError> {
        self.u32(field).map(Status)
    }

    /// A u16 byte count and that many bytes.
    fn counted(&mut self, field: &str) -> Result<(u16, &'a [u8]), PacketError> {
        let n = self.u16(field)?;
        Ok((n, self.take(usize::from(n), field)?))
    }

    /// A u16 byte count and UTF-16LE text, decoded lossily up to its NUL.
    fn text(&mut self, field: &str, max_chars: usize) -> Result<String, PacketError> {
        let (_, b) = self.counted(field)?;
        Ok(utf16_text(b, max_chars))
    }
}

/// Returns `Some(value)` when `bit` is set in `present`, reading it with `read`.
fn opt<T>(
    present: u16,
    bit: u16,
    read: impl FnOnce() -> Result<T, PacketError>,
) -> Result<Option<T>, PacketError> {
    if present & bit != 0 {
        read().map(Some)
    } else {
        Ok(None)
    }
}

/// The header's (type, reserved, packetLength), if 8 bytes are there.
pub fn parse_header(b: &[u8]) -> Option<(u16, u16, u32)> {
    Some((le_u16(b, 0)?, le_u16(b, 2)?, le_u32(b, 4)?))
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::HandshakeRequest { .. } => PacketType::HandshakeRequest,
            Packet::HandshakeResponse { .. } => PacketType::HandshakeResponse,
            Packet::ExtendedAuthMsg { .. } => PacketType::ExtendedAuthMsg,
            Packet::TunnelCreate { .. } => PacketType::TunnelCreate,
            Packet::TunnelResponse { .. } => PacketType::TunnelResponse,
            Packet::TunnelAuth { .. } => PacketType::TunnelAuth,
            Packet::TunnelAuthResponse { .. } => PacketType::TunnelAuthResponse,
            Packet::ChannelCreate { .. } => PacketType::ChannelCreate,
            Packet::ChannelResponse { .. } => PacketType::ChannelResponse,
            Packet::Data { .. } => PacketType::Data,
            Packet::ServiceMessage { .. } => PacketType::ServiceMessage,
            Packet::ReauthMessage { .. } => PacketType::ReauthMessage,
            Packet::Keepalive => PacketType::Keepalive,
            Packet::CloseChannel { .. } => PacketType::CloseChannel,
            Packet::CloseChannelResponse { .. } => PacketType::CloseChannelResponse,
            Packet::Unknown { packet_type, .. } => PacketType::Unknown(*packet_type),
        }
    }

    /// The status a response or close packet carries; None for the others.
    pub fn status(&self) -> Option<Status> {
        match self {
            Packet::HandshakeResponse { error, .. }
            | Packet::ExtendedAuthMsg { error, .. }
            | Packet::TunnelAuthResponse { error, .. }
            | Packet::ChannelResponse { error, .. } => Some(*error),
            Packet::TunnelResponse { status, .. }
            | Packet::CloseChannel { status }
            | Packet::CloseChannelResponse { status } => Some(*status),
            _ => None,
        }
    }

    /// Decodes one whole packet (header included). Never panics.
    ///
    /// Only the first packetLength bytes are looked at; bytes after the fields a
    /// packet defines (some gateways append extra fields) are ignored.
    pub fn decode(frame: &[u8]) -> Result<Packet, PacketError> {
        let Some((ty_raw, reserved, len)) = parse_header(frame) else {
            return Err(err(format!(
                "{} bytes is shorter than the {HEADER_LEN}-byte packet header",
                frame.len()
            )));
        };
        let ty = PacketType::from_u16(ty_raw);
        if reserved != 0 {
            return Err(err(format!(
                "{ty} header has reserved field 0x{reserved:04x}, expected 0"
            )));
        }
        let Some(len_us) = usize::try_from(len).ok().filter(|&l| l >= HEADER_LEN) else {
            return Err(err(format!(
                "{ty} packetLength {len} is smaller than the {HEADER_LEN}-byte header"
            )));
        };
        let Some(body) = frame.get(..len_us) else {
            return Err(err(format!(
                "{ty} packetLength is {len} but only {} bytes are there",
                frame.len()
            )));
        };
        let mut r = Fields {
            r: Reader::new(body),
            ty,
        };
        // The header was read above; the fields follow it.
        r.take(HEADER_LEN, "header")?;
        let r = &mut r;
        Ok(match ty {
            PacketType::HandshakeRequest => Packet::HandshakeRequest {
                ver_major: r.u8("verMajor")?,
                ver_minor: r.u8("verMinor")?,
                client_version: r.u16("clientVersion")?,
                extended_auth: ExtendedAuth(r.u16("extendedAuth")?),
            },
            PacketType::HandshakeResponse => Packet::HandshakeResponse {
                error: r.status("errorCode")?,
                ver_major: r.u8("verMajor")?,
                ver_minor: r.u8("verMinor")?,
                server_version: r.u16("serverVersion")?,
                extended_auth: ExtendedAuth(r.u16("extendedAuth")?),
            },
            PacketType::ExtendedAuthMsg => {
                let error = r.status("errorCode")?;
                let (blob_len, blob) = r.counted("blob")?;
                let ntlm_type = match (blob.get(..8), le_u32(blob, 8)) {
                    (Some(sig), Some(t)) if sig == NTLMSSP => Some(t),
                    _ => None,
                };
                Packet::ExtendedAuthMsg {
                    error,
                    blob_len,
                    ntlm_type,
                }
            }
            PacketType::TunnelCreate => {
                let caps = Caps(r.u32("capsFlags")?);
                let fp = r.u16("fieldsPresent")?;
                r.u16("reserved")?;
                let paa_cookie_len = opt(fp, TUNNEL_CREATE_PAA_COOKIE, || {
                    r.counted("PAA cookie").map(|(n, _)| n)
                })?;
                let reauth_context =
                    opt(fp, TUNNEL_CREATE_REAUTH, || r.u64("reauthTunnelContext"))?;
                Packet::TunnelCreate {
                    caps,
                    fields_present: fp,
                    paa_cookie_len,
                    reauth_context,
                }
            }
            PacketType::TunnelResponse => {
                let server_version = r.u16("serverVersion")?;
                let status = r.status("statusCode")?;
                let fp = r.u16("fieldsPresent")?;
                r.u16("reserved")?;
                let tunnel_id = opt(fp, TUNNEL_RESPONSE_TUNNEL_ID, || r.u32("tunnelId"))?;
                let caps = opt(fp, TUNNEL_RESPONSE_CAPS, || r.u32("capsFlags").map(Caps))?;
                let server_cert_len = opt(fp, TUNNEL_RESPONSE_SOH_REQ, || {
                    r.take(NONCE_LEN, "nonce")?;
                    r.counted("serverCert").map(|(n, _)| n)
                })?;
                let consent_message = opt(fp, TUNNEL_RESPONSE_CONSENT_MSG, || {
                    r.text("consentMsg", MESSAGE_MAX_CHARS)
                })?;
                Packet::TunnelResponse {
                    server_version,
                    status,
                    fields_present: fp,
                    tunnel_id,
                    caps,
                    consent_message,
                    server_cert_len,
                }
            }
            PacketType::TunnelAuth => {
                let fp = r.u16("fieldsPresent")?;
                let client_name = r.text("clientName", NAME_MAX_CHARS)?;
                let soh_len = opt(fp, TUNNEL_AUTH_SOH, || r.counted("SoH").map(|(n, _)| n))?;
                Packet::TunnelAuth {
                    fields_present: fp,
                    client_name,
                    soh_len,
                }
            }
            PacketType::TunnelAuthResponse => {
                let error = r.status("errorCode")?;
                let fp = r.u16("fieldsPresent")?;
                r.u16("reserved")?;
                let redir_flags = opt(fp, TUNNEL_AUTH_RESPONSE_REDIR_FLAGS, || {
                    r.u32("redirFlags").map(RedirFlags)
                })?;
                let idle_timeout_min = opt(fp, TUNNEL_AUTH_RESPONSE_IDLE_TIMEOUT, || {
                    r.u32("idleTimeout")
                })?;
                let soh_response_len = opt(fp, TUNNEL_AUTH_RESPONSE_SOH_RESPONSE, || {
                    r.counted("SoH response").map(|(n, _)| n)
                })?;
                Packet::TunnelAuthResponse {
                    error,
                    fields_present: fp,
                    redir_flags,
                    idle_timeout_min,
                    soh_response_len,
                }
            }
            PacketType::ChannelCreate => {
                let n = r.u8("numResources")?;
                let n_alt = r.u8("numAltResources")?;
                let port = r.u16("port")?;
                let protocol = r.u16("protocol")?;
                // At most 255 of each, and each read is bounded by the packet.
                let resources = (0..n)
                    .map(|_| r.text("resource name", NAME_MAX_CHARS))
                    .collect::<Result<Vec<_>, _>>()?;
                let alt_resources = (0..n_alt)
                    .map(|_| r.text("alternate resource name", NAME_MAX_CHARS))
                    .collect::<Result<Vec<_>, _>>()?;
                Packet::ChannelCreate {
                    resources,
                    alt_resources,
                    port,
                    protocol,
                }
            }
            PacketType::ChannelResponse => {
                let error = r.status("errorCode")?;
                let fp = r.u16("fieldsPresent")?;
                r.u16("reserved")?;
                // The order on the wire is channelId, udpPort, authnCookie (not bit order).
                let channel_id = opt(fp, CHANNEL_RESPONSE_CHANNEL_ID, || r.u32("channelId"))?;
                let udp_port = opt(fp, CHANNEL_RESPONSE_UDP_PORT, || r.u16("udpPort"))?;
                let authn_cookie_len = opt(fp, CHANNEL_RESPONSE_AUTHN_COOKIE, || {
                    r.counted("authnCookie").map(|(n, _)| n)
                })?;
                Packet::ChannelResponse {
                    error,
                    fields_present: fp,
                    channel_id,
                    udp_port,
                    authn_cookie_len,
                }
            }
            PacketType::Data => {
                let (data_len, _) = r.counted("data")?;
                Packet::Data { data_len }
            }
            PacketType::ServiceMessage => Packet::ServiceMessage {
                message: r.text("message", MESSAGE_MAX_CHARS)?,
            },
            PacketType::ReauthMessage => Packet::ReauthMessage {
                context: r.u64("reauthTunnelContext")?,
            },
            PacketType::Keepalive => Packet::Keepalive,
            PacketType::CloseChannel => Packet::CloseChannel {
                status: r.status("statusCode")?,
            },
            PacketType::CloseChannelResponse => Packet::CloseChannelResponse {
                status: r.status("statusCode")?,
            },
            PacketType::Unknown(t) => Packet::Unknown {
                packet_type: t,
                len,
            },
        })
    }

    /// Encodes the packet with its header, appending to `out`.
    ///
    /// For DATA only the header and cbDataLen are written; the caller appends
    /// `data_len` bytes. Opaque fields known only by length (cookies, blobs, SoH,
    /// nonce, certificate) are written as zero bytes of that length.
    pub fn encode(&self, out: &mut Vec<u8>) {
        build::encode(self, out);
    }

    /// For a whole DATA frame: the payload bytes inside it; None for other frames.
    pub fn data_payload(frame: &[u8]) -> Option<&[u8]> {
        let (ty, _, len) = parse_header(frame)?;
        if ty != PacketType::Data.to_u16() {
            return None;
        }
        let n = usize::from(le_u16(frame, HEADER_LEN)?);
        let end = DATA_HEADER_LEN.checked_add(n)?;
        if end > usize::try_from(len).ok()? {
            return None;
        }
        frame.get(DATA_HEADER_LEN..end)
    }
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
