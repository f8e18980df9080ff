//! Synthetic TCP/IP: turns a relayed byte stream back into packets Wireshark can follow.
//!
//! A [`TcpFlow`] keeps the sequence numbers of one connection and writes IPv4 or IPv6 and
//! TCP headers with correct lengths and checksums. It never copies payload: each packet is
//! handed to the caller as a header slice plus a slice of the caller's own bytes.

use super::checksum::Sum;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Most payload bytes in one segment: an IPv4 datagram is at most 65,535 bytes, less 20 for
/// the IP header and 20 for the TCP header.
pub const MAX_SEGMENT: usize = 65_495;

/// TCP flag FIN.
pub const FIN: u8 = 0x01;
/// TCP flag SYN.
pub const SYN: u8 = 0x02;
/// TCP flag RST.
pub const RST: u8 = 0x04;
/// TCP flag PSH.
pub const PSH: u8 = 0x08;
/// TCP flag ACK.
pub const ACK: u8 = 0x10;

/// IP protocol number of TCP.
const PROTO_TCP: u8 = 6;
/// TTL / hop limit of every synthetic packet.
const TTL: u8 = 64;
/// Window field of every segment.
const WINDOW: u16 = 65_535;
/// Window scale announced on SYN and SYN-ACK. With it the receive window is about 1 GiB,
/// so a long one-way transfer (where no ACK comes back) stays inside the window.
const WINDOW_SCALE: u8 = 14;
/// Longest header we build: IPv6 (40) + TCP with SYN options (28).
const MAX_HEADER: usize = 68;

/// How one side ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// An orderly close: FIN, which takes one sequence number.
    Fin,
    /// An abort: RST; the flow is dead afterwards.
    Rst,
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Close::Fin => "closed (FIN)",
            Close::Rst => "reset (RST)",
        })
    }
}

/// One synthetic TCP connection between a client and a server.
#[derive(Debug, Clone)]
pub struct TcpFlow {
    /// Addresses as written: both IPv4, or both IPv6.
    addr: [IpAddr; 2],
    port: [u16; 2],
    /// Next sequence number each side sends: `[client, server]`.
    next: [u32; 2],
    /// Whether each side has sent its FIN.
    fin: [bool; 2],
    /// Set by a RST: nothing more is written.
    dead: bool,
    /// IPv4 identification, one per packet.
    ip_id: u16,
    /// Pseudo-header sum of both addresses, which is the same in both directions.
    addr_sum: Sum,
}

impl TcpFlow {
    /// A flow with initial sequence numbers `isn = [client, server]`. When one address is
    /// IPv4 and the other IPv6, the IPv4 one is written as `::ffff:a.b.c.d`.
    pub fn new(client: SocketAddr, server: SocketAddr, isn: [u32; 2]) -> TcpFlow {
        let (c, s) = match (client.ip(), server.ip()) {
            (IpAddr::V4(c), IpAddr::V4(s)) => (IpAddr::V4(c), IpAddr::V4(s)),
            (c, s) => (IpAddr::V6(v6(c)), IpAddr::V6(v6(s))),
        };
        let addr_sum = addr_sum(c).merge(addr_sum(s));
        TcpFlow {
            addr: [c, s],
            port: [client.port(), server.port()],
            next: isn,
            fin: [false; 2],
            dead: false,
            ip_id: 1,
            addr_sum,
        }
    }

    /// Writes the three-way handshake: SYN, SYN-ACK, ACK.
    pub fn open(&mut self, emit: &mut impl FnMut(&[u8], &[u8])) {
        if self.dead {
            return;
        }
        self.segment(0, SYN, 0, &[], emit);
        self.next[0] = self.next[0].wrapping_add(1);
        let ack = self.next[0];
        self.segment(1, SYN | ACK, ack, &[], emit);
        self.next[1] = self.next[1].wrapping_add(1);
        self.segment(0, ACK, self.next[1], &[], emit);
    }

    /// Writes `payload` from one side as PSH|ACK segments of at most [`MAX_SEGMENT`] bytes.
    /// Ignored once that side has sent its FIN, or after a RST.
    pub fn data(&mut self, from_client: bool, payload: &[u8], emit: &mut impl FnMut(&[u8], &[u8])) {
        let side = side(from_client);
        if self.dead || self.fin[side] {
            return;
        }
        let ack = self.next[1 - side];
        for chunk in payload.chunks(MAX_SEGMENT) {
            self.segment(side, PSH | ACK, ack, chunk, emit);
            self.next[side] = self.next[side].wrapping_add(chunk.len() as u32);
        }
    }

    /// Advances one side's sequence number over `n` bytes that were sent but not captured,
    /// so Wireshark shows the gap where it happened.
    pub fn skip(&mut self, from_client: bool, n: u64) {
        let side = side(from_client);
        // Sequence numbers count modulo 2^32, so only the low bits of `n` matter.
        self.next[side] = self.next[side].wrapping_add(n as u32);
    }

    /// Writes one side's FIN|ACK or RST|ACK. A second FIN from the same side is ignored, and
    /// so is anything once both sides have sent FIN or either has sent RST.
    pub fn close(&mut self, from_client: bool, how: Close, emit: &mut impl FnMut(&[u8], &[u8])) {
        let side = side(from_client);
        if self.is_closed() {
            return;
        }
        let ack = self.next[1 - side];
        match how {
            Close::Fin if !self.fin[side] => {
                self.segment(side, FIN | ACK, ack, &[], emit);
                self.next[side] = self.next[side].wrapping_add(1);
                self.fin[side] = true;
            }
            Close::Fin => {}
            Close::Rst => {
                self.segment(side, RST | ACK, ack, &[], emit);
                self.dead = true;
            }
        }
    }

    /// Whether nothing more will be written: both FINs sent, or a RST.
    pub fn is_closed(&self) -> bool {
        self.dead || self.fin == [true, true]
    }

    /// The next sequence number of one side.
    pub fn next_seq(&self, from_client: bool) -> u32 {
        self.next[side(from_client)]
    }

    /// Builds the headers of one segment from `side` and hands them over with the payload.
    fn segment(
        &mut self,
        side: usize,
        flags: u8,
        ack: u32,
        payload: &[u8],
        emit: &mut impl FnMut(&[u8], &[u8]),
    ) {
        let mut h = [0u8; MAX_HEADER];
        let tcp_len = if flags & SYN != 0 { 28 } else { 20 };
        let seg_len = tcp_len + payload.len();
        let ip_len = match (self.addr[side], self.addr[1 - side]) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let total = (20 + seg_len) as u16;
                h[0] = 0x45;
                h[2..4].copy_from_slice(&total.to_be_bytes());
                h[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
                h[6] = 0x40; // don't fragment
                h[8] = TTL;
                h[9] = PROTO_TCP;
                h[12..16].copy_from_slice(&src.octets());
                h[16..20].copy_from_slice(&dst.octets());
                let ck = Sum::default().add_bytes(&h[..20]).finish();
                h[10..12].copy_from_slice(&ck.to_be_bytes());
                self.ip_id = self.ip_id.wrapping_add(1);
                20
            }
            (src, dst) => {
                h[0] = 0x60;
                h[4..6].copy_from_slice(&(seg_len as u16).to_be_bytes());
                h[6] = PROTO_TCP;
                h[7] = TTL;
                h[8..24].copy_from_slice(&v6(src).octets());
                h[24..40].copy_from_slice(&v6(dst).octets());
                40
            }
        };
        let t = &mut h[ip_len..ip_len + tcp_len];
        t[0..2].copy_from_slice(&self.port[side].to_be_bytes());
        t[2..4].copy_from_slice(&self.port[1 - side].to_be_bytes());
        t[4..8].copy_from_slice(&self.next[side].to_be_bytes());
        if flags & ACK != 0 {
            t[8..12].copy_from_slice(&ack.to_be_bytes());
        }
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&WINDOW.to_be_bytes());
        if flags & SYN != 0 {
            // MSS (kind 2), then NOP and window scale (kind 3), four-byte aligned.
            t[20..24].copy_from_slice(&[2, 4, (MAX_SEGMENT >> 8) as u8, MAX_SEGMENT as u8]);
            t[24..28].copy_from_slice(&[1, 3, 3, WINDOW_SCALE]);
        }
        // Pseudo-header: addresses, protocol and TCP length (the IPv6 form has the same sum
        // for lengths under 2^16), then the header and payload.
        let ck = self
            .addr_sum
            .add_u16(u16::from(PROTO_TCP))
            .add_u16(seg_len as u16)
            .add_bytes(t)
            .add_bytes(payload)
            .finish();
        t[16..18].copy_from_slice(&ck.to_be_bytes());
        emit(&h[..ip_len + tcp_len], payload);
    }
}

fn side(from_client: bool) -> usize {
    if from_client {
        0
    } else {
        1
    }
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The pseudo-header sum of one address (4 or 16 bytes, as written).
fn addr_sum(ip: IpAddr) -> Sum {
    match ip {
        IpAddr::V4(a) => Sum::default().add_bytes(&a.octets()),
        IpAddr::V6(a) => Sum::default().add_bytes(&a.octets()),
    }
}

#[cfg(test)]
#[path = "tcp_tests.rs"]
mod tests;
