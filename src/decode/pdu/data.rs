//! Bodies of the Share Data PDUs we report one by one (MS-RDPBCGR 2.2.1.14–2.2.1.22,
//! 2.2.5, 2.2.10, 2.2.12): connection finalization, logon notification, errors.

use super::errinfo::ErrorInfo;
use super::names::{
    read_flags, ControlAction, Flags, LogonErrorType, LogonFailure, SessionInfoType, StatusCode,
    LOGON_EX_FLAGS, PERSIST_FLAGS,
};
use super::reader::{ParseError, Parsed, Reader};
use super::RdpEvent;
use serde::{Deserialize, Serialize};

/// TS_LOGON_INFO's fixed Domain field size.
const LOGON_V1_DOMAIN: usize = 52;
/// TS_LOGON_INFO's fixed UserName field size.
const LOGON_V1_USER: usize = 512;
/// TS_LOGON_INFO_VERSION_2's padding before the strings.
const LOGON_V2_PAD: usize = 558;
const LOGON_EX_AUTORECONNECTCOOKIE: u32 = 0x01;
const LOGON_EX_LOGONERRORS: u32 = 0x02;

/// The logon error notification of a Save Session Info PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogonError {
    /// ErrorNotificationType: a LOGON_MSG_* code or an NTSTATUS.
    pub error_type: LogonErrorType,
    /// ErrorNotificationData as sent.
    pub data: u32,
    /// ErrorNotificationData read as a LOGON_FAILED_* code, when it is one.
    pub failure: Option<LogonFailure>,
    /// ErrorNotificationData read as a session id, for LOGON_MSG_* types.
    pub session_id: Option<u32>,
}

/// A Save Session Info PDU: the server's notice that a logon happened, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveSessionInfo {
    /// infoType.
    pub info_type: SessionInfoType,
    /// The domain logged on to (LOGON and LOGON_LONG).
    pub domain: Option<String>,
    /// The user logged on (LOGON and LOGON_LONG).
    pub user: Option<String>,
    /// The session id (LOGON and LOGON_LONG).
    pub session_id: Option<u32>,
    /// LOGON_EXTENDED_INFO: FieldsPresent.
    #[serde(default, deserialize_with = "read_flags::logon_ex")]
    pub fields_present: Option<Flags>,
    /// LOGON_EXTENDED_INFO: the auto-reconnect cookie's length (never its content).
    pub arc_cookie_len: Option<u32>,
    /// LOGON_EXTENDED_INFO: the logon error notification.
    pub logon_error: Option<LogonError>,
}

impl SaveSessionInfo {
    /// True for the types that announce a completed logon.
    pub fn is_logon(&self) -> bool {
        matches!(self.info_type.0, 0..=2)
    }
}

/// TS_SYNCHRONIZE_PDU.
pub fn synchronize(r: &mut Reader<'_>) -> Parsed<RdpEvent> {
    let _message_type = r.u16()?;
    Ok(RdpEvent::Synchronize {
        target_user: r.u16()?,
    })
}

/// TS_CONTROL_PDU.
pub fn control(r: &mut Reader<'_>) -> Parsed<RdpEvent> {
    Ok(RdpEvent::Control {
        action: ControlAction(r.u16()?),
        grant_id: r.u16()?,
        control_id: r.u32()?,
    })
}

/// TS_FONT_LIST_PDU or TS_FONT_MAP_PDU (same layout): the entry count.
pub fn font_list(r: &mut Reader<'_>, map: bool) -> Parsed<RdpEvent> {
    let entries = r.u16()?;
    Ok(if map {
        RdpEvent::FontMap { entries }
    } else {
        RdpEvent::FontList { entries }
    })
}

/// TS_BITMAPCACHE_PERSISTENT_LIST_PDU: how many keys, not the keys.
pub fn persistent_key_list(r: &mut Reader<'_>) -> Parsed<RdpEvent> {
    let mut entries = 0u32;
    for _ in 0..5 {
        entries += u32::from(r.u16()?);
    }
    let mut total = 0u32;
    for _ in 0..5 {
        total += u32::from(r.u16()?);
    }
    let flags = Flags::new(u32::from(r.u8()?), PERSIST_FLAGS);
    Ok(RdpEvent::PersistentKeyList {
        entries,
        total,
        flags,
    })
}

/// TS_SET_ERROR_INFO_PDU.
pub fn set_error_info(r: &mut Reader<'_>) -> Parsed<RdpEvent> {
    Ok(RdpEvent::SetErrorInfo(ErrorInfo(r.u32()?)))
}

/// TS_MONITOR_LAYOUT_PDU: the monitor count.
pub fn monitor_layout(r: &mut Reader<'_>) -> Parsed<RdpEvent> {
    Ok(RdpEvent::MonitorLayout { monitors: r.u32()? })
}

/// TS_STATUS_INFO_PDU.
pub fn status_info(r: &mut Reader<'_>) -> Parsed<RdpEvent> {
    Ok(RdpEvent::StatusInfo {
        status: StatusCode(r.u32()?),
    })
}

/// TS_SAVE_SESSION_INFO_PDU_DATA.
pub fn save_session_info(r: &mut Reader<'_>) -> Parsed<SaveSessionInfo> {
    let mut info = SaveSessionInfo {
        info_type: SessionInfoType(r.u32()?),
        domain: None,
        user: None,
        session_id: None,
        fields_present: None,
        arc_cookie_len: None,
        logon_error: None,
    };
    match info.info_type.0 {
        0 => logon_v1(r, &mut info)?,
        1 => logon_v2(r, &mut info)?,
        2 => {}
        3 => logon_extended(r, &mut info)?,
        t => return Err(ParseError::new(format!("unknown infoType {t}"))),
    }
    Ok(info)
}

/// TS_LOGON_INFO: fixed-size UTF-16 fields whose cb* say how much is text.
fn logon_v1(r: &mut Reader<'_>, info: &mut SaveSessionInfo) -> Parsed<()> {
    let cb_domain = r.u32()?;
    let domain = r.take(LOGON_V1_DOMAIN)?;
    let cb_user = r.u32()?;
    let user = r.take(LOGON_V1_USER)?;
    info.domain = Some(prefix_text(domain, cb_domain)?);
    info.user = Some(prefix_text(user, cb_user)?);
    info.session_id = Some(r.u32()?);
    Ok(())
}

/// The first `cb` bytes of a fixed field, as UTF-16 text.
fn prefix_text(field: &[u8], cb: u32) -> Parsed<String> {
    let n = usize::try_from(cb).unwrap_or(usize::MAX).min(field.len());
    Reader::new(field).utf16(n)
}

/// TS_LOGON_INFO_VERSION_2: lengths first, then padding, then the strings.
fn logon_v2(r: &mut Reader<'_>, info: &mut SaveSessionInfo) -> Parsed<()> {
    let _version = r.u16()?;
    let _size = r.u32()?;
    info.session_id = Some(r.u32()?);
    let cb_domain = r.u32()?;
    let cb_user = r.u32()?;
    r.skip(LOGON_V2_PAD)?;
    info.domain = Some(r.utf16(cb_domain)?);
    info.user = Some(r.utf16(cb_user)?);
    Ok(())
}

/// TS_LOGON_INFO_EXTENDED: the auto-reconnect cookie and the logon error, if present.
fn logon_extended(r: &mut Reader<'_>, info: &mut SaveSessionInfo) -> Parsed<()> {
    let _length = r.u16()?;
    let present = r.u32()?;
    info.fields_present = Some(Flags::new(present, LOGON_EX_FLAGS));
    if present & LOGON_EX_AUTORECONNECTCOOKIE != 0 {
        let cb = r.u32()?;
        // The cookie lets its holder reconnect to the session: skip it unread.
        r.take_len(cb)?;
        info.arc_cookie_len = Some(cb);
    }
    if present & LOGON_EX_LOGONERRORS != 0 {
        let cb = r.u32()?;
        let mut f = Reader::new(r.take_len(cb)?);
        let error_type = LogonErrorType(f.u32()?);
        let data = f.u32()?;
        let msg = error_type.is_logon_msg();
        info.logon_error = Some(LogonError {
            error_type,
            data,
            failure: (!msg && data <= 3).then_some(LogonFailure(data)),
            session_id: msg.then_some(data),
        });
    }
    Ok(())
}
