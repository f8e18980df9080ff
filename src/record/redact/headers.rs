//! What is secret in an HTTP head, as same-length replacements of header values:
//! credentials in Authorization and Proxy-Authorization (the scheme word stays),
//! cookie values, and headers named like tokens or secrets. Which headers those are is
//! the decoder's list (`decode::http::header_secret`), the one the events use too.

use super::{der, ntlm};
use crate::decode::http::{header_secret, names_rpc_server, AuthScheme, HeaderSecret};
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
    // Whether the header being read is secret, for its folded continuation lines.
    let mut secret = false;
    while start < head.len() {
        let end = head
            .get(start..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
            .map_or(head.len(), |p| start + p);
        let line = head.get(start..end).unwrap_or(&[]);
        if first {
            found += scrub_query(line, start, patches);
        } else if matches!(line.first(), Some(b' ' | b'\t')) {
            // obs-fold (RFC 9112 5.2): the line goes on the header above, so a secret
            // header's continuation is as secret as its first line.
            if secret {
                let (s, e) = trim(line, 0, line.len());
                if e > s {
                    patches.push((start + s, vec![TEXT_FILL; e - s]));
                    found += 1;
                }
            }
        } else {
            let (n, is_secret) = scrub_line(line, start, patches, names);
            found += n;
            secret = is_secret;
        }
        first = false;
        start = end + 1;
    }
    found
}

/// The query string of a request line (`METHOD /path?name=value&flag HTTP/1.1`) at
/// offset `at`: each parameter keeps its name; values, and parameters without a name,
/// are filled. Gateways and proxies in front of them put tokens there.
fn scrub_query(line: &[u8], at: usize, patches: &mut Vec<Patch>) -> u64 {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return 0;
    };
    // A response's first line ("HTTP/1.1 200 OK") has no query.
    if line.starts_with(b"HTTP/") {
        return 0;
    }
    let target_end = line
        .iter()
        .skip(sp + 1)
        .position(|&b| b == b' ' || b == b'\r')
        .map_or(line.len(), |p| sp + 1 + p);
    let target = line.get(sp + 1..target_end).unwrap_or(&[]);
    let Some(q) = target.iter().position(|&b| b == b'?') else {
        return 0;
    };
    let query_at = sp + 1 + q + 1;
    let query = line.get(query_at..target_end).unwrap_or(&[]);
    if names_rpc_server(target.get(..q).unwrap_or(&[]), query) {
        return 0;
    }
    let before = patches.len();
    let mut from = 0;
    for piece in query.split(|&b| b == b'&') {
        let value_from = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => eq + 1,
            None => 0,
        };
        if piece.len() > value_from {
            patches.push((
                at + query_at + from + value_from,
                vec![TEXT_FILL; piece.len() - value_from],
            ));
        }
        from += piece.len() + 1;
    }
    u64::from(patches.len() > before)
}

/// One header line at offset `at`: how many secret values it held, and whether the
/// header is secret (so its folded continuation lines are too).
fn scrub_line(line: &[u8], at: usize, patches: &mut Vec<Patch>, names: bool) -> (u64, bool) {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return (0, false);
    };
    let name = line.get(..colon).unwrap_or(&[]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return (0, false);
    }
    let name = String::from_utf8_lossy(name);
    let kind = header_secret(&name);
    let user_id = names && name.eq_ignore_ascii_case("rdg-user-id");
    let secret = user_id || !matches!(kind, HeaderSecret::Challenges | HeaderSecret::Plain);
    let (vstart, vend) = trim(line, colon + 1, line.len());
    let value = line.get(vstart..vend).unwrap_or(&[]);
    if value.is_empty() {
        return (0, secret);
    }
    let before = patches.len();
    let base = at + vstart;
    if user_id {
        // The gateway user name, base64 of its UTF-16 form.
        patches.push((base, vec![TEXT_FILL; value.len()]));
        return (1, true);
    }
    match kind {
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
    (u64::from(patches.len() > before), secret)
}

/// The value of a `name=value` pair in `value[from..to]`. A piece without `=` is a
/// value without a name (as browsers read `Cookie: token`), so all of it goes.
fn cookie_pair(value: &[u8], from: usize, to: usize, base: usize, patches: &mut Vec<Patch>) {
    let value_from = value
        .get(from..to)
        .and_then(|p| p.iter().position(|&b| b == b'='))
        .map_or(from, |eq| from + eq + 1);
    let (s, e) = trim(value, value_from, to);
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
            "GET / HTTP/1.1\r\nCookie: RDGSESS=XXXXXX; a=X;;XXXX; b = XXX\r\n\r\n"
        );
        assert_eq!(n, 1);
        // A cookie with no `=` is all value.
        let (h, _) = scrubbed("GET / HTTP/1.1\r\nCookie: s3cr3tT0ken\r\n\r\n");
        assert_eq!(h, "GET / HTTP/1.1\r\nCookie: XXXXXXXXXXX\r\n\r\n");
        let (h, _) = scrubbed("HTTP/1.1 200 OK\r\nSet-Cookie: bare-token; Path=/\r\n\r\n");
        assert_eq!(
            h,
            "HTTP/1.1 200 OK\r\nSet-Cookie: XXXXXXXXXX; Path=/\r\n\r\n"
        );
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

    #[test]
    fn folded_lines_of_a_secret_header_go_too() {
        let (h, n) = scrubbed(
            "GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\n  def-s3cret\r\n\tmore\r\nHost: gw\r\n  folded-host\r\n\r\n",
        );
        assert_eq!(
            h,
            "GET / HTTP/1.1\r\nAuthorization: Bearer XXX\r\n  XXXXXXXXXX\r\n\tXXXX\r\nHost: gw\r\n  folded-host\r\n\r\n"
        );
        assert_eq!(n, 3);
        // A secret header whose first line is empty still hides what is folded under it.
        let (h, _) = scrubbed("GET / HTTP/1.1\r\nCookie:\r\n a=b\r\n\r\n");
        assert_eq!(h, "GET / HTTP/1.1\r\nCookie:\r\n XXX\r\n\r\n");
    }

    #[test]
    fn query_values_go_and_names_stay() {
        let (h, n) = scrubbed(
            "RDG_OUT_DATA /remoteDesktopGateway/?token=s3cret&flag&x=&id=42 HTTP/1.1\r\nHost: gw\r\n\r\n",
        );
        assert_eq!(
            h,
            "RDG_OUT_DATA /remoteDesktopGateway/?token=XXXXXX&XXXX&x=&id=XX HTTP/1.1\r\nHost: gw\r\n\r\n"
        );
        assert_eq!(n, 1);
        let plain = "GET /remoteDesktopGateway/ HTTP/1.1\r\n\r\n";
        assert_eq!(scrubbed(plain).0, plain);
        let rpc = "RPC_IN_DATA /rpc/rpcproxy.dll?localhost:3388 HTTP/1.1\r\n\r\n";
        assert_eq!(scrubbed(rpc).0, rpc);
        // The status line of a response is left alone.
        let resp = "HTTP/1.1 200 OK?x=1\r\n\r\n";
        assert_eq!(scrubbed(resp).0, resp);
    }
}
