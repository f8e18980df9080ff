//! Whole MS-TSGU packets as bytes, for the lab gateway, tests and the benchmark client.
//!
//! Every builder returns the complete packet, header included. Byte counts are u16 on
//! the wire, so strings and blobs longer than that are cut to fit (strings keep
//! their terminating NUL); [`data`] instead splits a long payload into several packets.

use super::fields::*;
use super::{Packet, PacketType, DATA_HEADER_LEN, NONCE_LEN};
use crate::decode::tsgu::names::{Caps, ExtendedAuth, RedirFlags};
use crate::decode::tsgu::status::Status;
use crate::decode::tsgu::HEADER_LEN;

/// The protocol (RDP) CHANNEL_CREATE asks for.
pub const PROTOCOL_RDP: u16 = 3;
/// Largest payload of one DATA packet.
pub const DATA_MAX: usize = u16::MAX as usize;

/// A packet under construction: body bytes after the header.
struct Body(Vec<u8>);

impl Body {
    fn new() -> Self {
        Body(Vec::new())
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn zeros(mut self, n: usize) -> Self {
        self.0.resize(self.0.len().saturating_add(n), 0);
        self
    }
    /// A u16 byte count and the bytes, cut to fit the count.
    fn counted(self, b: &[u8]) -> Self {
        let b = b.get(..DATA_MAX).unwrap_or(b);
        self.u16(b.len() as u16).raw(b)
    }
    /// A u16 byte count and UTF-16LE text with its NUL.
    fn text(self, s: &str) -> Self {
        self.counted(&utf16z(s))
    }
    /// Appends header + body to `out`.
    fn finish_into(self, ty: PacketType, out: &mut Vec<u8>) {
        header(ty, HEADER_LEN.saturating_add(self.0.len()), out);
        out.extend_from_slice(&self.0);
    }
    fn finish(self, ty: PacketType) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.0.len());
        self.finish_into(ty, &mut out);
        out
    }
}

/// Writes an HTTP_PACKET_HEADER.
fn header(ty: PacketType, len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&ty.to_u16().to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

/// UTF-16LE with a terminating NUL, at most 32767 code units so its byte count fits a u16.
pub fn utf16z(s: &str) -> Vec<u8> {
    let mut out: Vec<u8> = s
        .encode_utf16()
        .take(DATA_MAX / 2 - 1)
        .flat_map(u16::to_le_bytes)
        .collect();
    out.extend_from_slice(&[0, 0]);
    out
}

/// Sets `bit` in `fp` when `present`, clears it otherwise.
fn bit(fp: u16, bit: u16, present: bool) -> u16 {
    if present {
        fp | bit
    } else {
        fp & !bit
    }
}

/// HANDSHAKE_REQUEST version 1.0 offering `extended_auth`.
pub fn handshake_request(extended_auth: ExtendedAuth) -> Vec<u8> {
    Body::new()
        .u8(1)
        .u8(0)
        .u16(0)
        .u16(extended_auth.0)
        .finish(PacketType::HandshakeRequest)
}

/// HANDSHAKE_RESPONSE version 1.0 with `status` and the chosen `extended_auth`.
pub fn handshake_response(status: Status, extended_auth: ExtendedAuth) -> Vec<u8> {
    Body::new()
        .u32(status.0)
        .u8(1)
        .u8(0)
        .u16(0)
        .u16(extended_auth.0)
        .finish(PacketType::HandshakeResponse)
}

/// EXTENDED_AUTH_MSG carrying `blob` (an empty blob from the gateway ends the exchange).
pub fn extended_auth_msg(status: Status, blob: &[u8]) -> Vec<u8> {
    Body::new()
        .u32(status.0)
        .counted(blob)
        .finish(PacketType::ExtendedAuthMsg)
}

/// TUNNEL_CREATE offering `caps`, with a PAA cookie when given.
pub fn tunnel_create(caps: Caps, paa_cookie: Option<&str>) -> Vec<u8> {
    let b = Body::new().u32(caps.0);
    match paa_cookie {
        Some(c) => b.u16(TUNNEL_CREATE_PAA_COOKIE).u16(0).text(c),
        None => b.u16(0).u16(0),
    }
    .finish(PacketType::TunnelCreate)
}

/// TUNNEL_RESPONSE with a tunnel id and granted caps, plus a consent message when given.
pub fn tunnel_response(
    status: Status,
    tunnel_id: u32,
    caps: Caps,
    consent: Option<&str>,
) -> Vec<u8> {
    let mut fp = TUNNEL_RESPONSE_TUNNEL_ID | TUNNEL_RESPONSE_CAPS;
    fp = bit(fp, TUNNEL_RESPONSE_CONSENT_MSG, consent.is_some());
    let b = Body::new()
        .u16(0)
        .u32(status.0)
        .u16(fp)
        .u16(0)
        .u32(tunnel_id)
        .u32(caps.0);
    match consent {
        Some(c) => b.text(c),
        None => b,
    }
    .finish(PacketType::TunnelResponse)
}

/// TUNNEL_AUTH for `client_name`, without a statement of health.
pub fn tunnel_auth(client_name: &str) -> Vec<u8> {
    Body::new()
        .u16(0)
        .text(client_name)
        .finish(PacketType::TunnelAuth)
}

/// TUNNEL_AUTH_RESPONSE with redirection flags and an idle timeout in minutes.
pub fn tunnel_auth_response(
    status: Status,
    redir_flags: RedirFlags,
    idle_timeout_min: u32,
) -> Vec<u8> {
    Body::new()
        .u32(status.0)
        .u16(TUNNEL_AUTH_RESPONSE_REDIR_FLAGS | TUNNEL_AUTH_RESPONSE_IDLE_TIMEOUT)
        .u16(0)
        .u32(redir_flags.0)
        .u32(idle_timeout_min)
        .finish(PacketType::TunnelAuthResponse)
}

/// CHANNEL_CREATE for one host and port, protocol RDP.
pub fn channel_create(resource: &str, port: u16) -> Vec<u8> {
    Body::new()
        .u8(1)
        .u8(0)
        .u16(port)
        .u16(PROTOCOL_RDP)
        .text(resource)
        .finish(PacketType::ChannelCreate)
}

/// CHANNEL_RESPONSE with a channel id.
pub fn channel_response(status: Status, channel_id: u32) -> Vec<u8> {
    Body::new()
        .u32(status.0)
        .u16(CHANNEL_RESPONSE_CHANNEL_ID)
        .u16(0)
        .u32(channel_id)
        .finish(PacketType::ChannelResponse)
}

/// DATA packets carrying `payload`: one packet per 65535 bytes (one empty packet for
/// an empty payload), concatenated.
pub fn data(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len().saturating_add(DATA_HEADER_LEN));
    let mut pieces = payload.chunks(DATA_MAX).peekable();
    if pieces.peek().is_none() {
        Body::new().u16(0).finish_into(PacketType::Data, &mut out);
    }
    for piece in pieces {
        Body::new()
            .counted(piece)
            .finish_into(PacketType::Data, &mut out);
    }
    out
}

/// SERVICE_MESSAGE with `message`.
pub fn service_message(message: &str) -> Vec<u8> {
    Body::new().text(message).finish(PacketType::ServiceMessage)
}

/// REAUTH_MESSAGE with the tunnel context the client must present.
pub fn reauth_message(context: u64) -> Vec<u8> {
    Body::new().u64(context).finish(PacketType::ReauthMessage)
}

/// KEEPALIVE (8 bytes).
pub fn keepalive() -> Vec<u8> {
    Body::new().finish(PacketType::Keepalive)
}

/// CLOSE_CHANNEL with a reason.
pub fn close_channel(status: Status) -> Vec<u8> {
    Body::new().u32(status.0).finish(PacketType::CloseChannel)
}

/// CLOSE_CHANNEL_RESPONSE with a status (the 12-byte form FreeRDP sends).
pub fn close_channel_response(status: Status) -> Vec<u8> {
    Body::new()
        .u32(status.0)
        .finish(PacketType::CloseChannelResponse)
}

/// Cap for the zero body of an Unknown packet when encoding.
const UNKNOWN_BODY_MAX: usize = 65536;

/// Encodes any [`Packet`]; see [`Packet::encode`].
pub(super) fn encode(p: &Packet, out: &mut Vec<u8>) {
    let ty = p.packet_type();
    let b = Body::new();
    let b = match p {
        Packet::HandshakeRequest {
            ver_major,
            ver_minor,
            client_version,
            extended_auth,
        } => b
            .u8(*ver_major)
            .u8(*ver_minor)
            .u16(*client_version)
            .u16(extended_auth.0),
        Packet::HandshakeResponse {
            error,
            ver_major,
            ver_minor,
            server_version,
            extended_auth,
        } => b
            .u32(error.0)
            .u8(*ver_major)
            .u8(*ver_minor)
            .u16(*server_version)
            .u16(extended_auth.0),
        Packet::ExtendedAuthMsg {
            error,
            blob_len,
            ntlm_type,
        } => {
            let mut blob = vec![0u8; usize::from(*blob_len)];
            if let (Some(t), Some(head)) = (ntlm_type, blob.get_mut(..12)) {
                head[..8].copy_from_slice(b"NTLMSSP\0");
                head[8..].copy_from_slice(&t.to_le_bytes());
            }
            b.u32(error.0).counted(&blob)
        }
        Packet::TunnelCreate {
            caps,
            fields_present,
            paa_cookie_len,
            reauth_context,
        } => {
            let mut fp = bit(
                *fields_present,
                TUNNEL_CREATE_PAA_COOKIE,
                paa_cookie_len.is_some(),
            );
            fp = bit(fp, TUNNEL_CREATE_REAUTH, reauth_context.is_some());
            let mut b = b.u32(caps.0).u16(fp).u16(0);
            if let Some(n) = paa_cookie_len {
                b = b.u16(*n).zeros(usize::from(*n));
            }
            if let Some(c) = reauth_context {
                b = b.u64(*c);
            }
            b
        }
        Packet::TunnelResponse {
            server_version,
            status,
            fields_present,
            tunnel_id,
            caps,
            consent_message,
            server_cert_len,
        } => {
            let mut fp = bit(
                *fields_present,
                TUNNEL_RESPONSE_TUNNEL_ID,
                tunnel_id.is_some(),
            );
            fp = bit(fp, TUNNEL_RESPONSE_CAPS, caps.is_some());
            fp = bit(fp, TUNNEL_RESPONSE_SOH_REQ, server_cert_len.is_some());
            fp = bit(fp, TUNNEL_RESPONSE_CONSENT_MSG, consent_message.is_some());
            let mut b = b.u16(*server_version).u32(status.0).u16(fp).u16(0);
            if let Some(id) = tunnel_id {
                b = b.u32(*id);
            }
            if let Some(c) = caps {
                b = b.u32(c.0);
            }
            if let Some(n) = server_cert_len {
                b = b.zeros(NONCE_LEN).u16(*n).zeros(usize::from(*n));
            }
            if let Some(m) = consent_message {
                b = b.text(m);
            }
            b
        }
        Packet::TunnelAuth {
            fields_present,
            client_name,
            soh_len,
        } => {
            let fp = bit(*fields_present, TUNNEL_AUTH_SOH, soh_len.is_some());
            let mut b = b.u16(fp).text(client_name);
            if let Some(n) = soh_len {
                b = b.u16(*n).zeros(usize::from(*n));
            }
            b
        }
        Packet::TunnelAuthResponse {
            error,
            fields_present,
            redir_flags,
            idle_timeout_min,
            soh_response_len,
        } => {
            let mut fp = bit(
                *fields_present,
                TUNNEL_AUTH_RESPONSE_REDIR_FLAGS,
                redir_flags.is_some(),
            );
            fp = bit(
                fp,
                TUNNEL_AUTH_RESPONSE_IDLE_TIMEOUT,
                idle_timeout_min.is_some(),
            );
            fp = bit(
                fp,
                TUNNEL_AUTH_RESPONSE_SOH_RESPONSE,
                soh_response_len.is_some(),
            );
            let mut b = b.u32(error.0).u16(fp).u16(0);
            if let Some(r) = redir_flags {
                b = b.u32(r.0);
            }
            if let Some(t) = idle_timeout_min {
                b = b.u32(*t);
            }
            if let Some(n) = soh_response_len {
                b = b.u16(*n).zeros(usize::from(*n));
            }
            b
        }
        Packet::ChannelCreate {
            resources,
            alt_resources,
            port,
            protocol,
        } => {
            // The counts are one byte each: at most 255 names of each kind are written.
            let res = resources.iter().take(255);
            let alt = alt_resources.iter().take(255);
            let mut b = b
                .u8(res.len() as u8)
                .u8(alt.len() as u8)
                .u16(*port)
                .u16(*protocol);
            for name in res.chain(alt) {
                b = b.text(name);
            }
            b
        }
        Packet::ChannelResponse {
            error,
            fields_present,
            channel_id,
            udp_port,
            authn_cookie_len,
        } => {
            let mut fp = bit(
                *fields_present,
                CHANNEL_RESPONSE_CHANNEL_ID,
                channel_id.is_some(),
            );
            fp = bit(fp, CHANNEL_RESPONSE_UDP_PORT, udp_port.is_some());
            fp = bit(
                fp,
                CHANNEL_RESPONSE_AUTHN_COOKIE,
                authn_cookie_len.is_some(),
            );
            let mut b = b.u32(error.0).u16(fp).u16(0);
            if let Some(id) = channel_id {
                b = b.u32(*id);
            }
            if let Some(port) = udp_port {
                b = b.u16(*port);
            }
            if let Some(n) = authn_cookie_len {
                b = b.u16(*n).zeros(usize::from(*n));
            }
            b
        }
        Packet::Data { data_len } => {
            // Header length counts the payload the caller is about to append.
            header(ty, DATA_HEADER_LEN + usize::from(*data_len), out);
            out.extend_from_slice(&data_len.to_le_bytes());
            return;
        }
        Packet::ServiceMessage { message } => b.text(message),
        Packet::ReauthMessage { context } => b.u64(*context),
        Packet::Keepalive => b,
        Packet::CloseChannel { status } | Packet::CloseChannelResponse { status } => {
            b.u32(status.0)
        }
        Packet::Unknown { len, .. } => {
            let body = usize::try_from(*len)
                .unwrap_or(usize::MAX)
                .saturating_sub(HEADER_LEN)
                .min(UNKNOWN_BODY_MAX);
            b.zeros(body)
        }
    };
    b.finish_into(ty, out);
}
