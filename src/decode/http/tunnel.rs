//! How the bodies of the RD Gateway HTTP transport's two channels are framed: whatever
//! their framing headers say, they carry the tunnel until the connection closes.
//!
//! Clients read the OUT channel's `200` the same way: FreeRDP de-chunks a chunked body
//! and otherwise reads raw bytes after the head, ignoring any Content-Length; gateways
//! and the reverse proxies in front of them send no Content-Length, a Content-Length of
//! any size, or chunked. So a `200` to `RDG_OUT_DATA` starts the data stream whatever it
//! declares, and so does an `RDG_IN_DATA` request: chunked (FreeRDP), a huge
//! Content-Length (mstsc), a small one, or none at all, when the next client bytes are
//! not another request.
//!
//! The decoder ([`super::HttpConn`]) and the trace redactor both frame with these rules.

use super::body::Framing;
use super::event::Method;

/// The framing of a `200` answering `RDG_OUT_DATA`: chunked is de-chunked, anything
/// else (no Content-Length, any Content-Length, another coding) runs until the close.
pub fn out_body(chunked: bool) -> Framing {
    if chunked {
        Framing::Chunked
    } else {
        Framing::UntilClose
    }
}

/// The framing of an `RDG_IN_DATA` request body, from what the headers declare: the
/// tunnel until the close when they declare a body of any length; `Empty` when they
/// declare none (an authentication round, or a bodiless tunnel: see [`starts_tunnel`]).
pub fn in_body(declared: Framing) -> Framing {
    match declared {
        Framing::Length(0) | Framing::Empty => Framing::Empty,
        Framing::Length(_) | Framing::UntilClose => Framing::UntilClose,
        Framing::Chunked => Framing::Chunked,
    }
}

/// True for the methods whose bodies this module frames.
pub(super) fn is_rdg_in(m: &Method) -> bool {
    *m == Method::RdgInData
}

/// True for the method whose `200` answer this module frames.
pub(super) fn is_rdg_out(m: &Method) -> bool {
    *m == Method::RdgOutData
}

/// After an `RDG_IN_DATA` request that declared no body: do the client's next bytes
/// start the tunnel (MS-TSGU packets) rather than another request? `None` until the
/// bytes tell.
///
/// A request starts with a method token, perhaps after stray CRLFs (RFC 9112 2.2). A
/// packet starts with its type, a little-endian u16 of 1 to 0x11, so its first byte is
/// a control character; two of them are CR (KEEPALIVE) and LF (DATA), told from a
/// stray CRLF by the zero byte that follows.
pub fn starts_tunnel(first: u8, second: Option<u8>) -> Option<bool> {
    match first {
        b'\r' | b'\n' => second.map(|b| b == 0),
        b if is_tchar(b) => Some(false),
        _ => Some(true),
    }
}

/// An RFC 9110 token character, which every method name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_framing_of_a_tunnel_body() {
        assert_eq!(out_body(true), Framing::Chunked);
        assert_eq!(out_body(false), Framing::UntilClose);
        assert_eq!(in_body(Framing::Chunked), Framing::Chunked);
        assert_eq!(in_body(Framing::Length(1 << 30)), Framing::UntilClose);
        assert_eq!(in_body(Framing::Length(3)), Framing::UntilClose);
        assert_eq!(in_body(Framing::Length(0)), Framing::Empty);
        assert_eq!(in_body(Framing::Empty), Framing::Empty);
    }

    #[test]
    fn a_packet_is_told_from_the_next_request() {
        // HANDSHAKE_REQUEST, DATA and KEEPALIVE packets.
        assert_eq!(starts_tunnel(0x01, None), Some(true));
        assert_eq!(starts_tunnel(0x0A, Some(0)), Some(true));
        assert_eq!(starts_tunnel(0x0D, Some(0)), Some(true));
        // A request, after a stray CRLF or not.
        assert_eq!(starts_tunnel(b'R', None), Some(false));
        assert_eq!(starts_tunnel(b'\r', Some(b'\n')), Some(false));
        assert_eq!(starts_tunnel(b'\n', Some(b'G')), Some(false));
        assert_eq!(starts_tunnel(b'\r', None), None);
    }
}
