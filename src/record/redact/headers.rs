//! What is secret in an HTTP head, as same-length replacements of header values:
//! credentials in Authorization and Proxy-Authorization (the scheme word stays),
//! cookie values, and headers named like tokens or secrets. Which headers those are is
//! the decoder's list (`decode::http::header_secret`), the one the events use too.

use super::{der, ntlm};
use crate::decode::http::{header_secret, AuthScheme, HeaderSecret};
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// The byte that replaces secret header text.
pub(super) const TEXT_FILL: u8 = b'X';
/// The byte that replaces an SSPI token that is neither NTLM nor SPNEGO.
///
/// Wireshark base64-decodes Negotiate and Kerberos tokens and hands them to its
/// GSS-API dissector. Checked with tshark 4.0: `A`s (zero bytes) and `X`s (0x5D 0x75
/// 0xD7…) both give one "Unknown header" warning and no malformed packet; zeros are
/// what every other binary secret becomes. SPNEGO tokens avoid even the warning: they
/// keep their structure and mechanism list, and only the inner token is zeroed.
pub(super) const SSPI_FILL: u8 = b'A';
/// Standard base64 that tolerates missing padding and stray trailing bits.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);
/// Longest word taken for a scheme name in front of a credential.
const SCHEME_MAX_LEN: usize = 32;

/// A same-length replacement at an offset of the head.
pub(super) type Patch = (usize, Vec<u8>);

/// The replacements that scrub a complete (or, at the end of a stream, cut) head:
/// its first line is the start line, each later line a header. Returns how many
/// secret values were found. With `names` (`--redact-users`), user names go too.
pub(super) fn scrub_head(head: &[u8], patches: &mut Vec<Patch>, names: bool) -> u64 {
    let mut found = 0;
    let mut start = 0;
    let mut first = true;
    while start < head.len() {
        let end = head
            .get(start..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
            .map_or(head.len(), |p| start + p);
        let line = head.get(start..end).unwrap_or(&[]);
        if !first {
            found += scrub_line(line, start, patches, names);
        }
        first = false;
        start = end + 1;
    }
    found
}

/// One header line at offset `at`.
fn scrub_line(line: &[u8], at: usize, patches: &mut Vec<Patch>, names: bool) -> u64 {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return 0;
    };
    let name = line.get(..colon).unwrap_or(&[]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return 0;
    }
    let (vstart, vend) = trim(line, colon + 1, line.len());
    let value = line.get(vstart..vend).unwrap_or(&[]);
    if value.is_empty() {
        return 0;
    }
    let name = String::from_utf8_lossy(name);
    let before = patches.len();
    let base = at + vstart;
    if names && name.eq_ignore_ascii_case("rdg-user-id") {
        // The gateway user name, base64 of its UTF-16 form.
        patches.push((base, vec![TEXT_FILL; value.len()]));
        return 1;
    }
    match header_secret(&name) {
        HeaderSecret::Credentials => credentials(value, base, patches, names),
        HeaderSecret::Cookie => {
            let mut from = 0;
            for piece in value.split(|&b| b == b';') {
                cookie_pair(value, from, from + piece.len(), base, patches);
                from += piece.len() + 1;
            }
        }
        HeaderSecret::SetCookie => {
            let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
            cookie_pair(value, 0, end, base, patches);
        }
        HeaderSecret::Whole => patches.push((base, vec![TEXT_FILL; value.len()])),
        // Challenges are the server's half of a handshake and hold no credential; kept
        // whole, a dissector can still read the NTLM CHALLENGE.
        HeaderSecret::Challenges | HeaderSecret::Plain => {}
    }
    u64::from(patches.len() > before)
}

/// The value of a `name=value` pair in `value[from..to]` (a bare word has none).
fn cookie_pair(value: &[u8], from: usize, to: usize, base: usize, patches: &mut Vec<Patch>) {
    let Some(eq) = value
        .get(from..to)
        .and_then(|p| p.iter().position(|&b| b == b'='))
    else {
        return;
    };
    let (s, e) = trim(value, from + eq + 1, to);
    if e > s {
        patches.push((base + s, vec![TEXT_FILL; e - s]));
    }
}

/// An Authorization value: the scheme word stays, the credential goes.
fn credentials(value: &[u8], base: usize, patches: &mut Vec<Patch>, names: bool) {
    let Some(sp) = value.iter().position(|&b| b == b' ' || b == b'\t') else {
        let word = String::from_utf8_lossy(value);
        if matches!(AuthScheme::from_name(&word), AuthScheme::Other(_)) {
            // Some clients send a bare secret with no scheme.
            patches.push((base, vec![TEXT_FILL; value.len()]));
        }
        return;
    };
    let scheme = value.get(..sp).unwrap_or(&[]);
    if scheme.len() > SCHEME_MAX_LEN
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        patches.push((base, vec![TEXT_FILL; value.len()]));
        return;
    }
    let (ts, te) = trim(value, sp, value.len());
    let token = value.get(ts..te).unwrap_or(&[]);
    if token.is_empty() {
        return;
    }
    let scheme = String::from_utf8_lossy(scheme).to_ascii_lowercase();
    let replacement = match scheme.as_str() {
        "ntlm" | "negotiate" | "kerberos" => sspi_token(token, names),
        _ => Some(vec![TEXT_FILL; token.len()]),
    };
    if let Some(r) = replacement {
        patches.push((base + ts, r));
    }
}

/// An SSPI token: an NTLM AUTHENTICATE (raw or in SPNEGO) keeps its structure with
/// its responses zeroed; NEGOTIATE and CHALLENGE stay; another SPNEGO token (Kerberos)
/// keeps its mechanism list with its inner token zeroed; anything else is replaced
/// whole. Re-encoded tokens keep their length (base64 of as many bytes, padded alike).
/// None when nothing changes.
fn sspi_token(token: &[u8], names: bool) -> Option<Vec<u8>> {
    let fill = || Some(vec![SSPI_FILL; token.len()]);
    let Ok(mut blob) = B64.decode(token) else {
        return fill();
    };
    match ntlm::zero_in(&mut blob, names) {
        Some((1 | 2, _)) => return None,
        Some((3, _)) => {}
        Some(_) => return fill(),
        None => {
            let ranges = der::spnego_secrets(&blob);
            if ranges.is_empty() {
                return fill();
            }
            for r in ranges {
                if let Some(s) = blob.get_mut(r) {
                    s.fill(0);
                }
            }
        }
    }
    let encoded = if token.last() == Some(&b'=') {
        STANDARD.encode(&blob)
    } else {
        STANDARD_NO_PAD.encode(&blob)
    };
    if encoded.len() == token.len() {
        Some(encoded.into_bytes())
    } else {
        fill()
    }
}

/// `line[from..to]` without surrounding spaces and tabs (and a CR at the end).
fn trim(line: &[u8], from: usize, to: usize) -> (usize, usize) {
    let mut s = from;
    let mut e = to.min(line.len());
    while s < e && matches!(line.get(s), Some(b' ' | b'\t')) {
        s += 1;
    }
    while e > s && matches!(line.get(e - 1), Some(b' ' | b'\t' | b'\r')) {
        e -= 1;
    }
    (s, e)
}

/// A token character of a header name (RFC 9110 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(head: &str) -> (String, u64) {
        let mut patches = Vec::new();
        let n = scrub_head(head.as_bytes(), &mut patches, false);
        let mut out = head.as_bytes().to_vec();
        for (at, data) in patches {
            out[at..at + data.len()].copy_from_slice(&data);
        }
        (String::from_utf8(out).expect("text stays text"), n)
    }

    #[test]
    fn credentials_keep_their_scheme() {
        let (h, n) = scrubbed(
            "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\nproxy-authorization:  Bearer abc.def \r\nHost: gw\r\n\r\n",
        );
        assert_eq!(
            h,
            "GET / HTTP/1.1\r\nAuthorization: Basic XXXXXXXXXXXX\r\nproxy-authorization:  Bearer XXXXXXX \r\nHost: gw\r\n\r\n"
        );
        assert_eq!(n, 2);
        let (h, _) =
            scrubbed("GET / HTTP/1.1\r\nAuthorization: s3cret\r\nAuthorization: Negotiate\r\n\r\n");
        assert_eq!(
            h,
            "GET / HTTP/1.1\r\nAuthorization: XXXXXX\r\nAuthorization: Negotiate\r\n\r\n"
        );
    }

    #[test]
    fn cookies_keep_their_names() {
        let (h, n) =
            scrubbed("GET / HTTP/1.1\r\nCookie: RDGSESS=s3cret; a=1;;flag; b = \"q\"\r\n\r\n");
        assert_eq!(
            h,
            "GET / HTTP/1.1\r\nCookie: RDGSESS=XXXXXX; a=X;;flag; b = XXX\r\n\r\n"
        );
        assert_eq!(n, 1);
        let (h, _) = scrubbed("HTTP/1.1 200 OK\r\nSet-Cookie: lb=xyz; Path=/; HttpOnly\r\n\r\n");
        assert_eq!(
            h,
            "HTTP/1.1 200 OK\r\nSet-Cookie: lb=XXX; Path=/; HttpOnly\r\n\r\n"
        );
    }

    #[test]
    fn secret_named_headers_go_and_challenges_stay() {
        let (h, _) = scrubbed(
            "HTTP/1.1 401 No\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\nX-PAA-Token: abc\r\nRDG-Auth-Scheme: PAA\r\nSec-WebSocket-Key: k\r\n\r\n",
        );
        assert_eq!(
            h,
            "HTTP/1.1 401 No\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\nX-PAA-Token: XXX\r\nRDG-Auth-Scheme: PAA\r\nSec-WebSocket-Key: k\r\n\r\n"
        );
    }

    #[test]
    fn kerberos_and_undecodable_tokens_are_replaced() {
        let (h, _) = scrubbed("GET / HTTP/1.1\r\nAuthorization: Kerberos YIIBhgYGKwYBBQUC\r\n\r\n");
        assert_eq!(
            h,
            "GET / HTTP/1.1\r\nAuthorization: Kerberos AAAAAAAAAAAAAAAA\r\n\r\n"
        );
        let (h, _) = scrubbed("GET / HTTP/1.1\r\nAuthorization: NTLM !!notbase64\r\n\r\n");
        assert_eq!(
            h,
            "GET / HTTP/1.1\r\nAuthorization: NTLM AAAAAAAAAAA\r\n\r\n"
        );
    }
}
