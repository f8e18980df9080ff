//! Demand Active and Confirm Active (MS-RDPBCGR 2.2.1.13): the capability exchange,
//! where the server proposes and the client confirms desktop size, color depth and
//! the features each side supports.

use super::names::{
    read_flags, CapabilitySetType, Flags, OsMajorType, OsMinorType, GENERAL_EXTRA_FLAGS,
};
use super::reader::{ansi_text, ParseError, Parsed, Reader};
use serde::{Deserialize, Serialize};

/// Most capability set types listed per PDU; real PDUs carry about thirty.
const MAX_LISTED_CAPS: usize = 64;

/// A Demand Active or Confirm Active PDU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivePdu {
    /// The share id the server assigned.
    pub share_id: u32,
    /// Confirm Active only: the originatorId (the server's MCS channel, 0x03EA).
    pub originator_id: Option<u16>,
    /// The sourceDescriptor text (e.g. "RDP", "MSTSC").
    pub source: String,
    /// numberCapabilities as announced.
    pub capability_count: u16,
    /// The capability set types present, in order (at most 64 listed).
    pub capabilities: Vec<CapabilitySetType>,
    /// General capability set: the sender's platform.
    pub os_major: Option<OsMajorType>,
    /// General capability set: the sender's platform version.
    pub os_minor: Option<OsMinorType>,
    /// General capability set: extraFlags (fast-path output, auto-reconnect...).
    #[serde(default, deserialize_with = "read_flags::general_extra")]
    pub extra_flags: Option<Flags>,
    /// Bitmap capability set: preferredBitsPerPixel.
    pub color_depth: Option<u16>,
    /// Bitmap capability set: desktop width.
    pub desktop_width: Option<u16>,
    /// Bitmap capability set: desktop height.
    pub desktop_height: Option<u16>,
    /// Demand Active only: the server's session id.
    pub session_id: Option<u32>,
}

/// Decodes the body after the Share Control Header; `confirm` selects Confirm Active.
pub fn active_pdu(r: &mut Reader<'_>, confirm: bool) -> Parsed<ActivePdu> {
    let share_id = r.u32()?;
    let originator_id = if confirm { Some(r.u16()?) } else { None };
    let len_source = r.u16()?;
    let len_caps = r.u16()?;
    let source = ansi_text(r.take(usize::from(len_source))?);
    // lengthCombinedCapabilities covers numberCapabilities, the pad and the sets.
    let caps_bytes = r.take(usize::from(len_caps)).unwrap_or_else(|_| r.rest());
    let mut pdu = ActivePdu {
        share_id,
        originator_id,
        source,
        capability_count: 0,
        capabilities: Vec::new(),
        os_major: None,
        os_minor: None,
        extra_flags: None,
        color_depth: None,
        desktop_width: None,
        desktop_height: None,
        session_id: None,
    };
    capability_sets(&mut Reader::new(caps_bytes), &mut pdu)?;
    if !confirm {
        pdu.session_id = r.u32().ok();
    }
    Ok(pdu)
}

/// Walks the capability sets, keeping their types and the few fields we report.
fn capability_sets(r: &mut Reader<'_>, pdu: &mut ActivePdu) -> Parsed<()> {
    pdu.capability_count = r.u16()?;
    let _pad = r.u16()?;
    // Each pass consumes at least the 4-byte set header, so the loop ends with the data.
    for _ in 0..pdu.capability_count {
        if r.remaining() == 0 {
            break;
        }
        let kind = CapabilitySetType(r.u16()?);
        let len = r.u16()?;
        let body_len = usize::from(len).checked_sub(4).ok_or_else(|| {
            ParseError::new(format!("capability set {kind} has length {len} (< 4)"))
        })?;
        let body = r.take(body_len).map_err(|e| {
            ParseError::new(format!(
                "capability set {}: {}",
                kind.name_or_unknown(),
                e.reason
            ))
        })?;
        if pdu.capabilities.len() < MAX_LISTED_CAPS {
            pdu.capabilities.push(kind);
        }
        let mut b = Reader::new(body);
        match kind.0 {
            1 => general(&mut b, pdu),
            2 => bitmap(&mut b, pdu),
            _ => {}
        }
    }
    Ok(())
}

/// TS_GENERAL_CAPABILITYSET: platform and extra flags; a short set keeps what it has.
fn general(b: &mut Reader<'_>, pdu: &mut ActivePdu) {
    pdu.os_major = b.u16().ok().map(OsMajorType);
    pdu.os_minor = b.u16().ok().map(OsMinorType);
    // protocolVersion, pad2octetsA, generalCompressionTypes precede extraFlags.
    if b.skip(6).is_ok() {
        pdu.extra_flags = b
            .u16()
            .ok()
            .map(|v| Flags::new(u32::from(v), GENERAL_EXTRA_FLAGS));
    }
}

/// TS_BITMAP_CAPABILITYSET: color depth and desktop size.
fn bitmap(b: &mut Reader<'_>, pdu: &mut ActivePdu) {
    pdu.color_depth = b.u16().ok();
    // receive1BitPerPixel, receive4BitsPerPixel, receive8BitsPerPixel.
    if b.skip(6).is_ok() {
        pdu.desktop_width = b.u16().ok();
        pdu.desktop_height = b.u16().ok();
    }
}
