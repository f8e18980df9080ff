//! Redaction of the decrypted streams written to a trace: secrets are overwritten with
//! the same number of bytes (`X` in header text, 0x00 in binary fields), so every
//! length and offset stays valid and Wireshark still dissects the result.
//!
//! A [`StreamRedactor`] follows one decrypted flow, both directions, with no IO. It
//! frames the stream just enough to know where secrets sit (HTTP heads and bodies,
//! WebSocket frames and MS-TSGU packets for a gateway; TPKT, fast-path and CredSSP for
//! RDP), and holds back the bytes of a frame that may hold a secret until the frame is
//! complete, so a secret is known before its first byte leaves.
//!
//! Limits: at most [`MAX_HOLD`] bytes are held per direction. Bytes a direction's
//! framer cannot follow end redaction for that direction (inside a gateway tunnel body,
//! for the rest of that body); a packet spread too thin on the wire to hold passes
//! unread. Such bytes pass through unchanged, and [`StreamRedactor::lost_sync`] says so.
//! Everything else is decided by content alone, so the output does not depend on how
//! the stream was cut into chunks.
//!
//! The framing (`http`, `chunked`, `ws`, `tsgu`, `rdp`) is kept apart from the
//! decisions about what is secret (`headers`, `ntlm`, `der`, `tsgu_fields`, `rdp_fields`).

mod chunked;
mod clip;
mod cookie;
mod der;
mod headers;
mod http;
mod lane;
mod ntlm;
mod packets;
mod rdp;
mod rdp_fields;
mod rpc_fields;
mod tsgu_fields;
mod ws;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod raw_tests;
#[cfg(test)]
mod rdp_tests;
#[cfg(test)]
mod secret_names_tests;
#[cfg(test)]
mod test_support;

use crate::vocab::Dir;
use bytes::Bytes;
use lane::{Edit, Lane};
use std::fmt;

/// Most bytes held back per direction while a frame that may hold a secret completes.
pub const MAX_HOLD: usize = 256 * 1024;

/// What a decrypted flow carries, which decides what is secret in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowProto {
    /// RD Gateway HTTP after TLS (both channels, chunked or WebSocket), written on port 80.
    Http,
    /// RDP after TLS (from the MCS Connect-Initial on, or CredSSP before it), on port 3389.
    Rdp,
    /// A raw leg or a tunnel's inner RDP: its clear Connection Request (the mstshash
    /// cookie, under `--redact-users`), then RDP as on a decrypted flow until the leg
    /// turns to TLS. A leg that stays in the clear is standard RDP security, and at
    /// encryption level NONE its Client Info carries the password readable.
    Raw,
}

impl fmt::Display for FlowProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlowProto::Http => "gateway HTTP",
            FlowProto::Rdp => "RDP",
            FlowProto::Raw => "raw RDP leg",
        })
    }
}

/// What a scrubber hands back while it reads: edits to held bytes and a count.
#[derive(Debug, Default)]
struct Ctx {
    /// Replacements to write before the bytes are released.
    pub edits: Vec<Edit>,
    /// Secret fields found.
    pub scrubbed: u64,
    /// User and domain names go too (`--redact-users`).
    pub names: bool,
}

impl Ctx {
    /// Overwrites `len` bytes at stream offset `at` with `fill`.
    pub fn fill(&mut self, at: u64, len: usize, fill: u8) {
        if len > 0 {
            self.edits.push(Edit {
                at,
                data: vec![fill; len],
            });
        }
    }

    /// Overwrites bytes at stream offset `at` with `data` (same length).
    pub fn replace(&mut self, at: u64, data: Vec<u8>) {
        if !data.is_empty() {
            self.edits.push(Edit { at, data });
        }
    }
}

/// The protocol side of a redactor: reads bytes, says which to change and which it
/// still needs to hold.
trait Scrub {
    /// Reads `bytes`, which start at stream offset `at` of `dir`.
    fn feed(&mut self, dir: Dir, at: u64, bytes: &[u8], ctx: &mut Ctx);
    /// `dir` ended: scrub what can be scrubbed of a frame left incomplete.
    fn finish(&mut self, dir: Dir, ctx: &mut Ctx);
    /// The first stream offset of `dir` that may still be changed, if any.
    fn pin(&self, dir: Dir) -> Option<u64>;
    /// True once `dir`'s framing was lost and its bytes pass unchanged.
    fn lost(&self, dir: Dir) -> bool;
    /// True once nothing more in `dir` can be secret or readable (TLS from here, or the
    /// framing lost): its bytes may pass without being read or held.
    fn idle(&self, _dir: Dir) -> bool {
        false
    }
}

/// A raw leg: the cookie scrubber and the RDP one, side by side.
#[derive(Debug, Default)]
struct RawScrub {
    cookie: cookie::CookieScrub,
    rdp: rdp::RdpScrub,
}

impl Scrub for RawScrub {
    fn feed(&mut self, dir: Dir, at: u64, bytes: &[u8], ctx: &mut Ctx) {
        self.cookie.feed(dir, at, bytes, ctx);
        self.rdp.feed(dir, at, bytes, ctx);
    }

    fn finish(&mut self, dir: Dir, ctx: &mut Ctx) {
        self.cookie.finish(dir, ctx);
        self.rdp.finish(dir, ctx);
    }

    fn pin(&self, dir: Dir) -> Option<u64> {
        match (self.cookie.pin(dir), self.rdp.pin(dir)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn lost(&self, dir: Dir) -> bool {
        self.rdp.lost(dir)
    }

    fn idle(&self, dir: Dir) -> bool {
        self.cookie.idle(dir) && self.rdp.idle(dir)
    }
}

#[derive(Debug)]
enum Inner {
    Http(Box<http::HttpScrub>),
    Rdp(Box<rdp::RdpScrub>),
    Raw(Box<RawScrub>),
}

impl Inner {
    fn scrub(&mut self) -> &mut dyn Scrub {
        match self {
            Inner::Http(h) => h.as_mut(),
            Inner::Rdp(r) => r.as_mut(),
            Inner::Raw(r) => r.as_mut(),
        }
    }

    fn scrub_ref(&self) -> &dyn Scrub {
        match self {
            Inner::Http(h) => h.as_ref(),
            Inner::Rdp(r) => r.as_ref(),
            Inner::Raw(r) => r.as_ref(),
        }
    }
}

/// Redacts one decrypted flow, both directions; see the module documentation.
#[derive(Debug)]
pub struct StreamRedactor {
    proto: FlowProto,
    inner: Inner,
    lanes: [Lane; 2],
    finished: [bool; 2],
    /// Redaction gave up somewhere in this direction.
    lost: [bool; 2],
    scrubbed: u64,
    /// User and domain names go too (`--redact-users`).
    names: bool,
}

impl StreamRedactor {
    /// A redactor at the start of a flow carrying `proto`.
    pub fn new(proto: FlowProto) -> Self {
        let inner = match proto {
            FlowProto::Http => Inner::Http(Box::default()),
            FlowProto::Rdp => Inner::Rdp(Box::default()),
            FlowProto::Raw => Inner::Raw(Box::default()),
        };
        StreamRedactor {
            proto,
            inner,
            lanes: [Lane::default(), Lane::default()],
            finished: [false; 2],
            lost: [false; 2],
            scrubbed: 0,
            names: false,
        }
    }

    /// Hides user and domain names as well as secrets (`--redact-users`): NTLM names,
    /// `RDG-User-Id`, the Client Info, Save Session Info and redirection names, and the
    /// mstshash cookie.
    pub fn hiding_names(mut self, on: bool) -> Self {
        self.names = on;
        self
    }

    /// The protocol this redactor reads.
    pub fn proto(&self) -> FlowProto {
        self.proto
    }

    /// Feeds a chunk travelling in `dir`; bytes ready to be written go to `out`, in order.
    ///
    /// Bytes of a frame that may hold a secret are held until the frame is complete (at
    /// most [`MAX_HOLD`] per direction). A chunk with nothing to hold or change leaves
    /// as the same `Bytes` (or slices of it), uncopied. After [`finish`](Self::finish)
    /// bytes pass through unchanged.
    pub fn feed(&mut self, dir: Dir, chunk: Bytes, out: &mut Vec<Bytes>) {
        if chunk.is_empty() {
            return;
        }
        let i = dir.idx();
        // Once a direction has nothing left to read (a raw leg's TLS), its bytes leave
        // as they came, unread.
        if self.finished[i] || (self.lanes[i].held() == 0 && self.inner.scrub_ref().idle(dir)) {
            out.push(chunk);
            return;
        }
        let lane = &mut self.lanes[i];
        let at = lane.end();
        lane.push(chunk.clone());
        let mut ctx = Ctx {
            names: self.names,
            ..Ctx::default()
        };
        self.inner.scrub().feed(dir, at, &chunk, &mut ctx);
        self.settle(dir, ctx, out);
    }

    /// The stream in `dir` ended: scrubs what it can of an incomplete frame and releases
    /// everything held.
    pub fn finish(&mut self, dir: Dir, out: &mut Vec<Bytes>) {
        let i = dir.idx();
        if self.finished[i] {
            return;
        }
        self.finished[i] = true;
        let mut ctx = Ctx {
            names: self.names,
            ..Ctx::default()
        };
        self.inner.scrub().finish(dir, &mut ctx);
        self.scrubbed += ctx.scrubbed;
        let lane = &mut self.lanes[i];
        lane.apply(&mut ctx.edits);
        lane.release(lane.end(), out);
    }

    /// How many secret fields were scrubbed so far.
    pub fn scrubbed(&self) -> u64 {
        self.scrubbed
    }

    /// True once redaction gave up somewhere in `dir` (unparsable bytes, or a frame
    /// too large to hold), so some of its bytes passed through unredacted.
    pub fn lost_sync(&self, dir: Dir) -> bool {
        self.lost[dir.idx()]
    }

    /// Bytes held back now in `dir`.
    pub fn held(&self, dir: Dir) -> usize {
        self.lanes[dir.idx()].held()
    }

    /// Applies a scrubber's edits and releases what it no longer needs.
    fn settle(&mut self, dir: Dir, mut ctx: Ctx, out: &mut Vec<Bytes>) {
        self.scrubbed += ctx.scrubbed;
        let inner = self.inner.scrub_ref();
        self.lost[dir.idx()] |= inner.lost(dir);
        let pin = inner.pin(dir);
        let lane = &mut self.lanes[dir.idx()];
        lane.apply(&mut ctx.edits);
        let upto = pin.unwrap_or(lane.end()).min(lane.end());
        // The scrubbers bound what they hold (by content, so the output does not depend
        // on the chunking); this only backs that up.
        debug_assert!(lane.end() - upto <= MAX_HOLD as u64);
        let upto = upto.max(lane.end().saturating_sub(MAX_HOLD as u64));
        lane.release(upto, out);
    }
}
