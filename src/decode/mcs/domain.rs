//! MCS domain PDUs (T.125 DomainMCSPDU, aligned PER) as RDP uses them after the
//! connect PDUs: Erect Domain, Attach User, Channel Join, Send Data and the Disconnect
//! Provider Ultimatum.
//!
//! The first byte holds the 6-bit choice index, then the PDU's optional-field bits and,
//! for confirms, the top of a 4-bit result. Fields after that are octet-aligned: user
//! ids are 16-bit offsets from 1001, channel ids plain 16-bit, lengths PER determinants.

use super::per;
use super::types::McsResult;
use crate::decode::wire::{Reader, Short};

/// DomainMCSPDU choice: Erect Domain Request.
pub const ERECT_DOMAIN_REQUEST: u8 = 1;
/// DomainMCSPDU choice: Disconnect Provider Ultimatum.
pub const DISCONNECT_PROVIDER_ULTIMATUM: u8 = 8;
/// DomainMCSPDU choice: Attach User Request.
pub const ATTACH_USER_REQUEST: u8 = 10;
/// DomainMCSPDU choice: Attach User Confirm.
pub const ATTACH_USER_CONFIRM: u8 = 11;
/// DomainMCSPDU choice: Channel Join Request.
pub const CHANNEL_JOIN_REQUEST: u8 = 14;
/// DomainMCSPDU choice: Channel Join Confirm.
pub const CHANNEL_JOIN_CONFIRM: u8 = 15;
/// DomainMCSPDU choice: Send Data Request (client to server).
pub const SEND_DATA_REQUEST: u8 = 25;
/// DomainMCSPDU choice: Send Data Indication (server to client).
pub const SEND_DATA_INDICATION: u8 = 26;
/// The last DomainMCSPDU choice index (tokenTestConfirm) in T.125.
pub const LAST_CHOICE: u8 = 42;

/// UserId is INTEGER (1001..65535): PER sends it as an offset from 1001.
const USER_ID_BASE: u16 = 1001;
/// The optional-field bit in the first byte of Attach User Confirm and Channel Join Confirm.
const OPTIONAL_PRESENT: u8 = 0x02;

/// One decoded domain PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPdu<'a> {
    /// Erect Domain Request with its (unused by RDP) height and interval.
    ErectDomain {
        /// subHeight.
        sub_height: u32,
        /// subInterval.
        sub_interval: u32,
    },
    /// Attach User Request (no fields).
    AttachUserRequest,
    /// Attach User Confirm; the initiator is the user channel id.
    AttachUserConfirm {
        /// The T.125 result.
        result: McsResult,
        /// The initiator (the user channel id), when present.
        user_id: Option<u16>,
    },
    /// Channel Join Request.
    ChannelJoinRequest {
        /// The initiator (user channel id).
        user_id: u16,
        /// The channel to join.
        channel_id: u16,
    },
    /// Channel Join Confirm.
    ChannelJoinConfirm {
        /// The T.125 result.
        result: McsResult,
        /// The initiator (user channel id).
        user_id: u16,
        /// The channel the client asked for.
        requested: u16,
        /// The channel joined, present on success.
        channel_id: Option<u16>,
    },
    /// Send Data Request or Indication.
    SendData(SendData<'a>),
    /// Disconnect Provider Ultimatum; None when the PDU ends before the reason.
    DisconnectProviderUltimatum {
        /// The 3-bit T.125 reason.
        reason: Option<u8>,
    },
    /// Any other DomainMCSPDU choice; RDP does not use them.
    Other {
        /// The choice index.
        choice: u8,
    },
}

/// The fields of a Send Data Request or Indication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendData<'a> {
    /// True for Send Data Indication (server to client), false for Request.
    pub indication: bool,
    /// The initiator (user channel id).
    pub user_id: u16,
    /// The channel the data travels on.
    pub channel_id: u16,
    /// dataPriority: 0 top, 1 high, 2 medium, 3 low.
    pub priority: u8,
    /// segmentation bits: 0b10 begin, 0b01 end.
    pub segmentation: u8,
    /// The userData octets (the RDP PDU or virtual channel chunk).
    pub user_data: &'a [u8],
}

/// Decodes one domain PDU from X.224 Data user data.
///
/// A whole TPKT frame always holds a whole MCS PDU, so running out of bytes here means
/// the PDU is malformed, and is an error.
pub fn decode_domain(data: &[u8]) -> Result<DomainPdu<'_>, String> {
    let Some(&first) = data.first() else {
        return Err("empty MCS PDU".to_string());
    };
    let choice = first >> 2;
    let mut r = Cursor::after_first(data, choice_name(choice));
    Ok(match choice {
        ERECT_DOMAIN_REQUEST => DomainPdu::ErectDomain {
            sub_height: r.integer()?,
            sub_interval: r.integer()?,
        },
        DISCONNECT_PROVIDER_ULTIMATUM => DomainPdu::DisconnectProviderUltimatum {
            // The 3-bit reason straddles the first two bytes: the two low bits of the
            // choice byte, then the top bit of the next.
            reason: data.get(1).map(|b| ((first & 0x03) << 1) | (b >> 7)),
        },
        ATTACH_USER_REQUEST => DomainPdu::AttachUserRequest,
        ATTACH_USER_CONFIRM => {
            let result = r.result(first)?;
            let user_id = if first & OPTIONAL_PRESENT != 0 {
                Some(r.user_id()?)
            } else {
                None
            };
            DomainPdu::AttachUserConfirm { result, user_id }
        }
        CHANNEL_JOIN_REQUEST => DomainPdu::ChannelJoinRequest {
            user_id: r.user_id()?,
            channel_id: r.u16()?,
        },
        CHANNEL_JOIN_CONFIRM => {
            let result = r.result(first)?;
            let user_id = r.user_id()?;
            let requested = r.u16()?;
            let channel_id = if first & OPTIONAL_PRESENT != 0 {
                Some(r.u16()?)
            } else {
                None
            };
            DomainPdu::ChannelJoinConfirm {
                result,
                user_id,
                requested,
                channel_id,
            }
        }
        SEND_DATA_REQUEST | SEND_DATA_INDICATION => {
            let user_id = r.user_id()?;
            let channel_id = r.u16()?;
            // dataPriority (2 bits) and segmentation (2 bits) share one byte, then padding.
            let bits = r.u8()?;
            let user_data = r.octet_string()?;
            DomainPdu::SendData(SendData {
                indication: choice == SEND_DATA_INDICATION,
                user_id,
                channel_id,
                priority: bits >> 6,
                segmentation: (bits >> 4) & 0x03,
                user_data,
            })
        }
        c if c <= LAST_CHOICE => DomainPdu::Other { choice: c },
        _ => {
            return Err(format!(
                "first byte 0x{first:02x} is neither an MCS connect PDU nor a domain PDU"
            ))
        }
    })
}

/// The T.125 name of the domain PDUs decoded here, for error messages.
fn choice_name(choice: u8) -> &'static str {
    match choice {
        ERECT_DOMAIN_REQUEST => "Erect Domain Request",
        DISCONNECT_PROVIDER_ULTIMATUM => "Disconnect Provider Ultimatum",
        ATTACH_USER_REQUEST => "Attach User Request",
        ATTACH_USER_CONFIRM => "Attach User Confirm",
        CHANNEL_JOIN_REQUEST => "Channel Join Request",
        CHANNEL_JOIN_CONFIRM => "Channel Join Confirm",
        SEND_DATA_REQUEST => "Send Data Request",
        SEND_DATA_INDICATION => "Send Data Indication",
        _ => "domain PDU",
    }
}

/// Reads octet-aligned fields after the first byte through the shared [`Reader`]
/// (big-endian, as PER is), naming the PDU and the field in errors.
struct Cursor<'a> {
    r: Reader<'a>,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over the whole PDU `data`, standing after its first byte.
    fn after_first(data: &'a [u8], what: &'static str) -> Self {
        let mut r = Reader::new(data);
        // The caller read the first byte; an empty PDU just leaves nothing to read.
        let _ = r.skip(1);
        Cursor { r, what }
    }

    /// The words for a read of `field` past the end, which event files keep.
    fn ends_inside<'f>(what: &'static str, field: &'f str) -> impl FnOnce(Short) -> String + 'f {
        move |s| format!("MCS {what} ends inside its {field} ({} bytes)", s.len)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        self.r.take(n).map_err(Self::ends_inside(self.what, field))
    }

    fn u8(&mut self) -> Result<u8, String> {
        self.r.u8().map_err(Self::ends_inside(self.what, "flags"))
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.r
            .u16_be()
            .map_err(Self::ends_inside(self.what, "channel id"))
    }

    /// A UserId: the 16-bit offset from 1001.
    fn user_id(&mut self) -> Result<u16, String> {
        let offset = self
            .r
            .u16_be()
            .map_err(Self::ends_inside(self.what, "initiator"))?;
        offset.checked_add(USER_ID_BASE).ok_or_else(|| {
            format!(
                "MCS {} initiator offset {offset} is past the largest user id 65535",
                self.what
            )
        })
    }

    /// An unconstrained INTEGER: a length byte, then 1 to 4 big-endian bytes.
    fn integer(&mut self) -> Result<u32, String> {
        let len = usize::from(
            self.r
                .u8()
                .map_err(Self::ends_inside(self.what, "integer length"))?,
        );
        if !(1..=4).contains(&len) {
            return Err(format!(
                "MCS {} has a {len}-byte integer (1 to 4 expected)",
                self.what
            ));
        }
        let b = self.take(len, "integer")?;
        Ok(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
    }

    /// A 4-bit Result that follows the choice and optional bits.
    ///
    /// In aligned PER it starts in the first byte's low bit and takes the top three
    /// bits of the next (the rest is padding). Some servers (xrdp, FreeRDP) write the
    /// result as a whole byte instead; the two agree for success, and since padding
    /// bits are zero and results are below 16 the second byte tells them apart.
    fn result(&mut self, first: u8) -> Result<McsResult, String> {
        let second = self
            .r
            .u8()
            .map_err(Self::ends_inside(self.what, "result"))?;
        let per = ((first & 0x01) << 3) | (second >> 5);
        let whole_byte = first & 0x01 == 0 && second & 0xe0 == 0;
        Ok(McsResult(if whole_byte { second } else { per }))
    }

    /// An OCTET STRING: a PER length (1 or 2 bytes), then that many bytes.
    fn octet_string(&mut self) -> Result<&'a [u8], String> {
        let rest = self.r.unread();
        let Some((len, n)) = per::length(rest) else {
            return Err(match rest.first() {
                Some(b) if b >> 6 == 3 => format!(
                    "MCS {} uses a fragmented userData length (0x{b:02x}), which RDP never sends",
                    self.what
                ),
                _ => format!("MCS {} ends inside its userData length", self.what),
            });
        };
        self.take(n, "userData length")?;
        let have = self.r.remaining();
        if len > have {
            return Err(format!(
                "MCS {} userData claims {len} bytes but only {have} follow",
                self.what
            ));
        }
        self.take(len, "userData")
    }
}

#[cfg(test)]
#[path = "domain_tests.rs"]
mod tests;
