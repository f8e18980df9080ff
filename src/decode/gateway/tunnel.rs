//! One gateway tunnel: MS-TSGU packets from both directions (one channel or two),
//! checked for order, with DATA payloads fed in order to the inner RDP decoder.

use super::event::{GwEvent, Inner};
use crate::decode::rdp::RdpDecoder;
use crate::decode::tsgu::order::{GwStage, OrderChecker};
use crate::decode::tsgu::packet::Packet;
use crate::decode::{DecodeEvent, Decoded};
use crate::vocab::Dir;
use serde::{Deserialize, Serialize};

/// Counters a tunnel keeps instead of one event per packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelStats {
    /// DATA packets, [c2s, s2c].
    pub data_packets: [u64; 2],
    /// DATA payload bytes, [c2s, s2c].
    pub data_bytes: [u64; 2],
    /// KEEPALIVE packets, [c2s, s2c].
    pub keepalives: [u64; 2],
}

/// The sans-IO state of one gateway tunnel.
#[derive(Debug)]
pub struct GwTunnel {
    order: OrderChecker,
    stage: GwStage,
    inner: RdpDecoder,
    stats: TunnelStats,
    scratch: Vec<Decoded>,
}

impl Default for GwTunnel {
    fn default() -> Self {
        Self::new()
    }
}

impl GwTunnel {
    /// A tunnel before its handshake.
    pub fn new() -> Self {
        let order = OrderChecker::new();
        GwTunnel {
            stage: order.phase(),
            order,
            inner: RdpDecoder::new(),
            stats: TunnelStats::default(),
            scratch: Vec::new(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> TunnelStats {
        self.stats
    }

    /// The inner RDP decoder (for its TLS record counters).
    pub fn inner(&self) -> &RdpDecoder {
        &self.inner
    }

    /// The stage the tunnel reached.
    pub fn stage(&self) -> GwStage {
        self.stage
    }

    /// One whole packet (`frame`, header included) travelling in `dir`.
    pub fn packet(&mut self, dir: Dir, packet: Packet, frame: &[u8], out: &mut Vec<Decoded>) {
        let ev = |event| Decoded {
            dir,
            event: DecodeEvent::Gw(event),
        };
        if let Some(v) = self.order.check(dir, &packet) {
            out.push(ev(GwEvent::TsguViolation {
                stage: self.stage,
                reason: v.to_string(),
            }));
        }
        let i = dir.idx();
        let report = match &packet {
            Packet::Data { .. } => {
                self.stats.data_packets[i] += 1;
                let payload = Packet::data_payload(frame).unwrap_or_default();
                self.stats.data_bytes[i] += payload.len() as u64;
                let first = self.stats.data_packets[i] == 1;
                if first {
                    out.push(ev(GwEvent::TsguPacket {
                        packet: packet.clone(),
                        len: frame.len(),
                    }));
                }
                self.feed_inner(dir, payload, out);
                false
            }
            Packet::Keepalive => {
                self.stats.keepalives[i] += 1;
                true
            }
            _ => true,
        };
        if report {
            out.push(ev(GwEvent::TsguPacket {
                packet,
                len: frame.len(),
            }));
        }
        let now = self.order.phase();
        if now != self.stage {
            self.stage = now;
            out.push(ev(GwEvent::TsguStage { stage: now }));
        }
    }

    fn feed_inner(&mut self, dir: Dir, payload: &[u8], out: &mut Vec<Decoded>) {
        if self.inner.finished() {
            return;
        }
        let mut evs = std::mem::take(&mut self.scratch);
        self.inner.feed(dir, payload, &mut evs);
        for d in evs.drain(..) {
            out.push(Decoded {
                dir: d.dir,
                event: DecodeEvent::Inner(Inner(Box::new(d.event))),
            });
        }
        self.scratch = evs;
    }
}
