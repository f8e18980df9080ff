//! Which decoded events move a connection into which phase.

use crate::decode::mcs::McsEvent;
use crate::decode::DecodeEvent;
use crate::session::Phase;

/// The phase an event starts, if it starts one.
pub fn phase_of(ev: &DecodeEvent) -> Option<Phase> {
    match ev {
        DecodeEvent::Mcs(McsEvent::ConnectInitial { .. }) => Some(Phase::Mcs),
        _ => None,
    }
}
