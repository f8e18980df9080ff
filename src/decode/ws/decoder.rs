//! Follows one direction of a WebSocket connection: streams binary payloads out,
//! reports control frames and protocol violations as events.
//!
//! Payloads are never buffered whole: binary bytes are unmasked through a small
//! scratch buffer and handed on as they arrive; only control-frame payloads (at most
//! 125 bytes) are held, to read a close frame's code and reason.

use super::close::CloseCode;
use super::framer::{
    header_len, parse_header, FrameHeader, Opcode, Unmasker, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use crate::decode::names::wire_text;
use crate::vocab::Dir;
use serde::{Deserialize, Serialize};

/// Events of each kind (ping, pong, text, violation) reported before we only count them.
pub const MAX_EVENTS_PER_KIND: u64 = 16;
/// Size of the unmasking scratch buffer.
const SCRATCH_LEN: usize = 4096;
/// Longest close reason we render (a control payload holds at most 123 reason bytes).
const REASON_MAX_CHARS: usize = 123;

/// What the WebSocket decoder saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WsEvent {
    /// A close frame.
    WsClose {
        /// The status code, if the frame carried one.
        code: Option<u16>,
        /// What the code means.
        code_name: Option<CloseCode>,
        /// The UTF-8 reason (lossily decoded, control characters escaped).
        reason: String,
    },
    /// A ping frame.
    WsPing {
        /// Payload length.
        len: u64,
    },
    /// A pong frame.
    WsPong {
        /// Payload length.
        len: u64,
    },
    /// A text frame (MS-TSGU uses binary frames only; text is not passed on).
    WsText {
        /// Payload length.
        len: u64,
    },
    /// A frame that breaks RFC 6455.
    WsViolation {
        /// What was wrong, in plain English.
        reason: String,
    },
}

/// Counters for one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsStats {
    /// Frame headers decoded.
    pub frames: u64,
    /// Binary (and binary continuation) payload bytes handed on.
    pub binary_bytes: u64,
    /// Frames that were part of a fragmented message (first non-final frames and continuations).
    pub fragments: u64,
    /// Ping frames.
    pub pings: u64,
    /// Pong frames.
    pub pongs: u64,
    /// Text frames.
    pub text_frames: u64,
    /// Violations found.
    pub violations: u64,
    /// Events not emitted because their kind hit [`MAX_EVENTS_PER_KIND`].
    pub suppressed_events: u64,
}

/// What to do with the payload of the current frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Hand it on (binary data).
    Binary,
    /// Count it only (text, reserved opcodes).
    Discard,
    /// Hold up to 125 bytes (control frames).
    Control(Opcode),
}

/// The frame whose payload is arriving.
#[derive(Debug, Clone, Copy)]
struct Payload {
    remaining: u64,
    len: u64,
    unmask: Option<Unmasker>,
    sink: Sink,
}

/// A message type a fragmented message was started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Binary,
    Text,
}

/// Decodes one direction of a WebSocket stream.
#[derive(Debug)]
pub struct WsDecoder {
    dir: Dir,
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    payload: Option<Payload>,
    control: Vec<u8>,
    message: Option<Message>,
    close_seen: bool,
    error: Option<String>,
    stats: WsStats,
}

impl WsDecoder {
    /// A decoder for frames sent in `dir` (client frames must be masked, server frames not).
    pub fn new(dir: Dir) -> Self {
        WsDecoder {
            dir,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            payload: None,
            control: Vec::new(),
            message: None,
            close_seen: false,
            error: None,
            stats: WsStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> WsStats {
        self.stats
    }

    /// Why decoding stopped for good (an impossible frame length), if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// True once a close frame was seen.
    pub fn closed(&self) -> bool {
        self.close_seen
    }

    /// Feeds the next chunk: events go to `events`, binary payload bytes (unmasked,
    /// in order, in pieces) to `payload`.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        events: &mut Vec<WsEvent>,
        payload: &mut impl FnMut(&[u8]),
    ) {
        while !chunk.is_empty() && self.error.is_none() {
            let used = if self.payload.is_some() {
                self.body(chunk, events, payload)
            } else {
                self.header(chunk, events)
            };
            chunk = chunk.get(used..).unwrap_or(&[]);
        }
    }

    /// Collects header bytes; returns how many of `chunk` it used.
    fn header(&mut self, chunk: &[u8], events: &mut Vec<WsEvent>) -> usize {
        let mut used = 0;
        loop {
            let have = self.hdr.get(..self.hdr_len).unwrap_or(&[]);
            let need = header_len(have);
            if self.hdr_len >= need {
                break;
            }
            let take = (need - self.hdr_len).min(chunk.len() - used);
            if take == 0 {
                return used;
            }
            let (Some(dst), Some(src)) = (
                self.hdr.get_mut(self.hdr_len..self.hdr_len + take),
                chunk.get(used..used + take),
            ) else {
                return chunk.len();
            };
            dst.copy_from_slice(src);
            self.hdr_len += take;
            used += take;
        }
        let parsed = parse_header(self.hdr.get(..self.hdr_len).unwrap_or(&[]));
        self.hdr_len = 0;
        match parsed {
            Some(Ok(h)) => self.start_frame(h, events),
            Some(Err(reason)) => {
                self.violation(format!("{reason}; decoding stops"), events);
                self.error = Some(reason);
            }
            None => self.error = Some("frame header could not be parsed".to_string()),
        }
        used
    }

    fn start_frame(&mut self, h: FrameHeader, events: &mut Vec<WsEvent>) {
        self.stats.frames += 1;
        if self.close_seen {
            self.violation(format!("{} frame after the close frame", h.opcode), events);
        }
        match (self.dir, h.mask.is_some()) {
            (Dir::C2S, false) => self.violation("client frame is not masked".into(), events),
            (Dir::S2C, true) => self.violation("server frame is masked".into(), events),
            _ => {}
        }
        if h.rsv != 0 {
            self.violation(
                format!(
                    "reserved bits 0x{:x} set with no extension negotiated",
                    h.rsv
                ),
                events,
            );
        }
        let sink = if h.opcode.is_control() {
            if !h.fin {
                self.violation(format!("{} frame is fragmented", h.opcode), events);
            }
            if h.len > MAX_CONTROL_PAYLOAD {
                self.violation(
                    format!(
                        "{} frame of {} bytes (control frames carry at most 125)",
                        h.opcode, h.len
                    ),
                    events,
                );
            }
            match h.opcode {
                Opcode::Reserved(_) => {
                    self.violation(format!("frame uses {}", h.opcode), events);
                    Sink::Discard
                }
                o => Sink::Control(o),
            }
        } else {
            self.data_frame(&h, events)
        };
        self.control.clear();
        self.payload = Some(Payload {
            remaining: h.len,
            len: h.len,
            unmask: h.mask.map(Unmasker::new),
            sink,
        });
        if h.len == 0 {
            self.end_frame(events);
        }
    }

    /// Tracks fragmentation for a non-control frame and says where its payload goes.
    fn data_frame(&mut self, h: &FrameHeader, events: &mut Vec<WsEvent>) -> Sink {
        let kind = match h.opcode {
            Opcode::Binary | Opcode::Text => {
                if self.message.is_some() {
                    self.violation(
                        format!(
                            "new {} message while a fragmented message is unfinished",
                            h.opcode
                        ),
                        events,
                    );
                }
                let kind = if h.opcode == Opcode::Text {
                    Message::Text
                } else {
                    Message::Binary
                };
                self.message = (!h.fin).then_some(kind);
                if !h.fin {
                    self.stats.fragments += 1;
                }
                kind
            }
            Opcode::Continuation => {
                self.stats.fragments += 1;
                // Pass the bytes on anyway: dropping them would desynchronise MS-TSGU.
                let kind = self.message.unwrap_or(Message::Binary);
                if self.message.is_none() {
                    self.violation(
                        "continuation frame with no message to continue".into(),
                        events,
                    );
                }
                self.message = (!h.fin).then_some(kind);
                kind
            }
            o => {
                self.violation(format!("frame uses {o}"), events);
                return Sink::Discard;
            }
        };
        match kind {
            Message::Binary => Sink::Binary,
            Message::Text => {
                self.stats.text_frames += 1;
                self.emit(
                    WsEvent::WsText { len: h.len },
                    self.stats.text_frames,
                    events,
                );
                Sink::Discard
            }
        }
    }

    /// Consumes payload bytes of the current frame; returns how many it used.
    fn body(
        &mut self,
        chunk: &[u8],
        events: &mut Vec<WsEvent>,
        out: &mut impl FnMut(&[u8]),
    ) -> usize {
        let Some(p) = self.payload.as_mut() else {
            return 0;
        };
        let take = usize::try_from(p.remaining).map_or(chunk.len(), |r| r.min(chunk.len()));
        let bytes = chunk.get(..take).unwrap_or(chunk);
        p.remaining -= bytes.len() as u64;
        match p.sink {
            Sink::Binary => {
                self.stats.binary_bytes += bytes.len() as u64;
                match p.unmask.as_mut() {
                    None => out(bytes),
                    Some(u) => {
                        let mut scratch = [0u8; SCRATCH_LEN];
                        for piece in bytes.chunks(SCRATCH_LEN) {
                            if let Some(s) = scratch.get_mut(..piece.len()) {
                                s.copy_from_slice(piece);
                                u.apply(s);
                                out(s);
                            }
                        }
                    }
                }
            }
            Sink::Discard => {}
            Sink::Control(_) => {
                // Keep at most 125 bytes even when an oversized control frame claims more.
                let room = (MAX_CONTROL_PAYLOAD as usize).saturating_sub(self.control.len());
                let keep = bytes.get(..room.min(bytes.len())).unwrap_or(&[]);
                let start = self.control.len();
                self.control.extend_from_slice(keep);
                // Bytes past the cap are never read, so the mask phase may stop there.
                if let (Some(u), Some(s)) = (p.unmask.as_mut(), self.control.get_mut(start..)) {
                    u.apply(s);
                }
            }
        }
        if p.remaining == 0 {
            self.end_frame(events);
        }
        take
    }

    fn end_frame(&mut self, events: &mut Vec<WsEvent>) {
        let Some(p) = self.payload.take() else {
            return;
        };
        match p.sink {
            Sink::Control(Opcode::Close) => self.close(events),
            Sink::Control(Opcode::Ping) => {
                self.stats.pings += 1;
                self.emit(WsEvent::WsPing { len: p.len }, self.stats.pings, events);
            }
            Sink::Control(Opcode::Pong) => {
                self.stats.pongs += 1;
                self.emit(WsEvent::WsPong { len: p.len }, self.stats.pongs, events);
            }
            _ => {}
        }
    }

    fn close(&mut self, events: &mut Vec<WsEvent>) {
        let first_close = !self.close_seen;
        self.close_seen = true;
        let body = std::mem::take(&mut self.control);
        let (code, reason) = match body.as_slice() {
            [] => (None, String::new()),
            [_] => {
                self.violation(
                    "close frame with a 1-byte payload (a status code needs 2)".into(),
                    events,
                );
                (None, String::new())
            }
            [hi, lo, rest @ ..] => (
                Some(u16::from_be_bytes([*hi, *lo])),
                wire_text(rest, REASON_MAX_CHARS),
            ),
        };
        let code_name = code.map(CloseCode::from_u16);
        if let Some(c) = code_name.filter(|c| c.forbidden_on_wire()) {
            self.violation(
                format!("close code {} ({c}) must not be sent on the wire", c.code()),
                events,
            );
        }
        if first_close {
            events.push(WsEvent::WsClose {
                code,
                code_name,
                reason,
            });
        }
    }

    fn violation(&mut self, reason: String, events: &mut Vec<WsEvent>) {
        self.stats.violations += 1;
        self.emit(
            WsEvent::WsViolation { reason },
            self.stats.violations,
            events,
        );
    }

    /// Emits the `nth` event of its kind, or only counts it past the cap.
    fn emit(&mut self, e: WsEvent, nth: u64, events: &mut Vec<WsEvent>) {
        if nth <= MAX_EVENTS_PER_KIND {
            events.push(e);
        } else {
            self.stats.suppressed_events += 1;
        }
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
