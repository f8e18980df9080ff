//! The bounds reassembly keeps to, and the counts it keeps.

use std::time::Duration;

/// Memory and time bounds of a [`super::Reassembler`].
///
/// Worst-case memory is about `max_buffered_total + max_history_total` plus
/// `max_open_connections` times the per-connection state (a few hundred bytes) plus the
/// closed connections remembered for `closed_linger` (under a hundred bytes each, at most
/// `max_open_connections` of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Out-of-order bytes one direction may hold while waiting for a missing segment; past
    /// it the hole is declared a gap. Each held segment also counts 64 bytes of overhead.
    pub max_buffered_per_dir: usize,
    /// Out-of-order bytes all directions together may hold.
    pub max_buffered_total: usize,
    /// Delivered bytes each direction keeps to compare retransmissions against; older
    /// retransmitted bytes are counted as unverified. 0 turns the comparison off.
    pub history_per_dir: usize,
    /// Bytes all directions together may keep for that comparison; directions that find it
    /// spent compare only against out-of-order data.
    pub max_history_total: usize,
    /// Connections open at once; reaching it drops the idlest eighth (each gets `Ended`
    /// with [`super::EndReason::Evicted`]).
    pub max_open_connections: usize,
    /// How long (capture time) a closed connection's addresses are remembered, so its
    /// stragglers (last ACKs, retransmitted FINs) do not look like a new connection.
    pub closed_linger: Duration,
}

impl Default for ReassemblyConfig {
    fn default() -> ReassemblyConfig {
        ReassemblyConfig {
            max_buffered_per_dir: 4 << 20,
            max_buffered_total: 256 << 20,
            history_per_dir: 64 << 10,
            max_history_total: 128 << 20,
            max_open_connections: 250_000,
            closed_linger: Duration::from_secs(60),
        }
    }
}

/// What reassembly did with the segments, beyond the events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments taken in.
    pub segments: u64,
    /// Connections opened.
    pub connections: u64,
    /// Stream bytes delivered in `Data` events.
    pub delivered_bytes: u64,
    /// `Gap` events.
    pub gaps: u64,
    /// Stream bytes reported missing.
    pub gap_bytes: u64,
    /// Bytes that arrived again after their first copy.
    pub retransmitted_bytes: u64,
    /// Of those, bytes too old to compare with the first copy.
    pub unverified_bytes: u64,
    /// `Conflict` events.
    pub conflicts: u64,
    /// Keep-alive probes (one byte or none, just before the next expected byte) ignored.
    pub keepalives: u64,
    /// Bytes beyond a direction's FIN, ignored.
    pub after_fin_bytes: u64,
    /// Bytes before a direction's first captured byte (connections whose start was not
    /// captured), ignored.
    pub before_start_bytes: u64,
    /// Segments of a connection already closed, ignored.
    pub after_close_segments: u64,
    /// RST segments for no known connection, ignored.
    pub stray_resets: u64,
    /// Connections dropped to bound memory.
    pub evicted: u64,
    /// Most out-of-order bytes held at once, all directions together.
    pub buffered_peak: usize,
}
