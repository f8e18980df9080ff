//! How the lab gateway frames the OUT channel's `200` body (`--out-framing`): as the
//! lab always has (no length, read until the close), with a Content-Length of any size,
//! or chunked, the ways gateways and the reverse proxies in front of them do. Clients
//! read the tunnel whatever the framing says, and so must rdptap.

use std::fmt;
use std::num::NonZeroUsize;

/// The framing of the OUT channel's body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutFraming {
    /// Neither Content-Length nor Transfer-Encoding: the body runs until the close.
    #[default]
    None,
    /// `Content-Length: N`, whatever the tunnel's real length.
    Length(u64),
    /// `Transfer-Encoding: chunked`: one chunk per write (the seed, then each packet),
    /// or chunks of at most this many bytes, which cut packets across chunks.
    Chunked(Option<NonZeroUsize>),
}

/// The accepted values, for help and errors.
pub const VALUES: &str = "none, length:N, chunked, chunked:N";

impl OutFraming {
    /// Parses `none`, `length:N`, `chunked` or `chunked:N`.
    pub fn parse(s: &str) -> Result<OutFraming, String> {
        let number = |v: &str, what: &str| {
            v.parse::<u64>().map_err(|_| {
                format!(
                    "--out-framing {s}: N in {what}:N must be a number of bytes, e.g. {what}:10"
                )
            })
        };
        match s.split_once(':') {
            None if s == "none" => Ok(OutFraming::None),
            None if s == "chunked" => Ok(OutFraming::Chunked(None)),
            Some(("length", v)) => number(v, "length").map(OutFraming::Length),
            Some(("chunked", v)) => {
                let n = number(v, "chunked")?;
                usize::try_from(n)
                    .ok()
                    .and_then(NonZeroUsize::new)
                    .map(|n| OutFraming::Chunked(Some(n)))
                    .ok_or_else(|| format!("--out-framing {s}: chunks need at least 1 byte"))
            }
            _ => Err(format!(
                "--out-framing {s}: the accepted values are {VALUES}"
            )),
        }
    }

    /// The framing header of the `200`, if any.
    pub fn header(self) -> Option<(&'static str, String)> {
        match self {
            OutFraming::None => None,
            OutFraming::Length(n) => Some(("Content-Length", n.to_string())),
            OutFraming::Chunked(_) => Some(("Transfer-Encoding", "chunked".to_string())),
        }
    }

    /// The largest chunk, when chunked.
    pub fn chunk_limit(self) -> Option<usize> {
        match self {
            OutFraming::Chunked(n) => Some(n.map_or(usize::MAX, NonZeroUsize::get)),
            _ => None,
        }
    }
}

impl fmt::Display for OutFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutFraming::None => f.write_str("no Content-Length, read until the close"),
            OutFraming::Length(n) => write!(f, "Content-Length: {n}, whatever the tunnel's size"),
            OutFraming::Chunked(None) => f.write_str("chunked, one chunk per write"),
            OutFraming::Chunked(Some(n)) => write!(f, "chunked, in chunks of at most {n} bytes"),
        }
    }
}

/// Wraps `data` in one chunk: its size line, the bytes, and the CRLF unless `whole` is
/// false (a chunk cut short on purpose ends where its data does).
pub fn chunk(data: &[u8], size: usize, whole: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
    out.extend_from_slice(data);
    if whole {
        out.extend_from_slice(b"\r\n");
    }
}

/// The last chunk, which ends a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(OutFraming::parse("none"), Ok(OutFraming::None));
        assert_eq!(OutFraming::parse("length:0"), Ok(OutFraming::Length(0)));
        assert_eq!(
            OutFraming::parse("length:1073741824"),
            Ok(OutFraming::Length(1 << 30))
        );
        assert_eq!(OutFraming::parse("chunked"), Ok(OutFraming::Chunked(None)));
        assert_eq!(
            OutFraming::parse("chunked:7"),
            Ok(OutFraming::Chunked(NonZeroUsize::new(7)))
        );
        for bad in ["", "length", "length:x", "chunked:0", "gzip", "chunked:-1"] {
            let e = OutFraming::parse(bad).unwrap_err();
            assert!(e.contains("--out-framing"), "{bad}: {e}");
        }
        assert!(OutFraming::parse("gzip").unwrap_err().contains(VALUES));
    }

    #[test]
    fn headers_and_chunks() {
        assert_eq!(OutFraming::None.header(), None);
        assert_eq!(
            OutFraming::Length(10).header(),
            Some(("Content-Length", "10".into()))
        );
        assert_eq!(OutFraming::Chunked(None).chunk_limit(), Some(usize::MAX));
        assert_eq!(OutFraming::Length(3).chunk_limit(), None);
        let mut v = Vec::new();
        chunk(b"abc", 26, false, &mut v);
        chunk(b"xy", 2, true, &mut v);
        assert_eq!(v, b"1a\r\nabc2\r\nxy\r\n");
    }
}
