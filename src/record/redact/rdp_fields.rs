//! What is secret in RDP frames (MS-RDPBCGR, MS-CSSP), as byte ranges of one frame:
//! the Client Info password and auto-reconnect cookie, key codes of input events, the
//! server's auto-reconnect random, a redirection password, and CredSSP credentials
//! (the clipboard's contents are in `clip`);
//! under `--redact-users` also the user and domain names (Client Info, Save Session
//! Info, redirection, the New License Request, NTLM inside CredSSP).
//!
//! Every function works on a frame that may be cut short (at the end of a stream, or
//! the first bytes of a frame being classified) and clamps its ranges to the bytes
//! there; none reads out of bounds.

use super::{der, ntlm};
use crate::decode::pdu::sec::{
    SEC_AUTODETECT_REQ, SEC_AUTODETECT_RSP, SEC_ENCRYPT, SEC_EXCHANGE_PKT, SEC_HEARTBEAT,
    SEC_INFO_PKT, SEC_KNOWN, SEC_LICENSE_PKT, SEC_REDIRECTION_PKT, SEC_TRANSPORT_REQ,
    SEC_TRANSPORT_RSP,
};
use crate::decode::wire::{be_u16, le_u16, le_u32};
use crate::vocab::Dir;
use std::ops::Range;

/// Security header flags that announce a PDU of their own.
const SEC_PDU_BITS: u16 = SEC_EXCHANGE_PKT
    | SEC_INFO_PKT
    | SEC_LICENSE_PKT
    | SEC_REDIRECTION_PKT
    | SEC_AUTODETECT_REQ
    | SEC_AUTODETECT_RSP
    | SEC_HEARTBEAT
    | SEC_TRANSPORT_REQ
    | SEC_TRANSPORT_RSP;
/// totalLength that marks a T.128 flow PDU.
const FLOW_MARKER: u16 = 0x8000;
/// PDUTYPE_DATAPDU and PDUTYPE_SERVER_REDIR_PKT (low nibble of pduType).
const PDUTYPE_DATA: u16 = 0x7;
const PDUTYPE_REDIRECT: u16 = 0xA;
/// pduType2 of the slow-path Input PDU and the Save Session Info PDU.
const PDUTYPE2_INPUT: u8 = 0x1C;
const PDUTYPE2_SAVE_SESSION_INFO: u8 = 0x26;
/// compressedType bit of a bulk-compressed Share Data body (unreadable, so unscrubbable).
const PACKET_COMPRESSED: u8 = 0x20;
/// INFO_UNICODE: Client Info strings are UTF-16LE.
const INFO_UNICODE: u32 = 0x0000_0010;
/// TS_TIME_ZONE_INFORMATION size.
const TIME_ZONE_LEN: usize = 172;
/// ARC_CS_PRIVATE_PACKET and ARC_SC_PRIVATE_PACKET: cbLen, Version, LogonId, then 16
/// secret bytes (SecurityVerifier, ArcRandomBits).
const ARC_LEN: usize = 28;
const ARC_SECRET: Range<usize> = 12..28;
/// INFOTYPE_LOGON and INFOTYPE_LOGON_LONG (logon info version 1 and 2), and where the
/// names start in the latter (after its 576-byte fixed part).
const INFOTYPE_LOGON: u32 = 0;
const INFOTYPE_LOGON_LONG: u32 = 1;
const LOGON_LONG_NAMES_AT: usize = 4 + 576;
/// INFOTYPE_LOGON_EXTENDED_INFO and its LOGON_EX_AUTORECONNECTCOOKIE field.
const INFOTYPE_LOGON_EXTENDED: u32 = 3;
const LOGON_EX_AUTORECONNECTCOOKIE: u32 = 0x1;
/// Redirection fields before LB_PASSWORD, in wire order, then LB_PASSWORD itself;
/// LB_USERNAME and LB_DOMAIN are among the first.
const LB_BEFORE_PASSWORD: [u32; 4] = [0x1, 0x2, LB_USERNAME, LB_DOMAIN];
const LB_USERNAME: u32 = 0x4;
const LB_DOMAIN: u32 = 0x8;
const LB_PASSWORD: u32 = 0x10;
/// NEW_LICENSE_REQUEST (bMsgType) and BB_CLIENT_USER_NAME_BLOB (wBlobType).
const NEW_LICENSE_REQUEST: u8 = 0x13;
const BB_CLIENT_USER_NAME_BLOB: u16 = 0x000F;
/// INPUT_EVENT_SCANCODE and INPUT_EVENT_UNICODE (slow-path messageType).
const INPUT_EVENT_SCANCODE: u16 = 0x0004;
const INPUT_EVENT_UNICODE: u16 = 0x0005;
/// Size of a slow-path TS_INPUT_EVENT: eventTime, messageType, 6 bytes of data.
const SLOW_EVENT_LEN: usize = 12;
/// FASTPATH_INPUT_ENCRYPTED (in the top two bits of the fast-path header).
const FASTPATH_INPUT_ENCRYPTED: u8 = 0x2;

/// The channels the server assigned, once its Connect-Response was read.
#[derive(Debug, Default, Clone)]
pub(super) struct Channels {
    /// The I/O channel: the only one carrying the PDUs scrubbed here.
    pub io: Option<u16>,
    /// The client's static channel names, in the order the server numbers them.
    pub names: Vec<String>,
    /// The `cliprdr` channel, once the server numbered it.
    pub clip: Option<u16>,
    /// Each direction's place in the clipboard channel's messages.
    pub clip_state: [super::clip::ClipState; 2],
}

impl Channels {
    /// Whether Send Data on `channel` may carry an I/O channel PDU. Until the server
    /// named the I/O channel, every channel may.
    fn wants(&self, channel: u16) -> bool {
        self.io.is_none_or(|io| io == channel)
    }
}

/// What an X.224 Data TPDU carries, as far as redaction cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mcs {
    /// The MCS Connect-Initial: names the static channels.
    ConnectInitial,
    /// The MCS Connect-Response: numbers the I/O and static channels.
    ConnectResponse,
    /// A Send Data Request or Indication: its channel and where its userData is.
    SendData { channel: u16, at: usize, len: usize },
    /// Anything else.
    Other,
}

/// Reads the TPKT/X.224 Data/MCS header of a (possibly cut) TPKT frame.
pub(super) fn mcs(frame: &[u8]) -> Mcs {
    // TPKT (4), X.224 Data: LI 2, code 0xF0, EOT; then the MCS PDU at 7.
    if frame.get(4) != Some(&2) || frame.get(5).map(|c| c & 0xF0) != Some(0xF0) {
        return Mcs::Other;
    }
    let Some(&first) = frame.get(7) else {
        return Mcs::Other;
    };
    if first == 0x7F && frame.get(8) == Some(&0x65) {
        return Mcs::ConnectInitial;
    }
    if first == 0x7F && frame.get(8) == Some(&0x66) {
        return Mcs::ConnectResponse;
    }
    // Send Data Request (25) or Indication (26): initiator, channelId, priority and
    // segmentation, then userData with a PER length.
    if !matches!(first >> 2, 25 | 26) {
        return Mcs::Other;
    }
    let (Some(channel), Some(&l1)) = (be_u16(frame, 10), frame.get(13)) else {
        return Mcs::Other;
    };
    let (len, at) = match l1 {
        l if l & 0x80 == 0 => (usize::from(l), 14),
        l if l & 0x40 == 0 => match frame.get(14) {
            Some(&l2) => ((usize::from(l & 0x3F) << 8) | usize::from(l2), 15),
            None => return Mcs::Other,
        },
        // A fragmented length: RDP never sends one.
        _ => return Mcs::Other,
    };
    Mcs::SendData { channel, at, len }
}

/// Where a PDU that may hold a secret starts in an I/O channel payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Io {
    /// TS_INFO_PACKET (after the basic security header).
    ClientInfo(usize),
    /// TS_INPUT_PDU_DATA (after the Share Data Header).
    Input(usize),
    /// TS_SAVE_SESSION_INFO_PDU_DATA (after the Share Data Header).
    SaveSessionInfo(usize),
    /// RDP_SERVER_REDIRECTION_PACKET.
    Redirection(usize),
    /// A client licensing PDU (after the basic security header): a New License Request
    /// names the user.
    License(usize),
    /// Nothing secret (or nothing readable: encrypted, compressed).
    Other,
}

/// Classifies an I/O channel payload of `len` bytes from its first bytes, telling a
/// basic security header from a Share Control Header as `decode::pdu::IoDecoder` does.
pub(super) fn io_kind(dir: Dir, p: &[u8], len: usize) -> Io {
    let (Some(first), Some(second)) = (le_u16(p, 0), le_u16(p, 2)) else {
        return Io::Other;
    };
    if first == FLOW_MARKER {
        return Io::Other;
    }
    let share = second >> 4 == 1;
    let sec = first & !SEC_KNOWN == 0;
    let early = match dir {
        Dir::C2S => SEC_INFO_PKT,
        Dir::S2C => SEC_REDIRECTION_PKT,
    };
    let secured = match (share, sec) {
        (true, false) => false,
        (false, true) => true,
        (false, false) => return Io::Other,
        (true, true) => usize::from(first) != len && first & early != 0,
    };
    if !secured {
        return share_kind(dir, p, 0);
    }
    if first & SEC_ENCRYPT != 0 {
        return Io::Other;
    }
    match dir {
        Dir::C2S if first & SEC_INFO_PKT != 0 => Io::ClientInfo(4),
        Dir::C2S if first & SEC_LICENSE_PKT != 0 => Io::License(4),
        // Under standard security the flags field is the packet's own Flags field.
        Dir::S2C if first & SEC_REDIRECTION_PKT != 0 => Io::Redirection(0),
        _ if first & SEC_PDU_BITS != 0 => Io::Other,
        // A Share Control PDU behind a basic header with no PDU bit.
        _ => share_kind(dir, p, 4),
    }
}

/// Classifies the Share Control PDU at `s`.
fn share_kind(dir: Dir, p: &[u8], s: usize) -> Io {
    let Some(pdu_type) = le_u16(p, s + 2) else {
        return Io::Other;
    };
    match (dir, pdu_type & 0x0F) {
        (Dir::S2C, PDUTYPE_REDIRECT) => Io::Redirection(s + 8),
        (_, PDUTYPE_DATA) => {
            let (Some(&ty2), Some(&compressed)) = (p.get(s + 14), p.get(s + 15)) else {
                return Io::Other;
            };
            match (dir, ty2) {
                _ if compressed & PACKET_COMPRESSED != 0 => Io::Other,
                (Dir::C2S, PDUTYPE2_INPUT) => Io::Input(s + 18),
                (Dir::S2C, PDUTYPE2_SAVE_SESSION_INFO) => Io::SaveSessionInfo(s + 18),
                _ => Io::Other,
            }
        }
        _ => Io::Other,
    }
}

/// The secret ranges of a (possibly cut) TPKT frame; with `names`, user and domain
/// names too (`--redact-users`).
pub(super) fn tpkt_secrets(
    dir: Dir,
    frame: &[u8],
    chans: &Channels,
    names: bool,
) -> Vec<Range<usize>> {
    let Mcs::SendData { channel, at, len } = mcs(frame) else {
        return Vec::new();
    };
    if !chans.wants(channel) {
        return Vec::new();
    }
    let end = at.saturating_add(len).min(frame.len());
    let payload = frame.get(at..end).unwrap_or(&[]);
    let ranges = match io_kind(dir, payload, len) {
        Io::ClientInfo(s) => client_info(payload, s, names),
        Io::Input(s) => slow_input(payload, s),
        Io::SaveSessionInfo(s) => save_session_info(payload, s, names),
        Io::Redirection(s) => redirection(payload, s, names),
        Io::License(s) if names => new_license_request(payload, s),
        Io::License(_) => Vec::new(),
        Io::Other => Vec::new(),
    };
    shift(ranges, at, end)
}

/// Whether a TPKT frame may hold a secret, judged from its first bytes.
pub(super) fn tpkt_may_hold(dir: Dir, head: &[u8], chans: &Channels) -> bool {
    match mcs(head) {
        Mcs::ConnectInitial => dir == Dir::C2S,
        Mcs::ConnectResponse => dir == Dir::S2C,
        Mcs::SendData { channel, .. } if chans.clip == Some(channel) => true,
        Mcs::SendData { channel, at, len } => {
            chans.wants(channel) && io_kind(dir, head.get(at..).unwrap_or(&[]), len) != Io::Other
        }
        Mcs::Other => false,
    }
}

/// TS_INFO_PACKET at `s`: the password (and its terminator) and the
/// auto-reconnect cookie's secret part; with `names`, the domain and user name.
fn client_info(p: &[u8], s: usize, names: bool) -> Vec<Range<usize>> {
    let (Some(flags), Some(cb_domain), Some(cb_user), Some(cb_password)) = (
        le_u32(p, s + 4),
        le_u16(p, s + 8),
        le_u16(p, s + 10),
        le_u16(p, s + 12),
    ) else {
        return Vec::new();
    };
    let (cb_shell, cb_dir) = (le_u16(p, s + 14), le_u16(p, s + 16));
    // The cb* lengths leave out the terminator, which is one character wide.
    let term = if flags & INFO_UNICODE != 0 { 2 } else { 1 };
    let sized = |cb: u16| usize::from(cb) + term;
    let mut at = s + 18 + sized(cb_domain) + sized(cb_user);
    let mut out = Vec::new();
    if names {
        let domain = s + 18..s + 18 + usize::from(cb_domain);
        let user_at = s + 18 + sized(cb_domain);
        out.extend([domain, user_at..user_at + usize::from(cb_user)]);
    }
    if cb_password > 0 {
        out.push(at..at + sized(cb_password));
    }
    let (Some(cb_shell), Some(cb_dir)) = (cb_shell, cb_dir) else {
        return clamp(out, p.len());
    };
    at += sized(cb_password) + sized(cb_shell) + sized(cb_dir);
    // TS_EXTENDED_INFO_PACKET: family, address, client dir, time zone, session id,
    // performance flags, then the cookie.
    let cookie = (|| {
        let cb_address = usize::from(le_u16(p, at + 2)?);
        let mut a = at + 4 + cb_address;
        let cb_client_dir = usize::from(le_u16(p, a)?);
        a += 2 + cb_client_dir + TIME_ZONE_LEN + 8;
        let cb_cookie = usize::from(le_u16(p, a)?);
        Some((a + 2, cb_cookie))
    })();
    if let Some((a, n)) = cookie.filter(|&(_, n)| n > 0) {
        out.push(arc_secret(p, a, n));
    }
    clamp(out, p.len())
}

/// The secret part of an auto-reconnect packet of `n` bytes at `a`: the last 16 bytes
/// of a well-formed 28-byte one (its length, version and session id stay), else all.
fn arc_secret(p: &[u8], a: usize, n: usize) -> Range<usize> {
    if n == ARC_LEN && le_u32(p, a) == Some(ARC_LEN as u32) {
        a + ARC_SECRET.start..a + ARC_SECRET.end
    } else {
        a..a.saturating_add(n)
    }
}

/// TS_INPUT_PDU_DATA at `s`: the key codes of scancode and unicode events.
fn slow_input(p: &[u8], s: usize) -> Vec<Range<usize>> {
    let Some(n) = le_u16(p, s) else {
        return Vec::new();
    };
    let first = s + 4;
    let mut out = Vec::new();
    for i in 0..usize::from(n) {
        let e = first + i * SLOW_EVENT_LEN;
        let Some(kind) = le_u16(p, e + 4) else { break };
        // keyboardFlags stay (press or release); keyCode / unicodeCode go.
        if matches!(kind, INPUT_EVENT_SCANCODE | INPUT_EVENT_UNICODE) {
            out.push(e + 8..e + 10);
        }
    }
    clamp(out, p.len())
}

/// TS_SAVE_SESSION_INFO_PDU_DATA at `s`: the ArcRandomBits of a logon extended info;
/// with `names`, the domain and user name of a logon info (version 1 or 2).
fn save_session_info(p: &[u8], s: usize, names: bool) -> Vec<Range<usize>> {
    match le_u32(p, s) {
        Some(INFOTYPE_LOGON) if names => {
            // cbDomain, Domain (52 bytes), cbUserName, UserName (512 bytes).
            return clamp(vec![s + 8..s + 60, s + 64..s + 576], p.len());
        }
        Some(INFOTYPE_LOGON_LONG) if names => {
            // Version, Size, SessionId, cbDomain, cbUserName, 558 bytes of padding, then
            // the domain and the user name.
            let (Some(cb_domain), Some(cb_user)) = (le_u32(p, s + 14), le_u32(p, s + 18)) else {
                return Vec::new();
            };
            let (d, u) = (cb_domain as usize, cb_user as usize);
            let at = s + LOGON_LONG_NAMES_AT;
            return clamp(
                vec![
                    at..at.saturating_add(d),
                    at.saturating_add(d)..at.saturating_add(d).saturating_add(u),
                ],
                p.len(),
            );
        }
        Some(INFOTYPE_LOGON_EXTENDED) => {}
        _ => return Vec::new(),
    }
    // Length (2), FieldsPresent (4), then the cookie field: cbFieldData and data.
    let present = le_u32(p, s + 6).unwrap_or(0);
    if present & LOGON_EX_AUTORECONNECTCOOKIE == 0 {
        return Vec::new();
    }
    let Some(cb) = le_u32(p, s + 10).and_then(|n| usize::try_from(n).ok()) else {
        return Vec::new();
    };
    clamp(vec![arc_secret(p, s + 14, cb)], p.len())
}

/// RDP_SERVER_REDIRECTION_PACKET at `s`: the LB_PASSWORD blob; with `names`, the
/// LB_USERNAME and LB_DOMAIN fields.
fn redirection(p: &[u8], s: usize, names: bool) -> Vec<Range<usize>> {
    let Some(flags) = le_u32(p, s + 8) else {
        return Vec::new();
    };
    let mut wanted = LB_PASSWORD;
    if names {
        wanted |= LB_USERNAME | LB_DOMAIN;
    }
    let mut out = Vec::new();
    // The optional fields come in a fixed order, each a u32 length and bytes.
    let mut at = s + 12;
    for bit in LB_BEFORE_PASSWORD.into_iter().chain([LB_PASSWORD]) {
        if flags & bit == 0 {
            continue;
        }
        let Some(n) = le_u32(p, at).and_then(|n| usize::try_from(n).ok()) else {
            break;
        };
        let start = at.saturating_add(4);
        if bit & wanted != 0 {
            out.push(start..start.saturating_add(n));
        }
        at = start.saturating_add(n);
    }
    clamp(out, p.len())
}

/// A NEW_LICENSE_REQUEST at `s` (MS-RDPELE 2.2.2.2): the ClientUserName blob. The
/// preamble (4), key exchange algorithm and platform (8) and client random (32) come
/// first, then the encrypted premaster secret blob; the machine name stays.
fn new_license_request(p: &[u8], s: usize) -> Vec<Range<usize>> {
    if p.get(s) != Some(&NEW_LICENSE_REQUEST) {
        return Vec::new();
    }
    let secret_blob = s + 44;
    let Some(n) = le_u16(p, secret_blob + 2) else {
        return Vec::new();
    };
    let user = secret_blob + 4 + usize::from(n);
    if le_u16(p, user) != Some(BB_CLIENT_USER_NAME_BLOB) {
        return Vec::new();
    }
    let Some(n) = le_u16(p, user + 2) else {
        return Vec::new();
    };
    let name = user + 4..user + 4 + usize::from(n);
    clamp(vec![name], p.len())
}

/// The key codes of a client fast-path input PDU (TS_FP_INPUT_PDU); nothing when it
/// is encrypted (standard RDP security), since then the bytes are ciphertext.
pub(super) fn fast_path_input(f: &[u8]) -> Vec<Range<usize>> {
    let Some(&h) = f.first() else {
        return Vec::new();
    };
    if (h >> 6) & FASTPATH_INPUT_ENCRYPTED != 0 {
        return Vec::new();
    }
    let mut at = if f.get(1).is_some_and(|l| l & 0x80 != 0) {
        3
    } else {
        2
    };
    let mut n = usize::from((h >> 2) & 0x0F);
    if n == 0 {
        // More than 15 events: the count follows the length.
        n = usize::from(f.get(at).copied().unwrap_or(0));
        at += 1;
    }
    let mut out = Vec::new();
    for _ in 0..n {
        let Some(&eh) = f.get(at) else { break };
        at += 1;
        // eventCode in the top three bits; eventFlags (press, release) stay.
        let size = match eh >> 5 {
            0 => {
                out.push(at..at + 1);
                1
            }
            4 => {
                out.push(at..at + 2);
                2
            }
            1 | 2 | 5 => 6,
            3 => 0,
            6 => 4,
            _ => break,
        };
        at += size;
    }
    clamp(out, f.len())
}

/// A CredSSP TSRequest: the content of authInfo [2] (the encrypted TSCredentials)
/// and the responses of an NTLM AUTHENTICATE in negoTokens [1].
///
/// pubKeyAuth [3] stays: it is the server's public key (public by nature) bound to
/// the session key, which proves nothing about the password and shows that the
/// exchange got that far.
pub(super) fn ts_request(f: &[u8], names: bool) -> Vec<Range<usize>> {
    let Some((start, end)) = der::element(f, 0).filter(|_| f.first() == Some(&der::SEQUENCE))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (tag, vs, ve) in der::children(f, start, end) {
        match tag {
            0xA2 => out.push(der::octets_in(f, vs, ve)),
            0xA1 => {
                let inner = f.get(vs..ve.min(f.len())).unwrap_or(&[]);
                out.extend(
                    ntlm::secrets_in(inner, names)
                        .into_iter()
                        .map(|r| r.start + vs..r.end + vs),
                );
            }
            _ => {}
        }
    }
    clamp(out, f.len())
}

/// Ranges relative to a payload at `at` (ending at `end`) made relative to the frame.
pub(super) fn shift(ranges: Vec<Range<usize>>, at: usize, end: usize) -> Vec<Range<usize>> {
    ranges
        .into_iter()
        .map(|r| (r.start + at).min(end)..(r.end + at).min(end))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Ranges cut to `len` bytes, empty ones dropped.
fn clamp(ranges: Vec<Range<usize>>, len: usize) -> Vec<Range<usize>> {
    ranges
        .into_iter()
        .map(|r| r.start.min(len)..r.end.min(len))
        .filter(|r| !r.is_empty())
        .collect()
}
