//! The session's part in packet capture (`--pcap`): each chunk goes to the trace with
//! the events it set off as packet comments.

use super::{describe, Session, State};
use crate::decode::tls::TlsEvent;
use crate::decode::DecodeEvent;
use crate::record::capture::{Close, ConnCapture, Gate};
use crate::record::EventRecord;
use crate::session::What;
use crate::vocab::Legs;
use crate::vocab::{Dir, Layer};
use crate::vocab::{EndKind, StreamEnd};
use bytes::Bytes;
use std::sync::Arc;
use time::OffsetDateTime;

/// Comments kept while no packet comes to carry them.
const MAX_WAITING: usize = 256;

/// A session's capture handle and the relay's wait point.
pub(super) struct Attached {
    pub conn: Arc<ConnCapture>,
    pub gate: Option<Gate>,
}

impl Session {
    /// Attaches the connection's capture; call before relaying starts.
    pub fn attach_capture(&self, conn: Arc<ConnCapture>, gate: Option<Gate>) {
        let _ = self.capture.set(Attached { conn, gate });
    }

    /// The connection's capture handle, if `--pcap` is on.
    pub fn capture_handle(&self) -> Option<&Arc<ConnCapture>> {
        self.capture.get().map(|c| &c.conn)
    }

    /// Notes an event as a comment for the next captured packet.
    pub(super) fn comment(&self, st: &mut State, what: &What) {
        if self.capture.get().is_none() || st.comments.len() >= MAX_WAITING {
            return;
        }
        // One comment per TLS record would bury the others.
        if matches!(
            what,
            What::Decoded(DecodeEvent::Tls(TlsEvent::AppRecord { .. }))
        ) {
            return;
        }
        st.comments.push(format!("rdptap: {}", describe(what)));
    }

    pub(super) fn capture_raw(&self, st: &mut State, dir: Dir, chunk: &Bytes, legs: Legs) {
        if let Some(c) = self.capture.get() {
            let comments = std::mem::take(&mut st.comments);
            c.conn.raw(dir, legs, chunk, comments);
        }
    }

    pub(super) fn capture_plain(&self, st: &mut State, dir: Dir, chunk: &Bytes) {
        if let Some(c) = self.capture.get() {
            let comments = std::mem::take(&mut st.comments);
            c.conn.plain(dir, chunk, comments, st.gw.is_some());
        }
    }

    pub(super) fn capture_end(&self, st: &mut State, dir: Dir, end: &StreamEnd) {
        if let Some(c) = self.capture.get() {
            let comments = std::mem::take(&mut st.comments);
            let how = match &end.kind {
                EndKind::Rst | EndKind::Error { .. } => Close::Rst,
                EndKind::WriteFailed { reset: true, .. } => Close::Rst,
                _ => Close::Fin,
            };
            c.conn.end(dir, how, comments);
        }
    }

    /// The connection ended: its trace is written out, and what the drop policy left
    /// out is recorded.
    pub(super) fn capture_finish(&self) {
        let Some(c) = self.capture.get() else { return };
        let (packets, bytes) = c.conn.finish();
        if packets == 0 {
            return;
        }
        tracing::warn!(
            conn = self.info.id,
            "{packets} packets ({bytes} bytes) not captured: the capture queue was full (--capture-overflow drop)"
        );
        self.recorder.event(EventRecord {
            ts: OffsetDateTime::now_utc(),
            conn: self.info.id,
            dir: None,
            layer: Layer::Capture,
            body: serde_json::json!({
                "kind": "capture_dropped",
                "packets": packets,
                "bytes": bytes,
                "policy": "drop",
            }),
        });
    }
}
