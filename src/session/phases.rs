//! Which decoded events move a connection into which phase.

use crate::decode::mcs::McsEvent;
use crate::decode::pdu::RdpEvent;
use crate::decode::DecodeEvent;
use crate::session::Phase;

/// The phase an event starts, if it starts one.
pub fn phase_of(ev: &DecodeEvent) -> Option<Phase> {
    match ev {
        DecodeEvent::Mcs(m) => match m {
            McsEvent::ConnectInitial { .. } => Some(Phase::Mcs),
            McsEvent::DisconnectProviderUltimatum { .. } | McsEvent::ConnectResponse { .. } => None,
            // Erect Domain, Attach User and the channel joins.
            _ => Some(Phase::ChannelJoin),
        },
        DecodeEvent::Rdp(r) => match r {
            RdpEvent::SecurityExchange { .. } | RdpEvent::ClientInfo(_) => {
                Some(Phase::SecureSettings)
            }
            RdpEvent::License(_) => Some(Phase::Licensing),
            RdpEvent::DemandActive(_) | RdpEvent::ConfirmActive(_) => Some(Phase::Capabilities),
            RdpEvent::Synchronize { .. }
            | RdpEvent::Control { .. }
            | RdpEvent::FontList { .. }
            | RdpEvent::PersistentKeyList { .. } => Some(Phase::Finalization),
            // The server's Font Map ends finalization: the session is up.
            RdpEvent::FontMap { .. } => Some(Phase::Active),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_map_means_active() {
        assert_eq!(
            phase_of(&DecodeEvent::Rdp(RdpEvent::FontMap { entries: 0 })),
            Some(Phase::Active)
        );
        assert_eq!(phase_of(&DecodeEvent::Rdp(RdpEvent::ShutdownRequest)), None);
    }
}
