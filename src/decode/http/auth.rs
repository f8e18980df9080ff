//! Authentication headers of RD Gateway HTTP: which scheme was offered or used, and for
//! NTLM (raw, or inside Negotiate/SPNEGO) which message it is and, for AUTHENTICATE,
//! which account. Tokens, responses and Basic credentials are never kept: only scheme
//! names, lengths, message types and names.

use super::text::{clean, unquote};
use crate::decode::wire::{le_u16, le_u32};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Standard base64 that tolerates missing padding: some clients strip it from tokens.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The 8-byte signature that starts every NTLMSSP message.
const NTLMSSP_SIGNATURE: &[u8] = b"NTLMSSP\0";
/// NTLMSSP_NEGOTIATE_UNICODE: strings are UTF-16LE rather than OEM.
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED (NEGOTIATE message only).
const OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
/// NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED (NEGOTIATE message only).
const OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
/// DER of OID 1.2.840.113554.1.2.2 (Kerberos V5).
const KRB5_OID: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02,
];
/// DER of OID 1.2.840.48018.1.2.2 (Microsoft's legacy Kerberos V5 OID).
const MS_KRB5_OID: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x82, 0xF7, 0x12, 0x01, 0x02, 0x02,
];
/// Longest account, domain or realm name we render, in characters.
const NAME_MAX_CHARS: usize = 256;

/// An HTTP authentication scheme, as named in Authorization or WWW-Authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    /// SPNEGO: Kerberos or NTLM inside.
    Negotiate,
    /// Raw NTLMSSP.
    Ntlm,
    /// The bare `Kerberos` scheme.
    Kerberos,
    /// Basic: user and password in base64 (never decoded here).
    Basic,
    /// A bearer token (FreeRDP sends one for Entra/AVD gateways).
    Bearer,
    /// HTTP Digest.
    Digest,
    /// MS-TSGU pluggable authentication (the token travels in TUNNEL_CREATE).
    Paa,
    /// Any other scheme, as sent.
    Other(String),
}

/// The schemes known by name, with their usual spelling on the wire.
const SCHEMES: [(AuthScheme, &str); 7] = [
    (AuthScheme::Negotiate, "Negotiate"),
    (AuthScheme::Ntlm, "NTLM"),
    (AuthScheme::Kerberos, "Kerberos"),
    (AuthScheme::Basic, "Basic"),
    (AuthScheme::Bearer, "Bearer"),
    (AuthScheme::Digest, "Digest"),
    (AuthScheme::Paa, "PAA"),
];

impl AuthScheme {
    /// The known scheme with this name (case-insensitive, as HTTP says).
    fn known(name: &str) -> Option<AuthScheme> {
        SCHEMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(s, _)| s.clone())
    }

    /// Classifies a scheme name (case-insensitive, as HTTP says).
    pub fn from_name(name: &str) -> AuthScheme {
        Self::known(name).unwrap_or_else(|| AuthScheme::Other(clean(name, NAME_MAX_CHARS)))
    }

    /// The scheme's usual spelling on the wire.
    pub fn name(&self) -> &str {
        match self {
            AuthScheme::Other(s) => s,
            // Every other variant has a row in SCHEMES.
            known => SCHEMES
                .iter()
                .find(|(s, _)| s == known)
                .map_or("", |(_, n)| n),
        }
    }

    /// True for schemes whose tokens may carry NTLMSSP or Kerberos messages.
    fn carries_sspi(&self) -> bool {
        matches!(
            self,
            AuthScheme::Negotiate | AuthScheme::Ntlm | AuthScheme::Kerberos
        )
    }
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for AuthScheme {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for AuthScheme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // An Other name was cleaned when decoded; cleaning it again could cut it shorter.
        String::deserialize(d).map(|s| Self::known(&s).unwrap_or(AuthScheme::Other(s)))
    }
}

/// What an NTLMSSP message says, without any of its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NtlmInfo {
    /// 1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE.
    pub message_type: u8,
    /// The account name (AUTHENTICATE only).
    pub user: Option<String>,
    /// The account's domain (AUTHENTICATE), the server's target name (CHALLENGE), or a
    /// supplied domain (NEGOTIATE, rarely present).
    pub domain: Option<String>,
    /// The client's workstation name (AUTHENTICATE, or NEGOTIATE when supplied).
    pub workstation: Option<String>,
    /// The AUTHENTICATE's NTLMv2 response binds it to the TLS channel the client saw (a
    /// non-zero MsvAvChannelBindings): Extended Protection.
    pub channel_bound: bool,
}

impl NtlmInfo {
    /// The message's name, for reports.
    pub fn type_name(&self) -> &'static str {
        match self.message_type {
            1 => "NEGOTIATE",
            2 => "CHALLENGE",
            3 => "AUTHENTICATE",
            _ => "unknown",
        }
    }
}

/// One Authorization header: the client's attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthAttempt {
    /// The scheme named.
    pub scheme: AuthScheme,
    /// Length of the token text as sent (base64 characters), not the token itself.
    pub token_len: usize,
    /// The NTLMSSP message inside, for NTLM and for Negotiate wrapping NTLM.
    pub ntlm: Option<NtlmInfo>,
    /// True when a Negotiate token carries Kerberos rather than NTLM.
    pub kerberos: bool,
}

/// One challenge from a WWW-Authenticate header: a scheme the server offers or its
/// next round of a handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The scheme offered.
    pub scheme: AuthScheme,
    /// The `realm` parameter (Basic, Digest), if any.
    pub realm: Option<String>,
    /// Length of the challenge token text (0 for a bare offer).
    pub token_len: usize,
    /// The NTLMSSP message inside (a CHALLENGE in the middle of a handshake).
    pub ntlm: Option<NtlmInfo>,
}

/// Analyses an Authorization (or Proxy-Authorization) header value.
pub fn analyse_authorization(value: &str) -> AuthAttempt {
    let value = value.trim();
    let (scheme, token) = match value.split_once([' ', '\t']) {
        Some((s, t)) => (s, t.trim()),
        None => (value, ""),
    };
    let scheme = AuthScheme::from_name(scheme);
    let (ntlm, kerberos) = if scheme.carries_sspi() {
        inspect_token(token)
    } else {
        (None, false)
    };
    AuthAttempt {
        kerberos: kerberos && scheme != AuthScheme::Kerberos,
        scheme,
        token_len: token.len(),
        ntlm,
    }
}

/// Analyses a WWW-Authenticate header value, which may hold several challenges.
pub fn analyse_challenges(value: &str, out: &mut Vec<Challenge>) {
    for item in challenge_items(value) {
        match item {
            ChallengeItem::Scheme { scheme, token } => {
                let scheme = AuthScheme::from_name(scheme);
                let ntlm = match token {
                    Some(t) if scheme.carries_sspi() => inspect_token(t).0,
                    _ => None,
                };
                out.push(Challenge {
                    scheme,
                    realm: None,
                    token_len: token.map_or(0, str::len),
                    ntlm,
                });
            }
            ChallengeItem::Param { name, value } => {
                if let Some(last) = out.last_mut() {
                    if name.eq_ignore_ascii_case("realm") && last.realm.is_none() {
                        last.realm = Some(clean(&unquote(value), NAME_MAX_CHARS));
                    }
                }
            }
        }
    }
}

/// One comma-separated piece of a WWW-Authenticate value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ChallengeItem<'a> {
    /// A scheme name starting a new challenge, with its token68 if it has one.
    Scheme {
        /// The scheme name as sent.
        scheme: &'a str,
        /// The token68 after it.
        token: Option<&'a str>,
    },
    /// An auth-param of the current challenge (`name=value`, value possibly quoted).
    Param {
        /// The parameter name.
        name: &'a str,
        /// The raw value (quotes kept).
        value: &'a str,
    },
}

/// Splits a challenge list (RFC 9110 11.6.1) into schemes and parameters.
pub(super) fn challenge_items(value: &str) -> Vec<ChallengeItem<'_>> {
    let mut out = Vec::new();
    for piece in split_commas(value) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (first, rest) = match piece.split_once([' ', '\t']) {
            Some((f, r)) => (f, r.trim()),
            None => (piece, ""),
        };
        if first.contains('=') {
            // `name=value` (or `name="a b"`): a parameter of the current challenge.
            out.push(param(piece));
        } else if rest.is_empty() {
            out.push(ChallengeItem::Scheme {
                scheme: first,
                token: None,
            });
        } else if is_token68(rest) {
            out.push(ChallengeItem::Scheme {
                scheme: first,
                token: Some(rest),
            });
        } else {
            out.push(ChallengeItem::Scheme {
                scheme: first,
                token: None,
            });
            out.push(param(rest));
        }
    }
    out
}

/// Splits `name = value` (the value may be empty).
fn param(s: &str) -> ChallengeItem<'_> {
    match s.split_once('=') {
        Some((n, v)) => ChallengeItem::Param {
            name: n.trim(),
            value: v.trim(),
        },
        None => ChallengeItem::Param {
            name: s.trim(),
            value: "",
        },
    }
}

/// Splits on commas outside double-quoted strings.
fn split_commas(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(value.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or(""));
    out
}

/// True for an RFC 9110 token68: base64-ish characters, then only `=` padding.
pub(super) fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Decodes an SSPI token and looks inside: an NTLMSSP message (raw or wrapped in SPNEGO)
/// or, failing that, a Kerberos mechanism OID.
fn inspect_token(token: &str) -> (Option<NtlmInfo>, bool) {
    let Ok(blob) = B64.decode(token.as_bytes()) else {
        return (None, false);
    };
    if let Some(at) = find(&blob, NTLMSSP_SIGNATURE) {
        // SPNEGO wraps the NTLM message whole in an OCTET STRING, and NTLM's offsets are
        // relative to its own signature, so parsing from the signature works for both.
        return (ntlm_message(blob.get(at..).unwrap_or(&[])), false);
    }
    let kerberos = find(&blob, KRB5_OID).is_some() || find(&blob, MS_KRB5_OID).is_some();
    (None, kerberos)
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes the non-secret parts of an NTLMSSP message (MS-NLMP 2.2.1).
///
/// Returns None unless `msg` starts with the NTLMSSP signature and a type 1, 2 or 3.
/// Also useful for the NTLM blob of an MS-TSGU EXTENDED_AUTH_MSG.
pub fn ntlm_message(msg: &[u8]) -> Option<NtlmInfo> {
    if !msg.starts_with(NTLMSSP_SIGNATURE) {
        return None;
    }
    let message_type = u8::try_from(le_u32(msg, 8)?)
        .ok()
        .filter(|t| (1..=3).contains(t))?;
    let mut info = NtlmInfo {
        message_type,
        user: None,
        domain: None,
        workstation: None,
        channel_bound: false,
    };
    match message_type {
        1 => {
            // NEGOTIATE: flags at 12, then OEM domain and workstation fields if supplied.
            let flags = le_u32(msg, 12).unwrap_or(0);
            if flags & OEM_DOMAIN_SUPPLIED != 0 {
                info.domain = field(msg, 16, false);
            }
            if flags & OEM_WORKSTATION_SUPPLIED != 0 {
                info.workstation = field(msg, 24, false);
            }
        }
        2 => {
            // CHALLENGE: TargetNameFields at 12, NegotiateFlags at 20.
            let unicode = le_u32(msg, 20).is_none_or(|f| f & NEGOTIATE_UNICODE != 0);
            info.domain = field(msg, 12, unicode);
        }
        _ => {
            // AUTHENTICATE: Domain at 28, User at 36, Workstation at 44, flags at 60.
            // Very old messages stop before the flags; Windows always uses Unicode.
            let unicode = le_u32(msg, 60).is_none_or(|f| f & NEGOTIATE_UNICODE != 0);
            info.domain = field(msg, 28, unicode);
            info.user = field(msg, 36, unicode);
            info.workstation = field(msg, 44, unicode);
            info.channel_bound = channel_bound(msg);
        }
    }
    Some(info)
}

/// MsvAvChannelBindings, the AV pair an Extended-Protection client adds.
const AV_CHANNEL_BINDINGS: u16 = 0x000A;
/// MsvAvEOL.
const AV_EOL: u16 = 0x0000;
/// Where the AV pairs start in an NTLMv2 response: NTProofStr (16), then the client
/// challenge's fixed fields (28).
const NTLMV2_AV_PAIRS_AT: usize = 44;

/// True when the AUTHENTICATE's NTLMv2 response carries non-zero channel bindings.
fn channel_bound(msg: &[u8]) -> bool {
    let resp = (|| {
        let len = usize::from(le_u16(msg, 20)?);
        let offset = usize::try_from(le_u32(msg, 24)?).ok()?;
        msg.get(offset..offset.checked_add(len)?)
    })();
    let Some(resp) = resp else { return false };
    let mut at = NTLMV2_AV_PAIRS_AT;
    // Each pair is at least 4 bytes, so this ends within the response's length.
    while let (Some(id), Some(len)) = (le_u16(resp, at), le_u16(resp, at + 2)) {
        let len = usize::from(len);
        let Some(value) = resp.get(at + 4..at + 4 + len) else {
            return false;
        };
        match id {
            AV_EOL => return false,
            AV_CHANNEL_BINDINGS => return value.iter().any(|&b| b != 0),
            _ => at += 4 + len,
        }
    }
    false
}

/// Reads a security-buffer field (len u16, maxlen u16, offset u32) as text.
/// None when absent, empty or out of bounds.
fn field(msg: &[u8], at: usize, unicode: bool) -> Option<String> {
    let len = usize::from(le_u16(msg, at)?);
    let offset = usize::try_from(le_u32(msg, at.checked_add(4)?)?).ok()?;
    if len == 0 {
        return None;
    }
    let bytes = msg.get(offset..offset.checked_add(len)?)?;
    let text = if unicode {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|p| {
                u16::from_le_bytes([
                    p.first().copied().unwrap_or(0),
                    p.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        // OEM code page: Latin-1 is the closest guess without the client's locale.
        bytes.iter().map(|&b| char::from(b)).collect()
    };
    Some(clean(&text, NAME_MAX_CHARS))
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
