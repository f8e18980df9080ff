//! Labels of the RD Gateway's messages: HTTP, WebSocket frames and MS-TSGU packets.

use super::labels::{humanize, ntlm_name};
use crate::decode::gateway::GwEvent;
use crate::decode::http::{AuthScheme, HttpEvent, Truncation};
use crate::decode::tsgu::order::GwStage;
use crate::decode::tsgu::packet::Packet;
use crate::decode::ws::WsEvent;

/// A scheme's name, or "auth" for a scheme sent without one.
fn scheme_name(s: &AuthScheme) -> &str {
    Some(s.name()).filter(|n| !n.is_empty()).unwrap_or("auth")
}

/// The label of an HTTP event.
pub(super) fn http_label(h: &HttpEvent) -> String {
    match h {
        HttpEvent::Request {
            method,
            target,
            auth,
            ..
        } => {
            let auth = auth
                .as_ref()
                .map(|a| {
                    let scheme = scheme_name(&a.scheme);
                    match &a.ntlm {
                        Some(n) => {
                            format!(" ({scheme} {})", ntlm_name(Some(u64::from(n.message_type))))
                        }
                        None => format!(" ({scheme})"),
                    }
                })
                .unwrap_or_default();
            format!("{method} {target}{auth}")
        }
        HttpEvent::Response {
            status,
            reason,
            challenges,
            ..
        } => {
            let schemes: Vec<String> = challenges
                .iter()
                .map(|c| match c.ntlm {
                    Some(_) => format!("{} CHALLENGE", c.scheme.name()),
                    None => c.scheme.name().to_string(),
                })
                .collect();
            let ch = if schemes.is_empty() {
                String::new()
            } else {
                format!(" ({})", schemes.join(", "))
            };
            format!("HTTP {status} {reason}{ch}")
        }
        HttpEvent::BodyEnd { bytes, .. } => format!("body ends ({bytes} bytes)"),
        HttpEvent::Incomplete { at, .. } => {
            format!("HTTP message cut short ({})", humanize(truncation_id(at)))
        }
        HttpEvent::HeadTooLarge { .. } => "HTTP head too large".to_string(),
        HttpEvent::Malformed { reason, .. } => format!("malformed HTTP: {reason}"),
        HttpEvent::Upgrade { protocol } => format!("upgrade to {protocol}"),
    }
}

/// Where an HTTP message was cut, by the identifier the event file writes.
fn truncation_id(t: &Truncation) -> &'static str {
    match t {
        Truncation::NoResponse => "no_response",
        Truncation::StatusLine { .. } => "status_line",
        Truncation::Headers { .. } => "headers",
        Truncation::Body { .. } => "body",
        Truncation::Chunk { .. } => "chunk",
        Truncation::ChunkSize { .. } => "chunk_size",
    }
}

/// The label of a WebSocket event; None for pings, pongs and text frames, whose
/// kind says enough.
pub(super) fn ws_label(w: &WsEvent) -> Option<String> {
    match w {
        WsEvent::WsClose {
            code, code_name, ..
        } => {
            let code = code.map(|c| c.to_string()).unwrap_or_default();
            let name = code_name.map(|n| n.to_string()).unwrap_or_default();
            Some(
                format!("WebSocket Close {code} {name}")
                    .trim_end()
                    .to_string(),
            )
        }
        WsEvent::WsViolation { reason } => Some(format!("WebSocket violation: {reason}")),
        WsEvent::WsPing { .. } | WsEvent::WsPong { .. } | WsEvent::WsText { .. } => None,
    }
}

/// The label of a tunnel event.
pub(super) fn gw_label(g: &GwEvent) -> String {
    match g {
        GwEvent::TsguPacket { packet, .. } => {
            let extra = match packet {
                Packet::Data { data_len } => format!(" ({data_len} bytes)"),
                Packet::ChannelCreate {
                    resources, port, ..
                } => {
                    let host = resources.first().map_or("?", String::as_str);
                    format!(" {host}:{port}")
                }
                Packet::ExtendedAuthMsg {
                    ntlm_type: Some(t), ..
                } => format!(" (NTLM {})", ntlm_name(Some(u64::from(*t)))),
                _ => String::new(),
            };
            let status = match packet.status() {
                Some(s) if s.name() != "S_OK" => format!(" {}", s.name()),
                _ => String::new(),
            };
            format!("{}{extra}{status}", packet.packet_type().name())
        }
        GwEvent::TsguViolation { reason, .. } => format!("protocol violation: {reason}"),
        GwEvent::TsguFramingError { reason } => format!("framing error: {reason}"),
        GwEvent::TsguSeed { bytes } => format!("random seed ({bytes} bytes)"),
        GwEvent::TsguCut { inside, .. } => format!("cut inside {inside}"),
        GwEvent::TsguStage { stage } => format!("tunnel stage: {}", stage_id(*stage)),
    }
}

/// A tunnel stage by the identifier the event file writes (`gw_closed`).
pub(super) fn stage_id(s: GwStage) -> &'static str {
    match s {
        GwStage::Handshake => "gw_handshake",
        GwStage::ExtAuth => "gw_ext_auth",
        GwStage::TunnelCreate => "gw_tunnel_create",
        GwStage::TunnelAuth => "gw_tunnel_auth",
        GwStage::ChannelCreate => "gw_channel_create",
        GwStage::Data => "gw_data",
        GwStage::Closed => "gw_closed",
    }
}
