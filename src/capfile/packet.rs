//! What the reader yields: TCP segments with their addresses and timing, and decryption
//! secrets embedded in pcapng files.

use std::fmt;
use std::net::SocketAddr;
use std::ops::BitOr;
use std::time::Duration;

/// The TCP header flags reassembly looks at, as a small bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No flags.
    pub const NONE: TcpFlags = TcpFlags(0);
    /// FIN: the sender has no more data.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN: synchronise sequence numbers (connection start).
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST: reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// PSH: push the data to the application.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// ACK: the acknowledgment number is valid.
    pub const ACK: TcpFlags = TcpFlags(0x10);

    /// The flags from the TCP header's flag byte (bits other than these five are dropped).
    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits & 0x1f)
    }

    /// The flags as the TCP header's flag byte would carry them.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether SYN is set.
    pub const fn syn(self) -> bool {
        self.contains(TcpFlags::SYN)
    }

    /// Whether ACK is set.
    pub const fn ack(self) -> bool {
        self.contains(TcpFlags::ACK)
    }

    /// Whether FIN is set.
    pub const fn fin(self) -> bool {
        self.contains(TcpFlags::FIN)
    }

    /// Whether RST is set.
    pub const fn rst(self) -> bool {
        self.contains(TcpFlags::RST)
    }

    /// Whether PSH is set.
    pub const fn psh(self) -> bool {
        self.contains(TcpFlags::PSH)
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(TcpFlags, &str); 5] = [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({self})")
    }
}

/// One captured TCP segment; `payload` borrows the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Frame number, from 1, counting every packet in the file as Wireshark does.
    pub frame: u64,
    /// Byte offset in the file of the packet's record or block.
    pub block_offset: u64,
    /// Capture time since the Unix epoch.
    pub ts: Duration,
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when `flags` has ACK).
    pub ack: u32,
    /// SYN, ACK, FIN, RST, PSH.
    pub flags: TcpFlags,
    /// Advertised window, unscaled.
    pub window: u16,
    /// The TCP payload that was captured (never Ethernet padding).
    pub payload: &'a [u8],
    /// The payload length the IP header claims; more than `payload.len()` when the
    /// capture's snap length cut the packet.
    pub wire_len: u32,
    /// In a trace rdptap wrote (`--pcap`), the rdptap connection the packet belongs to,
    /// from its interface's name (`rdptap-conn-N`): both legs and the decrypted flow of
    /// one connection share it.
    pub trace_conn: Option<u64>,
}

impl TcpSegment<'_> {
    /// Whether the snap length cut the payload short.
    pub fn is_truncated(&self) -> bool {
        (self.payload.len() as u64) < u64::from(self.wire_len)
    }

    /// How many payload bytes were sent but not captured.
    pub fn missing_len(&self) -> u64 {
        u64::from(self.wire_len).saturating_sub(self.payload.len() as u64)
    }
}

/// The kinds of secrets a pcapng Decryption Secrets Block can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretsKind {
    /// NSS key log text (`CLIENT_RANDOM ...` lines), type 0x544c534b.
    TlsKeyLog,
    /// WireGuard key log, type 0x57474b4c.
    WireGuardKeyLog,
    /// Any other secrets type.
    Other(u32),
}

impl SecretsKind {
    /// The kind for a DSB secrets type code.
    pub fn from_code(code: u32) -> SecretsKind {
        match code {
            0x544c_534b => SecretsKind::TlsKeyLog,
            0x5747_4b4c => SecretsKind::WireGuardKeyLog,
            other => SecretsKind::Other(other),
        }
    }

    /// The DSB secrets type code.
    pub fn code(self) -> u32 {
        match self {
            SecretsKind::TlsKeyLog => 0x544c_534b,
            SecretsKind::WireGuardKeyLog => 0x5747_4b4c,
            SecretsKind::Other(code) => code,
        }
    }
}

impl fmt::Display for SecretsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretsKind::TlsKeyLog => f.write_str("TLS key log"),
            SecretsKind::WireGuardKeyLog => f.write_str("WireGuard key log"),
            SecretsKind::Other(code) => write!(f, "secrets of type {code:#010x}"),
        }
    }
}

/// Secrets embedded in a pcapng file (a Decryption Secrets Block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secrets<'a> {
    /// What the data is.
    pub kind: SecretsKind,
    /// The secrets, without the block's padding.
    pub data: &'a [u8],
    /// Byte offset of the block in the file.
    pub block_offset: u64,
}

/// One thing the reader yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// Decryption secrets.
    Secrets(Secrets<'a>),
}
