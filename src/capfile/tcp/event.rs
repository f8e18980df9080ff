//! What reassembly tells its consumer: one [`FlowEvent`] per thing that happened to a
//! connection, each with the connection's id, the packet's time and frame number.

use crate::vocab::Dir;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A connection's number, from 0, in order of first appearance in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why bytes of a stream are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapCause {
    /// The receiver acknowledged bytes the capture does not have.
    AckedNotCaptured,
    /// So much later data waited for the missing bytes that the out-of-order buffer's bound
    /// was reached.
    BufferLimit,
    /// The capture's snap length cut the packet that carried them.
    Truncated,
    /// The connection was reset, or replaced by a new one, before they were seen.
    Closed,
    /// The capture ended before they were seen.
    CaptureEnded,
    /// The connection was dropped to bound memory before they were seen.
    Evicted,
}

impl fmt::Display for GapCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GapCause::AckedNotCaptured => {
                "the receiver acknowledged bytes the capture does not have"
            }
            GapCause::BufferLimit => {
                "too much later data waited for them (out-of-order buffer full)"
            }
            GapCause::Truncated => "the capture's snap length cut the packet",
            GapCause::Closed => "the connection closed before they were seen",
            GapCause::CaptureEnded => "the capture ended before they were seen",
            GapCause::Evicted => "the connection was dropped to bound memory before they were seen",
        })
    }
}

/// Why a connection's events end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Both sides closed with FIN and every byte before the FINs was delivered or reported
    /// missing.
    BothClosed,
    /// A side sent RST.
    Reset,
    /// The capture ended with the connection still open; neither side is known to have
    /// closed it.
    CaptureEnded,
    /// A new connection (a SYN with another sequence number) took the same addresses and
    /// ports.
    Replaced,
    /// Too many connections were open at once; the idlest were dropped.
    Evicted,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndReason::BothClosed => "both sides closed (FIN)",
            EndReason::Reset => "reset (RST)",
            EndReason::CaptureEnded => "the capture ended while the connection was open",
            EndReason::Replaced => "a new connection took the same addresses and ports",
            EndReason::Evicted => "dropped: too many connections open at once",
        })
    }
}

/// Something that happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowEvent<'a> {
    /// Which connection.
    pub conn: ConnId,
    /// Capture time of the packet that caused the event (the last packet's, at the end).
    pub ts: Duration,
    /// Frame number of that packet.
    pub frame: u64,
    /// What happened.
    pub kind: FlowEventKind<'a>,
}

/// The kinds of [`FlowEvent`]. Every connection gets one `Opened` first and one `Ended`
/// last; in between, each direction's `Data` and `Gap` events tile its stream from offset 0
/// without overlap, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEventKind<'a> {
    /// A connection appeared. [`Dir::C2S`] in later events is `client` to `server`.
    Opened {
        /// The side that sent the SYN (or was guessed to be the client).
        client: SocketAddr,
        /// The other side.
        server: SocketAddr,
        /// Whether the connection's start (SYN or SYN-ACK) was captured. When not, stream
        /// offset 0 is the first captured byte of each direction, not the stream's start.
        start_seen: bool,
        /// Whether client and server were guessed from the ports because no SYN was seen;
        /// the consumer may swap them after looking at the content.
        roles_guessed: bool,
        /// In a trace rdptap wrote, the rdptap connection it belongs to.
        trace_conn: Option<u64>,
    },
    /// The server answered the SYN (SYN-ACK): the connection is established, after
    /// `handshake` since the SYN when the SYN was captured too.
    Established {
        /// From the client's SYN to the server's SYN-ACK, when both were captured.
        handshake: Option<Duration>,
    },
    /// In-order stream bytes.
    Data {
        /// Which way they travel.
        dir: Dir,
        /// Stream offset of the first byte.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Bytes the capture does not have and never will; the stream continues after them.
    Gap {
        /// Which way they travelled.
        dir: Dir,
        /// Stream offset of the first missing byte.
        offset: u64,
        /// How many are missing.
        len: u64,
        /// How reassembly knows.
        cause: GapCause,
    },
    /// A retransmission carried bytes that differ from the first copy, which was kept.
    Conflict {
        /// Which way they travel.
        dir: Dir,
        /// Stream offset of the first differing byte.
        offset: u64,
        /// From the first to the last differing byte.
        len: u64,
    },
    /// A side closed its direction (FIN) after `bytes` stream bytes.
    Fin {
        /// The direction closed.
        dir: Dir,
        /// Its length in bytes (delivered plus missing).
        bytes: u64,
    },
    /// A side reset the connection (RST) after sending `bytes` stream bytes.
    Reset {
        /// The direction of the RST.
        dir: Dir,
        /// Bytes that side had sent (delivered plus missing).
        bytes: u64,
    },
    /// No more events for this connection.
    Ended {
        /// Why.
        why: EndReason,
        /// Stream bytes per direction, indexed by [`Dir::idx`] (delivered plus missing).
        bytes: [u64; 2],
    },
}

impl FlowEventKind<'_> {
    /// The direction the event concerns, for per-direction events.
    pub fn dir(&self) -> Option<Dir> {
        match *self {
            FlowEventKind::Data { dir, .. }
            | FlowEventKind::Gap { dir, .. }
            | FlowEventKind::Conflict { dir, .. }
            | FlowEventKind::Fin { dir, .. }
            | FlowEventKind::Reset { dir, .. } => Some(dir),
            FlowEventKind::Opened { .. }
            | FlowEventKind::Established { .. }
            | FlowEventKind::Ended { .. } => None,
        }
    }
}

impl fmt::Display for FlowEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connection {} (frame {}): {}",
            self.conn, self.frame, self.kind
        )
    }
}

impl fmt::Display for FlowEventKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FlowEventKind::Established { handshake } => match handshake {
                Some(d) => write!(
                    f,
                    "established: SYN-ACK {:.3} ms after the SYN",
                    d.as_secs_f64() * 1e3
                ),
                None => f.write_str("established: SYN-ACK seen"),
            },
            FlowEventKind::Opened {
                client,
                server,
                start_seen,
                roles_guessed,
                ..
            } => {
                write!(f, "opened: client {client}, server {server}")?;
                if !start_seen {
                    f.write_str("; its start was not captured")?;
                }
                if roles_guessed {
                    f.write_str("; which side is the client was guessed from the ports")?;
                }
                Ok(())
            }
            FlowEventKind::Data { dir, offset, bytes } => {
                write!(f, "{dir}: {} bytes at stream offset {offset}", bytes.len())
            }
            FlowEventKind::Gap { dir, offset, len, cause } => {
                write!(f, "{dir}: {len} bytes missing at stream offset {offset}: {cause}")
            }
            FlowEventKind::Conflict { dir, offset, len } => write!(
                f,
                "{dir}: a retransmission differs from the first copy over {len} bytes at stream offset {offset}"
            ),
            FlowEventKind::Fin { dir, bytes } => {
                write!(f, "the {} closed its side (FIN) after {bytes} bytes", dir.sender())
            }
            FlowEventKind::Reset { dir, bytes } => {
                write!(f, "the {} reset the connection (RST) after sending {bytes} bytes", dir.sender())
            }
            FlowEventKind::Ended { why, bytes } => write!(
                f,
                "ended, {why}: {} bytes from the client, {} from the server",
                bytes[Dir::C2S.idx()],
                bytes[Dir::S2C.idx()]
            ),
        }
    }
}
