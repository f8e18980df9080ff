//! Just enough NTLM for a gateway that lets everyone in: read the client's NEGOTIATE
//! flags, answer with a well-formed CHALLENGE, and read the names in the AUTHENTICATE.
//!
//! The lab gateway never checks the response: it exists to get real clients through the
//! HTTP authentication round so that the tunnel behind it can be exercised. The CHALLENGE
//! still has to be one that winpr (FreeRDP) and Windows accept, which means the target
//! info with a timestamp, the names real servers send, and a version field.

#[cfg(test)]
#[path = "ntlm_challenge_tests.rs"]
mod tests;

/// The 8-byte signature every NTLM message starts with.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// NEGOTIATE_MESSAGE type.
pub const NEGOTIATE: u32 = 1;
/// CHALLENGE_MESSAGE type.
pub const CHALLENGE: u32 = 2;
/// AUTHENTICATE_MESSAGE type.
pub const AUTHENTICATE: u32 = 3;

/// NegotiateFlags bits this module reads or writes (MS-NLMP 2.2.2.5).
pub mod flags {
    /// Strings are UTF-16LE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// Strings are in the OEM code page.
    pub const OEM: u32 = 0x0000_0002;
    /// The client wants the target name in the CHALLENGE.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// Message signing.
    pub const SIGN: u32 = 0x0000_0010;
    /// Message confidentiality.
    pub const SEAL: u32 = 0x0000_0020;
    /// LAN Manager session key (obsolete; never mirrored).
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLM v1 session security; always set.
    pub const NTLM: u32 = 0x0000_0200;
    /// Dummy signatures when no signing was negotiated.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// The target name is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// Extended session security (NTLM2).
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// Identify-level token.
    pub const IDENTIFY: u32 = 0x0010_0000;
    /// The CHALLENGE carries target info AV pairs.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// The message carries a version field.
    pub const VERSION: u32 = 0x0200_0000;
    /// 128-bit session key.
    pub const K128: u32 = 0x2000_0000;
    /// Explicit key exchange.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit session key.
    pub const K56: u32 = 0x8000_0000;
}

/// AV pair ids (MS-NLMP 2.2.2.1).
pub mod av {
    /// End of the list.
    pub const EOL: u16 = 0;
    /// NetBIOS computer name.
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// NetBIOS domain name.
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// DNS computer name.
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// DNS domain name.
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// FILETIME of the server.
    pub const TIMESTAMP: u16 = 7;
}

/// Flags copied from the client's NEGOTIATE when it offers them; the rest of the
/// client's set (LM_KEY, OEM, the "supplied" bits) is not something a modern server
/// agrees to.
const MIRRORED: u32 = flags::UNICODE
    | flags::SIGN
    | flags::SEAL
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::IDENTIFY
    | flags::VERSION
    | flags::K128
    | flags::KEY_EXCH
    | flags::K56;

/// What the server offers when the client sent no NEGOTIATE to mirror.
const DEFAULT_CLIENT: u32 = flags::UNICODE
    | flags::REQUEST_TARGET
    | flags::SIGN
    | flags::SEAL
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::VERSION
    | flags::K128
    | flags::KEY_EXCH
    | flags::K56;

/// Fixed part of a CHALLENGE_MESSAGE, version field included; the payload follows.
const CHALLENGE_HEADER_LEN: usize = 56;

/// The names the lab gateway claims in its CHALLENGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerNames {
    /// NetBIOS domain name (also the CHALLENGE's target name).
    pub nb_domain: String,
    /// NetBIOS computer name.
    pub nb_computer: String,
    /// DNS domain name.
    pub dns_domain: String,
    /// DNS computer name.
    pub dns_computer: String,
}

impl Default for ServerNames {
    fn default() -> Self {
        ServerNames {
            nb_domain: "RDPTAP-LAB".to_string(),
            nb_computer: "LABGW".to_string(),
            dns_domain: "rdptap.lab".to_string(),
            dns_computer: "labgw.rdptap.lab".to_string(),
        }
    }
}

/// The message type of an NTLM message (1, 2 or 3), if it starts with the signature.
pub fn message_type(msg: &[u8]) -> Option<u32> {
    if msg.get(..8)? != SIGNATURE {
        return None;
    }
    read_u32(msg, 8)
}

/// The NegotiateFlags of a NEGOTIATE_MESSAGE.
pub fn negotiate_flags(msg: &[u8]) -> Option<u32> {
    if message_type(msg)? != NEGOTIATE {
        return None;
    }
    read_u32(msg, 12)
}

/// The flags the CHALLENGE answers `client` with (`None`: no NEGOTIATE was seen).
pub fn challenge_flags(client: Option<u32>) -> u32 {
    let client = client.unwrap_or(DEFAULT_CLIENT);
    let mut out =
        (client & MIRRORED) | flags::NTLM | flags::TARGET_INFO | flags::TARGET_TYPE_DOMAIN;
    if client & flags::REQUEST_TARGET != 0 {
        out |= flags::REQUEST_TARGET;
    }
    // Exactly one character set: Unicode when offered, else OEM.
    if out & flags::UNICODE == 0 {
        out |= flags::OEM;
    }
    out
}

/// Builds a CHALLENGE_MESSAGE answering a NEGOTIATE with `client_flags`.
///
/// `timestamp` is a FILETIME (100 ns ticks since 1601), `server_challenge` should be
/// random.
pub fn build_challenge(
    client_flags: Option<u32>,
    server_challenge: [u8; 8],
    timestamp: u64,
    names: &ServerNames,
) -> Vec<u8> {
    let negotiate = challenge_flags(client_flags);
    let target_name = if negotiate & flags::UNICODE != 0 {
        utf16(&names.nb_domain)
    } else {
        names.nb_domain.bytes().map(ascii_only).collect()
    };
    let mut info = Vec::new();
    push_av(&mut info, av::NB_DOMAIN_NAME, &utf16(&names.nb_domain));
    push_av(&mut info, av::NB_COMPUTER_NAME, &utf16(&names.nb_computer));
    push_av(&mut info, av::DNS_DOMAIN_NAME, &utf16(&names.dns_domain));
    push_av(
        &mut info,
        av::DNS_COMPUTER_NAME,
        &utf16(&names.dns_computer),
    );
    push_av(&mut info, av::TIMESTAMP, &timestamp.to_le_bytes());
    push_av(&mut info, av::EOL, &[]);

    let name_off = CHALLENGE_HEADER_LEN;
    let info_off = name_off + target_name.len();
    let mut out = Vec::with_capacity(info_off + info.len());
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&CHALLENGE.to_le_bytes());
    push_fields(&mut out, target_name.len(), name_off);
    out.extend_from_slice(&negotiate.to_le_bytes());
    out.extend_from_slice(&server_challenge);
    out.extend_from_slice(&[0u8; 8]);
    push_fields(&mut out, info.len(), info_off);
    // Version: Windows 10 / Server 2016+ (10.0 build 20348), NTLM revision 15. Sent even
    // without the VERSION flag so the payload offsets stay the same either way.
    out.extend_from_slice(&[10, 0]);
    out.extend_from_slice(&20348u16.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0x0f]);
    out.extend_from_slice(&target_name);
    out.extend_from_slice(&info);
    out
}

/// The names an AUTHENTICATE_MESSAGE carries. Nothing secret: the responses are not
/// read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthenticateNames {
    /// The user name (may be empty for anonymous).
    pub user: String,
    /// The domain name.
    pub domain: String,
    /// The client's workstation name.
    pub workstation: String,
}

/// Reads user, domain and workstation from an AUTHENTICATE_MESSAGE.
pub fn authenticate_names(msg: &[u8]) -> Option<AuthenticateNames> {
    if message_type(msg)? != AUTHENTICATE {
        return None;
    }
    let negotiate = read_u32(msg, 60).unwrap_or(flags::UNICODE);
    let unicode = negotiate & flags::UNICODE != 0;
    let field = |at: usize| -> Option<String> {
        let len = usize::from(read_u16(msg, at)?);
        let off = usize::try_from(read_u32(msg, at + 4)?).ok()?;
        let bytes = msg.get(off..off.checked_add(len)?)?;
        Some(decode_string(bytes, unicode))
    };
    Some(AuthenticateNames {
        domain: field(28)?,
        user: field(36)?,
        workstation: field(44).unwrap_or_default(),
    })
}

/// The current time as a FILETIME.
pub fn filetime_now() -> u64 {
    // Seconds between 1601-01-01 and 1970-01-01.
    const EPOCH_DIFF: u64 = 11_644_473_600;
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since_unix.as_secs() + EPOCH_DIFF) * 10_000_000 + u64::from(since_unix.subsec_nanos() / 100)
}

fn push_fields(out: &mut Vec<u8>, len: usize, offset: usize) {
    // The lab's own names are short; a saturated length would only truncate them.
    let len16 = u16::try_from(len).unwrap_or(u16::MAX);
    out.extend_from_slice(&len16.to_le_bytes());
    out.extend_from_slice(&len16.to_le_bytes());
    out.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
}

fn push_av(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(value);
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn ascii_only(b: u8) -> u8 {
    if b.is_ascii() {
        b
    } else {
        b'?'
    }
}

fn decode_string(bytes: &[u8], unicode: bool) -> String {
    if unicode {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
