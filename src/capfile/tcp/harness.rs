//! Test-only driver for the reassembler: builds segments between two fixed endpoints and
//! records the events in owned form.

use super::{ConnId, EndReason, FlowEvent, FlowEventKind, GapCause, Reassembler, ReassemblyConfig};
use crate::capfile::packet::{TcpFlags, TcpSegment};
use crate::vocab::Dir;
use std::net::SocketAddr;
use std::time::Duration;

/// An event with its borrowed bytes copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    Opened {
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
        start_seen: bool,
        guessed: bool,
    },
    Data {
        id: u64,
        dir: Dir,
        off: u64,
        bytes: Vec<u8>,
    },
    Gap {
        id: u64,
        dir: Dir,
        off: u64,
        len: u64,
        cause: GapCause,
    },
    Conflict {
        id: u64,
        dir: Dir,
        off: u64,
        len: u64,
    },
    Fin {
        id: u64,
        dir: Dir,
        bytes: u64,
    },
    Reset {
        id: u64,
        dir: Dir,
        bytes: u64,
    },
    Ended {
        id: u64,
        why: EndReason,
        bytes: [u64; 2],
    },
}

impl Ev {
    /// The owned form of an event; `Established` is left out, so that the tests of
    /// stream reassembly compare only what the streams carry.
    pub(crate) fn of(e: FlowEvent<'_>) -> Option<Ev> {
        let ConnId(id) = e.conn;
        Some(match e.kind {
            FlowEventKind::Established { .. } => return None,
            FlowEventKind::Opened {
                client,
                server,
                start_seen,
                roles_guessed,
                ..
            } => Ev::Opened {
                id,
                client,
                server,
                start_seen,
                guessed: roles_guessed,
            },
            FlowEventKind::Data { dir, offset, bytes } => Ev::Data {
                id,
                dir,
                off: offset,
                bytes: bytes.to_vec(),
            },
            FlowEventKind::Gap {
                dir,
                offset,
                len,
                cause,
            } => Ev::Gap {
                id,
                dir,
                off: offset,
                len,
                cause,
            },
            FlowEventKind::Conflict { dir, offset, len } => Ev::Conflict {
                id,
                dir,
                off: offset,
                len,
            },
            FlowEventKind::Fin { dir, bytes } => Ev::Fin { id, dir, bytes },
            FlowEventKind::Reset { dir, bytes } => Ev::Reset { id, dir, bytes },
            FlowEventKind::Ended { why, bytes } => Ev::Ended { id, why, bytes },
        })
    }
}

/// Shorthand for a data event.
pub(crate) fn data(id: u64, dir: Dir, off: u64, bytes: &[u8]) -> Ev {
    Ev::Data {
        id,
        dir,
        off,
        bytes: bytes.to_vec(),
    }
}

/// A reassembler fed segments between `client` and `server`, one millisecond apart.
pub(crate) struct Harness {
    pub(crate) r: Reassembler,
    pub(crate) events: Vec<Ev>,
    pub(crate) client: SocketAddr,
    pub(crate) server: SocketAddr,
    frame: u64,
}

impl Harness {
    /// Default bounds, client 10.0.0.1:50000, server 10.0.0.2:3389.
    pub(crate) fn new() -> Harness {
        Harness::with(ReassemblyConfig::default())
    }

    /// The given bounds.
    pub(crate) fn with(cfg: ReassemblyConfig) -> Harness {
        Harness {
            r: Reassembler::new(cfg),
            events: Vec::new(),
            client: "10.0.0.1:50000".parse().expect("address"),
            server: "10.0.0.2:3389".parse().expect("address"),
            frame: 0,
        }
    }

    /// Feeds one segment whose payload the capture cut after `payload` (of `wire_len`).
    pub(crate) fn send(
        &mut self,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
        wire_len: u32,
    ) {
        let (src, dst) = match dir {
            Dir::C2S => (self.client, self.server),
            Dir::S2C => (self.server, self.client),
        };
        self.frame += 1;
        let seg = TcpSegment {
            frame: self.frame,
            block_offset: 0,
            ts: Duration::from_millis(self.frame),
            src,
            dst,
            seq,
            ack,
            flags: TcpFlags::from_bits(flags),
            window: 1000,
            payload,
            wire_len,
            trace_conn: None,
        };
        let events = &mut self.events;
        self.r.segment(&seg, |e| events.extend(Ev::of(e)));
    }

    /// A client segment.
    pub(crate) fn c2s(&mut self, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.send(Dir::C2S, seq, ack, flags, payload, payload.len() as u32);
    }

    /// A server segment.
    pub(crate) fn s2c(&mut self, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.send(Dir::S2C, seq, ack, flags, payload, payload.len() as u32);
    }

    /// Ends the capture.
    pub(crate) fn finish(&mut self) {
        let events = &mut self.events;
        self.r.finish(|e| events.extend(Ev::of(e)));
    }

    /// The events so far, leaving none.
    pub(crate) fn take(&mut self) -> Vec<Ev> {
        std::mem::take(&mut self.events)
    }

    /// A seen handshake: client ISN `c`, server ISN `s`.
    pub(crate) fn handshake(&mut self, c: u32, s: u32) {
        use crate::capfile::testkit::{ACK, SYN};
        self.c2s(c, 0, SYN, b"");
        self.s2c(s, c.wrapping_add(1), SYN | ACK, b"");
        self.c2s(c.wrapping_add(1), s.wrapping_add(1), ACK, b"");
    }
}

/// One direction's stream rebuilt from data events, with gaps as `None` bytes; panics if the
/// events do not tile the stream in order.
pub(crate) fn rebuild(events: &[Ev], id: u64, dir: Dir) -> Vec<Option<u8>> {
    let mut out: Vec<Option<u8>> = Vec::new();
    for e in events {
        match e {
            Ev::Data {
                id: i,
                dir: d,
                off,
                bytes,
            } if *i == id && *d == dir => {
                assert_eq!(*off, out.len() as u64, "data out of order: {e:?}");
                out.extend(bytes.iter().map(|b| Some(*b)));
            }
            Ev::Gap {
                id: i,
                dir: d,
                off,
                len,
                ..
            } if *i == id && *d == dir => {
                assert_eq!(*off, out.len() as u64, "gap out of order: {e:?}");
                out.extend(std::iter::repeat_n(None, *len as usize));
            }
            _ => {}
        }
    }
    out
}
