//! One TCP connection to an RD Gateway, after TLS: its HTTP requests and responses,
//! then the tunnel body they open, split into MS-TSGU packets.
//!
//! Which body carries packets follows from the requests: the body of an `RDG_IN_DATA`
//! request (the IN channel), the `200` answering `RDG_OUT_DATA` (the OUT channel: a
//! random seed, then packets until the close), or both directions after a `101`
//! (WebSocket frames). The HTTP layer frames the two channels' bodies whatever their
//! headers declare (chunked is de-chunked; no Content-Length or any Content-Length runs
//! until the close), and chunk boundaries need not match packet boundaries. Every other
//! body (401 pages, RPC) is only counted.

use super::event::GwEvent;
use crate::decode::http::{HttpConn, HttpEvent, HttpSink, Transport};
use crate::decode::tsgu::framer::TsguFramer;
use crate::decode::tsgu::packet::Packet;
use crate::decode::ws::{WsDecoder, WsEvent};
use crate::decode::{DecodeEvent, Decoded};
use crate::vocab::Dir;
use std::collections::VecDeque;

/// The seed FreeRDP skips, and what Windows gateways send ([MS-TSGU] 3.3.5.1).
const SEED_LEN: usize = 10;
/// The longest seed looked for ("limited size": at most 100 bytes).
const SEED_MAX: usize = 100;
/// Requests awaiting their response, at most (a pipelining client sends a few).
const MAX_PENDING: usize = 64;

/// Receives the packets a channel finds.
pub trait PacketSink {
    /// A whole packet (`frame`, header included) travelling in `dir`. `conn_id` is the
    /// channel's `RDG-Connection-Id`, which names the gateway session.
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    );
}

/// What one direction's message body is.
#[derive(Debug)]
enum Body {
    /// An ordinary HTTP body (or none): counted by the HTTP layer only.
    Http,
    /// The OUT channel's random seed, collected until the first packet is found.
    Seed(Vec<u8>),
    /// MS-TSGU packets.
    Packets(TsguFramer),
    /// WebSocket frames carrying MS-TSGU packets.
    Ws(Box<WsDecoder>, TsguFramer),
    /// The tunnel body could not be framed; nothing more is decoded.
    Off,
}

#[derive(Debug)]
struct ChanState {
    transport: Option<Transport>,
    connection_id: Option<String>,
    pending: VecDeque<Transport>,
    body: [Body; 2],
}

/// The decoder of one gateway TCP connection.
#[derive(Debug)]
pub struct GwChannel {
    http: HttpConn,
    st: ChanState,
}

impl Default for GwChannel {
    fn default() -> Self {
        Self::new()
    }
}

impl GwChannel {
    /// A channel before its first request.
    pub fn new() -> Self {
        GwChannel {
            http: HttpConn::new(),
            st: ChanState {
                transport: None,
                connection_id: None,
                pending: VecDeque::new(),
                body: [Body::Http, Body::Http],
            },
        }
    }

    /// The transport this connection carries, from its first gateway request.
    pub fn transport(&self) -> Option<Transport> {
        self.st.transport
    }

    /// The `RDG-Connection-Id` of its requests.
    pub fn connection_id(&self) -> Option<&str> {
        self.st.connection_id.as_deref()
    }

    /// Decrypted bytes travelling in `dir`.
    pub fn feed(
        &mut self,
        dir: Dir,
        chunk: &[u8],
        out: &mut Vec<Decoded>,
        packets: &mut impl PacketSink,
    ) {
        let mut sink = Sink {
            st: &mut self.st,
            out,
            packets,
        };
        self.http.feed(dir, chunk, &mut sink);
    }

    /// `dir`'s stream ended: says what it ended in the middle of. A packet cut short is
    /// reported before the HTTP chunk around it, if any: the packet is what the peer
    /// could not read.
    pub fn finish(&mut self, dir: Dir, out: &mut Vec<Decoded>, packets: &mut impl PacketSink) {
        let cut = match &self.st.body[dir.idx()] {
            Body::Seed(seed) if seed.len() < SEED_LEN => Some(GwEvent::TsguCut {
                inside: "the random seed that precedes the gateway's first packet".into(),
                got: seed.len(),
                expected: Some(SEED_LEN),
            }),
            Body::Packets(f) | Body::Ws(_, f) if f.pending() > 0 => Some(GwEvent::TsguCut {
                inside: "an MS-TSGU packet".into(),
                got: f.pending(),
                expected: f.expected(),
            }),
            _ => None,
        };
        if let Some(event) = cut {
            out.push(Decoded {
                dir,
                event: DecodeEvent::Gw(event),
            });
        }
        let mut sink = Sink {
            st: &mut self.st,
            out,
            packets,
        };
        self.http.finish(dir, &mut sink);
    }
}

struct Sink<'a, P> {
    st: &'a mut ChanState,
    out: &'a mut Vec<Decoded>,
    packets: &'a mut P,
}

impl<P: PacketSink> HttpSink for Sink<'_, P> {
    fn event(&mut self, ev: HttpEvent) {
        let dir = ev.dir();
        match &ev {
            HttpEvent::Request {
                transport,
                connection_id,
                ..
            } => {
                if self.st.pending.len() < MAX_PENDING {
                    self.st.pending.push_back(*transport);
                }
                if self.st.transport.is_none() && *transport != Transport::Other {
                    self.st.transport = Some(*transport);
                }
                if self.st.connection_id.is_none() {
                    self.st.connection_id.clone_from(connection_id);
                }
                // Whatever its framing: the HTTP layer hands on body bytes only when the
                // request has a body, and an authentication round has none.
                self.st.body[0] = if *transport == Transport::HttpIn {
                    Body::Packets(TsguFramer::new())
                } else {
                    Body::Http
                };
            }
            HttpEvent::Response { status, .. } => {
                let status = *status;
                let answered = if status >= 200 || status == 101 {
                    self.st.pending.pop_front()
                } else {
                    self.st.pending.front().copied()
                };
                if status == 101 {
                    self.st.body = [
                        Body::Ws(Box::new(WsDecoder::new(Dir::C2S)), TsguFramer::new()),
                        Body::Ws(Box::new(WsDecoder::new(Dir::S2C)), TsguFramer::new()),
                    ];
                } else if status == 200 && answered == Some(Transport::HttpOut) {
                    self.st.body[1] = Body::Seed(Vec::new());
                } else {
                    self.st.body[1] = Body::Http;
                }
            }
            _ => {}
        }
        self.out.push(Decoded {
            dir,
            event: DecodeEvent::Http(Box::new(ev)),
        });
    }

    fn body(&mut self, dir: Dir, bytes: &[u8]) {
        let conn_id = self.st.connection_id.as_deref();
        let out = &mut *self.out;
        let packets = &mut *self.packets;
        let body = &mut self.st.body[dir.idx()];
        match body {
            Body::Http | Body::Off => {}
            Body::Seed(seed) => {
                let take = bytes.len().min(SEED_MAX + 8 - seed.len().min(SEED_MAX + 8));
                seed.extend_from_slice(&bytes[..take]);
                let Some(at) = seed_end(seed) else {
                    if seed.len() >= SEED_MAX + 8 {
                        // No packet start found: assume the usual seed and let the
                        // framer say what is wrong.
                        let rest = seed.split_off(SEED_LEN);
                        start_packets(body, dir, SEED_LEN, &rest, conn_id, out, packets);
                        feed_packets(body, dir, &bytes[take..], conn_id, out, packets);
                    }
                    return;
                };
                let rest = seed.split_off(at);
                start_packets(body, dir, at, &rest, conn_id, out, packets);
                feed_packets(body, dir, &bytes[take..], conn_id, out, packets);
            }
            Body::Packets(_) => feed_packets(body, dir, bytes, conn_id, out, packets),
            Body::Ws(ws, framer) => {
                let mut wevs: Vec<WsEvent> = Vec::new();
                let mut failed = None;
                ws.feed(bytes, &mut wevs, &mut |payload: &[u8]| {
                    if failed.is_none() {
                        failed = frame(framer, dir, payload, conn_id, out, packets);
                    }
                });
                for e in wevs {
                    out.push(Decoded {
                        dir,
                        event: DecodeEvent::Ws(e),
                    });
                }
                if failed.is_some() {
                    *body = Body::Off;
                }
            }
        }
    }
}

/// Where the packets start in the collected seed, once that is clear.
fn seed_end(seed: &[u8]) -> Option<usize> {
    // The gateway's first packet answers the client's handshake: HANDSHAKE_RESPONSE,
    // 18 bytes (or a little more with future fields).
    let plausible = |o: usize| {
        seed.get(o..o + 8).is_some_and(|h| {
            let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            h[..4] == [2, 0, 0, 0] && (8..=64).contains(&len)
        })
    };
    if plausible(SEED_LEN) {
        return Some(SEED_LEN);
    }
    if seed.len() < SEED_LEN + 8 {
        return None;
    }
    (0..=SEED_MAX.min(seed.len().saturating_sub(8))).find(|&o| plausible(o))
}

fn start_packets(
    body: &mut Body,
    dir: Dir,
    seed_len: usize,
    rest: &[u8],
    conn_id: Option<&str>,
    out: &mut Vec<Decoded>,
    packets: &mut impl PacketSink,
) {
    out.push(Decoded {
        dir,
        event: DecodeEvent::Gw(GwEvent::TsguSeed { bytes: seed_len }),
    });
    *body = Body::Packets(TsguFramer::new());
    feed_packets(body, dir, rest, conn_id, out, packets);
}

fn feed_packets(
    body: &mut Body,
    dir: Dir,
    bytes: &[u8],
    conn_id: Option<&str>,
    out: &mut Vec<Decoded>,
    packets: &mut impl PacketSink,
) {
    if bytes.is_empty() {
        return;
    }
    if let Body::Packets(framer) = body {
        if frame(framer, dir, bytes, conn_id, out, packets).is_some() {
            *body = Body::Off;
        }
    }
}

/// Frames `bytes` into packets; Some when the stream cannot be framed any more.
fn frame(
    framer: &mut TsguFramer,
    dir: Dir,
    bytes: &[u8],
    conn_id: Option<&str>,
    out: &mut Vec<Decoded>,
    packets: &mut impl PacketSink,
) -> Option<()> {
    if framer.error().is_some() {
        return Some(());
    }
    framer.push(bytes, &mut |f: &[u8]| match Packet::decode(f) {
        Ok(p) => packets.packet(conn_id, dir, p, f, out),
        Err(e) => out.push(Decoded {
            dir,
            event: DecodeEvent::Gw(GwEvent::TsguFramingError {
                reason: format!("a malformed packet: {e}"),
            }),
        }),
    });
    let reason = framer.error()?.to_string();
    out.push(Decoded {
        dir,
        event: DecodeEvent::Gw(GwEvent::TsguFramingError { reason }),
    });
    Some(())
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
