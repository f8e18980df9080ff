//! Header redaction for events: what of a header value may be shown. Which headers
//! hold secrets is decided by name in [`super::secret_names`], shared with the trace.

use super::auth::{challenge_items, AuthScheme, ChallengeItem};
use super::cookies::{redact_cookie, redact_set_cookie};
use super::secret_names::{header_secret, HeaderSecret};
use super::text::{clean, redacted, unquote};

/// Longest header value we render, in characters; longer values are cut and marked.
const VALUE_MAX_CHARS: usize = 512;
/// Longest word we accept as a scheme name in front of a credential.
const SCHEME_MAX_LEN: usize = 32;

/// Renders a header value with any secret replaced by `<redacted N bytes>`.
///
/// Authorization keeps its scheme name, WWW-Authenticate its schemes and realms, Cookie
/// and Set-Cookie their names; headers named like tokens, secrets or PAA are hidden whole.
pub fn redact_header(name: &str, value: &str) -> String {
    match header_secret(name) {
        HeaderSecret::Credentials => redact_credentials(value),
        HeaderSecret::Challenges => redact_challenges(value),
        HeaderSecret::Cookie => redact_cookie(value),
        HeaderSecret::SetCookie => redact_set_cookie(value),
        HeaderSecret::Whole => redacted(value.len()),
        HeaderSecret::Plain => clean(value, VALUE_MAX_CHARS),
    }
}

/// A request target with its query's values replaced by `<redacted N bytes>`: each
/// parameter keeps its name, and a parameter without `=` is all value. Gateways and the
/// proxies in front of them can carry tokens in the query.
pub fn redact_target(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    if names_rpc_server(path.as_bytes(), query.as_bytes()) {
        return target.to_string();
    }
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((name, "")) => format!("{name}="),
            Some((name, value)) => format!("{name}={}", redacted(value.len())),
            None if p.is_empty() => String::new(),
            None => redacted(p.len()),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

/// Whether a query is the legacy RPC transport's `SERVER:PORT` (MS-RPCH: the RPC
/// server the gateway is to reach, `/rpc/rpcproxy.dll?host:3388`), which names a host,
/// not a secret, and is kept.
pub fn names_rpc_server(path: &[u8], query: &[u8]) -> bool {
    let rpc = path.len() >= 12
        && path
            .get(path.len() - 12..)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"rpcproxy.dll"));
    let Some(colon) = query.iter().rposition(|&b| b == b':') else {
        return false;
    };
    let (host, port) = (&query[..colon], &query[colon + 1..]);
    rpc && !host.is_empty()
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && (1..=5).contains(&port.len())
        && port.iter().all(u8::is_ascii_digit)
}

/// `Scheme <redacted N bytes>`; the scheme word is kept only when it looks like one,
/// since some clients send a bare secret with no scheme.
fn redact_credentials(value: &str) -> String {
    let v = value.trim();
    match v.split_once([' ', '\t']) {
        Some((scheme, token)) if looks_like_scheme(scheme) => {
            format!("{scheme} {}", redacted(token.trim().len()))
        }
        None if !matches!(AuthScheme::from_name(v), AuthScheme::Other(_)) => v.to_string(),
        _ => redacted(value.len()),
    }
}

/// A short token of letters, digits, `-` and `_`.
fn looks_like_scheme(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SCHEME_MAX_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Keeps each challenge's scheme and realm; tokens and other parameter values go.
fn redact_challenges(value: &str) -> String {
    let mut out = String::new();
    // None before the first item; whether the previous item was a parameter after that.
    let mut last_was_param = None;
    for item in challenge_items(value) {
        let is_param = matches!(item, ChallengeItem::Param { .. });
        match item {
            ChallengeItem::Scheme { scheme, token } => {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                if looks_like_scheme(scheme) {
                    out.push_str(scheme);
                } else {
                    out.push_str(&redacted(scheme.len()));
                }
                if let Some(t) = token {
                    out.push(' ');
                    out.push_str(&redacted(t.len()));
                }
            }
            ChallengeItem::Param { name, value } => {
                out.push_str(match last_was_param {
                    None => "",
                    Some(false) => " ",
                    Some(true) => ", ",
                });
                let name = clean(name, SCHEME_MAX_LEN);
                if name.eq_ignore_ascii_case("realm") {
                    out.push_str(&format!("{name}=\"{}\"", clean(&unquote(value), 256)));
                } else {
                    out.push_str(&format!("{name}={}", redacted(value.len())));
                }
            }
        }
        last_was_param = Some(is_param);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_keeps_only_the_scheme() {
        assert_eq!(
            redact_header("Authorization", "NTLM TlRMTVNTUAABAAAA"),
            "NTLM <redacted 16 bytes>"
        );
        assert_eq!(
            redact_header("authorization", "Basic dXNlcjpwYXNz"),
            "Basic <redacted 12 bytes>"
        );
        assert_eq!(
            redact_header("Authorization", "s3cr3t-bare-token"),
            "<redacted 17 bytes>"
        );
        assert_eq!(redact_header("Authorization", "Negotiate"), "Negotiate");
    }

    #[test]
    fn challenges_keep_scheme_and_realm() {
        assert_eq!(redact_header("WWW-Authenticate", "Negotiate"), "Negotiate");
        assert_eq!(
            redact_header("WWW-Authenticate", "NTLM TlRMTVNTUAACAAAA=="),
            "NTLM <redacted 18 bytes>"
        );
        assert_eq!(
            redact_header(
                "WWW-Authenticate",
                r#"Basic realm="gw, lab", charset="UTF-8""#
            ),
            r#"Basic realm="gw, lab", charset=<redacted 7 bytes>"#
        );
    }

    #[test]
    fn query_values_are_hidden_and_names_kept() {
        assert_eq!(
            redact_target("/remoteDesktopGateway/?token=s3cret&flag&x=&&id=42"),
            "/remoteDesktopGateway/?token=<redacted 6 bytes>&<redacted 4 bytes>&x=&&id=<redacted 2 bytes>"
        );
        assert_eq!(
            redact_target("/remoteDesktopGateway/"),
            "/remoteDesktopGateway/"
        );
        assert_eq!(redact_target("/a?"), "/a?");
        // The RPC transport's server and port are a host name, kept; anything else in
        // that query is not.
        assert_eq!(
            redact_target("/rpc/rpcproxy.dll?localhost:3388"),
            "/rpc/rpcproxy.dll?localhost:3388"
        );
        assert_eq!(
            redact_target("/rpc/rpcproxy.dll?tok=x:3388"),
            "/rpc/rpcproxy.dll?tok=<redacted 6 bytes>"
        );
    }

    #[test]
    fn secret_like_headers_are_hidden() {
        assert_eq!(redact_header("X-PAA-Token", "abc"), "<redacted 3 bytes>");
        assert_eq!(redact_header("RDG-Auth-Scheme", "PAA"), "PAA");
        assert_eq!(redact_header("Host", "gw.lab"), "gw.lab");
        assert_eq!(
            redact_header("Set-Cookie", "a=b; Path=/"),
            "a=<redacted 1 bytes>; Path=/"
        );
    }
}
