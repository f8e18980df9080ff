//! A one-pass digest of the gateway layers of a timeline: HTTP rounds, MS-TSGU
//! packets and statuses, WebSocket closes, and the inner RDP events.

use super::super::seen::At;
use crate::decode::gateway::GwEvent;
use crate::decode::http::{AuthScheme, HttpEvent, Transport};
use crate::decode::tsgu::packet::{Packet, PacketType};
use crate::decode::tsgu::status::Status;
use crate::decode::ws::WsEvent;
use crate::decode::DecodeEvent;
use crate::session::{Timeline, What};
use crate::vocab::Dir;

/// A request's credentials, as far as they matter for the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Cred {
    /// The scheme used.
    pub scheme: AuthScheme,
    /// The request carried a final credential (NTLM AUTHENTICATE, Basic, Bearer, or a
    /// Negotiate token that is not an NTLM NEGOTIATE).
    pub complete: bool,
    /// The NTLM user, when the request named one.
    pub user: Option<String>,
    /// The NTLM AUTHENTICATE carried channel bindings (a non-zero MsvAvChannelBindings).
    pub channel_bound: bool,
}

/// Everything the gateway verdict needs from a timeline.
#[derive(Debug, Default)]
pub struct GwSeen {
    /// Transports of the gateway requests, in order, with when.
    pub transports: Vec<(At, Transport)>,
    /// The last request's credentials, if it carried any.
    pub last_cred: Option<(At, Cred)>,
    /// The first final 401 answering a complete credential.
    pub rejected: Option<(At, Cred)>,
    /// The last request carried a complete credential and got no answer.
    pub unanswered: Option<(At, Cred)>,
    /// 401s seen.
    pub challenges: usize,
    /// The schemes the gateway offered.
    pub offered: Vec<AuthScheme>,
    /// The first unexpected status: (at, status, reason, transport answered).
    pub bad_status: Option<(At, u16, String, Option<Transport>)>,
    /// The error body snippet that followed it.
    pub snippet: Option<String>,
    /// A truncated response or stream, in words.
    pub incomplete: Option<(At, Dir, String)>,
    /// The truncation was a close before any response byte.
    pub no_response: bool,
    /// A head over the limit, or malformed HTTP.
    pub http_broken: Option<(At, Dir, String)>,
    /// The first failing MS-TSGU response.
    pub failed: Option<(At, PacketType, Status)>,
    /// The first CLOSE_CHANNEL: who sent it and its status.
    pub close_channel: Option<(At, Dir, Status)>,
    /// The first protocol violation or framing error.
    pub violation: Option<(At, Dir, String)>,
    /// The furthest MS-TSGU stage reached.
    pub reached_data: Option<At>,
    /// The first WebSocket close per direction: code and reason.
    pub ws_close: [Option<(At, u16, String)>; 2],
    /// Service messages from the gateway.
    pub service_messages: Vec<String>,
    /// The resource the client asked the gateway for, and the port.
    pub resource: Option<(String, u16)>,
    /// Idle timeout in minutes, from TUNNEL_AUTH_RESPONSE.
    pub idle_timeout: Option<u32>,
    /// Redirection flags, in words.
    pub redirection: Option<String>,
    /// The client's handshake request was seen (the tunnel began).
    pub handshake: Option<At>,
    /// Inner RDP events were seen.
    pub inner_events: usize,
    /// KEEPALIVE packets, both ways (those the timeline only counted included).
    pub keepalives: u64,
    /// MS-TSGU packets reported (those the timeline only counted included).
    pub packets: u64,
}

impl GwSeen {
    /// Digest a timeline.
    pub fn scan(t: &Timeline) -> GwSeen {
        let mut s = GwSeen::default();
        let mut pending: Vec<Transport> = Vec::new();
        for e in t.entries() {
            let at = At {
                seq: e.seq,
                at: e.at,
            };
            let What::Decoded(d) = &e.what else { continue };
            let dir = e.dir.unwrap_or(Dir::C2S);
            match d {
                DecodeEvent::Http(h) => s.http(at, dir, h, &mut pending),
                DecodeEvent::Gw(g) => s.gw(at, dir, g),
                DecodeEvent::Ws(WsEvent::WsClose { code, reason, .. }) => {
                    s.ws_close[dir.idx()].get_or_insert((at, code.unwrap_or(1005), reason.clone()));
                }
                DecodeEvent::Inner(_) => s.inner_events += 1,
                _ => {}
            }
        }
        // Counts cover what the timeline counted without keeping (a peer repeating
        // keepalives past every bound).
        s.keepalives += t.unkept(|w| {
            matches!(
                w,
                What::Decoded(DecodeEvent::Gw(GwEvent::TsguPacket {
                    packet: Packet::Keepalive,
                    ..
                }))
            )
        });
        s.packets += t.unkept(|w| {
            matches!(
                w,
                What::Decoded(DecodeEvent::Gw(GwEvent::TsguPacket { .. }))
            )
        });
        s
    }

    /// The transport the client used, by its first gateway request.
    pub fn transport(&self) -> Option<Transport> {
        let ts: Vec<Transport> = self.transports.iter().map(|t| t.1).collect();
        if ts.contains(&Transport::WebSocket) {
            Some(Transport::WebSocket)
        } else {
            ts.into_iter().find(|t| *t != Transport::Other)
        }
    }

    fn http(&mut self, at: At, dir: Dir, h: &HttpEvent, pending: &mut Vec<Transport>) {
        match h {
            HttpEvent::Request {
                transport, auth, ..
            } => {
                self.transports.push((at, *transport));
                pending.push(*transport);
                self.unanswered = None;
                self.last_cred = auth.as_ref().map(|a| {
                    let ntlm_type = a.ntlm.as_ref().map(|n| n.message_type);
                    let complete = match a.scheme {
                        AuthScheme::Basic | AuthScheme::Bearer | AuthScheme::Digest => true,
                        _ => ntlm_type.map_or(a.scheme != AuthScheme::Ntlm, |t| t == 3),
                    };
                    (
                        at,
                        Cred {
                            scheme: a.scheme.clone(),
                            complete,
                            user: a.ntlm.as_ref().and_then(|n| n.user.clone()),
                            channel_bound: a.ntlm.as_ref().is_some_and(|n| n.channel_bound),
                        },
                    )
                });
                self.unanswered = self.last_cred.clone().filter(|(_, c)| c.complete);
            }
            HttpEvent::Response {
                status,
                reason,
                challenges,
                ..
            } => {
                self.unanswered = None;
                let answered = if *status >= 200 || *status == 101 {
                    (!pending.is_empty()).then(|| pending.remove(0))
                } else {
                    pending.first().copied()
                };
                match *status {
                    401 => {
                        self.challenges += 1;
                        for c in challenges {
                            if !self.offered.contains(&c.scheme) {
                                self.offered.push(c.scheme.clone());
                            }
                        }
                        if let Some((_, cred)) = &self.last_cred {
                            if cred.complete && self.rejected.is_none() {
                                self.rejected = Some((at, cred.clone()));
                            }
                        }
                    }
                    100..=299 => {}
                    _ => {
                        if self.bad_status.is_none() {
                            self.bad_status = Some((at, *status, reason.clone(), answered));
                        }
                    }
                }
            }
            HttpEvent::BodyEnd {
                snippet: Some(text),
                ..
            } if self.bad_status.is_some() && self.snippet.is_none() => {
                self.snippet = Some(text.clone());
            }
            HttpEvent::Incomplete { at: cut, .. } => {
                if self.incomplete.is_none() {
                    self.no_response = matches!(cut, crate::decode::http::Truncation::NoResponse);
                }
                self.incomplete.get_or_insert((at, dir, format!("{cut}")));
            }
            HttpEvent::HeadTooLarge { limit, .. } => {
                self.http_broken.get_or_insert((
                    at,
                    dir,
                    format!("sent an HTTP head over the {limit}-byte limit"),
                ));
            }
            HttpEvent::Malformed { reason, .. } => {
                self.http_broken.get_or_insert((
                    at,
                    dir,
                    format!("sent malformed HTTP ({reason})"),
                ));
            }
            _ => {}
        }
    }

    fn gw(&mut self, at: At, dir: Dir, g: &GwEvent) {
        match g {
            GwEvent::TsguPacket { packet, .. } => {
                self.packets += 1;
                self.packet(at, dir, packet)
            }
            GwEvent::TsguViolation { reason, .. } => {
                self.violation.get_or_insert((at, dir, reason.clone()));
            }
            GwEvent::TsguFramingError { reason } => {
                self.violation.get_or_insert((
                    at,
                    dir,
                    format!("the tunnel could not be read: {reason}"),
                ));
            }
            GwEvent::TsguCut {
                inside,
                got,
                expected,
            } => {
                let of = expected.map(|e| format!(" of {e}")).unwrap_or_default();
                self.incomplete.get_or_insert((
                    at,
                    dir,
                    format!("closed after {got}{of} bytes of {inside}"),
                ));
            }
            GwEvent::TsguSeed { .. } | GwEvent::TsguStage { .. } => {}
        }
    }

    fn packet(&mut self, at: At, dir: Dir, p: &Packet) {
        let fail = |s: &mut GwSeen, t: PacketType, st: Status| {
            if !st.is_ok() && s.failed.is_none() {
                s.failed = Some((at, t, st));
            }
        };
        match p {
            Packet::HandshakeRequest { .. } => {
                self.handshake.get_or_insert(at);
            }
            Packet::HandshakeResponse { error, .. } => {
                fail(self, PacketType::HandshakeResponse, *error)
            }
            Packet::ExtendedAuthMsg { error, .. } if dir == Dir::S2C => {
                fail(self, PacketType::ExtendedAuthMsg, *error)
            }
            Packet::TunnelResponse { status, .. } => {
                fail(self, PacketType::TunnelResponse, *status)
            }
            Packet::TunnelAuthResponse {
                error,
                idle_timeout_min,
                redir_flags,
                ..
            } => {
                fail(self, PacketType::TunnelAuthResponse, *error);
                self.idle_timeout = *idle_timeout_min;
                self.redirection = redir_flags.as_ref().map(|r| r.to_string());
            }
            Packet::ChannelCreate {
                resources, port, ..
            } => {
                if let Some(r) = resources.first() {
                    self.resource = Some((r.clone(), *port));
                }
            }
            Packet::ChannelResponse { error, .. } => {
                fail(self, PacketType::ChannelResponse, *error)
            }
            Packet::Data { .. } => {
                self.reached_data.get_or_insert(at);
            }
            Packet::ServiceMessage { message } => self.service_messages.push(message.clone()),
            Packet::Keepalive => self.keepalives += 1,
            Packet::CloseChannel { status } => {
                self.close_channel.get_or_insert((at, dir, *status));
            }
            _ => {}
        }
    }
}
