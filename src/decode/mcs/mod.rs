//! MCS/GCC (T.125/T.124) Connect Initial and Connect Response, as seen in the clear under
//! standard RDP security.
//!
//! The connect PDUs are BER ([`ber`]); their userData is a GCC PDU in PER ([`per`])
//! wrapping RDP's data blocks ([`gcc`]). Domain PDUs after them are PER.

pub mod ber;
pub mod gcc;
pub mod patch;
pub mod per;

use super::names::{self, Protocols};
use ber::{BerError, Reader};
use serde::Serialize;

/// What the MCS decoder saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
/// DomainMCSPDU choice index of Disconnect Provider Ultimatum.
const DPUM_CHOICE: u8 = 8;
/// The last DomainMCSPDU choice index (tokenTestConfirm) in T.125.
const LAST_DOMAIN_CHOICE: u8 = 42;

/// Decodes one MCS PDU from X.224 Data user data.
///
/// Returns Ok(None) for valid MCS PDUs this decoder does not report (domain PDUs such
/// as Erect Domain, Attach User, Channel Join and Send Data). Truncated user data gives
/// the event with the fields that could be read; malformed BER headers are errors.
pub fn decode_mcs(data: &[u8]) -> Result<Option<McsEvent>, String> {
    let Some(&first) = data.first() else {
        return Err("empty MCS PDU".to_string());
    };
    // Connect PDUs are BER with a two-byte application tag; domain PDUs are PER whose
    // first byte is the DomainMCSPDU choice index shifted left by two.
    if first == 0x7f {
        return connect_pdu(data);
    }
    match first >> 2 {
        DPUM_CHOICE => Ok(Some(disconnect_ultimatum(data))),
        c if c <= LAST_DOMAIN_CHOICE => Ok(None),
        _ => Err(format!(
            "first byte 0x{first:02x} is neither an MCS connect PDU nor a domain PDU"
        )),
    }
}

/// Dispatches on the application tag of a BER connect PDU.
fn connect_pdu(data: &[u8]) -> Result<Option<McsEvent>, String> {
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
fn connect_initial(body: &[u8]) -> Result<McsEvent, String> {
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
    Ok(McsEvent::ConnectInitial {
        client_version: client.version.map(names::rdp_version_name),
        desktop_width: client.width,
        desktop_height: client.height,
        client_name: client.name,
        server_selected_protocol: client.selected_protocol.map(Protocols),
        channels: client.channels,
        client_build: client.build,
        early_capability_flags: client
            .early_caps
            .map(|f| names::flag_names(u32::from(f), names::EARLY_CAPABILITY_FLAGS)),
    })
}

/// Parses Connect-Response: result, calledConnectId, domainParameters, then userData
/// with the GCC Conference Create Response.
fn connect_response(body: &[u8]) -> Result<McsEvent, String> {
    let mut r = Reader::new(body);
    // The result is the one fact this PDU exists for; without it there is no event.
    let Some(result) = element(&mut r, 0x0a, "result")? else {
        return Err("MCS Connect-Response is truncated before its result".to_string());
    };
    let result_code = ber::small_uint(result)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| {
            format!("MCS Connect-Response result {result:02x?} is not a small ENUMERATED")
        })?;
    let mut server = gcc::ServerData::default();
    if step(&mut r, 0x02, "calledConnectId")? && step(&mut r, 0x30, "domainParameters")? {
        if let Some(user_data) = element(&mut r, 0x04, "userData")? {
            if let Some(blocks) = per::user_data(user_data, per::SERVER_KEY) {
                server = gcc::server_data(blocks);
            }
        }
    }
    Ok(McsEvent::ConnectResponse {
        result: names::mcs_result_name(result_code),
        result_code,
        server_version: server.version.map(names::rdp_version_name),
        client_requested_protocols: server.client_requested_protocols.map(Protocols),
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

/// Decodes a Disconnect Provider Ultimatum: the 3-bit reason straddles the first two
/// bytes (two low bits of the choice byte, then the top bit of the next).
fn disconnect_ultimatum(data: &[u8]) -> McsEvent {
    let high = data.first().map_or(0, |b| b & 0x03);
    let reason = match data.get(1) {
        Some(b) => names::mcs_reason_name((high << 1) | (b >> 7)),
        None => "unknown (truncated)".to_string(),
    };
    McsEvent::DisconnectProviderUltimatum { reason }
}

#[cfg(test)]
mod tests;
