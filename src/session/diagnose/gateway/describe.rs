//! One-line descriptions of the gateway layers' events, for the console and evidence.

use crate::decode::gateway::GwEvent;
use crate::decode::http::HttpEvent;
use crate::decode::tsgu::packet::Packet;
use crate::decode::ws::WsEvent;
use crate::decode::DecodeEvent;

/// A short line for an HTTP, WebSocket, MS-TSGU or inner event.
pub fn line(d: &DecodeEvent) -> String {
    match d {
        DecodeEvent::Http(h) => http(h),
        DecodeEvent::Gw(g) => gw(g),
        DecodeEvent::Ws(w) => ws(w),
        DecodeEvent::Inner(i) => format!("inner: {}", super::super::describe(&i.0)),
        other => other.kind().replace('_', " "),
    }
}

fn http(h: &HttpEvent) -> String {
    match h {
        HttpEvent::Request {
            method,
            target,
            auth,
            transport,
            ..
        } => {
            let auth = auth
                .as_ref()
                .map(|a| match &a.ntlm {
                    Some(n) => format!(
                        ", {} {}{}",
                        a.scheme,
                        n.type_name(),
                        n.user
                            .as_ref()
                            .map(|u| format!(" for {u}"))
                            .unwrap_or_default()
                    ),
                    None => format!(", {} ({} bytes)", a.scheme, a.token_len),
                })
                .unwrap_or_default();
            format!("{} {target} ({transport:?}){auth}", method.as_str())
        }
        HttpEvent::Response {
            status,
            reason,
            challenges,
            ..
        } => {
            let ch: Vec<String> = challenges.iter().map(|c| c.scheme.to_string()).collect();
            if ch.is_empty() {
                format!("HTTP {status} {reason}")
            } else {
                format!("HTTP {status} {reason} (offers {})", ch.join(", "))
            }
        }
        HttpEvent::BodyEnd { bytes, snippet, .. } => match snippet {
            Some(s) => format!("body of {bytes} bytes: \"{s}\""),
            None => format!("body of {bytes} bytes"),
        },
        HttpEvent::Incomplete { at, .. } => format!("HTTP message {at}"),
        HttpEvent::HeadTooLarge { limit, .. } => {
            format!("HTTP head over {limit} bytes: no longer decoded")
        }
        HttpEvent::Malformed { reason, .. } => format!("malformed HTTP: {reason}"),
        HttpEvent::Upgrade { protocol } => format!("switched to {protocol}"),
    }
}

fn gw(g: &GwEvent) -> String {
    match g {
        GwEvent::TsguPacket { packet, .. } => match packet {
            Packet::Data { data_len } => format!("DATA ({data_len} bytes; later DATA is counted)"),
            Packet::ChannelCreate {
                resources, port, ..
            } => format!("CHANNEL_CREATE to {}:{port}", resources.join(", ")),
            Packet::TunnelAuth { client_name, .. } => format!("TUNNEL_AUTH as {client_name}"),
            Packet::ServiceMessage { message } => format!("SERVICE_MESSAGE \"{message}\""),
            p => match p.status() {
                Some(s) => format!("{} {s}", p.packet_type()),
                None => p.packet_type().to_string(),
            },
        },
        GwEvent::TsguViolation { reason, .. } => format!("gateway protocol violation: {reason}"),
        GwEvent::TsguFramingError { reason } => format!("tunnel unreadable: {reason}"),
        GwEvent::TsguSeed { bytes } => format!("OUT channel seed of {bytes} bytes"),
        GwEvent::TsguCut {
            inside,
            got,
            expected,
        } => format!(
            "closed after {got}{} bytes of {inside}",
            expected.map(|e| format!(" of {e}")).unwrap_or_default()
        ),
        GwEvent::TsguStage { stage } => format!("tunnel stage: {stage}"),
    }
}

fn ws(w: &WsEvent) -> String {
    match w {
        WsEvent::WsClose {
            code,
            code_name,
            reason,
        } => format!(
            "WebSocket close {}{}{}",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "without a code".into()),
            code_name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        ),
        other => DecodeEvent::Ws(other.clone()).kind().replace('_', " "),
    }
}
