//! Reading packet captures and reassembling the TCP streams in them, for `rdptap analyze`.
//!
//! Two independent halves:
//! - [`CaptureReader`] streams a pcap or pcapng file from any [`std::io::Read`] with
//!   bounded memory and yields each TCP segment (addresses, sequence numbers, flags,
//!   timestamp, the payload borrowed from its buffer) and each pcapng decryption secrets
//!   block. Packets it cannot use are counted in [`ReadStats`], never errors; a damaged file
//!   is a [`CaptureError`] naming the file and byte offset, after everything before it.
//! - [`tcp::Reassembler`] takes the segments in capture order and emits per-connection,
//!   per-direction [`tcp::FlowEvent`]s: in-order data passed through without copying,
//!   gaps where the capture lost bytes, differing retransmissions, FIN, RST and the end of
//!   the capture. It does no I/O.
//!
//! Memory: the reader holds one buffer of at most [`MAX_BLOCK`] plus two read chunks;
//! the reassembler's bounds are those of [`tcp::ReassemblyConfig`].
//!
//! Nothing here uses the rest of the crate except `crate::vocab`.

mod buffer;
mod error;
mod link;
mod packet;
mod pcap;
mod pcapng;
mod read;
pub mod tcp;

#[cfg(test)]
mod bench_tests;
#[cfg(test)]
mod real_capture_tests;
#[cfg(test)]
pub(crate) mod testkit;

pub use error::{BlockName, CaptureError, CaptureErrorKind};
pub use packet::{Record, Secrets, SecretsKind, TcpFlags, TcpSegment};
pub use read::{open, CaptureReader, FileFormat, ReadStats, MAX_BLOCK, READ_CHUNK};
