//! RD Gateway streams: one [`GwChannel`] per TCP connection reads its HTTP and the
//! tunnel body that follows (the OUT channel's seed and packets, the IN channel's
//! chunks, or WebSocket frames) and hands whole MS-TSGU packets to the gateway
//! session's [`GwTunnel`], which checks their order and feeds the DATA payloads to
//! the inner RDP decoder.
//!
//! The two are apart because the HTTP transport splits one tunnel over two TCP
//! connections: the IN channel carries the client's packets, the OUT channel the
//! gateway's, and only the tunnel sees both.

pub mod channel;
pub mod event;
pub mod tunnel;

pub use channel::{GwChannel, PacketSink};
pub use event::{GwEvent, Inner};
pub use tunnel::{GwTunnel, TunnelStats};
