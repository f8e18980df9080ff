//! Small text helpers shared by the HTTP decoders: bounded, printable renderings of
//! untrusted header text.

/// Replaces control characters with `?` and cuts to `max_chars`, marking the cut.
pub(super) fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    for (n, c) in s.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// Strips the double quotes (and backslash escapes) of an RFC 9110 quoted-string;
/// returns an unquoted value as is.
pub(super) fn unquote(v: &str) -> String {
    let v = v.trim();
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// The `<redacted N bytes>` stand-in for a secret of `len` bytes.
pub(super) fn redacted(len: usize) -> String {
    format!("<redacted {len} bytes>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_bounds_and_masks() {
        assert_eq!(clean("a\u{7}b", 10), "a?b");
        assert_eq!(clean("abcdef", 3), "abc…");
    }

    #[test]
    fn unquote_handles_escapes() {
        assert_eq!(unquote(r#""a \"b\" c""#), r#"a "b" c"#);
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\"open"), "open");
    }
}
