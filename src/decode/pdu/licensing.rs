//! Licensing PDUs (MS-RDPBCGR 2.2.1.12, MS-RDPELE 2.2.2): the preamble of every
//! message, and the error code of ERROR_ALERT, which is how a server says licensing
//! passed (STATUS_VALID_CLIENT) or failed.

use super::reader::{Parsed, Reader};
use crate::vocab::closed_vocab;
use serde::{Deserialize, Serialize};

code_type! {
    /// Licensing preamble bMsgType.
    LicenseMsgType(u8) {
        0x01 => "LICENSE_REQUEST", "the server asks the client for a license";
        0x02 => "PLATFORM_CHALLENGE", "the server challenges the client's platform";
        0x03 => "NEW_LICENSE", "the server issues a new license";
        0x04 => "UPGRADE_LICENSE", "the server upgrades the client's license";
        0x12 => "LICENSE_INFO", "the client presents a stored license";
        0x13 => "NEW_LICENSE_REQUEST", "the client asks for a new license";
        0x15 => "PLATFORM_CHALLENGE_RESPONSE", "the client answers the platform challenge";
        0xFF => "ERROR_ALERT", "an error or status message";
    }
}

code_type! {
    /// LICENSE_ERROR_MESSAGE dwErrorCode.
    LicenseErrorCode(u32) {
        0x01 => "ERR_INVALID_SERVER_CERTIFICATE", "the server certificate is not valid";
        0x02 => "ERR_NO_LICENSE", "the client has no license";
        0x03 => "ERR_INVALID_MAC", "a licensing message failed its integrity check";
        0x04 => "ERR_INVALID_SCOPE", "the license scope is not valid";
        0x06 => "ERR_NO_LICENSE_SERVER", "no license server is available";
        0x07 => "STATUS_VALID_CLIENT", "the client is licensed";
        0x08 => "ERR_INVALID_CLIENT", "the client is not valid";
        0x0B => "ERR_INVALID_PRODUCTID", "the product id is not valid";
        0x0C => "ERR_INVALID_MESSAGE_LEN", "a licensing message had an invalid length";
    }
}

code_type! {
    /// LICENSE_ERROR_MESSAGE dwStateTransition.
    StateTransition(u32) {
        1 => "ST_TOTAL_ABORT", "licensing is aborted; the connection ends";
        2 => "ST_NO_TRANSITION", "licensing is complete";
        3 => "ST_RESET_PHASE_TO_START", "licensing restarts from the beginning";
        4 => "ST_RESEND_LAST_MESSAGE", "the last licensing message is to be sent again";
    }
}

/// The preamble flag saying the sender understands extended error messages.
const EXTENDED_ERROR_MSG_SUPPORTED: u8 = 0x80;

closed_vocab! {
    /// How a licensing message bears on the outcome of the licensing phase.
    pub enum LicenseOutcome {
        /// Licensing completed: STATUS_VALID_CLIENT with ST_NO_TRANSITION, or a license issued.
        Succeeded = ("succeeded", "licensing succeeded"),
        /// An error alert other than the success status: licensing failed.
        Failed = ("failed", "licensing failed"),
        /// A step of the exchange that decides nothing yet.
        InProgress = ("in_progress", "licensing in progress"),
    }
}

/// The error code and state transition of an ERROR_ALERT message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseError {
    /// dwErrorCode.
    pub code: LicenseErrorCode,
    /// dwStateTransition.
    pub transition: StateTransition,
}

/// One licensing PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// The message type.
    pub msg_type: LicenseMsgType,
    /// The licensing protocol version (2 for RDP 4.0, 3 for RDP 5.0 and later).
    pub version: u8,
    /// Whether the sender supports extended error messages.
    pub extended_errors: bool,
    /// wMsgSize: the message size including the 4-byte preamble.
    pub size: u16,
    /// The error code and transition, for ERROR_ALERT.
    pub error: Option<LicenseError>,
    /// What this message says about the licensing phase.
    pub outcome: LicenseOutcome,
}

impl License {
    /// Whether licensing succeeded, failed, or is still going on after this message.
    pub fn outcome(&self) -> LicenseOutcome {
        self.outcome
    }

    /// True when this message ends licensing successfully.
    pub fn succeeded(&self) -> bool {
        self.outcome == LicenseOutcome::Succeeded
    }

    /// True when this message reports a licensing failure.
    pub fn failed(&self) -> bool {
        self.outcome == LicenseOutcome::Failed
    }
}

/// Decides the outcome from the message type and, for alerts, the error.
fn classify(msg_type: LicenseMsgType, error: Option<LicenseError>) -> LicenseOutcome {
    match (msg_type.0, error) {
        (0x03 | 0x04, _) => LicenseOutcome::Succeeded,
        (
            0xFF,
            Some(LicenseError {
                code: LicenseErrorCode(0x07),
                transition: StateTransition(2),
            }),
        ) => LicenseOutcome::Succeeded,
        (0xFF, _) => LicenseOutcome::Failed,
        _ => LicenseOutcome::InProgress,
    }
}

/// Decodes a licensing PDU after its security header.
pub fn license(r: &mut Reader<'_>) -> Parsed<License> {
    let msg_type = LicenseMsgType(r.u8()?);
    let flags = r.u8()?;
    let size = r.u16()?;
    let error = if msg_type.0 == 0xFF {
        Some(LicenseError {
            code: LicenseErrorCode(r.u32()?),
            transition: StateTransition(r.u32()?),
        })
    } else {
        None
    };
    Ok(License {
        msg_type,
        version: flags & 0x0F,
        extended_errors: flags & EXTENDED_ERROR_MSG_SUPPORTED != 0,
        size,
        error,
        outcome: classify(msg_type, error),
    })
}
