//! The basic security header, the Security Exchange PDU and the Client Info PDU
//! (MS-RDPBCGR 2.2.1.10, 2.2.1.11, 2.2.8.1.1.2.1).
//!
//! Client Info carries the logon credentials. The password and the auto-reconnect
//! cookie are skipped unread: only their presence and length ever leave this module.

use super::names::{read_flags, AddressFamily, CompressionType, Flags, INFO_FLAGS, PERF_FLAGS};
use super::reader::{ParseError, Parsed, Reader};
use serde::{Deserialize, Serialize};

/// SEC_EXCHANGE_PKT: a Security Exchange PDU follows.
pub const SEC_EXCHANGE_PKT: u16 = 0x0001;
/// SEC_TRANSPORT_REQ: an Initiate Multitransport Request follows.
pub const SEC_TRANSPORT_REQ: u16 = 0x0002;
/// RDP_SEC_TRANSPORT_RSP: an Initiate Multitransport Response follows.
pub const SEC_TRANSPORT_RSP: u16 = 0x0004;
/// SEC_ENCRYPT: the rest of the PDU is encrypted under standard RDP security.
pub const SEC_ENCRYPT: u16 = 0x0008;
/// SEC_INFO_PKT: a Client Info PDU follows.
pub const SEC_INFO_PKT: u16 = 0x0040;
/// SEC_LICENSE_PKT: a licensing PDU follows.
pub const SEC_LICENSE_PKT: u16 = 0x0080;
/// SEC_REDIRECTION_PKT: a standard security Server Redirection PDU.
pub const SEC_REDIRECTION_PKT: u16 = 0x0400;
/// SEC_AUTODETECT_REQ: an auto-detect request follows.
pub const SEC_AUTODETECT_REQ: u16 = 0x1000;
/// SEC_AUTODETECT_RSP: an auto-detect response follows.
pub const SEC_AUTODETECT_RSP: u16 = 0x2000;
/// SEC_HEARTBEAT: a heartbeat PDU follows.
pub const SEC_HEARTBEAT: u16 = 0x4000;
/// Every bit MS-RDPBCGR defines in the flags field (0x0100 is unused).
pub const SEC_KNOWN: u16 = 0xFEFF;

/// The INFO_UNICODE flag: strings are UTF-16LE rather than ANSI.
const INFO_UNICODE: u32 = 0x0000_0010;
/// The INFO_AUTOLOGON flag.
const INFO_AUTOLOGON: u32 = 0x0000_0008;
/// The INFO_COMPRESSION flag.
const INFO_COMPRESSION: u32 = 0x0000_0080;
/// The bits of the Client Info flags that carry the compression type.
const COMPRESSION_TYPE_MASK: u32 = 0x0000_1E00;
/// Size of TS_TIME_ZONE_INFORMATION.
const TIME_ZONE_LEN: usize = 172;

/// The Security Exchange PDU: the client's random, encrypted with the server's key.
pub fn security_exchange(r: &mut Reader<'_>) -> Parsed<u32> {
    let len = r.u32()?;
    // The bytes themselves are key material; only their count is of interest.
    r.skip(usize::try_from(len).unwrap_or(usize::MAX))
        .map_err(|e| ParseError::new(format!("encrypted client random: {}", e.reason)))?;
    Ok(len)
}

/// What the client said about itself in the Client Info PDU (TS_INFO_PACKET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The client's code page (an ANSI code page or a keyboard layout id).
    pub code_page: u32,
    /// The INFO_* flags (without the compression type bits).
    #[serde(deserialize_with = "read_flags::info")]
    pub flags: Flags,
    /// The bulk compression the client supports, when INFO_COMPRESSION is set.
    pub compression: Option<CompressionType>,
    /// The logon domain as sent (may be empty).
    pub domain: String,
    /// The logon user name as sent (may be empty).
    pub user: String,
    /// Whether a password (or smart card PIN) was sent; its content never is recorded.
    pub password_present: bool,
    /// The password's length in bytes as sent, without the terminator.
    pub password_len: u16,
    /// The program to start instead of the shell ("||name" for RemoteApp).
    pub alternate_shell: String,
    /// The working directory for the alternate shell.
    pub working_dir: String,
    /// INFO_AUTOLOGON: log on with the supplied credentials instead of a logon screen.
    pub auto_logon: bool,
    /// The client's address family, from the extended info.
    pub client_address_family: Option<AddressFamily>,
    /// The client's own idea of its IP address.
    pub client_address: Option<String>,
    /// The directory of the client software.
    pub client_dir: Option<String>,
    /// The client's standard time zone name.
    pub time_zone: Option<String>,
    /// The client's time zone bias, in minutes (UTC = local + bias).
    pub time_zone_bias: Option<i32>,
    /// The client's performance flags (visual effects it wants off or on).
    #[serde(default, deserialize_with = "read_flags::perf")]
    pub performance_flags: Option<Flags>,
    /// Whether an auto-reconnect cookie was sent; its content never is recorded.
    pub arc_cookie_present: bool,
    /// The auto-reconnect cookie's length in bytes.
    pub arc_cookie_len: u16,
    /// The client's dynamic DST time zone key name.
    pub dynamic_time_zone: Option<String>,
}

impl ClientInfo {
    /// "DOMAIN\user", "user" or "(no user name)".
    pub fn account(&self) -> String {
        match (self.domain.is_empty(), self.user.is_empty()) {
            (_, true) => "(no user name)".to_string(),
            (true, false) => self.user.clone(),
            (false, false) => format!("{}\\{}", self.domain, self.user),
        }
    }
}

/// Decodes a TS_INFO_PACKET; the extended info is optional and read as far as present.
pub fn client_info(r: &mut Reader<'_>) -> Parsed<ClientInfo> {
    let code_page = r.u32()?;
    let raw_flags = r.u32()?;
    let cb_domain = r.u16()?;
    let cb_user = r.u16()?;
    let cb_password = r.u16()?;
    let cb_shell = r.u16()?;
    let cb_dir = r.u16()?;
    let unicode = raw_flags & INFO_UNICODE != 0;
    let domain = info_string(r, cb_domain, unicode, "Domain")?;
    let user = info_string(r, cb_user, unicode, "UserName")?;
    // The password is skipped unread, terminator included.
    r.skip(usize::from(cb_password) + terminator(unicode))
        .map_err(|e| ParseError::new(format!("Password: {}", e.reason)))?;
    let alternate_shell = info_string(r, cb_shell, unicode, "AlternateShell")?;
    let working_dir = info_string(r, cb_dir, unicode, "WorkingDir")?;
    let compression = (raw_flags & INFO_COMPRESSION != 0).then_some(CompressionType(
        ((raw_flags & COMPRESSION_TYPE_MASK) >> 9) as u8,
    ));
    let mut info = ClientInfo {
        code_page,
        flags: Flags::new(raw_flags & !COMPRESSION_TYPE_MASK, INFO_FLAGS),
        compression,
        domain,
        user,
        password_present: cb_password > 0,
        password_len: cb_password,
        alternate_shell,
        working_dir,
        auto_logon: raw_flags & INFO_AUTOLOGON != 0,
        client_address_family: None,
        client_address: None,
        client_dir: None,
        time_zone: None,
        time_zone_bias: None,
        performance_flags: None,
        arc_cookie_present: false,
        arc_cookie_len: 0,
        dynamic_time_zone: None,
    };
    // RDP 4.0 clients stop here; later ones append TS_EXTENDED_INFO_PACKET, whose
    // fields each are optional from the end, so a short tail is not an error: the
    // fields read so far are kept and the rest stay None.
    let _ = extended_info(r, &mut info);
    Ok(info)
}

/// The terminator's width: the cb* lengths exclude it, and it is one character wide.
fn terminator(unicode: bool) -> usize {
    if unicode {
        2
    } else {
        1
    }
}

/// One of the TS_INFO_PACKET strings, `cb` bytes plus its terminator.
fn info_string(r: &mut Reader<'_>, cb: u16, unicode: bool, what: &str) -> Parsed<String> {
    let n = usize::from(cb) + terminator(unicode);
    let s = if unicode { r.utf16(n) } else { r.ansi(n) };
    s.map_err(|e| ParseError::new(format!("{what}: {}", e.reason)))
}

/// Reads TS_EXTENDED_INFO_PACKET into `info`, stopping at the first field that is absent.
fn extended_info(r: &mut Reader<'_>, info: &mut ClientInfo) -> Parsed<()> {
    if r.remaining() == 0 {
        return Ok(());
    }
    info.client_address_family = Some(AddressFamily(r.u16()?));
    let cb_address = r.u16()?;
    info.client_address = Some(r.utf16(cb_address)?);
    let cb_dir = r.u16()?;
    info.client_dir = Some(r.utf16(cb_dir)?);
    let tz = r.take(TIME_ZONE_LEN)?;
    let mut tzr = Reader::new(tz);
    info.time_zone_bias = Some(tzr.u32()? as i32);
    info.time_zone = Some(tzr.utf16(64)?);
    let _session_id = r.u32()?;
    info.performance_flags = Some(Flags::new(r.u32()?, PERF_FLAGS));
    let cb_cookie = r.u16()?;
    info.arc_cookie_present = cb_cookie > 0;
    info.arc_cookie_len = cb_cookie;
    // The cookie proves the right to reconnect to a session: skip it unread.
    r.skip(usize::from(cb_cookie))?;
    let _reserved1 = r.u16()?;
    let _reserved2 = r.u16()?;
    let cb_key = r.u16()?;
    info.dynamic_time_zone = Some(r.utf16(cb_key)?);
    Ok(())
}
