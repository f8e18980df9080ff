//! The session of one gateway TCP connection: the outer TLS seen raw, the decrypted
//! HTTP and tunnel read by a [`GwChannel`], and the shared gateway session the
//! connection belongs to.

use super::{panic_event, Session, State};
use crate::decode::gateway::{GwChannel, GwEvent, PacketSink};
use crate::decode::http::HttpEvent;
use crate::decode::tls::{TlsDecoder, TlsEvent};
use crate::decode::tsgu::order::GwStage;
use crate::decode::tsgu::packet::Packet;
use crate::decode::x224::X224Event;
use crate::decode::{DecodeEvent, Decoded};
use crate::record::capture::ConnCapture;
use crate::record::{EventRecord, Recorder};
use crate::session::diagnose::gateway::{self as gwdiag, GwInputs};
use crate::session::diagnose::Inputs;
use crate::session::gateway::{merge, Deposit, Registry, SharedTunnel};
use crate::session::{Phase, Verdict};
use crate::vocab::{Dir, Layer};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

/// What a session needs in gateway mode.
pub(super) struct GwParts {
    /// The outer TLS as relayed (the ClientHello; everything with --gateway-passthrough).
    pub outer: TlsDecoder,
    pub chan: GwChannel,
    pub link: Option<Arc<SharedTunnel>>,
    pub registry: Arc<Registry>,
    pub passthrough: bool,
}

impl GwParts {
    pub fn new(registry: Arc<Registry>, passthrough: bool) -> Self {
        GwParts {
            outer: TlsDecoder::new(),
            chan: GwChannel::new(),
            link: None,
            registry,
            passthrough,
        }
    }
}

/// Links packets to the gateway session on first sight.
struct Linker<'a> {
    link: &'a mut Option<Arc<SharedTunnel>>,
    registry: &'a Registry,
    conn: u64,
    capture: Option<&'a Arc<ConnCapture>>,
}

impl Linker<'_> {
    fn tunnel(&mut self, key: Option<&str>) -> Arc<SharedTunnel> {
        self.link
            .get_or_insert_with(|| self.registry.link(key, self.conn))
            .clone()
    }
}

impl PacketSink for Linker<'_> {
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        let t = self.tunnel(conn_id);
        let mut s = t.lock();
        if let (Some(cap), Some(payload)) = (self.capture, Packet::data_payload(frame)) {
            // The tunnel's RDP goes in the trace as its own flow, opened by whichever
            // channel carries the first DATA packet.
            s.inner_flow
                .get_or_insert_with(|| cap.inner_flow())
                .data(dir, payload);
        }
        s.tunnel.packet(dir, packet, frame, out);
    }
}

/// The phase a gateway-mode event moves the connection to.
pub(super) fn gw_phase(ev: &DecodeEvent) -> Option<Phase> {
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

impl Session {
    /// A session for one connection to an RD Gateway.
    pub fn new_gateway(
        info: super::ConnInfo,
        started: tokio::time::Instant,
        recorder: Recorder,
        roots: Arc<rustls::RootCertStore>,
        registry: Arc<Registry>,
        passthrough: bool,
    ) -> Arc<Session> {
        let s = Session::new(info, started, recorder, roots);
        s.lock().gw = Some(Box::new(GwParts::new(registry, passthrough)));
        s
    }

    pub(super) fn gw_on_data(&self, st: &mut State, dir: Dir, chunk: &Bytes) {
        let Some(gw) = st.gw.as_mut() else { return };
        let mut out = std::mem::take(&mut st.scratch);
        let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut tls = Vec::new();
            let r = gw.outer.feed(dir, chunk, &mut tls);
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
        }));
        if fed.is_err() {
            st.broken = true;
            out.clear();
            out.push(panic_event(dir));
        }
        for d in out.drain(..) {
            self.on_decoded(st, d);
        }
        st.scratch = out;
        let begun = st.gw.as_ref().is_some_and(|g| g.outer.offset(Dir::C2S) > 0);
        if begun {
            self.enter(st, Phase::GwTls);
        }
    }

    pub(super) fn gw_on_plain(&self, st: &mut State, dir: Dir, chunk: &[u8], end: bool) {
        let conn = self.info.id;
        let capture = self.capture_handle();
        let Some(gw) = st.gw.as_mut() else { return };
        let mut out = std::mem::take(&mut st.scratch);
        let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let GwParts {
                chan,
                link,
                registry,
                ..
            } = &mut **gw;
            let mut linker = Linker {
                link,
                registry,
                conn,
                capture,
            };
            if end {
                chan.finish(dir, &mut out, &mut linker);
            } else {
                chan.feed(dir, chunk, &mut out, &mut linker);
            }
            if linker.link.is_none() && chan.connection_id().is_some() {
                let id = chan.connection_id().map(str::to_string);
                linker.tunnel(id.as_deref());
            }
        }));
        if fed.is_err() {
            st.broken = true;
            out.clear();
            out.push(panic_event(dir));
        }
        for d in out.drain(..) {
            self.on_decoded(st, d);
        }
        st.scratch = out;
    }

    /// The gateway verdicts: this connection's, and the session's when it was the last
    /// member to end.
    pub(super) fn gw_finish(&self, st: &State, gw: &GwParts) -> Verdict {
        let duration = self.started.elapsed();
        let mut gin = GwInputs {
            passthrough: gw.passthrough,
            session: false,
            ..Default::default()
        };
        if let Some(t) = &gw.link {
            let s = t.lock();
            gin.inner_stats = [
                s.tunnel.inner().tls_stats(Dir::C2S),
                s.tunnel.inner().tls_stats(Dir::S2C),
            ];
        }
        let input = Inputs {
            timeline: &st.timeline,
            tls_stats: [gw.outer.stats(Dir::C2S), gw.outer.stats(Dir::S2C)],
            target: &self.info.target_desc,
            linger: self.info.linger,
            duration,
            plain: st.plain,
        };
        let verdict = gwdiag::diagnose(&input, &gin);
        let key = gw.link.as_ref().map(|t| t.key.clone());
        self.record_verdict(
            &verdict,
            st.timeline.entries.len(),
            "connection",
            key.as_deref(),
        );
        if let Some(t) = &gw.link {
            let session = {
                let mut s = t.lock();
                s.done.push(Deposit {
                    conn: self.info.id,
                    started: self.started,
                    timeline: st.timeline.clone(),
                });
                if s.done.len() >= s.members.len() && !s.reported {
                    s.reported = true;
                    // The tunnel is over: its flow in the trace ends here.
                    s.inner_flow = None;
                    let (timeline, base) = merge(&s.done);
                    Some((timeline, base, gin))
                } else {
                    None
                }
            };
            if let Some((timeline, base, mut gin)) = session {
                gw.registry.remove(t);
                gin.session = true;
                let sv = gwdiag::diagnose(
                    &Inputs {
                        timeline: &timeline,
                        tls_stats: Default::default(),
                        target: &self.info.target_desc,
                        linger: self.info.linger,
                        duration: base.elapsed(),
                        plain: Default::default(),
                    },
                    &gin,
                );
                self.record_verdict(&sv, timeline.entries.len(), "gateway_session", Some(&t.key));
                crate::record::console::print_session(&t.key, &sv);
            }
        }
        verdict
    }

    fn record_verdict(&self, v: &Verdict, seq: usize, scope: &str, key: Option<&str>) {
        let body = match serde_json::to_value(v) {
            Ok(Value::Object(mut m)) => {
                m.insert("kind".into(), Value::String("verdict".into()));
                m.insert("seq".into(), json!(seq));
                m.insert("scope".into(), json!(scope));
                if let Some(k) = key {
                    m.insert("gw_connection_id".into(), json!(k));
                }
                Value::Object(m)
            }
            _ => json!({"kind": "verdict", "scope": scope}),
        };
        self.recorder.event(EventRecord {
            ts: OffsetDateTime::now_utc(),
            conn: self.info.id,
            dir: None,
            layer: Layer::Session,
            body,
        });
    }
}
