//! Labels of the RDP connection's own messages: MCS and the RDP PDUs.

use crate::decode::mcs::{ChannelName, McsEvent};
use crate::decode::pdu::RdpEvent;

/// A channel by its name when known, else by its id.
fn channel(name: &Option<ChannelName>, id: u16) -> String {
    name.as_ref()
        .map_or_else(|| id.to_string(), ToString::to_string)
}

/// An empty string for an absent number, as the ladder shows a size it never saw.
fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The label of an MCS event.
pub(super) fn mcs_label(m: &McsEvent) -> String {
    match m {
        McsEvent::ConnectInitial {
            client_version,
            desktop_width,
            desktop_height,
            ..
        } => format!(
            "MCS Connect Initial ({}, {}x{})",
            client_version.as_deref().unwrap_or("?"),
            opt(*desktop_width),
            opt(*desktop_height)
        ),
        McsEvent::ConnectResponse { result, .. } => format!("MCS Connect Response ({result})"),
        McsEvent::ErectDomain => "MCS Erect Domain".to_string(),
        McsEvent::AttachUserRequest => "MCS Attach User Request".to_string(),
        McsEvent::AttachUserConfirm { result, .. } => {
            format!("MCS Attach User Confirm ({})", result.name())
        }
        McsEvent::ChannelJoinRequest {
            channel_id,
            channel: name,
            ..
        } => format!("MCS Channel Join Request {}", channel(name, *channel_id)),
        McsEvent::ChannelJoinConfirm {
            result,
            channel_id,
            channel: name,
            ..
        } => format!(
            "MCS Channel Join Confirm {} ({})",
            channel(name, *channel_id),
            result.name()
        ),
        McsEvent::ChannelsJoined {
            joined, refused, ..
        } => format!(
            "channels joined: {}, refused: {}",
            joined.len(),
            refused.len()
        ),
        McsEvent::DisconnectProviderUltimatum { reason } => {
            format!("MCS Disconnect Provider Ultimatum ({reason})")
        }
    }
}

/// The label of an RDP PDU.
pub(super) fn rdp_label(r: &RdpEvent) -> String {
    match r {
        RdpEvent::SecurityExchange { .. } => "Security Exchange".to_string(),
        RdpEvent::ClientInfo(ci) => format!("Client Info (user {})", ci.user),
        RdpEvent::License(l) => {
            let err = l
                .error
                .map(|e| format!(" {}", e.code.name_or_unknown()))
                .unwrap_or_default();
            format!("License {}{err}", l.msg_type.name_or_unknown())
        }
        RdpEvent::DemandActive(p) => format!("Demand Active ({} capabilities)", p.capability_count),
        RdpEvent::ConfirmActive(p) => {
            format!("Confirm Active ({} capabilities)", p.capability_count)
        }
        RdpEvent::DeactivateAll { .. } => "Deactivate All".to_string(),
        RdpEvent::ServerRedirection(_) => "Server Redirection".to_string(),
        RdpEvent::Synchronize { .. } => "Synchronize".to_string(),
        RdpEvent::Control { action, .. } => format!(
            "Control {}",
            action.name_or_unknown().trim_start_matches("CTRLACTION_")
        ),
        RdpEvent::FontList { .. } => "Font List".to_string(),
        RdpEvent::FontMap { .. } => "Font Map".to_string(),
        RdpEvent::PersistentKeyList { .. } => "Persistent Key List".to_string(),
        RdpEvent::SaveSessionInfo(s) => {
            let err = s
                .logon_error
                .as_ref()
                .map(|x| format!(", {}", x.error_type.name_or_unknown()))
                .unwrap_or_default();
            format!("Save Session Info ({}{err})", s.info_type.name_or_unknown())
        }
        RdpEvent::SetErrorInfo(e) => format!("Set Error Info {}", e.name()),
        RdpEvent::ShutdownRequest => "Shutdown Request".to_string(),
        RdpEvent::ShutdownDenied => "Shutdown Denied".to_string(),
        RdpEvent::MonitorLayout { .. } => "Monitor Layout".to_string(),
        RdpEvent::StatusInfo { status } => format!("Status Info {}", status.name_or_unknown()),
        RdpEvent::EncryptedFromHere { .. } => "encrypted from here on".to_string(),
        RdpEvent::CompressedPdu { pdu_type2, .. } => {
            format!("compressed PDU {}", pdu_type2.name_or_unknown())
        }
        RdpEvent::MalformedPdu { what, reason } => format!("malformed {what}: {reason}"),
    }
}
