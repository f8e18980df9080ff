//! The tracker of a direct RDP connection: X.224, TLS, and (when rdptap terminates TLS,
//! or under standard RDP security) MCS and the RDP phases.

use super::core::Core;
use super::{ConnInfo, Fact, Finished, Tracker};
use crate::decode::mcs::McsEvent;
use crate::decode::note::Note;
use crate::decode::rdp::RdpDecoder;
use crate::decode::tls::TlsEvent;
use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;
use crate::session::diagnose::{self, Inputs};
use crate::session::event::{Event, Source};
use crate::session::Phase;
use crate::vocab::Dir;
use std::time::Duration;

/// Tracks one direct RDP connection.
pub struct DirectTracker {
    core: Core,
    decoder: RdpDecoder,
}

impl DirectTracker {
    /// A tracker for a connection that has just begun.
    pub fn new(info: ConnInfo) -> Self {
        DirectTracker {
            core: Core::new(info),
            decoder: RdpDecoder::new(),
        }
    }

    /// Timeline entries kept, for the tests of the bounds.
    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.core.timeline.len()
    }
}

/// The phase a direct-RDP event starts, if it starts one.
fn phase_of(ev: &DecodeEvent) -> Option<Phase> {
    match ev {
        DecodeEvent::X224(X224Event::ConnectionRequest { .. })
        | DecodeEvent::X224(X224Event::PreconnectionPdu { .. }) => Some(Phase::X224),
        DecodeEvent::Tls(TlsEvent::ClientHello { .. }) => Some(Phase::TlsHandshake),
        DecodeEvent::Tls(TlsEvent::HandshakeDone) => Some(Phase::TlsSession),
        DecodeEvent::Mcs(McsEvent::ConnectInitial { .. }) => Some(Phase::Mcs),
        other => crate::session::phases::phase_of(other),
    }
}

impl Tracker for DirectTracker {
    fn fact(&mut self, at: Duration, fact: Fact) {
        if let Some(Fact::Note(note)) = self.core.common_fact(at, fact) {
            if matches!(note, Note::Decrypted { .. }) {
                self.decoder.tls_intercepted();
            }
            if matches!(note, Note::CaptureStartMissed { .. }) {
                // The driver picks a captured stream up at a TLS record boundary: the
                // handshake happened before the capture began.
                self.decoder.resume_tls();
                self.core.enter(at, Phase::TlsSession);
            }
            if matches!(note, Note::ClientTls { .. }) {
                // Both handshakes are done: from here the decoders read plaintext.
                self.core.intercepted = true;
                self.decoder.tls_intercepted();
                self.core.enter(at, Phase::TlsSession);
            }
            self.core.note(at, note);
        }
    }

    fn bytes(&mut self, at: Duration, dir: Dir, chunk: &[u8]) {
        if self.core.broken || self.core.stopped[dir.idx()] || self.decoder.finished() {
            return;
        }
        let decoder = &mut self.decoder;
        let mut out = self.core.guarded(dir, |out| decoder.feed(dir, chunk, out));
        self.core.decoded(at, &mut out, phase_of);
        self.core.recycle(out);
        // The handshake has begun with its first byte, even if no whole message came yet
        // (a client that leaves mid-ClientHello left during the handshake).
        if self.core.phase < Phase::TlsHandshake && self.decoder.tls().offset(Dir::C2S) > 0 {
            self.core.enter(at, Phase::TlsHandshake);
        }
    }

    fn plain(&mut self, at: Duration, dir: Dir, chunk: &[u8]) {
        if !self.core.count_plain(at, dir, chunk.len()) {
            return;
        }
        let decoder = &mut self.decoder;
        let mut out = self
            .core
            .guarded(dir, |out| decoder.feed_plain(dir, chunk, out));
        self.core.decoded(at, &mut out, phase_of);
        self.core.recycle(out);
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.core.poll()
    }

    fn finish(&mut self, at: Duration) -> Finished {
        let tls = self.decoder.tls();
        let verdict = diagnose::diagnose(&Inputs {
            timeline: &self.core.timeline,
            tls_stats: [tls.stats(Dir::C2S), tls.stats(Dir::S2C)],
            target: &self.core.info.target_desc,
            linger: self.core.info.linger,
            duration: at,
            plain: self.core.plain,
            capture: self.core.info.source == Source::Capture,
        });
        let records = Core::records_counted([tls.stats(Dir::C2S), tls.stats(Dir::S2C)], false);
        self.core.counted_event(at, records);
        let seq = self.core.timeline.next_seq();
        self.core.verdict_event(at, &verdict, seq, None, None);
        Finished {
            verdict,
            session: None,
        }
    }
}
