//! The decoders' per-kind event limits: the kinds of event a peer can repeat without end
//! (HTTP messages, MS-TSGU keepalives and protocol errors, TLS alerts) are written at
//! most [`PER_KIND`] times per connection and direction; past that they are only
//! counted, and the counts are written once, when the connection ends.
//!
//! The decoders themselves stay simple emitters; the session core applies the limit to
//! what they emit (the same core serves the proxy and `analyze`), so the table of
//! limited kinds lives here, next to the decoders whose events it names. Application
//! records after the TLS handshake are limited in the TLS decoder itself
//! ([`super::tls::APP_RECORDS_REPORTED`]), which counts them in its record statistics.

use super::gateway::GwEvent;
use super::http::HttpEvent;
use super::tls::TlsEvent;
use super::tsgu::packet::Packet;
use super::DecodeEvent;

/// Events of one limited kind written per connection and direction.
pub const PER_KIND: u64 = 64;

/// True when `ev` is of a kind that is written only [`PER_KIND`] times.
pub fn limited(ev: &DecodeEvent) -> bool {
    match ev {
        DecodeEvent::Http(h) => matches!(
            **h,
            HttpEvent::Request { .. } | HttpEvent::Response { .. } | HttpEvent::BodyEnd { .. }
        ),
        DecodeEvent::Gw(g) => matches!(
            g,
            GwEvent::TsguPacket {
                packet: Packet::Keepalive | Packet::Unknown { .. },
                ..
            } | GwEvent::TsguViolation { .. }
                | GwEvent::TsguFramingError { .. }
        ),
        DecodeEvent::Tls(t) => matches!(
            t,
            TlsEvent::Alert { .. } | TlsEvent::EncryptedAlertLikely { .. }
        ),
        DecodeEvent::Inner(i) => limited(&i.0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::gateway::Inner;
    use crate::decode::tls::{AlertDescription, AlertLevel};

    #[test]
    fn repeatable_kinds_are_limited_and_one_off_kinds_are_not() {
        let alert = DecodeEvent::Tls(TlsEvent::Alert {
            level: AlertLevel::WARNING,
            description: AlertDescription::CLOSE_NOTIFY,
        });
        assert!(limited(&alert));
        assert!(limited(&DecodeEvent::Inner(Inner(Box::new(alert)))));
        assert!(limited(&DecodeEvent::Gw(GwEvent::TsguPacket {
            packet: Packet::Keepalive,
            len: 8
        })));
        assert!(!limited(&DecodeEvent::Gw(GwEvent::TsguPacket {
            packet: Packet::Data { data_len: 1 },
            len: 11
        })));
        assert!(!limited(&DecodeEvent::Tls(TlsEvent::HandshakeDone)));
    }
}
