//! MCS/GCC (T.125/T.124): the Connect Initial and Connect Response with their GCC
//! data, and the domain PDUs after them, as seen in the clear under standard RDP
//! security or when rdptap terminates TLS.
//!
//! The connect PDUs are BER ([`ber`]); their userData is a GCC PDU in PER ([`per`])
//! wrapping RDP's data blocks ([`gcc`]). Domain PDUs after them are PER ([`domain`]).
//! [`channels`] follows which channel is which across the whole exchange.

pub mod ber;
pub mod channels;
pub mod domain;
pub mod gcc;
pub mod patch;
pub mod per;
pub mod types;

use super::names::{self, Protocols};
use ber::{BerError, Reader};
use domain::DomainPdu;
use serde::{Deserialize, Serialize};
pub use types::{
    ChannelDef, ChannelName, ChannelRef, EncryptionLevel, EncryptionMethods, McsResult,
    RefusedChannel,
};

/// What the MCS decoder saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum McsEvent {
    /// MCS Connect Initial with the client's GCC user data.
    ConnectInitial {
        /// The client core data RDP version, e.g. "RDP 10.7" (raw value if unknown).
        client_version: Option<String>,
        /// The client core data's desktop size.
        desktop_width: Option<u16>,
        /// The client core data's desktop size.
        desktop_height: Option<u16>,
        /// The client's computer name.
        client_name: Option<String>,
        /// serverSelectedProtocol echoed in the client core data.
        server_selected_protocol: Option<Protocols>,
        /// Static virtual channel names from the client network data.
        channels: Vec<String>,
        /// The client core data's clientBuild (e.g. 22621 for a Windows 11 22H2 client).
        client_build: Option<u32>,
        /// The client core data's earlyCapabilityFlags, by name (None if absent).
        early_capability_flags: Option<Vec<String>>,
        /// The client security data's encryptionMethods, by name (None if absent).
        encryption_methods: Option<EncryptionMethods>,
        /// The raw encryptionMethods.
        encryption_methods_code: Option<u32>,
        /// The client cluster data's flags, by name (None if the block is absent).
        cluster_flags: Option<Vec<String>>,
        /// Whether the client accepts Server Redirection PDUs (None if no cluster data).
        redirection_supported: Option<bool>,
        /// The client monitor data's monitorCount (None if the block is absent).
        monitor_count: Option<u32>,
        /// The client network data's channels with their option flags, in order.
        channel_defs: Vec<ChannelDef>,
        /// True when the client sent message channel data (it can use that channel).
        message_channel: bool,
    },
    /// MCS Connect Response with the server's GCC user data.
    ConnectResponse {
        /// The T.125 result name, e.g. "rt-successful".
        result: String,
        /// The raw result value (0 is success).
        result_code: u8,
        /// The server core data RDP version.
        server_version: Option<String>,
        /// clientRequestedProtocols echoed in the server core data.
        client_requested_protocols: Option<Protocols>,
        /// The server core data's earlyCapabilityFlags, by name (None if absent).
        early_capability_flags: Option<Vec<String>>,
        /// The server security data's encryptionMethod (NONE under TLS).
        encryption_method: Option<EncryptionMethods>,
        /// The raw encryptionMethod.
        encryption_method_code: Option<u32>,
        /// The server security data's encryptionLevel.
        encryption_level: Option<EncryptionLevel>,
        /// The raw encryptionLevel.
        encryption_level_code: Option<u32>,
        /// The server network data's MCS I/O channel id (usually 1003).
        io_channel_id: Option<u16>,
        /// The static channel ids the server assigned, in the client's order, named
        /// after the client's channels when the Connect Initial was seen.
        channels: Vec<ChannelRef>,
        /// The server message channel id, when the server offers one.
        message_channel_id: Option<u16>,
    },
    /// MCS Erect Domain Request (the client starts the domain).
    ErectDomain,
    /// MCS Attach User Request (the client asks for its user channel).
    AttachUserRequest,
    /// MCS Attach User Confirm: the server's answer with the user channel id.
    AttachUserConfirm {
        /// The T.125 result name.
        result: McsResult,
        /// The raw result value (0 is success).
        result_code: u8,
        /// The user channel id (the initiator), when present.
        user_id: Option<u16>,
    },
    /// MCS Channel Join Request.
    ChannelJoinRequest {
        /// The requesting user channel id.
        user_id: u16,
        /// The channel to join.
        channel_id: u16,
        /// What the channel is for, when known.
        channel: Option<ChannelName>,
    },
    /// MCS Channel Join Confirm.
    ChannelJoinConfirm {
        /// The T.125 result name.
        result: McsResult,
        /// The raw result value (0 is success).
        result_code: u8,
        /// The channel joined, or the one asked for when the join was refused.
        channel_id: u16,
        /// What the channel is for, when known.
        channel: Option<ChannelName>,
    },
    /// The channel join phase is over (the client sent its first Send Data Request).
    ChannelsJoined {
        /// Channels the server confirmed.
        joined: Vec<ChannelRef>,
        /// Channels the server refused.
        refused: Vec<RefusedChannel>,
        /// Channels the connect PDUs set up but the client never asked to join.
        not_requested: Vec<ChannelRef>,
        /// True when both sides advertised skipping channel joins and none were sent;
        /// every channel then counts as joined.
        join_skipped: bool,
    },
    /// An MCS Disconnect Provider Ultimatum.
    DisconnectProviderUltimatum {
        /// The reason name, e.g. "rn-user-requested".
        reason: String,
    },
}

/// BER tag of MCS Connect-Initial ([APPLICATION 101]).
const CONNECT_INITIAL: u16 = 0x7f65;
/// BER tag of MCS Connect-Response ([APPLICATION 102]).
const CONNECT_RESPONSE: u16 = 0x7f66;
/// BER tag of MCS Connect-Additional ([APPLICATION 103]).
const CONNECT_ADDITIONAL: u16 = 0x7f67;
/// BER tag of MCS Connect-Result ([APPLICATION 104]).
const CONNECT_RESULT: u16 = 0x7f68;
/// The first byte of every BER connect PDU (a two-byte application tag).
pub const CONNECT_PDU_FIRST_BYTE: u8 = 0x7f;

/// Decodes one MCS PDU from X.224 Data user data.
///
/// Domain PDUs are reported without channel names (this function sees one PDU and
/// knows nothing of the connect PDUs); Send Data and choices RDP does not use give
/// Ok(None). Truncated connect PDUs give the event with the fields that could be read;
/// malformed BER headers and malformed domain PDUs are errors.
pub fn decode_mcs(data: &[u8]) -> Result<Option<McsEvent>, String> {
    let Some(&first) = data.first() else {
        return Err("empty MCS PDU".to_string());
    };
    // Connect PDUs are BER with a two-byte application tag; domain PDUs are PER whose
    // first byte is the DomainMCSPDU choice index shifted left by two.
    if first == CONNECT_PDU_FIRST_BYTE {
        return Ok(decode_connect(data)?.map(|c| c.event()));
    }
    domain::decode_domain(data).map(|pdu| domain_event(&pdu))
}

/// The event a domain PDU is reported as, with no channel names; None for Send Data
/// (counted, not reported) and for choices RDP does not use.
pub fn domain_event(pdu: &DomainPdu<'_>) -> Option<McsEvent> {
    Some(match *pdu {
        DomainPdu::ErectDomain { .. } => McsEvent::ErectDomain,
        DomainPdu::AttachUserRequest => McsEvent::AttachUserRequest,
        DomainPdu::AttachUserConfirm { result, user_id } => McsEvent::AttachUserConfirm {
            result,
            result_code: result.code(),
            user_id,
        },
        DomainPdu::ChannelJoinRequest {
            user_id,
            channel_id,
        } => McsEvent::ChannelJoinRequest {
            user_id,
            channel_id,
            channel: None,
        },
        DomainPdu::ChannelJoinConfirm {
            result,
            requested,
            channel_id,
            ..
        } => McsEvent::ChannelJoinConfirm {
            result,
            result_code: result.code(),
            channel_id: channel_id.unwrap_or(requested),
            channel: None,
        },
        DomainPdu::DisconnectProviderUltimatum { reason } => {
            McsEvent::DisconnectProviderUltimatum {
                reason: match reason {
                    Some(r) => names::mcs_reason_name(r),
                    None => "unknown (truncated)".to_string(),
                },
            }
        }
        DomainPdu::SendData(_) | DomainPdu::Other { .. } => return None,
    })
}

/// A decoded connect PDU, with the raw GCC data the event is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectPdu {
    /// Connect-Initial and the client's data blocks.
    Initial(gcc::ClientData),
    /// Connect-Response: its result and the server's data blocks.
    Response {
        /// The T.125 result (0 is success).
        result: u8,
        /// The server's data blocks.
        server: gcc::ServerData,
    },
}

impl ConnectPdu {
    /// The event this PDU is reported as (channels not yet named).
    pub fn event(&self) -> McsEvent {
        match self {
            ConnectPdu::Initial(client) => initial_event(client),
            ConnectPdu::Response { result, server } => response_event(*result, server),
        }
    }
}

/// Decodes a BER connect PDU; Ok(None) for Connect-Additional and Connect-Result,
/// which RDP does not use.
pub fn decode_connect(data: &[u8]) -> Result<Option<ConnectPdu>, String> {
    let outer = Reader::new(data)
        .next_element()
        .map_err(|e| ber_message(e, "MCS connect PDU header"))?;
    match outer.tag {
        CONNECT_INITIAL => connect_initial(outer.value).map(Some),
        CONNECT_RESPONSE => connect_response(outer.value).map(Some),
        CONNECT_ADDITIONAL | CONNECT_RESULT => Ok(None),
        t => Err(format!("unknown MCS connect PDU tag 0x{t:04x}")),
    }
}

/// Parses Connect-Initial: two domain selectors, upwardFlag, three DomainParameters,
/// then userData with the GCC Conference Create Request.
fn connect_initial(body: &[u8]) -> Result<ConnectPdu, String> {
    let mut r = Reader::new(body);
    let steps: [(u16, &str); 6] = [
        (0x04, "callingDomainSelector"),
        (0x04, "calledDomainSelector"),
        (0x01, "upwardFlag"),
        (0x30, "targetParameters"),
        (0x30, "minimumParameters"),
        (0x30, "maximumParameters"),
    ];
    let mut client = gcc::ClientData::default();
    let mut complete = true;
    for (tag, what) in steps {
        if !step(&mut r, tag, what)? {
            complete = false;
            break;
        }
    }
    if complete {
        if let Some(user_data) = element(&mut r, 0x04, "userData")? {
            if let Some(blocks) = per::user_data(user_data, per::CLIENT_KEY) {
                client = gcc::client_data(blocks);
            }
        }
    }
    Ok(ConnectPdu::Initial(client))
}

/// The Connect Initial event for the client's data blocks.
fn initial_event(client: &gcc::ClientData) -> McsEvent {
    McsEvent::ConnectInitial {
        client_version: client.version.map(names::rdp_version_name),
        desktop_width: client.width,
        desktop_height: client.height,
        client_name: client.name.clone(),
        server_selected_protocol: client.selected_protocol.map(Protocols),
        channels: client.channel_names(),
        client_build: client.build,
        early_capability_flags: client
            .early_caps
            .map(|f| names::flag_names(u32::from(f), names::EARLY_CAPABILITY_FLAGS)),
        encryption_methods: client.encryption_methods.map(EncryptionMethods),
        encryption_methods_code: client.encryption_methods,
        cluster_flags: client.cluster_flags.map(gcc::cluster_flag_names),
        redirection_supported: client.cluster_flags.map(|f| f & 0x01 != 0),
        monitor_count: client.monitor_count,
        channel_defs: client
            .channels
            .iter()
            .map(|c| ChannelDef {
                name: c.name.clone(),
                options: gcc::channel_option_names(c.options),
                options_code: c.options,
            })
            .collect(),
        message_channel: client.message_channel,
    }
}

/// Parses Connect-Response: result, calledConnectId, domainParameters, then userData
/// with the GCC Conference Create Response.
fn connect_response(body: &[u8]) -> Result<ConnectPdu, String> {
    let mut r = Reader::new(body);
    let result = connect_result(&mut r)?;
    let mut server = gcc::ServerData::default();
    if step(&mut r, 0x02, "calledConnectId")? && step(&mut r, 0x30, "domainParameters")? {
        if let Some(user_data) = element(&mut r, 0x04, "userData")? {
            if let Some(blocks) = per::user_data(user_data, per::SERVER_KEY) {
                server = gcc::server_data(blocks);
            }
        }
    }
    Ok(ConnectPdu::Response { result, server })
}

/// The Connect Response event for this result and the server's data blocks.
fn response_event(result_code: u8, server: &gcc::ServerData) -> McsEvent {
    McsEvent::ConnectResponse {
        result: names::mcs_result_name(result_code),
        result_code,
        server_version: server.version.map(names::rdp_version_name),
        client_requested_protocols: server.client_requested_protocols.map(Protocols),
        early_capability_flags: server
            .early_caps
            .map(|f| names::flag_names(f, gcc::SERVER_EARLY_CAPABILITY_FLAGS)),
        encryption_method: server.encryption_method.map(EncryptionMethods),
        encryption_method_code: server.encryption_method,
        encryption_level: server.encryption_level.map(EncryptionLevel),
        encryption_level_code: server.encryption_level,
        io_channel_id: server.io_channel,
        channels: server
            .channel_ids
            .iter()
            .map(|&id| ChannelRef { id, name: None })
            .collect(),
        message_channel_id: server.message_channel,
    }
}

/// Reads the Connect-Response result, the one fact that PDU exists for: without it
/// there is no event.
fn connect_result(r: &mut Reader<'_>) -> Result<u8, String> {
    let Some(result) = element(r, 0x0a, "result")? else {
        return Err("MCS Connect-Response is truncated before its result".to_string());
    };
    ber::small_uint(result)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| {
            format!("MCS Connect-Response result {result:02x?} is not a small ENUMERATED")
        })
}

/// Reads an expected element; Ok(None) when the data ends (truncation is tolerated).
fn element<'a>(r: &mut Reader<'a>, tag: u16, what: &str) -> Result<Option<&'a [u8]>, String> {
    match r.expect(tag, what) {
        Ok(e) => Ok(Some(e.value)),
        Err(BerError::Truncated) => Ok(None),
        Err(e) => Err(ber_message(e, what)),
    }
}

/// Skips an expected element whole; false when the data ended in or before it.
fn step(r: &mut Reader<'_>, tag: u16, what: &str) -> Result<bool, String> {
    match r.expect(tag, what) {
        Ok(e) => Ok(!e.truncated),
        Err(BerError::Truncated) => Ok(false),
        Err(e) => Err(ber_message(e, what)),
    }
}

/// A plain-English message for a BER failure while reading `what`.
fn ber_message(e: BerError, what: &str) -> String {
    match e {
        BerError::Truncated => format!("MCS data ends inside the {what}"),
        BerError::Malformed(m) => format!("malformed MCS {what}: {m}"),
    }
}

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
