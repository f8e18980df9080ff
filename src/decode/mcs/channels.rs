//! Which MCS channel is which, followed across the connect PDUs, the attach and the
//! joins, so that domain PDUs can be named and the join phase summarised.
//!
//! The Connect Initial names the static channels, the Connect Response gives their ids
//! (in the same order), the I/O and message channel ids, and Attach User Confirm the
//! user channel id.

use super::domain::DomainPdu;
use super::gcc::{ClientData, ServerData, MAX_CHANNELS};
use super::types::{ChannelName, ChannelRef, McsResult, RefusedChannel};
use super::McsEvent;

/// The most joins remembered per list. A client joins at most 31 static channels plus
/// the user, I/O and message channels; the cap keeps a hostile peer from growing them.
const MAX_TRACKED: usize = 64;
/// Client earlyCapabilityFlags RNS_UD_CS_SUPPORT_SKIP_CHANNELJOIN.
const CLIENT_SKIP_CHANNELJOIN: u16 = 0x0800;
/// Server earlyCapabilityFlags RNS_UD_SC_SKIP_CHANNELJOIN_SUPPORTED.
const SERVER_SKIP_CHANNELJOIN: u32 = 0x0008;

/// The channels of one MCS domain and how their joins went.
#[derive(Debug, Default)]
pub struct ChannelMap {
    user: Option<u16>,
    io: Option<u16>,
    message: Option<u16>,
    /// Static virtual channels: (id, name), in the client's order.
    virtuals: Vec<(u16, String)>,
    /// The client's static channel names and the server's ids for them, paired into
    /// `virtuals` whichever connect PDU comes last.
    client_names: Vec<String>,
    server_ids: Vec<u16>,
    client_skip: bool,
    server_skip: bool,
    requested: Vec<u16>,
    joined: Vec<u16>,
    refused: Vec<(u16, McsResult)>,
    summarised: bool,
}

impl ChannelMap {
    /// A map with nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user channel id, once Attach User Confirm gave it.
    pub fn user(&self) -> Option<u16> {
        self.user
    }

    /// The I/O channel id, once the Connect Response gave it.
    pub fn io(&self) -> Option<u16> {
        self.io
    }

    /// The message channel id, when the server offered one.
    pub fn message(&self) -> Option<u16> {
        self.message
    }

    /// What channel `id` is for, when known.
    pub fn name(&self, id: u16) -> Option<ChannelName> {
        if Some(id) == self.io {
            Some(ChannelName::Io)
        } else if Some(id) == self.message {
            Some(ChannelName::Message)
        } else if Some(id) == self.user {
            Some(ChannelName::User)
        } else {
            self.virtuals
                .iter()
                .find(|(v, _)| *v == id)
                .map(|(_, n)| ChannelName::Virtual(n.clone()))
        }
    }

    /// Takes in the client's channel names and whether it can skip joins.
    pub fn connect_initial(&mut self, client: &ClientData) {
        self.client_names = client.channel_names();
        self.client_skip = client
            .early_caps
            .is_some_and(|f| f & CLIENT_SKIP_CHANNELJOIN != 0);
        self.pair_virtuals();
    }

    /// Takes in the server's channel ids, matching static ones to the client's names.
    pub fn connect_response(&mut self, server: &ServerData) {
        self.io = server.io_channel;
        self.message = server.message_channel;
        self.server_skip = server
            .early_caps
            .is_some_and(|f| f & SERVER_SKIP_CHANNELJOIN != 0);
        self.server_ids = server.channel_ids.clone();
        self.pair_virtuals();
    }

    /// Pairs ids with the client's names, in order; a missing side leaves a channel out.
    fn pair_virtuals(&mut self) {
        self.virtuals = self
            .server_ids
            .iter()
            .zip(&self.client_names)
            .take(MAX_CHANNELS)
            .map(|(&id, name)| (id, name.clone()))
            .collect();
    }

    /// Fills in the names of the static channels of a Connect Response event.
    pub fn name_channels(&self, channels: &mut [ChannelRef]) {
        for c in channels {
            c.name = self.name(c.id);
        }
    }

    /// Follows one domain PDU, and names the channel in its event.
    pub fn domain(&mut self, pdu: &DomainPdu<'_>, event: &mut McsEvent) {
        match *pdu {
            DomainPdu::AttachUserConfirm {
                result,
                user_id: Some(id),
            } if result.is_success() => self.user = Some(id),
            DomainPdu::ChannelJoinRequest { channel_id, .. } => {
                push_unique(&mut self.requested, channel_id);
            }
            DomainPdu::ChannelJoinConfirm {
                result,
                requested,
                channel_id,
                ..
            } => {
                if result.is_success() {
                    push_unique(&mut self.joined, channel_id.unwrap_or(requested));
                } else if self.refused.len() < MAX_TRACKED
                    && !self.refused.iter().any(|(id, _)| *id == requested)
                {
                    self.refused.push((requested, result));
                }
            }
            _ => {}
        }
        match event {
            McsEvent::ChannelJoinRequest {
                channel_id,
                channel,
                ..
            }
            | McsEvent::ChannelJoinConfirm {
                channel_id,
                channel,
                ..
            } => *channel = self.name(*channel_id),
            _ => {}
        }
    }

    /// The join phase summary, the first time it is asked for; None afterwards.
    pub fn summary(&mut self) -> Option<McsEvent> {
        if self.summarised {
            return None;
        }
        self.summarised = true;
        let expected = self.expected();
        let join_skipped = self.client_skip && self.server_skip && self.requested.is_empty();
        let named = |id: u16| ChannelRef {
            id,
            name: self.name(id),
        };
        let (joined, not_requested) = if join_skipped {
            (expected.into_iter().map(named).collect(), Vec::new())
        } else {
            (
                self.joined.iter().map(|&id| named(id)).collect(),
                expected
                    .into_iter()
                    .filter(|id| !self.requested.contains(id))
                    .map(named)
                    .collect(),
            )
        };
        let refused = self
            .refused
            .iter()
            .map(|&(id, result)| RefusedChannel {
                id,
                name: self.name(id),
                result,
                result_code: result.code(),
            })
            .collect();
        Some(McsEvent::ChannelsJoined {
            joined,
            refused,
            not_requested,
            join_skipped,
        })
    }

    /// The channels a client joins, in the order MS-RDPBCGR lists them: user, I/O,
    /// message, then the static virtual channels.
    fn expected(&self) -> Vec<u16> {
        let mut out: Vec<u16> = Vec::new();
        let fixed = [self.user, self.io, self.message];
        for id in fixed
            .into_iter()
            .flatten()
            .chain(self.virtuals.iter().map(|v| v.0))
        {
            push_unique(&mut out, id);
        }
        out
    }
}

/// Appends `id` unless it is already there or the list is full.
fn push_unique(list: &mut Vec<u16>, id: u16) {
    if list.len() < MAX_TRACKED && !list.contains(&id) {
        list.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::mcs::{domain::decode_domain, domain_event};

    fn map() -> ChannelMap {
        let mut m = ChannelMap::new();
        let client = ClientData {
            channels: ["rdpdr", "cliprdr", "drdynvc"]
                .iter()
                .map(|n| super::super::gcc::ClientChannel {
                    name: (*n).into(),
                    options: 0,
                })
                .collect(),
            ..ClientData::default()
        };
        m.connect_initial(&client);
        m.connect_response(&ServerData {
            io_channel: Some(1003),
            channel_ids: vec![1004, 1005, 1006],
            message_channel: Some(1007),
            ..ServerData::default()
        });
        m
    }

    fn feed(m: &mut ChannelMap, pdu: &[u8]) -> Option<McsEvent> {
        let pdu = decode_domain(pdu).unwrap();
        let mut ev = domain_event(&pdu)?;
        m.domain(&pdu, &mut ev);
        Some(ev)
    }

    #[test]
    fn names_and_summary() {
        let mut m = map();
        assert_eq!(m.name(1005), Some(ChannelName::Virtual("cliprdr".into())));
        assert_eq!(m.name(1007), Some(ChannelName::Message));
        feed(&mut m, &[0x2e, 0x00, 0x00, 0x07]);
        assert_eq!(m.user(), Some(1008));
        let ev = feed(&mut m, &[0x38, 0x00, 0x07, 0x03, 0xf0]).unwrap();
        assert!(matches!(
            ev,
            McsEvent::ChannelJoinRequest {
                channel: Some(ChannelName::User),
                channel_id: 1008,
                ..
            }
        ));
        for id in [0xeb, 0xec, 0xed] {
            feed(&mut m, &[0x38, 0x00, 0x07, 0x03, id]);
            feed(&mut m, &[0x3e, 0x00, 0x00, 0x07, 0x03, id, 0x03, id]);
        }
        // The user channel is confirmed last; drdynvc (1006) is refused.
        feed(&mut m, &[0x3e, 0x00, 0x00, 0x07, 0x03, 0xf0, 0x03, 0xf0]);
        feed(&mut m, &[0x38, 0x00, 0x07, 0x03, 0xee]);
        let ev = feed(&mut m, &[0x3c, 0x60, 0x00, 0x07, 0x03, 0xee]).unwrap();
        assert!(matches!(
            ev,
            McsEvent::ChannelJoinConfirm { result_code: 3, channel_id: 1006, channel: Some(ChannelName::Virtual(ref n)), .. } if n == "drdynvc"
        ));
        let Some(McsEvent::ChannelsJoined {
            joined,
            refused,
            not_requested,
            join_skipped,
        }) = m.summary()
        else {
            panic!("no summary");
        };
        let ids: Vec<u16> = joined.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![1003, 1004, 1005, 1008]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].id, 1006);
        // The message channel was set up but never asked for.
        assert_eq!(
            not_requested,
            vec![ChannelRef {
                id: 1007,
                name: Some(ChannelName::Message)
            }]
        );
        assert!(!join_skipped);
        assert_eq!(m.summary(), None);
    }

    #[test]
    fn skipped_joins_count_every_channel_as_joined() {
        let mut m = map();
        m.client_skip = true;
        m.server_skip = true;
        feed(&mut m, &[0x2e, 0x00, 0x00, 0x07]);
        let Some(McsEvent::ChannelsJoined {
            joined,
            not_requested,
            join_skipped,
            ..
        }) = m.summary()
        else {
            panic!("no summary");
        };
        assert!(join_skipped);
        assert!(not_requested.is_empty());
        assert_eq!(joined.len(), 6);
    }

    #[test]
    fn hostile_join_floods_stay_bounded() {
        let mut m = map();
        for id in 0..5000u16 {
            let [hi, lo] = id.to_be_bytes();
            feed(&mut m, &[0x38, 0x00, 0x07, hi, lo]);
            feed(&mut m, &[0x3e, 0x00, 0x00, 0x07, hi, lo, hi, lo]);
            feed(&mut m, &[0x3c, 0x60, 0x00, 0x07, hi, lo]);
        }
        assert!(m.requested.len() <= MAX_TRACKED);
        assert!(m.joined.len() <= MAX_TRACKED);
        assert!(m.refused.len() <= MAX_TRACKED);
    }
}
