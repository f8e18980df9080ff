//! RFC 6455 WebSocket framing, as used by the RD Gateway WebSocket transport: after
//! `101 Switching Protocols` both directions carry MS-TSGU packets in binary frames.

pub mod close;
pub mod decoder;
pub mod encode;
pub mod framer;

pub use close::CloseCode;
pub use decoder::{WsDecoder, WsEvent, WsStats};
pub use encode::{encode_fragment, encode_frame};
pub use framer::Opcode;
