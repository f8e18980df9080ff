//! Cookie and Set-Cookie headers: names and value lengths only. Gateways and load
//! balancers put session and affinity secrets in cookie values.

use super::text::{clean, redacted};
use serde::{Deserialize, Serialize};

/// Longest cookie name we render, in characters.
const NAME_MAX_CHARS: usize = 128;
/// Most cookies listed per message: a hostile head cannot inflate events further.
const MAX_COOKIES: usize = 64;

/// One cookie: its name and how long its (unshown) value is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieInfo {
    /// The cookie name.
    pub name: String,
    /// The value's length in bytes.
    pub value_len: usize,
}

/// Splits `name=value`. A piece without `=` is a value without a name, as browsers
/// read `Cookie: token`: shown as a name, it would put the value in the events.
fn pair(s: &str) -> (&str, &str) {
    match s.split_once('=') {
        Some((n, v)) => (n.trim(), v.trim()),
        None => ("", s.trim()),
    }
}

/// Adds the cookies of one Cookie header (`a=1; b=2`) to `out`.
pub(super) fn parse_cookie_header(value: &str, out: &mut Vec<CookieInfo>) {
    for piece in value.split(';') {
        if out.len() >= MAX_COOKIES {
            return;
        }
        if piece.trim().is_empty() {
            continue;
        }
        let (name, v) = pair(piece);
        out.push(CookieInfo {
            name: clean(name, NAME_MAX_CHARS),
            value_len: v.len(),
        });
    }
}

/// Adds the cookie a Set-Cookie header sets (its first pair; the rest are attributes).
pub(super) fn parse_set_cookie(value: &str, out: &mut Vec<CookieInfo>) {
    if out.len() >= MAX_COOKIES {
        return;
    }
    let first = value.split(';').next().unwrap_or("");
    if first.trim().is_empty() {
        return;
    }
    let (name, v) = pair(first);
    out.push(CookieInfo {
        name: clean(name, NAME_MAX_CHARS),
        value_len: v.len(),
    });
}

/// A Cookie header with every value replaced by its length.
pub(super) fn redact_cookie(value: &str) -> String {
    value
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (name, v) = pair(p);
            if name.is_empty() && !p.contains('=') {
                redacted(v.len())
            } else {
                format!("{}={}", clean(name, NAME_MAX_CHARS), redacted(v.len()))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A Set-Cookie header with the cookie's value replaced; attributes (Path, Expires,
/// Secure…) are not secret and stay.
pub(super) fn redact_set_cookie(value: &str) -> String {
    let mut parts = value.split(';');
    let first = parts.next().unwrap_or("");
    let (name, v) = pair(first);
    let mut out = if first.contains('=') {
        format!("{}={}", clean(name, NAME_MAX_CHARS), redacted(v.len()))
    } else {
        redacted(v.len())
    };
    for attr in parts {
        let attr = attr.trim();
        if !attr.is_empty() {
            out.push_str("; ");
            out.push_str(&clean(attr, NAME_MAX_CHARS));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values_never_appear() {
        let mut out = Vec::new();
        parse_cookie_header("RDGSESSION=s3cret; affinity=abc;; flag", &mut out);
        assert_eq!(
            out,
            vec![
                CookieInfo {
                    name: "RDGSESSION".into(),
                    value_len: 6
                },
                CookieInfo {
                    name: "affinity".into(),
                    value_len: 3
                },
                CookieInfo {
                    name: "".into(),
                    value_len: 4
                },
            ]
        );
        let r = redact_cookie("RDGSESSION=s3cret; affinity=abc");
        assert_eq!(
            r,
            "RDGSESSION=<redacted 6 bytes>; affinity=<redacted 3 bytes>"
        );
        // A cookie without `=` is all value: nothing of it is shown.
        assert_eq!(redact_cookie("s3cr3tT0ken"), "<redacted 11 bytes>");
        assert_eq!(
            redact_set_cookie("bare-token; Path=/"),
            "<redacted 10 bytes>; Path=/"
        );
    }

    #[test]
    fn set_cookie_keeps_attributes() {
        let mut out = Vec::new();
        parse_set_cookie("lb=xyz123; Path=/; HttpOnly", &mut out);
        assert_eq!(out[0].name, "lb");
        assert_eq!(out[0].value_len, 6);
        assert_eq!(
            redact_set_cookie("lb=xyz123; Path=/; HttpOnly"),
            "lb=<redacted 6 bytes>; Path=/; HttpOnly"
        );
    }

    #[test]
    fn cookie_count_is_capped() {
        let mut out = Vec::new();
        let many = vec!["a=b"; 500].join(";");
        parse_cookie_header(&many, &mut out);
        assert_eq!(out.len(), MAX_COOKIES);
    }
}
