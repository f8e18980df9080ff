//! The events the I/O channel decoder emits, their one-line summaries and the
//! redaction of user names.

use super::names::{read_flags, CompressionType, ControlAction, DataPduType, Flags, StatusCode};
use super::{
    ActivePdu, ClientInfo, ErrorInfo, License, LicenseOutcome, Redirection, SaveSessionInfo,
};
use serde::{Deserialize, Serialize};

/// Replaces user and domain names under `--redact-users`.
const REDACTED: &str = "<redacted>";

/// What the I/O channel decoder saw.
///
/// The larger payloads are boxed so the event stays small next to the other layers'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RdpEvent {
    /// The client's Security Exchange PDU (standard RDP security).
    SecurityExchange {
        /// The length field of the encrypted client random, in bytes (padding included).
        random_len: u32,
    },
    /// The client's Client Info PDU.
    ClientInfo(Box<ClientInfo>),
    /// A licensing PDU, from either side.
    License(License),
    /// The server's Demand Active PDU.
    DemandActive(Box<ActivePdu>),
    /// The client's Confirm Active PDU.
    ConfirmActive(Box<ActivePdu>),
    /// The server's Deactivate All PDU (a reactivation or the end of the session follows).
    DeactivateAll {
        /// The share being deactivated (absent in the bare 4-byte form).
        share_id: Option<u32>,
    },
    /// The server's Server Redirection PDU.
    ServerRedirection(Box<Redirection>),
    /// A Synchronize PDU.
    Synchronize {
        /// targetUser: the MCS user channel of the peer.
        target_user: u16,
    },
    /// A Control PDU.
    Control {
        /// The action.
        action: ControlAction,
        /// grantId.
        grant_id: u16,
        /// controlId.
        control_id: u32,
    },
    /// The client's Font List PDU.
    FontList {
        /// numberFonts (0 in practice).
        entries: u16,
    },
    /// The server's Font Map PDU, the last step of connection finalization.
    FontMap {
        /// numberEntries (0 in practice).
        entries: u16,
    },
    /// The client's Persistent Key List PDU (bitmap cache keys, counted only).
    PersistentKeyList {
        /// Keys in this PDU.
        entries: u32,
        /// Keys announced across all PDUs of the list.
        total: u32,
        /// PERSIST_FIRST_PDU / PERSIST_LAST_PDU.
        #[serde(deserialize_with = "read_flags::persist")]
        flags: Flags,
    },
    /// The server's Save Session Info PDU: a logon notice or a logon error.
    SaveSessionInfo(Box<SaveSessionInfo>),
    /// The server's Set Error Info PDU, sent before it disconnects.
    SetErrorInfo(ErrorInfo),
    /// The client asks to end the session.
    ShutdownRequest,
    /// The server refuses the client's shutdown request.
    ShutdownDenied,
    /// The server's Monitor Layout PDU.
    MonitorLayout {
        /// monitorCount.
        monitors: u32,
    },
    /// The server's Status Info PDU (broker and virtual machine progress).
    StatusInfo {
        /// statusCode.
        status: StatusCode,
    },
    /// Standard RDP security encryption started: encrypted PDUs are only counted now.
    EncryptedFromHere {
        /// The security header flags of the first encrypted PDU.
        #[serde(deserialize_with = "read_flags::sec")]
        flags: Flags,
    },
    /// A bulk-compressed Data PDU that would otherwise be reported; it cannot be read.
    CompressedPdu {
        /// The Data PDU type.
        pdu_type2: DataPduType,
        /// The compression type (low four bits of compressedType).
        compression: CompressionType,
        /// The compression flags (high four bits of compressedType).
        #[serde(deserialize_with = "read_flags::compression")]
        flags: Flags,
    },
    /// A payload that could not be decoded.
    MalformedPdu {
        /// The structure being read.
        what: String,
        /// What was wrong.
        reason: String,
    },
}

impl RdpEvent {
    /// A one-line plain-English description, for logs and verdict evidence.
    pub fn summary(&self) -> String {
        match self {
            RdpEvent::SecurityExchange { random_len } => format!(
                "Security Exchange: the client sent its encrypted random ({random_len} bytes)"
            ),
            RdpEvent::ClientInfo(ci) => client_info_summary(ci),
            RdpEvent::License(l) => license_summary(l),
            RdpEvent::DemandActive(p) => active_summary("server Demand Active", p),
            RdpEvent::ConfirmActive(p) => active_summary("client Confirm Active", p),
            RdpEvent::DeactivateAll { share_id } => match share_id {
                Some(id) => format!("server Deactivate All (share 0x{id:08x})"),
                None => "server Deactivate All".to_string(),
            },
            RdpEvent::ServerRedirection(r) => redirection_summary(r),
            RdpEvent::Synchronize { target_user } => {
                format!("Synchronize (target user channel {target_user})")
            }
            RdpEvent::Control { action, .. } => format!("Control: {action}"),
            RdpEvent::FontList { .. } => "client Font List".to_string(),
            RdpEvent::FontMap { .. } => {
                "server Font Map: connection finalization complete".to_string()
            }
            RdpEvent::PersistentKeyList { entries, flags, .. } => {
                format!("client Persistent Key List: {entries} bitmap cache keys ({flags})")
            }
            RdpEvent::SaveSessionInfo(s) => save_session_summary(s),
            RdpEvent::SetErrorInfo(e) if e.is_none() => {
                "server Set Error Info: ERRINFO_NONE (no error)".to_string()
            }
            RdpEvent::SetErrorInfo(e) => format!("server Set Error Info: {e}"),
            RdpEvent::ShutdownRequest => "client asks to shut the session down".to_string(),
            RdpEvent::ShutdownDenied => "server denied the client's shutdown request".to_string(),
            RdpEvent::MonitorLayout { monitors } => {
                format!("server Monitor Layout: {monitors} monitor(s)")
            }
            RdpEvent::StatusInfo { status } => format!("server Status Info: {status}"),
            RdpEvent::EncryptedFromHere { flags } => format!(
                "standard RDP security encryption starts here ({flags}); encrypted PDUs are only counted"
            ),
            RdpEvent::CompressedPdu { pdu_type2, .. } => format!(
                "{} is bulk-compressed and cannot be decoded",
                pdu_type2.name_or_unknown()
            ),
            RdpEvent::MalformedPdu { what, reason } => format!("malformed {what}: {reason}"),
        }
    }

    /// Replaces user and domain names with `"<redacted>"` (`--redact-users`).
    pub fn redact_users(&mut self) {
        fn redact(s: &mut String) {
            if !s.is_empty() {
                *s = REDACTED.to_string();
            }
        }
        match self {
            RdpEvent::ClientInfo(ci) => {
                redact(&mut ci.user);
                redact(&mut ci.domain);
            }
            RdpEvent::SaveSessionInfo(s) => {
                s.user
                    .iter_mut()
                    .chain(s.domain.iter_mut())
                    .for_each(redact);
            }
            RdpEvent::ServerRedirection(r) => {
                r.user
                    .iter_mut()
                    .chain(r.domain.iter_mut())
                    .for_each(redact);
            }
            _ => {}
        }
    }
}

/// The summary of a Client Info PDU: account, password presence, auto-logon.
fn client_info_summary(ci: &ClientInfo) -> String {
    let password = if ci.password_present {
        format!("password present ({} bytes)", ci.password_len)
    } else {
        "no password".to_string()
    };
    let mut s = format!("client info: user {}, {password}", ci.account());
    if ci.auto_logon {
        s.push_str(", auto-logon");
    }
    if ci.arc_cookie_present {
        s.push_str(", auto-reconnect cookie");
    }
    if !ci.alternate_shell.is_empty() {
        s.push_str(&format!(", shell \"{}\"", ci.alternate_shell));
    }
    s
}

/// The summary of a licensing PDU, with the outcome when it decides one.
fn license_summary(l: &License) -> String {
    match &l.error {
        Some(e) => format!(
            "licensing {}: {} / {} — {}",
            l.msg_type.name_or_unknown(),
            e.code,
            e.transition.name_or_unknown(),
            l.outcome
        ),
        None if l.outcome == LicenseOutcome::Succeeded => {
            format!("licensing: {} — {}", l.msg_type, l.outcome)
        }
        None => format!("licensing: {}", l.msg_type),
    }
}

/// The summary of a Demand/Confirm Active PDU: share, desktop, platform.
fn active_summary(what: &str, p: &ActivePdu) -> String {
    let mut s = format!("{what}: share 0x{:08x}", p.share_id);
    if let (Some(w), Some(h)) = (p.desktop_width, p.desktop_height) {
        s.push_str(&format!(", {w}x{h}"));
    }
    if let Some(bpp) = p.color_depth {
        s.push_str(&format!(" at {bpp} bpp"));
    }
    if let Some(os) = p.os_major.and_then(|o| o.meaning()) {
        s.push_str(&format!(", {os}"));
    }
    s.push_str(&format!(", {} capability sets", p.capability_count));
    s
}

/// The summary of a Server Redirection PDU: where to, and with what.
fn redirection_summary(r: &Redirection) -> String {
    let target = r.target().unwrap_or("(no target address)");
    let mut s = if r.no_redirect() {
        format!("server redirection notice (LB_NOREDIRECT), target {target}")
    } else {
        format!("server redirects the client to {target}")
    };
    s.push_str(&format!(", session {}", r.session_id));
    if let Some(user) = &r.user {
        s.push_str(&format!(", user {user}"));
    }
    if r.load_balance_info.is_some() {
        s.push_str(", with routing token");
    }
    s
}

/// The summary of a Save Session Info PDU: logon, cookie or logon error.
fn save_session_summary(s: &SaveSessionInfo) -> String {
    if let Some(e) = &s.logon_error {
        let detail = match (e.failure, e.session_id) {
            (Some(f), _) => format!(", {f}"),
            (None, Some(id)) => format!(", session {id}"),
            (None, None) => String::new(),
        };
        return format!("server logon notification: {}{detail}", e.error_type);
    }
    if s.info_type.0 == 3 {
        return match s.arc_cookie_len {
            Some(n) => format!("server sent an auto-reconnect cookie ({n} bytes)"),
            None => "server sent extended logon info".to_string(),
        };
    }
    let who = match (&s.domain, &s.user) {
        (Some(d), Some(u)) if !d.is_empty() => format!(" as {d}\\{u}"),
        (_, Some(u)) if !u.is_empty() => format!(" as {u}"),
        _ => String::new(),
    };
    format!(
        "logon succeeded{who} (Save Session Info {})",
        s.info_type.name_or_unknown()
    )
}
