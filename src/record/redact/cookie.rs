//! The mstshash cookie of an X.224 Connection Request: the user name (or its first
//! characters) that mstsc and FreeRDP send in the clear before any TLS. Under
//! `--redact-users` it is overwritten on every flow that carries it: the raw legs, the
//! RDP inside a gateway tunnel, and the tunnel's first DATA packet.

use super::{Ctx, Scrub};
use crate::decode::wire::be_u16;
use crate::vocab::Dir;
use std::ops::Range;

/// What the cookie's value is overwritten with: it is text.
pub(super) const FILL: u8 = b'X';
/// The cookie's name as mstsc writes it (MS-RDPBCGR 2.2.1.1).
const PREFIX: &[u8] = b"Cookie: mstshash=";
/// A Connection Request longer than this is not read (real ones are under 100 bytes
/// plus the cookie, which clients cut to a few dozen characters).
const MAX_REQUEST: usize = 4096;

/// The cookie value's bytes in the first bytes of a connection (a TPKT carrying the
/// Connection Request, possibly cut short): up to the CR LF, or the end of `data`.
pub(super) fn value(data: &[u8]) -> Option<Range<usize>> {
    // TPKT (4) + X.224 length, code and the five fixed bytes (7): the cookie follows.
    const COOKIE_AT: usize = 11;
    if data.first() != Some(&3) || data.get(5).map(|c| c & 0xF0) != Some(0xE0) {
        return None;
    }
    let rest = data.get(COOKIE_AT..)?;
    if !rest.starts_with(PREFIX) {
        return None;
    }
    let start = COOKIE_AT + PREFIX.len();
    let end = data
        .get(start..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(data.len(), |p| start + p);
    (end > start).then_some(start..end)
}

/// Follows the client's first bytes until its Connection Request is whole.
#[derive(Debug, Default)]
pub(super) struct CookieScrub {
    /// The request so far; None once it was read (or the flow does not start with one).
    buf: Option<Vec<u8>>,
    done: bool,
}

impl CookieScrub {
    fn conclude(&mut self, ctx: &mut Ctx) {
        if let Some(r) = self.buf.as_deref().and_then(value) {
            ctx.scrubbed += 1;
            ctx.fill(r.start as u64, r.len(), FILL);
        }
        self.buf = None;
        self.done = true;
    }
}

impl Scrub for CookieScrub {
    fn feed(&mut self, dir: Dir, _at: u64, bytes: &[u8], ctx: &mut Ctx) {
        if dir != Dir::C2S || self.done || !ctx.names {
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() && !self.done {
            let buf = self.buf.get_or_insert_with(Vec::new);
            // The TPKT header first, then as many bytes as it announces.
            let (want, whole) = match be_u16(buf, 2).map(usize::from) {
                Some(n) if buf.first() == Some(&3) && (4..=MAX_REQUEST).contains(&n) => (n, true),
                Some(_) => {
                    // Not a Connection Request: TLS from the first byte (gateway mode).
                    self.buf = None;
                    self.done = true;
                    return;
                }
                None => (4, false),
            };
            let take = want.saturating_sub(buf.len()).min(rest.len());
            buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if whole && buf.len() == want {
                self.conclude(ctx);
            }
        }
    }

    fn finish(&mut self, dir: Dir, ctx: &mut Ctx) {
        if dir == Dir::C2S && !self.done {
            self.conclude(ctx);
        }
    }

    fn pin(&self, dir: Dir) -> Option<u64> {
        (dir == Dir::C2S && !self.done && self.buf.is_some()).then_some(0)
    }

    fn lost(&self, _dir: Dir) -> bool {
        false
    }

    fn idle(&self, dir: Dir) -> bool {
        dir == Dir::S2C || self.done
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::x224_request;
    use super::super::{FlowProto, StreamRedactor};
    use super::*;
    use bytes::Bytes;

    fn run(stream: &[u8], step: usize) -> Vec<u8> {
        let mut r = StreamRedactor::new(FlowProto::Raw).hiding_names(true);
        let mut out = Vec::new();
        for piece in stream.chunks(step) {
            r.feed(Dir::C2S, Bytes::copy_from_slice(piece), &mut out);
        }
        r.finish(Dir::C2S, &mut out);
        out.concat()
    }

    #[test]
    fn the_cookie_goes_at_any_chunking_and_the_rest_stays() {
        let mut stream = x224_request("labuser");
        stream.extend_from_slice(&[0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5]);
        let want = String::from_utf8_lossy(&stream).replace("labuser", "XXXXXXX");
        for step in 1..stream.len() {
            let out = run(&stream, step);
            assert_eq!(String::from_utf8_lossy(&out), want, "step {step}");
        }
    }

    #[test]
    fn a_flow_without_a_request_passes_untouched() {
        let tls = [0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5];
        assert_eq!(run(&tls, 3), tls);
        // No cookie (a routing token instead), and one cut short at the end.
        let mut token = x224_request("x");
        token[11..28].copy_from_slice(b"Cookie: msts=1234");
        assert_eq!(run(&token, 5), token);
        let cut = &x224_request("labuser")[..30];
        assert!(!String::from_utf8_lossy(&run(cut, 7)).contains("labu"));
    }

    #[test]
    fn nothing_changes_unless_names_are_hidden() {
        let stream = x224_request("labuser");
        let mut r = StreamRedactor::new(FlowProto::Raw);
        let mut out = Vec::new();
        r.feed(Dir::C2S, Bytes::copy_from_slice(&stream), &mut out);
        assert_eq!(out.concat(), stream);
    }
}
