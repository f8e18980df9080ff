//! HTTP message heads: finding where a head ends (bounded) and parsing it with httparse
//! into owned start-line fields and headers, plus the framing facts read from them.

use super::redact::redact_target;
use super::text::clean;

/// Largest head accepted, terminator included: more is refused (`http_head_too_large`).
pub const HEAD_LIMIT: usize = 64 * 1024;
/// Most headers in one head; more is `http_malformed`.
pub const MAX_HEADERS: usize = 100;
/// Heads are syntax-checked while incomplete only up to this size, so garbage (TLS sent
/// to a plain port, say) is reported at once without re-parsing 64 KiB on every chunk.
pub(super) const EARLY_CHECK_LIMIT: usize = 1024;
/// Longest request target rendered, in characters.
const TARGET_MAX_CHARS: usize = 2048;
/// Longest reason phrase rendered, in characters.
const REASON_MAX_CHARS: usize = 256;

/// Where the head ending in `buf` stops (just after its empty line), searching for the
/// empty line's first LF at or after `from`. Bare-LF line endings are accepted.
pub(super) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(pos) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let lf = i + pos;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
            _ => i = lf + 1,
        }
    }
    None
}

/// The first line of a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StartLine {
    /// `METHOD target HTTP/1.x`.
    Request {
        /// The method as sent.
        method: String,
        /// The request target.
        target: String,
    },
    /// `HTTP/1.x status reason`.
    Response {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
}

/// A parsed head with owned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    /// The request or status line.
    pub start: StartLine,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    /// Headers in order, values as sent (lossy UTF-8, not yet redacted).
    pub headers: Vec<(String, String)>,
}

/// Parses a head; Ok(None) when it is a valid but incomplete prefix.
pub(super) fn parse(buf: &[u8], request: bool) -> Result<Option<Head>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let what = if request { "request" } else { "response" };
    let fail = |e: httparse::Error| format!("{what} head: {}", describe(e));
    let (start, version, headers) = if request {
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(buf).map_err(fail)? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(_) => {}
        }
        let start = StartLine::Request {
            method: clean(req.method.unwrap_or(""), TARGET_MAX_CHARS),
            target: clean(&redact_target(req.path.unwrap_or("")), TARGET_MAX_CHARS),
        };
        (start, req.version, own(req.headers))
    } else {
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(buf).map_err(fail)? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(_) => {}
        }
        let start = StartLine::Response {
            status: resp.code.unwrap_or(0),
            reason: clean(resp.reason.unwrap_or(""), REASON_MAX_CHARS),
        };
        (start, resp.version, own(resp.headers))
    };
    Ok(Some(Head {
        start,
        version: format!("HTTP/1.{}", version.unwrap_or(1)),
        headers,
    }))
}

/// Copies httparse's borrowed headers out.
fn own(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// httparse's error in plain English.
fn describe(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid character in a header name",
        httparse::Error::HeaderValue => "invalid character in a header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid character in the method or target",
        httparse::Error::TooManyHeaders => "more than 100 headers",
        httparse::Error::Version => "not HTTP/1.0 or HTTP/1.1",
    }
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub(super) fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every value of header `name`, in order.
    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Content-Length: None if absent; an error if unparsable or contradictory.
    pub(super) fn content_length(&self) -> Result<Option<u64>, String> {
        let mut found: Option<u64> = None;
        for v in self.all("content-length").flat_map(|v| v.split(',')) {
            let v = v.trim();
            let n = v
                .parse::<u64>()
                .ok()
                .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("Content-Length `{}` is not a number", clean(v, 32)))?;
            if found.is_some_and(|f| f != n) {
                return Err("conflicting Content-Length values".to_string());
            }
            found = Some(n);
        }
        Ok(found)
    }

    /// Whether Transfer-Encoding is present, and whether its final coding is chunked.
    pub(super) fn transfer_encoding(&self) -> (bool, bool) {
        let mut present = false;
        let mut last = String::new();
        for v in self.all("transfer-encoding").flat_map(|v| v.split(',')) {
            let v = v.trim();
            if !v.is_empty() {
                present = true;
                last = v.to_ascii_lowercase();
            }
        }
        (present, last == "chunked")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_crlf_and_lf_terminators() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nbody", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"\n\r", 0), None);
        assert_eq!(find_head_end(b"", 5), None);
    }

    #[test]
    fn content_length_rules() {
        let head = |v: &str| Head {
            start: StartLine::Response {
                status: 200,
                reason: String::new(),
            },
            version: "HTTP/1.1".into(),
            headers: vec![("Content-Length".into(), v.into())],
        };
        assert_eq!(head("42").content_length(), Ok(Some(42)));
        assert_eq!(head("7, 7").content_length(), Ok(Some(7)));
        assert!(head("7, 8").content_length().is_err());
        assert!(head("+5").content_length().is_err());
        assert!(head("99999999999999999999999").content_length().is_err());
    }
}
