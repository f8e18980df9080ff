//! The tracker of one TCP connection to an RD Gateway: the outer TLS seen raw, the
//! decrypted HTTP and tunnel read by a [`GwChannel`], and the gateway session the
//! connection belongs to.
//!
//! The HTTP transport splits one tunnel over two TCP connections, so the tunnel's
//! decoder is shared between trackers. The tracker does not share it itself: whoever
//! drives the trackers hands each one a [`Tunnels`] that reaches the shared state (behind
//! a lock in the live proxy, directly in `analyze`).

use super::core::Core;
use super::{ConnInfo, Fact, Finished, SessionVerdict, Tracker};
use crate::decode::gateway::{GwChannel, GwEvent, PacketSink};
use crate::decode::http::{HttpEvent, Transport};
use crate::decode::note::Note;
use crate::decode::tls::{RecordStats, TlsDecoder, TlsEvent};
use crate::decode::tsgu::order::GwStage;
use crate::decode::tsgu::packet::Packet;
use crate::decode::x224::X224Event;
use crate::decode::{DecodeEvent, Decoded};
use crate::session::diagnose::gateway::{self as gwdiag, GwInputs};
use crate::session::diagnose::Inputs;
use crate::session::event::{Event, Scope, Source};
use crate::session::gateway::{merge, Deposit};
use crate::session::Phase;
use crate::vocab::Dir;
use std::time::Duration;

/// The gateway sessions a connection may belong to, as its driver shares them.
pub trait Tunnels: Send {
    /// A whole MS-TSGU packet of this connection (`frame`, header included). The first
    /// one links the connection to the session named by `conn_id` (its
    /// `RDG-Connection-Id`); the session's tunnel decoder adds its events to `out`.
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    );
    /// Links the connection to the session named by `conn_id` now, if not yet linked.
    fn link(&mut self, conn_id: Option<&str>);
    /// True once the connection is linked to a session.
    fn linked(&self) -> bool;
    /// The TLS record counters of the RDP connection inside the linked tunnel.
    fn inner_stats(&self) -> [RecordStats; 2];
    /// Where the RDP connection inside the linked tunnel is in the middle of a TLS
    /// record, per direction: bytes read of it and its length.
    fn inner_cut(&self) -> [Option<(u64, u64)>; 2] {
        [None, None]
    }
    /// The linked session's key.
    fn key(&self) -> Option<String>;
    /// A note about linking, once: an id that belongs to another client's session.
    fn take_note(&mut self) -> Option<Note> {
        None
    }
    /// The connection ended. When it was the last member of its session to end, the
    /// session is forgotten and every member's record comes back, for the session verdict.
    fn depart(&mut self, deposit: Deposit) -> Option<(String, Vec<Deposit>)>;
}

/// Tracks one connection to an RD Gateway.
pub struct GatewayTracker {
    core: Core,
    /// The outer TLS as relayed (the ClientHello; everything with --gateway-passthrough).
    outer: TlsDecoder,
    chan: GwChannel,
    tunnels: Box<dyn Tunnels>,
    passthrough: bool,
}

impl GatewayTracker {
    /// A tracker for a gateway connection that has just begun. `passthrough`: the outer
    /// TLS is relayed untouched (`--gateway-passthrough`).
    pub fn new(info: ConnInfo, tunnels: Box<dyn Tunnels>, passthrough: bool) -> Self {
        GatewayTracker {
            core: Core::new(info),
            outer: TlsDecoder::new(),
            chan: GwChannel::new(),
            tunnels,
            passthrough,
        }
    }

    /// Timeline entries kept, for the tests of the bounds.
    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.core.timeline.len()
    }

    fn channel(&mut self, at: Duration, dir: Dir, chunk: &[u8], end: bool) {
        let (chan, tunnels) = (&mut self.chan, &mut self.tunnels);
        let mut out = self.core.guarded(dir, |out| {
            let mut sink = Sink(tunnels.as_mut());
            if end {
                chan.finish(dir, out, &mut sink);
            } else {
                chan.feed(dir, chunk, out, &mut sink);
            }
            if !tunnels.linked() && chan.connection_id().is_some() {
                tunnels.link(chan.connection_id());
            }
        });
        self.core.decoded(at, &mut out, phase_of);
        self.core.recycle(out);
        if let Some(note) = self.tunnels.take_note() {
            self.core.note(at, note);
        }
    }
}

/// Hands the channel's packets to the shared tunnels.
struct Sink<'a>(&'a mut dyn Tunnels);

impl PacketSink for Sink<'_> {
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        self.0.packet(conn_id, dir, packet, frame, out);
    }
}

/// The phase a gateway-mode event moves the connection to.
fn phase_of(ev: &DecodeEvent) -> Option<Phase> {
    match ev {
        DecodeEvent::Tls(TlsEvent::ClientHello { .. }) => Some(Phase::GwTls),
        DecodeEvent::Http(h) if matches!(**h, HttpEvent::Request { .. }) => Some(Phase::GwHttpAuth),
        DecodeEvent::Gw(GwEvent::TsguPacket {
            packet: Packet::HandshakeRequest { .. },
            ..
        }) => Some(Phase::GwHandshake),
        DecodeEvent::Gw(GwEvent::TsguStage { stage }) => Some(match stage {
            GwStage::Handshake => Phase::GwHandshake,
            GwStage::ExtAuth => Phase::GwExtAuth,
            GwStage::TunnelCreate => Phase::GwTunnelCreate,
            GwStage::TunnelAuth => Phase::GwTunnelAuth,
            GwStage::ChannelCreate => Phase::GwChannelCreate,
            GwStage::Data => Phase::GwData,
            // A refused step ends the tunnel where it was.
            GwStage::Closed => return None,
        }),
        DecodeEvent::Inner(i) => match &*i.0 {
            DecodeEvent::X224(X224Event::ConnectionRequest { .. }) => Some(Phase::X224),
            DecodeEvent::Tls(TlsEvent::ClientHello { .. }) => Some(Phase::TlsHandshake),
            DecodeEvent::Tls(TlsEvent::HandshakeDone) => Some(Phase::TlsSession),
            other => crate::session::phases::phase_of(other),
        },
        _ => None,
    }
}

impl Tracker for GatewayTracker {
    fn fact(&mut self, at: Duration, fact: Fact) {
        if let Fact::Ended(dir, _) = &fact {
            if self.core.intercepted && !self.core.broken && !self.core.stopped[dir.idx()] {
                // Say what the stream ended in the middle of, before its end is recorded.
                self.channel(at, *dir, &[], true);
            }
        }
        if let Some(Fact::Note(note)) = self.core.common_fact(at, fact) {
            if matches!(note, Note::ClientTls { .. }) {
                // Both handshakes are done: from here the decoders read plaintext.
                self.core.intercepted = true;
            }
            if matches!(note, Note::CaptureStartMissed { .. }) {
                // Picked up after the handshake: the gateway's records are counted only.
                self.outer.resume();
                self.core.enter(at, Phase::GwTls);
            }
            self.core.note(at, note);
        }
    }

    fn bytes(&mut self, at: Duration, dir: Dir, chunk: &[u8]) {
        if self.core.broken || self.core.stopped[dir.idx()] {
            return;
        }
        let outer = &mut self.outer;
        let mut out = self.core.guarded(dir, |out| {
            let mut tls = Vec::new();
            let r = outer.feed(dir, chunk, &mut tls);
            out.extend(tls.into_iter().map(|t| Decoded {
                dir,
                event: DecodeEvent::Tls(t),
            }));
            if let Err(e) = r {
                out.push(Decoded {
                    dir,
                    event: DecodeEvent::Error(e),
                });
            }
        });
        self.core.decoded(at, &mut out, phase_of);
        self.core.recycle(out);
        if self.outer.offset(Dir::C2S) > 0 {
            self.core.enter(at, Phase::GwTls);
        }
    }

    fn plain(&mut self, at: Duration, dir: Dir, chunk: &[u8]) {
        if self.core.count_plain(at, dir, chunk.len()) {
            self.channel(at, dir, chunk, false);
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.core.poll()
    }

    fn finish(&mut self, at: Duration) -> Finished {
        let mut gin = GwInputs {
            passthrough: self.passthrough,
            session: false,
            ..Default::default()
        };
        if self.tunnels.linked() {
            gin.inner_stats = self.tunnels.inner_stats();
            gin.inner_cut = self.tunnels.inner_cut();
        }
        let verdict = gwdiag::diagnose(
            &Inputs {
                timeline: &self.core.timeline,
                tls_stats: [self.outer.stats(Dir::C2S), self.outer.stats(Dir::S2C)],
                target: &self.core.info.target_desc,
                linger: self.core.info.linger,
                duration: at,
                plain: self.core.plain,
                capture: self.core.info.source == Source::Capture,
            },
            &gin,
        );
        let key = self.tunnels.key();
        let seq = self.core.timeline.next_seq();
        let mut session = None;
        if key.is_some() {
            let deposit = Deposit {
                conn: self.core.info.id,
                started: self.core.info.start_offset,
                timeline: std::mem::take(&mut self.core.timeline),
                carries: match self.chan.transport() {
                    Some(Transport::HttpIn) => Some(Dir::C2S),
                    Some(Transport::HttpOut) => Some(Dir::S2C),
                    _ => None,
                },
            };
            if let Some((key, members)) = self.tunnels.depart(deposit) {
                let (timeline, base) = merge(&members);
                gin.session = true;
                let end = self.core.info.start_offset + at;
                let sv = gwdiag::diagnose(
                    &Inputs {
                        timeline: &timeline,
                        tls_stats: Default::default(),
                        target: &self.core.info.target_desc,
                        linger: self.core.info.linger,
                        duration: end.saturating_sub(base),
                        plain: Default::default(),
                        capture: self.core.info.source == Source::Capture,
                    },
                    &gin,
                );
                session = Some((timeline.next_seq(), SessionVerdict { key, verdict: sv }));
            }
        }
        let session_open = key.is_some() && session.is_none();
        let mut records = Core::records_counted(
            [self.outer.stats(Dir::C2S), self.outer.stats(Dir::S2C)],
            false,
        );
        if session.is_some() {
            // The tunnel's records are the session's: said once, by its last connection.
            records.extend(Core::records_counted(gin.inner_stats, true));
        }
        self.core.counted_event(at, records);
        self.core
            .verdict_event(at, &verdict, seq, Some(Scope::Connection), key);
        if let Some((seq, sv)) = &session {
            self.core.verdict_event(
                at,
                &sv.verdict,
                *seq,
                Some(Scope::GatewaySession),
                Some(sv.key.clone()),
            );
        }
        let session = session.map(|(_, s)| s);
        Finished {
            verdict,
            session,
            session_open,
        }
    }
}
