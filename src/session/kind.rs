//! What makes two timeline entries "of the same kind", for the bounds on what a
//! connection keeps: the event's `kind` in its layer (an MS-TSGU packet by its packet
//! type, a phase by its name, an event inside a gateway tunnel apart from the same event
//! outside it), and its direction.
//!
//! The key is computed on every entry, so it is made from the enums' discriminants
//! rather than from the written `kind` text, which would cost a serialisation each time.

use crate::decode::gateway::GwEvent;
use crate::decode::DecodeEvent;
use crate::session::What;
use crate::vocab::{Dir, Layer};
use serde::{Deserialize, Serialize};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::mem::discriminant;

/// The kind of one timeline entry, with its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindKey {
    kind: u64,
    dir: Option<Dir>,
}

impl KindKey {
    /// The key of an entry travelling in `dir`.
    pub fn of(dir: Option<Dir>, what: &What) -> KindKey {
        let mut h = DefaultHasher::new();
        match what {
            What::Decoded(d) => {
                0u8.hash(&mut h);
                hash_decoded(d, &mut h);
            }
            What::Tcp(t) => {
                1u8.hash(&mut h);
                discriminant(t).hash(&mut h);
            }
            What::Phase(p) => {
                2u8.hash(&mut h);
                p.hash(&mut h);
            }
            What::Note(n) => {
                3u8.hash(&mut h);
                discriminant(n).hash(&mut h);
            }
            What::CertAssessed(_) => 4u8.hash(&mut h),
        }
        KindKey {
            kind: h.finish(),
            dir,
        }
    }

    /// The key of a decoded event, as [`KindKey::of`] gives it for `What::Decoded`.
    pub fn of_decoded(dir: Option<Dir>, d: &DecodeEvent) -> KindKey {
        let mut h = DefaultHasher::new();
        0u8.hash(&mut h);
        hash_decoded(d, &mut h);
        KindKey {
            kind: h.finish(),
            dir,
        }
    }
}

fn hash_decoded(d: &DecodeEvent, h: &mut DefaultHasher) {
    discriminant(d).hash(h);
    match d {
        DecodeEvent::X224(e) => discriminant(e).hash(h),
        DecodeEvent::Tls(e) => discriminant(e).hash(h),
        DecodeEvent::Mcs(e) => discriminant(e).hash(h),
        DecodeEvent::Rdp(e) => discriminant(e).hash(h),
        DecodeEvent::Http(e) => discriminant(&**e).hash(h),
        DecodeEvent::Ws(e) => discriminant(e).hash(h),
        DecodeEvent::Gw(e) => {
            discriminant(e).hash(h);
            if let GwEvent::TsguPacket { packet, .. } = e {
                discriminant(packet).hash(h);
            }
        }
        DecodeEvent::Inner(i) => hash_decoded(&i.0, h),
        DecodeEvent::Error(e) => e.layer.hash(h),
    }
}

/// A kind of event in words, as the event file names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindName {
    /// The layer.
    pub layer: Layer,
    /// The event's `kind`.
    pub kind: String,
    /// The packet type, for `tsgu_packet`; else null.
    pub packet: Option<String>,
    /// The event is one of the RDP connection inside a gateway tunnel.
    pub inner: bool,
    /// The direction.
    pub dir: Option<Dir>,
}

impl KindName {
    /// The name of a decoded event's kind (this serialises the event: call it once per
    /// kind, not per event).
    pub fn of(dir: Option<Dir>, d: &DecodeEvent) -> KindName {
        let (inner, ev) = match d {
            DecodeEvent::Inner(i) => (true, &*i.0),
            other => (false, other),
        };
        let packet = match ev {
            DecodeEvent::Gw(GwEvent::TsguPacket { packet, .. }) => {
                serde_json::to_value(packet.packet_type())
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
            }
            _ => None,
        };
        KindName {
            layer: ev.layer(),
            kind: ev.kind(),
            packet,
            inner,
            dir,
        }
    }
}

/// How many events of one kind a connection wrote, and how many it only counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The kind.
    #[serde(flatten)]
    pub name: KindName,
    /// Events written to the event file.
    pub written: u64,
    /// Events past the limit: counted, not written.
    pub only_counted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::gateway::Inner;
    use crate::decode::tls::{AlertDescription, AlertLevel, TlsEvent};
    use crate::decode::tsgu::packet::Packet;
    use crate::session::Phase;

    fn packet(p: Packet) -> What {
        What::Decoded(DecodeEvent::Gw(GwEvent::TsguPacket { packet: p, len: 8 }))
    }

    fn alert(d: u8) -> DecodeEvent {
        DecodeEvent::Tls(TlsEvent::Alert {
            level: AlertLevel::FATAL,
            description: AlertDescription(d),
        })
    }

    #[test]
    fn kinds_split_by_packet_type_direction_phase_and_tunnel() {
        let k = |dir, w: &What| KindKey::of(dir, w);
        let c2s = Some(Dir::C2S);
        assert_eq!(
            k(c2s, &packet(Packet::Keepalive)),
            k(c2s, &packet(Packet::Keepalive))
        );
        assert_ne!(
            k(c2s, &packet(Packet::Keepalive)),
            k(Some(Dir::S2C), &packet(Packet::Keepalive))
        );
        assert_ne!(
            k(c2s, &packet(Packet::Keepalive)),
            k(c2s, &packet(Packet::Data { data_len: 5 }))
        );
        // Fields do not matter, the kind does.
        let a = What::Decoded(alert(40));
        assert_eq!(k(c2s, &a), k(c2s, &What::Decoded(alert(48))));
        let inner = What::Decoded(DecodeEvent::Inner(Inner(Box::new(alert(40)))));
        assert_ne!(k(c2s, &a), k(c2s, &inner));
        assert_ne!(
            k(None, &What::Phase(Phase::X224)),
            k(None, &What::Phase(Phase::Mcs))
        );
        assert_eq!(
            k(c2s, &inner),
            KindKey::of_decoded(c2s, &DecodeEvent::Inner(Inner(Box::new(alert(1)))))
        );
    }

    #[test]
    fn names_say_layer_kind_and_packet() {
        let n = KindName::of(
            Some(Dir::S2C),
            &DecodeEvent::Gw(GwEvent::TsguPacket {
                packet: Packet::Keepalive,
                len: 8,
            }),
        );
        assert_eq!(n.layer, Layer::Tsgu);
        assert_eq!(n.kind, "tsgu_packet");
        assert_eq!(n.packet.as_deref(), Some("KEEPALIVE"));
        assert!(!n.inner);
        let n = KindName::of(None, &DecodeEvent::Inner(Inner(Box::new(alert(40)))));
        assert_eq!(
            (n.layer, n.kind.as_str(), n.inner),
            (Layer::Tls, "alert", true)
        );
    }
}
