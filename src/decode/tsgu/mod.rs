//! MS-TSGU (RD Gateway HTTP transport): packets, status codes, flag sets, the packet
//! framer and the order checker.
//!
//! The same packets travel in the chunked bodies of the legacy dual-channel
//! transport and in WebSocket binary frames.

pub mod framer;
pub mod names;
pub mod order;
pub mod packet;
mod packet_type;
pub mod status;

pub use framer::TsguFramer;
pub use names::{Caps, ExtendedAuth, RedirFlags};
pub use order::{GwStage, OrderChecker, Refusal, Violation};
pub use packet::{Packet, PacketError, PacketType};
pub use status::{Status, StatusKind};

/// 8-byte HTTP_PACKET_HEADER length.
pub const HEADER_LEN: usize = 8;
