//! Hand-built PDUs for the tests, assembled field by field from MS-RDPBCGR layouts.

use super::{IoDecoder, Protection, RdpEvent};
use crate::vocab::Dir;

/// The password seeded into test Client Info PDUs; it must never show up in output.
pub const PASSWORD: &str = "Hunter2-Secret!";
/// The auto-reconnect cookie seeded into test PDUs (28 bytes, text so a leak is visible).
pub const ARC_COOKIE: &[u8; 28] = b"ARC-COOKIE-0123456789abcdefg";

/// A little-endian byte builder.
#[derive(Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// An empty builder.
    pub fn new() -> Self {
        Bytes(Vec::new())
    }
    /// Appends a byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    /// Appends a little-endian u16.
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a little-endian u32.
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends bytes as they are.
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    /// Appends `n` zero bytes.
    pub fn zeros(mut self, n: usize) -> Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    /// The bytes built.
    pub fn done(self) -> Vec<u8> {
        self.0
    }
}

/// UTF-16LE without a terminator.
pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// UTF-16LE with its two-byte terminator.
pub fn utf16z(s: &str) -> Vec<u8> {
    let mut v = utf16(s);
    v.extend_from_slice(&[0, 0]);
    v
}

/// A basic security header with `flags`, then `body`.
pub fn sec(flags: u16, body: &[u8]) -> Vec<u8> {
    Bytes::new().u16(flags).u16(0).raw(body).done()
}

/// A Share Control PDU of type `kind` (low nibble) around `body`.
pub fn share_control(kind: u8, body: &[u8]) -> Vec<u8> {
    let total = u16::try_from(6 + body.len()).unwrap_or(u16::MAX);
    Bytes::new()
        .u16(total)
        .u16(0x10 | u16::from(kind))
        .u16(0x03ea)
        .raw(body)
        .done()
}

/// A Share Data PDU of `pdu_type2` around `body`.
pub fn share_data(pdu_type2: u8, body: &[u8]) -> Vec<u8> {
    share_data_compressed(pdu_type2, 0, body)
}

/// A Share Data PDU with an explicit compressedType.
pub fn share_data_compressed(pdu_type2: u8, compressed_type: u8, body: &[u8]) -> Vec<u8> {
    let header = Bytes::new()
        .u32(0x0001_03ea)
        .u8(0)
        .u8(1)
        .u16(u16::try_from(body.len() + 4).unwrap_or(0))
        .u8(pdu_type2)
        .u8(compressed_type)
        .u16(0)
        .raw(body)
        .done();
    share_control(7, &header)
}

/// A Unicode Client Info PDU (security header included) with the test password and
/// cookie, an IPv4 client address and a time zone.
pub fn client_info_pdu() -> Vec<u8> {
    // INFO_MOUSE|INFO_DISABLECTRLALTDEL|INFO_AUTOLOGON|INFO_UNICODE|INFO_MAXIMIZESHELL
    // |INFO_LOGONNOTIFY|INFO_COMPRESSION|INFO_ENABLEWINDOWSKEY|INFO_LOGONERRORS
    // |INFO_MOUSE_HAS_WHEEL, compression type 64K (1 << 9).
    let flags = 0x0003_01FB | (1 << 9);
    let domain = utf16("CONTOSO");
    let user = utf16("alice");
    let password = utf16(PASSWORD);
    let tz = Bytes::new()
        .u32(0xFFFF_FFC4) // bias -60
        .raw(&utf16("W. Europe Standard Time"))
        .zeros(64 - 46)
        .zeros(172 - 4 - 64)
        .done();
    let body = Bytes::new()
        .u32(0x0409)
        .u32(flags)
        .u16(domain.len() as u16)
        .u16(user.len() as u16)
        .u16(password.len() as u16)
        .u16(0)
        .u16(0)
        .raw(&domain)
        .u16(0)
        .raw(&user)
        .u16(0)
        .raw(&password)
        .u16(0)
        .u16(0) // empty alternate shell
        .u16(0) // empty working dir
        .u16(0x0002)
        .u16(utf16z("192.0.2.10").len() as u16)
        .raw(&utf16z("192.0.2.10"))
        .u16(utf16z("C:\\Windows\\System32\\mstscax.dll").len() as u16)
        .raw(&utf16z("C:\\Windows\\System32\\mstscax.dll"))
        .raw(&tz)
        .u32(0)
        .u32(0x0000_0187)
        .u16(28)
        .raw(ARC_COOKIE)
        .u16(0)
        .u16(0)
        .u16(utf16z("W. Europe Standard Time").len() as u16)
        .raw(&utf16z("W. Europe Standard Time"))
        .u16(0)
        .done();
    sec(0x0040, &body)
}

/// A licensing PDU: preamble plus `body`.
pub fn license_pdu(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let size = u16::try_from(4 + body.len()).unwrap_or(0);
    sec(
        0x0080,
        &Bytes::new()
            .u8(msg_type)
            .u8(0x83)
            .u16(size)
            .raw(body)
            .done(),
    )
}

/// A License Error PDU with `code` and `transition` and an empty error blob.
pub fn license_error(code: u32, transition: u32) -> Vec<u8> {
    license_pdu(
        0xFF,
        &Bytes::new().u32(code).u32(transition).u16(4).u16(0).done(),
    )
}

/// A Demand Active PDU with General, Bitmap and Order capability sets.
pub fn demand_active() -> Vec<u8> {
    let general = Bytes::new()
        .u16(1)
        .u16(24)
        .u16(1) // OSMAJORTYPE_WINDOWS
        .u16(3) // OSMINORTYPE_WINDOWS_NT
        .u16(0x0200)
        .u16(0)
        .u16(0)
        .u16(0x041D)
        .u16(0)
        .u16(0)
        .u16(0)
        .u8(1)
        .u8(1)
        .done();
    let bitmap = Bytes::new()
        .u16(2)
        .u16(28)
        .u16(32)
        .u16(1)
        .u16(1)
        .u16(1)
        .u16(1920)
        .u16(1080)
        .zeros(12)
        .done();
    let order = Bytes::new().u16(3).u16(8).zeros(4).done();
    let caps = Bytes::new()
        .u16(3)
        .u16(0)
        .raw(&general)
        .raw(&bitmap)
        .raw(&order)
        .done();
    let body = Bytes::new()
        .u32(0x0001_03ea)
        .u16(4)
        .u16(caps.len() as u16)
        .raw(b"RDP\0")
        .raw(&caps)
        .u32(7)
        .done();
    share_control(1, &body)
}

/// Feeds `payloads` in order through a fresh decoder and returns everything emitted.
pub fn run(protection: Protection, payloads: &[(Dir, Vec<u8>)]) -> (Vec<RdpEvent>, IoDecoder) {
    let mut d = IoDecoder::new(protection);
    let mut out = Vec::new();
    for (dir, p) in payloads {
        d.feed(*dir, p, &mut out);
    }
    (out, d)
}

/// The single event `payload` produces on a fresh decoder.
pub fn one(protection: Protection, dir: Dir, payload: Vec<u8>) -> RdpEvent {
    let (mut events, _) = run(protection, &[(dir, payload)]);
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}
