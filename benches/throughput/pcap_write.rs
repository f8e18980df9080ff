//! The wire side of the generated captures: a classic pcap file of Ethernet / IPv4 / TCP
//! frames written through one large buffer, and the TCP bookkeeping of one connection
//! (sequence numbers, segments no larger than the MSS, an ACK for every second segment)
//! so that the generator only has to say which side sends which bytes.

use rdptap::vocab::Dir;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddrV4;
use std::path::Path;

/// Ethernet MTU 1500 less 20 bytes of IPv4 and 20 of TCP (no options on data segments).
pub(crate) const MSS: usize = 1460;
/// The capture's clock runs as if every frame crossed a 1 Gbit/s link back to back.
const LINK_BITS_PER_SEC: u64 = 1_000_000_000;
/// Preamble, start delimiter, FCS and inter-frame gap: wire bytes a capture never shows.
const WIRE_EXTRA: u64 = 24;
/// 2026-01-05 10:00:00 UTC: the capture starts at a fixed date, so two runs write the same
/// timestamps.
const EPOCH_SECS: u64 = 1_767_607_200;
/// Receive window both ends advertise (unscaled, as without the window-scale option).
const WINDOW: u16 = 64_240;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A pcap file being written, with the capture's clock.
pub(crate) struct PcapOut {
    w: BufWriter<File>,
    /// Bytes written so far, headers included.
    pub(crate) bytes: u64,
    /// Frames written so far.
    pub(crate) packets: u64,
    clock_ns: u64,
}

impl PcapOut {
    /// Creates `path` and writes the file header (microsecond timestamps, Ethernet).
    pub(crate) fn create(path: &Path) -> io::Result<PcapOut> {
        let mut w = BufWriter::with_capacity(4 << 20, File::create(path)?);
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapOut {
            w,
            bytes: h.len() as u64,
            packets: 0,
            clock_ns: 0,
        })
    }

    /// Lets `ns` nanoseconds pass on the capture's clock (a pause in the traffic).
    pub(crate) fn idle(&mut self, ns: u64) {
        self.clock_ns += ns;
    }

    /// The capture's clock, in nanoseconds since its first frame.
    pub(crate) fn clock_ns(&self) -> u64 {
        self.clock_ns
    }

    /// One TCP segment from `src` to `dst`, framed in IPv4 and Ethernet with correct
    /// checksums (tools that check them see a clean capture).
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        seq: u32,
        ack: u32,
        flags: u8,
        options: &[u8],
        payload: &[u8],
    ) -> io::Result<()> {
        let tcp_len = 20 + options.len() + payload.len();
        let ip_len = 20 + tcp_len;
        let frame_len = 14 + ip_len;
        let mut h = [0u8; 16 + 14 + 20 + 20 + 8];
        let hdr_len = 16 + 14 + 20 + 20 + options.len();
        let ts = EPOCH_SECS * 1_000_000 + self.clock_ns / 1000;
        h[0..4].copy_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(frame_len as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame_len as u32).to_le_bytes());
        // Ethernet: locally administered MACs, one per side, told apart by the port.
        let eth = &mut h[16..30];
        let (a, b) = if src.port() == 3389 { (1, 2) } else { (2, 1) };
        eth[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, b]);
        eth[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, a]);
        eth[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut h[30..50];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&(self.packets as u16).to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&src.ip().octets());
        ip[16..20].copy_from_slice(&dst.ip().octets());
        let sum = fold(sum_words(0, ip));
        ip[10..12].copy_from_slice(&(!sum).to_be_bytes());
        let tcp = &mut h[50..70 + options.len()];
        tcp[0..2].copy_from_slice(&src.port().to_be_bytes());
        tcp[2..4].copy_from_slice(&dst.port().to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = (((20 + options.len()) / 4) as u8) << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&WINDOW.to_be_bytes());
        tcp[20..].copy_from_slice(options);
        // The pseudo-header, the TCP header and the payload (the header is 4-byte aligned,
        // so the payload's words line up).
        let mut acc = sum_words(0, &src.ip().octets());
        acc = sum_words(acc, &dst.ip().octets());
        acc += 6 + tcp_len as u64;
        acc = sum_words(acc, tcp);
        acc = sum_words(acc, payload);
        let sum = !fold(acc);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        self.w.write_all(&h[..hdr_len])?;
        self.w.write_all(payload)?;
        self.bytes += (16 + frame_len) as u64;
        self.packets += 1;
        self.clock_ns += (frame_len as u64 + WIRE_EXTRA) * 8 * 1_000_000_000 / LINK_BITS_PER_SEC;
        Ok(())
    }

    /// Flushes the buffer and closes the file; returns its size.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.w.flush()?;
        self.w.get_ref().sync_all()?;
        Ok(self.bytes)
    }
}

/// Adds `b` to a ones' complement sum as big-endian 16-bit words (a trailing odd byte is
/// padded with zero). Eight bytes at a time: the payload is most of a gigabyte.
fn sum_words(mut acc: u64, b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Four 16-bit words in one u64: adding the halves keeps every carry.
        acc += (v >> 32) + (v & 0xffff_ffff);
    }
    let mut rest = chunks.remainder().chunks(2);
    for w in &mut rest {
        acc += u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    acc
}

/// Folds a wide ones' complement sum to 16 bits.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// One TCP connection's state on the wire.
pub(crate) struct TcpConn {
    /// The client's and the server's address, indexed by `Dir::idx` of the sender.
    ends: [SocketAddrV4; 2],
    /// The next sequence number each side sends.
    next: [u32; 2],
    /// Full segments each side has sent that the other has not acknowledged yet.
    unacked: [u32; 2],
}

impl TcpConn {
    /// A connection from `client` to `server` with these initial sequence numbers.
    pub(crate) fn new(client: SocketAddrV4, server: SocketAddrV4, isn: [u32; 2]) -> TcpConn {
        TcpConn {
            ends: [client, server],
            next: isn,
            unacked: [0; 2],
        }
    }

    fn emit(
        &mut self,
        out: &mut PcapOut,
        from: Dir,
        flags: u8,
        options: &[u8],
        payload: &[u8],
    ) -> io::Result<()> {
        let i = from.idx();
        let (src, dst) = (self.ends[i], self.ends[1 - i]);
        let (seq, ack) = (self.next[i], self.next[1 - i]);
        out.segment(src, dst, seq, ack, flags, options, payload)?;
        // Every segment carries the ACK number: the other side's debt is paid in passing.
        self.unacked[1 - i] = 0;
        let used = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        self.next[i] = seq.wrapping_add(used);
        Ok(())
    }

    /// The three-way handshake, both sides announcing the MSS.
    pub(crate) fn open(&mut self, out: &mut PcapOut) -> io::Result<()> {
        let mss = [2, 4, (MSS >> 8) as u8, MSS as u8];
        // The SYN carries no ACK number: the client has not seen the server's yet.
        let (c, s) = (self.ends[0], self.ends[1]);
        out.segment(c, s, self.next[0], 0, SYN, &mss, &[])?;
        self.next[0] = self.next[0].wrapping_add(1);
        self.emit(out, Dir::S2C, SYN | ACK, &mss, &[])?;
        self.emit(out, Dir::C2S, ACK, &[], &[])
    }

    /// `data` from one side as one write: MSS-sized segments, PSH on the last; the
    /// receiver acknowledges every second segment, as delayed ACK does.
    pub(crate) fn send(&mut self, out: &mut PcapOut, from: Dir, data: &[u8]) -> io::Result<()> {
        let n = data.len().div_ceil(MSS);
        for (k, seg) in data.chunks(MSS).enumerate() {
            let flags = if k + 1 == n { ACK | PSH } else { ACK };
            self.emit(out, from, flags, &[], seg)?;
            self.unacked[from.idx()] += 1;
            if self.unacked[from.idx()] >= 2 {
                self.ack(out, from.other())?;
            }
        }
        Ok(())
    }

    /// `by` acknowledges everything the other side sent so far, if anything is pending
    /// (the delayed-ACK timer firing, or the end of a burst).
    pub(crate) fn ack(&mut self, out: &mut PcapOut, by: Dir) -> io::Result<()> {
        if self.unacked[by.other().idx()] > 0 {
            self.unacked[by.other().idx()] = 0;
            self.emit(out, by, ACK, &[], &[])?;
        }
        Ok(())
    }

    /// `from` closes its direction (FIN); the other side acknowledges it with its next
    /// segment, or with [`TcpConn::ack`].
    pub(crate) fn fin(&mut self, out: &mut PcapOut, from: Dir) -> io::Result<()> {
        self.emit(out, from, FIN | ACK, &[], &[])?;
        self.unacked[from.idx()] += 1;
        Ok(())
    }
}
