//! X.224 (class 0) connection setup PDUs carried in TPKT: Connection Request/Confirm,
//! Disconnect Request, and the optional preconnection PDU that precedes them.

use super::names::{self, NegFailureCode, Protocols};
use super::reassembly::Hint;
use super::tpkt::{TPKT_HEADER_LEN, TPKT_VERSION};
use super::wire::{le_u16, le_u32};
use serde::{Deserialize, Serialize};

/// What the X.224 decoder saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum X224Event {
    /// The preconnection PDU (Hyper-V / VM connect), sent before X.224.
    PreconnectionPdu {
        /// PDU version (1 or 2).
        version: u32,
        /// The preconnection id.
        id: u32,
        /// The version-2 blob (usually a VM id), if present.
        blob: Option<String>,
    },
    /// The client's Connection Request.
    ConnectionRequest {
        /// The `mstshash=` cookie value (a user or host hint).
        cookie: Option<String>,
        /// A routing token line (load balancer / broker), without its CRLF.
        routing_token: Option<String>,
        /// The RDP_NEG_REQ flags, by name.
        neg_flags: Vec<String>,
        /// requestedProtocols; None when the client sent no RDP_NEG_REQ (legacy client).
        requested_protocols: Option<Protocols>,
        /// The correlation id GUID from RDP_NEG_CORRELATION_INFO.
        correlation_id: Option<String>,
    },
    /// The server's Connection Confirm with an RDP_NEG_RSP (or none: a legacy server).
    ConnectionConfirm {
        /// selectedProtocol; None for a CC without negotiation data (standard RDP security).
        selected_protocol: Option<Protocols>,
        /// The RDP_NEG_RSP flags, by name.
        neg_flags: Vec<String>,
    },
    /// The server's Connection Confirm carrying RDP_NEG_FAILURE.
    NegotiationFailure {
        /// failureCode, by name.
        code: NegFailureCode,
    },
    /// An X.224 Disconnect Request.
    DisconnectRequest,
    /// The first bytes are not TPKT/X.224 (nor a preconnection PDU): not RDP.
    NotRdp {
        /// Up to the first 16 bytes, in hex.
        first_bytes: String,
    },
}

/// The smallest preconnection PDU (V1: cbSize, flags, version, id).
const PCB_MIN: usize = 16;
/// A sanity cap on cbSize: real blobs are a VM GUID or a short string, and the cap keeps
/// a misread length from making us wait for (or buffer) megabytes.
const PCB_MAX: usize = 8192;
/// Longest preconnection blob we render, in characters.
const PCB_BLOB_MAX_CHARS: usize = 512;
/// Longest cookie we keep; FreeRDP refuses longer ones too.
const COOKIE_MAX_CHARS: usize = 255;
/// Longest routing token we keep (they carry a host, port or collection name).
const TOKEN_MAX_CHARS: usize = 512;
/// CR/CC/DR fixed header: LI, code, DST-REF, SRC-REF, class/reason.
const FIXED_HEADER_LEN: usize = 7;
/// Length of every RDP_NEG_* structure after the cookie or in the CC.
const NEG_LEN: usize = 8;
/// Length of RDP_NEG_CORRELATION_INFO.
const CORRELATION_LEN: usize = 36;

/// The ANSI prefix of the `mstshash` cookie line.
const COOKIE_PREFIX: &[u8] = b"Cookie: mstshash=";
/// Routing token prefixes (load balancer, session broker, AVD-style).
const TOKEN_PREFIXES: [&[u8]; 3] = [b"Cookie: msts=", b"tsv://", b"mth://"];

/// One X.224 TPDU from a whole TPKT frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tpdu<'a> {
    /// A connection-setup TPDU, decoded.
    Event(X224Event),
    /// A Data TPDU: the user data after the 3-byte DT header (MCS or security PDUs).
    Data(&'a [u8]),
}

/// Frames a preconnection PDU: its first u32 (LE) is the total length.
pub fn preconnection_hint(buf: &[u8]) -> Hint {
    let Some(size) = le_u32(buf, 0) else {
        return Hint::Incomplete;
    };
    let Some(size) = usize::try_from(size)
        .ok()
        .filter(|s| (PCB_MIN..=PCB_MAX).contains(s))
    else {
        return Hint::Invalid(format!(
            "preconnection PDU size {size} is outside the plausible {PCB_MIN}..={PCB_MAX} bytes"
        ));
    };
    if size <= buf.len() {
        Hint::Frame(size)
    } else {
        Hint::Needs(size)
    }
}

/// True when the stream plausibly starts with a preconnection PDU rather than TPKT.
///
/// It wants the whole 16-byte V1 header and a consistent cbSize/version pair, and
/// says false when unsure, so that a non-RDP stream is reported as such instead.
pub fn looks_like_preconnection(buf: &[u8]) -> bool {
    if buf.first() == Some(&TPKT_VERSION) || buf.len() < PCB_MIN {
        return false;
    }
    let (Some(size), Some(version)) = (le_u32(buf, 0), le_u32(buf, 8)) else {
        return false;
    };
    let Ok(size) = usize::try_from(size) else {
        return false;
    };
    match version {
        // MS-RDPEPS: V1 is always exactly 16 bytes; V2 is 18 bytes plus the blob.
        1 => size == PCB_MIN,
        2 => (PCB_MIN + 2..=PCB_MAX).contains(&size),
        _ => false,
    }
}

/// Decodes a whole preconnection PDU (RDP_PRECONNECTION_PDU_V1 or _V2, MS-RDPEPS).
pub fn decode_preconnection(frame: &[u8]) -> Result<X224Event, String> {
    let (Some(size), Some(_flags), Some(version), Some(id)) = (
        le_u32(frame, 0),
        le_u32(frame, 4),
        le_u32(frame, 8),
        le_u32(frame, 12),
    ) else {
        return Err(format!(
            "preconnection PDU is {} bytes, shorter than the 16-byte header",
            frame.len()
        ));
    };
    // Only look inside the PDU's own cbSize, even if the caller passed more.
    let end = usize::try_from(size).unwrap_or(usize::MAX).min(frame.len());
    let pdu = frame.get(..end).unwrap_or(frame);
    let blob = match version {
        1 => None,
        2 => {
            let Some(cch) = le_u16(pdu, 16) else {
                return Err("preconnection PDU V2 is too short to hold cchPCB".to_string());
            };
            let want = usize::from(cch).saturating_mul(2);
            let Some(raw) = pdu.get(18..18 + want) else {
                return Err(format!(
                    "preconnection PDU V2 blob of {cch} characters does not fit in {} bytes",
                    pdu.len()
                ));
            };
            Some(names::utf16_text(raw, PCB_BLOB_MAX_CHARS))
        }
        v => return Err(format!("unknown preconnection PDU version {v}")),
    };
    Ok(X224Event::PreconnectionPdu { version, id, blob })
}

/// Decodes the X.224 TPDU in a whole TPKT frame (header included).
pub fn decode_tpdu(frame: &[u8]) -> Result<Tpdu<'_>, String> {
    let body = tpkt_body(frame)?;
    let (Some(&li), Some(&code)) = (body.first(), body.get(1)) else {
        return Err(format!(
            "TPKT frame of {} bytes is too short to hold an X.224 header",
            frame.len()
        ));
    };
    let li = usize::from(li);
    if li + 1 > body.len() {
        return Err(format!(
            "X.224 length indicator {li} runs past the {}-byte TPDU",
            body.len()
        ));
    }
    // The low nibble of CR/CC carries the credit (always 0 in class 0); only the high
    // nibble names the TPDU.
    match code & 0xf0 {
        0xe0 => {
            let data = after_fixed_header(body, li, "Connection Request")?;
            connection_request(data).map(Tpdu::Event)
        }
        0xd0 => {
            let data = after_fixed_header(body, li, "Connection Confirm")?;
            connection_confirm(data).map(Tpdu::Event)
        }
        0x80 => {
            after_fixed_header(body, li, "Disconnect Request")?;
            Ok(Tpdu::Event(X224Event::DisconnectRequest))
        }
        0xf0 => {
            if li != 2 {
                return Err(format!(
                    "X.224 Data TPDU has length indicator {li}, expected 2"
                ));
            }
            Ok(Tpdu::Data(body.get(3..).unwrap_or(&[])))
        }
        0x70 => Err("X.224 TPDU Error (ER, code 0x70): the peer rejected a TPDU".to_string()),
        _ => Err(format!("unsupported X.224 TPDU code 0x{code:02x}")),
    }
}

/// The NotRdp event for a stream that starts with these bytes.
pub fn not_rdp(buf: &[u8]) -> X224Event {
    X224Event::NotRdp {
        first_bytes: names::hex_prefix(buf, 16),
    }
}

/// The TPDU bytes of a TPKT frame: after the header, up to the TPKT length.
fn tpkt_body(frame: &[u8]) -> Result<&[u8], String> {
    match frame.first() {
        Some(&TPKT_VERSION) => {}
        Some(b) => return Err(format!("not a TPKT frame: first byte 0x{b:02x}")),
        None => return Err("empty TPKT frame".to_string()),
    }
    let (Some(&hi), Some(&lo)) = (frame.get(2), frame.get(3)) else {
        return Err(format!("TPKT frame of {} bytes has no length", frame.len()));
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < TPKT_HEADER_LEN {
        return Err(format!("TPKT length {len} is shorter than its header"));
    }
    // Trailing bytes beyond the TPKT length belong to the next frame, not to this TPDU.
    frame.get(TPKT_HEADER_LEN..len).ok_or_else(|| {
        format!(
            "TPKT length {len} exceeds the {} bytes available",
            frame.len()
        )
    })
}

/// The variable part after a CR/CC/DR fixed header.
///
/// RDP puts the cookie and negotiation structures in the variable part, so LI normally
/// covers the whole TPDU; we read to the end of the TPKT anyway so that a client with a
/// miscounted LI is still shown for what it sent.
fn after_fixed_header<'a>(body: &'a [u8], li: usize, what: &str) -> Result<&'a [u8], String> {
    if li + 1 < FIXED_HEADER_LEN {
        return Err(format!(
            "X.224 {what} length indicator {li} is shorter than the 6-byte fixed header"
        ));
    }
    Ok(body.get(FIXED_HEADER_LEN..).unwrap_or(&[]))
}

/// Parses the CR variable part: cookie or routing token, RDP_NEG_REQ, correlation info.
fn connection_request(data: &[u8]) -> Result<X224Event, String> {
    let mut cookie = None;
    let mut routing_token = None;
    let mut rest = data;
    if let Some((line, after)) = text_line(data)? {
        if let Some(value) = line.strip_prefix(COOKIE_PREFIX) {
            cookie = Some(names::wire_text(value, COOKIE_MAX_CHARS));
        } else {
            // Known routing-token prefixes and any other text line alike: the client sent
            // it, the server will try to use it, so it is worth showing.
            routing_token = Some(names::wire_text(line, TOKEN_MAX_CHARS));
        }
        rest = after;
    }

    let mut neg_flags = Vec::new();
    let mut requested_protocols = None;
    let mut correlation_id = None;
    if !rest.is_empty() {
        let neg = neg_struct(rest, "Connection Request")?;
        if neg.kind != 0x01 {
            return Err(format!(
                "Connection Request carries negotiation type 0x{:02x}, expected RDP_NEG_REQ (0x01)",
                neg.kind
            ));
        }
        neg_flags = names::flag_names(u32::from(neg.flags), names::NEG_REQ_FLAGS);
        requested_protocols = Some(Protocols(neg.value));
        let tail = rest.get(NEG_LEN..).unwrap_or(&[]);
        // Correlation info is optional even when the flag says it is present; a client
        // that sets the flag and omits it is still shown, just without the id.
        if tail.len() >= CORRELATION_LEN && tail.first() == Some(&0x06) {
            correlation_id = tail.get(4..20).map(format_guid);
        }
    }
    Ok(X224Event::ConnectionRequest {
        cookie,
        routing_token,
        neg_flags,
        requested_protocols,
        correlation_id,
    })
}

/// Parses the CC variable part: RDP_NEG_RSP, RDP_NEG_FAILURE, or nothing.
fn connection_confirm(data: &[u8]) -> Result<X224Event, String> {
    if data.is_empty() {
        // A legacy server that knows nothing of negotiation: standard RDP security.
        return Ok(X224Event::ConnectionConfirm {
            selected_protocol: None,
            neg_flags: Vec::new(),
        });
    }
    let neg = neg_struct(data, "Connection Confirm")?;
    match neg.kind {
        0x02 => Ok(X224Event::ConnectionConfirm {
            selected_protocol: Some(Protocols(neg.value)),
            neg_flags: names::flag_names(u32::from(neg.flags), names::NEG_RSP_FLAGS),
        }),
        0x03 => Ok(X224Event::NegotiationFailure {
            code: NegFailureCode::from_u32(neg.value),
        }),
        k => Err(format!(
            "Connection Confirm carries negotiation type 0x{k:02x}, expected RDP_NEG_RSP (0x02) or RDP_NEG_FAILURE (0x03)"
        )),
    }
}

/// An RDP_NEG_REQ / RDP_NEG_RSP / RDP_NEG_FAILURE header and its u32 value.
struct NegStruct {
    kind: u8,
    flags: u8,
    value: u32,
}

/// Reads the 8-byte negotiation structure at the start of `data`.
fn neg_struct(data: &[u8], what: &str) -> Result<NegStruct, String> {
    let (Some(&kind), Some(&flags), Some(len), Some(value)) =
        (data.first(), data.get(1), le_u16(data, 2), le_u32(data, 4))
    else {
        return Err(format!(
            "{what} negotiation data is truncated: {} of 8 bytes",
            data.len()
        ));
    };
    // Windows always sends 8; a different length means we would misread what follows.
    if usize::from(len) != NEG_LEN {
        return Err(format!(
            "{what} negotiation structure type 0x{kind:02x} has length {len}, expected 8"
        ));
    }
    Ok(NegStruct { kind, flags, value })
}

/// A text line without its CRLF, and the bytes after the CRLF.
type Line<'a> = (&'a [u8], &'a [u8]);

/// Splits off a leading CRLF-terminated text line, if the data starts with one.
///
/// Negotiation structures start with a small type byte (0x01), so data that starts
/// with printable text is a cookie or token line, which must then end with CRLF.
fn text_line(data: &[u8]) -> Result<Option<Line<'_>>, String> {
    match data.first() {
        Some(b) if b.is_ascii_graphic() => {}
        _ => return Ok(None),
    }
    let Some(at) = data.windows(2).position(|w| w == b"\r\n") else {
        let kind = if data.starts_with(COOKIE_PREFIX) {
            "cookie"
        } else if TOKEN_PREFIXES.iter().any(|p| data.starts_with(p)) {
            "routing token"
        } else {
            "text"
        };
        return Err(format!(
            "Connection Request {kind} is not terminated by CRLF"
        ));
    };
    let line = data.get(..at).unwrap_or(&[]);
    let after = data.get(at + 2..).unwrap_or(&[]);
    Ok(Some((line, after)))
}

/// Formats 16 bytes as a Windows GUID: the first three fields are little-endian.
fn format_guid(b: &[u8]) -> String {
    let d1 = le_u32(b, 0).unwrap_or(0);
    let d2 = le_u16(b, 4).unwrap_or(0);
    let d3 = le_u16(b, 6).unwrap_or(0);
    let tail = b.get(8..16).unwrap_or(&[]);
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02X}")).collect::<String>();
    format!(
        "{{{d1:08X}-{d2:04X}-{d3:04X}-{}-{}}}",
        hex(tail.get(..2).unwrap_or(&[])),
        hex(tail.get(2..).unwrap_or(&[]))
    )
}

#[cfg(test)]
#[path = "x224_tests.rs"]
mod tests;
