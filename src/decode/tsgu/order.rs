//! Checks that MS-TSGU packets follow the protocol's order: handshake → (extended
//! auth) → tunnel create → tunnel auth → channel create → data, each response after
//! its request.
//!
//! A gateway refusing a step (a response with a non-zero status) is not a protocol
//! violation: it ends the normal progression and is recorded as a [`Refusal`].

use super::packet::Packet;
use super::{ExtendedAuth, PacketType, Status, StatusKind};
use crate::vocab::closed_vocab;
use crate::vocab::Dir;
use serde::{Deserialize, Serialize};
use std::fmt;

closed_vocab! {
    /// Where the gateway conversation is.
    pub enum GwStage {
        /// Waiting for the handshake request and response.
        Handshake = ("gw_handshake", "gateway handshake"),
        /// NTLM rounds in EXTENDED_AUTH_MSG packets (SSPI_NTLM).
        ExtAuth = ("gw_ext_auth", "extended (NTLM) authentication"),
        /// Waiting for the tunnel to be created.
        TunnelCreate = ("gw_tunnel_create", "tunnel creation"),
        /// Waiting for the tunnel to be authorized.
        TunnelAuth = ("gw_tunnel_auth", "tunnel authorization"),
        /// Waiting for the channel to the host to be opened.
        ChannelCreate = ("gw_channel_create", "channel creation"),
        /// The channel is open; DATA flows.
        Data = ("gw_data", "data transfer"),
        /// The channel was closed or the gateway refused a step.
        Closed = ("gw_closed", "closed"),
    }
}

/// A packet that broke the protocol's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Who sent it.
    pub dir: Dir,
    /// The packet's type.
    pub packet: PacketType,
    /// The stage the conversation was in.
    pub stage: GwStage,
    /// What was wrong, in plain English.
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The gateway refused a step: the response and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The response that carried the failure.
    pub packet: PacketType,
    /// Its status.
    pub status: Status,
    /// The stage that failed.
    pub stage: GwStage,
}

/// Follows one gateway conversation (both directions) and reports order violations.
#[derive(Debug, Clone)]
pub struct OrderChecker {
    stage: GwStage,
    awaiting: Option<PacketType>,
    handshake_done: bool,
    channel_opened: bool,
    reauth_requested: bool,
    refusal: Option<Refusal>,
}

impl Default for OrderChecker {
    fn default() -> Self {
        Self::new()
    }
}

/// The side that must send each request or response, if fixed.
fn sender_of(ty: PacketType) -> Option<Dir> {
    use PacketType::*;
    match ty {
        HandshakeRequest | TunnelCreate | TunnelAuth | ChannelCreate => Some(Dir::C2S),
        HandshakeResponse | TunnelResponse | TunnelAuthResponse | ChannelResponse
        | ServiceMessage | ReauthMessage => Some(Dir::S2C),
        _ => None,
    }
}

/// The request a response answers.
fn request_of(ty: PacketType) -> Option<PacketType> {
    use PacketType::*;
    match ty {
        HandshakeResponse => Some(HandshakeRequest),
        TunnelResponse => Some(TunnelCreate),
        TunnelAuthResponse => Some(TunnelAuth),
        ChannelResponse => Some(ChannelCreate),
        _ => None,
    }
}

/// The request the client should send next in a stage.
fn expected_request(stage: GwStage) -> Option<PacketType> {
    match stage {
        GwStage::Handshake => Some(PacketType::HandshakeRequest),
        GwStage::ExtAuth | GwStage::TunnelCreate => Some(PacketType::TunnelCreate),
        GwStage::TunnelAuth => Some(PacketType::TunnelAuth),
        GwStage::ChannelCreate => Some(PacketType::ChannelCreate),
        GwStage::Data | GwStage::Closed => None,
    }
}

impl OrderChecker {
    /// A checker at the start of a conversation.
    pub fn new() -> Self {
        OrderChecker {
            stage: GwStage::Handshake,
            awaiting: None,
            handshake_done: false,
            channel_opened: false,
            reauth_requested: false,
            refusal: None,
        }
    }

    /// The current stage.
    pub fn phase(&self) -> GwStage {
        self.stage
    }

    /// The step the gateway refused, if it did.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// The request still waiting for its response, if any.
    pub fn awaiting(&self) -> Option<PacketType> {
        self.awaiting
    }

    /// Follows one packet; returns a violation when it is out of order.
    ///
    /// A violating packet does not move the conversation on.
    pub fn check(&mut self, dir: Dir, p: &Packet) -> Option<Violation> {
        let ty = p.packet_type();
        if let Some(want) = sender_of(ty).filter(|&d| d != dir) {
            return self.violation(
                dir,
                ty,
                format!(
                    "the {} sent {ty}, which only the {} may send",
                    dir.sender(),
                    want.sender()
                ),
            );
        }
        use PacketType::*;
        match ty {
            Unknown(v) => self.violation(dir, ty, format!("unknown packet type 0x{v:x}")),
            Keepalive | CloseChannel | CloseChannelResponse | ServiceMessage | ReauthMessage => {
                if !self.handshake_done {
                    return self.violation(dir, ty, format!("{ty} before the handshake completed"));
                }
                match ty {
                    CloseChannel => self.stage = GwStage::Closed,
                    ReauthMessage => self.reauth_requested = true,
                    _ => {}
                }
                None
            }
            HandshakeRequest | TunnelCreate | TunnelAuth | ChannelCreate => self.request(dir, ty),
            HandshakeResponse | TunnelResponse | TunnelAuthResponse | ChannelResponse => {
                self.response(dir, p)
            }
            ExtendedAuthMsg => self.ext_auth(dir, p),
            Data => {
                if self.channel_opened {
                    // Still fine after CLOSE_CHANNEL: data already in flight the other way.
                    None
                } else {
                    self.violation(
                        dir,
                        ty,
                        format!(
                            "the {} sent DATA before the gateway opened the channel (no CHANNEL_RESPONSE with status OK yet; stage: {})",
                            dir.sender(),
                            self.stage
                        ),
                    )
                }
            }
        }
    }

    fn violation(&self, dir: Dir, packet: PacketType, reason: String) -> Option<Violation> {
        Some(Violation {
            dir,
            packet,
            stage: self.stage,
            reason,
        })
    }

    /// True for the tunnel packets of a reauthentication the gateway asked for, which
    /// run alongside the open channel.
    fn is_reauth(&self, ty: PacketType) -> bool {
        use PacketType::*;
        self.reauth_requested
            && self.channel_opened
            && matches!(
                ty,
                TunnelCreate | TunnelResponse | TunnelAuth | TunnelAuthResponse
            )
    }

    fn request(&mut self, dir: Dir, ty: PacketType) -> Option<Violation> {
        if self.is_reauth(ty) {
            return None;
        }
        if let Some(r) = self.refusal {
            return self.violation(
                dir,
                ty,
                format!(
                    "the client sent {ty} after the gateway refused {} with {}",
                    r.packet, r.status
                ),
            );
        }
        if let Some(a) = self.awaiting {
            return self.violation(
                dir,
                ty,
                format!("the client sent {ty} before the gateway answered its {a}"),
            );
        }
        let ok = match ty {
            PacketType::TunnelCreate => {
                // The gateway's empty EXTENDED_AUTH_MSG ends NTLM, but do not insist on it.
                matches!(self.stage, GwStage::TunnelCreate | GwStage::ExtAuth)
            }
            t => expected_request(self.stage) == Some(t),
        };
        if ok {
            self.awaiting = Some(ty);
            return None;
        }
        let reason = match (self.stage, expected_request(self.stage)) {
            (GwStage::Closed, _) => format!("the client sent {ty} after the channel was closed"),
            (_, Some(want)) => format!(
                "the client sent {ty} during {}; the next request should be {want}",
                self.stage
            ),
            (_, None) => format!("the client sent {ty} although the channel is already open"),
        };
        self.violation(dir, ty, reason)
    }

    fn response(&mut self, dir: Dir, p: &Packet) -> Option<Violation> {
        let ty = p.packet_type();
        if self.is_reauth(ty) && self.awaiting.is_none() {
            return None;
        }
        let req = request_of(ty)?;
        if self.awaiting != Some(req) {
            let reason = match self.awaiting {
                Some(a) => format!(
                    "the gateway sent {ty} while the client's {a} was waiting for its answer"
                ),
                None => format!("the gateway sent {ty} without a {req} from the client"),
            };
            return self.violation(dir, ty, reason);
        }
        self.awaiting = None;
        let status = p.status().unwrap_or(Status::OK);
        // FreeRDP carries on after a quarantine (SoH) refusal in TUNNEL_AUTH_RESPONSE.
        let tolerated = ty == PacketType::TunnelAuthResponse
            && status.kind() == StatusKind::QuarantineAccessDenied;
        if !status.is_ok() && !tolerated {
            self.refusal = Some(Refusal {
                packet: ty,
                status,
                stage: self.stage,
            });
            self.stage = GwStage::Closed;
            return None;
        }
        self.stage = match p {
            Packet::HandshakeResponse { extended_auth, .. } => {
                self.handshake_done = true;
                if extended_auth.contains(ExtendedAuth::SSPI_NTLM) {
                    GwStage::ExtAuth
                } else {
                    GwStage::TunnelCreate
                }
            }
            Packet::TunnelResponse { .. } => GwStage::TunnelAuth,
            Packet::TunnelAuthResponse { .. } => GwStage::ChannelCreate,
            _ => {
                self.channel_opened = true;
                GwStage::Data
            }
        };
        None
    }

    fn ext_auth(&mut self, dir: Dir, p: &Packet) -> Option<Violation> {
        let ty = PacketType::ExtendedAuthMsg;
        if self.stage != GwStage::ExtAuth {
            let reason = if self.handshake_done {
                format!(
                    "the {} sent EXTENDED_AUTH_MSG but the handshake did not choose SSPI_NTLM (stage: {})",
                    dir.sender(),
                    self.stage
                )
            } else {
                "EXTENDED_AUTH_MSG before the handshake completed".to_string()
            };
            return self.violation(dir, ty, reason);
        }
        if let (
            Dir::S2C,
            Packet::ExtendedAuthMsg {
                error, blob_len, ..
            },
        ) = (dir, p)
        {
            if !error.is_ok() {
                self.refusal = Some(Refusal {
                    packet: ty,
                    status: *error,
                    stage: self.stage,
                });
                self.stage = GwStage::Closed;
            } else if *blob_len == 0 {
                // An empty blob from the gateway says NTLM is done.
                self.stage = GwStage::TunnelCreate;
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
