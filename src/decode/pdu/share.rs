//! Share Control and Share Data headers (MS-RDPBCGR 2.2.8.1.1.1) and the dispatch of
//! what they carry: capability exchange, deactivation, redirection and Data PDUs.

use super::activation::active_pdu;
use super::data;
use super::names::{CompressionType, DataPduType, Flags, COMPRESSION_FLAGS};
use super::reader::{ParseError, Parsed, Reader};
use super::redirect::redirection;
use super::{IoStats, RdpEvent};
use crate::vocab::Dir;

/// totalLength value that marks a T.128 flow PDU, which carries nothing for us.
pub const FLOW_MARKER: u16 = 0x8000;
/// The PDUVersion every Share Control Header carries (TS_PROTOCOL_VERSION).
const PROTOCOL_VERSION: u16 = 0x1;
/// compressedType bit saying the body is bulk-compressed.
const PACKET_COMPRESSED: u8 = 0x20;

/// True when `pdu_type` (the second u16 of a payload) has the Share Control form.
pub fn is_share_pdu_type(pdu_type: u16) -> bool {
    pdu_type >> 4 == PROTOCOL_VERSION
}

/// Decodes one Share Control PDU; counted PDUs give `None`.
pub fn share_pdu(payload: &[u8], dir: Dir, stats: &mut IoStats) -> Parsed<Option<RdpEvent>> {
    let mut r = Reader::new(payload);
    let total = r.u16()?;
    if total == FLOW_MARKER {
        stats.flow_pdus += 1;
        return Ok(None);
    }
    let pdu_type = r.u16()?;
    if !is_share_pdu_type(pdu_type) {
        return Err(ParseError::new(format!(
            "pduType 0x{pdu_type:04x} lacks the protocol version 1"
        )));
    }
    if total < 4 {
        return Err(ParseError::new(format!("totalLength {total} is below 4")));
    }
    // Read within totalLength when the payload holds it all; a shorter payload is read
    // as far as it goes, which still yields the leading fields of a cut PDU.
    let body = payload.get(..usize::from(total)).unwrap_or(payload);
    let mut r = Reader::new(body);
    r.skip(4)?;
    let kind = (pdu_type & 0x0F) as u8;
    // A Deactivate All may come as the bare 4-byte header (no pduSource, no body).
    if kind == 0x6 && total == 4 {
        return Ok(Some(RdpEvent::DeactivateAll { share_id: None }));
    }
    let _pdu_source = r.u16()?;
    let event = match kind {
        0x1 => RdpEvent::DemandActive(Box::new(
            active_pdu(&mut r, false).map_err(|e| e.within("Demand Active"))?,
        )),
        0x3 => RdpEvent::ConfirmActive(Box::new(
            active_pdu(&mut r, true).map_err(|e| e.within("Confirm Active"))?,
        )),
        0x6 => RdpEvent::DeactivateAll {
            share_id: r.u32().ok(),
        },
        0x7 => return data_pdu(&mut r, dir, stats),
        0xA => {
            r.skip(2)?;
            RdpEvent::ServerRedirection(Box::new(
                redirection(&mut r).map_err(|e| e.within("Server Redirection"))?,
            ))
        }
        _ => {
            stats.unknown_pdus += 1;
            return Ok(None);
        }
    };
    Ok(Some(event))
}

/// True for the Data PDU types reported one by one (the rest are only counted).
fn reported(pdu_type2: u8) -> bool {
    matches!(
        pdu_type2,
        0x14 | 0x1F | 0x24 | 0x25 | 0x26 | 0x27 | 0x28 | 0x2B | 0x2F | 0x36 | 0x37
    )
}

/// Decodes the Share Data Header and the body it announces.
fn data_pdu(r: &mut Reader<'_>, dir: Dir, stats: &mut IoStats) -> Parsed<Option<RdpEvent>> {
    let _share_id = r.u32()?;
    let _pad = r.u8()?;
    let _stream_id = r.u8()?;
    let _uncompressed_len = r.u16()?;
    let pdu_type2 = r.u8()?;
    let compressed_type = r.u8()?;
    let _compressed_len = r.u16()?;
    stats.data_pdus[dir.idx()] += 1;
    let kind = DataPduType(pdu_type2);
    if compressed_type & PACKET_COMPRESSED != 0 {
        // The body needs the peer's decompression history, which a mid-stream observer
        // lacks; say so instead of reading compressed bytes as fields.
        stats.compressed_pdus += 1;
        return Ok(reported(pdu_type2).then_some(RdpEvent::CompressedPdu {
            pdu_type2: kind,
            compression: CompressionType(compressed_type & 0x0F),
            flags: Flags::new(u32::from(compressed_type & 0xF0), COMPRESSION_FLAGS),
        }));
    }
    let what = kind.name_or_unknown();
    let event = match pdu_type2 {
        0x1F => data::synchronize(r),
        0x14 => data::control(r),
        0x27 => data::font_list(r, false),
        0x28 => data::font_list(r, true),
        0x2B => data::persistent_key_list(r),
        0x26 => data::save_session_info(r).map(|s| RdpEvent::SaveSessionInfo(Box::new(s))),
        0x2F => data::set_error_info(r),
        0x24 => Ok(RdpEvent::ShutdownRequest),
        0x25 => Ok(RdpEvent::ShutdownDenied),
        0x37 => data::monitor_layout(r),
        0x36 => data::status_info(r),
        _ => {
            count(pdu_type2, stats);
            return Ok(None);
        }
    };
    event.map(Some).map_err(|e| e.within(what))
}

/// Counts a Data PDU that is not reported one by one.
fn count(pdu_type2: u8, stats: &mut IoStats) {
    let counter = match pdu_type2 {
        0x02 => &mut stats.updates,
        0x1C => &mut stats.inputs,
        0x1B => &mut stats.pointers,
        0x21 => &mut stats.refresh_rects,
        0x23 => &mut stats.suppress_outputs,
        0x29 | 0x2D => &mut stats.keyboard_status,
        t if DataPduType(t).name().is_some() => &mut stats.other_data_pdus,
        _ => &mut stats.unknown_pdus,
    };
    *counter += 1;
}
