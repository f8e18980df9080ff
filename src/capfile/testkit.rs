//! Test-only builders for capture files in memory: TCP over IPv4 or IPv6, the link-layer
//! framings the reader knows, and pcap and pcapng files of either byte order holding them.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// TCP flag bits as the header carries them.
pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

/// EtherTypes used in tests.
pub(crate) const ETH_IPV4: u16 = 0x0800;
pub(crate) const ETH_IPV6: u16 = 0x86dd;
pub(crate) const ETH_ARP: u16 = 0x0806;

/// Parses "1.2.3.4:5" or "[::1]:5".
pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// A TCP header of 20 bytes (or more with `options` words) followed by `payload`.
pub(crate) fn tcp(src: u16, dst: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + payload.len());
    out.extend_from_slice(&src.to_be_bytes());
    out.extend_from_slice(&dst.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ack.to_be_bytes());
    out.push(5 << 4);
    out.push(flags);
    out.extend_from_slice(&64240u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// An IPv4 packet; `fragment` is (offset in 8-byte units, more fragments).
pub(crate) fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    body: &[u8],
    fragment: (u16, bool),
) -> Vec<u8> {
    let total = (20 + body.len()) as u16;
    let mut out = vec![0x45, 0];
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&[0x12, 0x34]);
    let frag = fragment.0 | if fragment.1 { 0x2000 } else { 0 };
    out.extend_from_slice(&frag.to_be_bytes());
    out.extend_from_slice(&[64, proto, 0, 0]);
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    out.extend_from_slice(body);
    out
}

/// An IPv6 packet whose `exts` are (next-header, 8-byte body) extension headers in order.
pub(crate) fn ipv6(
    src: [u8; 16],
    dst: [u8; 16],
    proto: u8,
    body: &[u8],
    exts: &[(u8, [u8; 6])],
) -> Vec<u8> {
    let mut payload = Vec::new();
    for (i, (_, rest)) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(proto, |e| e.0);
        payload.push(next);
        payload.push(0);
        payload.extend_from_slice(rest);
    }
    payload.extend_from_slice(body);
    let first = exts.first().map_or(proto, |e| e.0);
    let mut out = vec![0x60, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(&[first, 64]);
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    out.extend_from_slice(&payload);
    out
}

/// An IP packet carrying a TCP segment between `src` and `dst` (both IPv4 or both IPv6).
pub(crate) fn ip_tcp(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let segment = tcp(src.port(), dst.port(), seq, ack, flags, payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s.octets(), d.octets(), 6, &segment, (0, false)),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s.octets(), d.octets(), 6, &segment, &[]),
        _ => panic!("mixed address families in a test"),
    }
}

/// An Ethernet II frame with the given VLAN tag protocol identifiers in front of `ethertype`.
pub(crate) fn ethernet(tags: &[u16], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    for (i, tpid) in tags.iter().enumerate() {
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A Linux cooked (v1) frame.
pub(crate) fn sll(ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x03, 0x04, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A Linux cooked v2 frame.
pub(crate) fn sll2(ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut out = ethertype.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    out.extend_from_slice(body);
    out
}

/// A BSD loopback frame whose family word is written in the given byte order.
pub(crate) fn null(family: u32, big_endian: bool, body: &[u8]) -> Vec<u8> {
    let mut out = if big_endian {
        family.to_be_bytes()
    } else {
        family.to_le_bytes()
    }
    .to_vec();
    out.extend_from_slice(body);
    out
}

/// Writes integers in one byte order.
#[derive(Debug, Default)]
struct Writer {
    big: bool,
    out: Vec<u8>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
}

/// A classic pcap file being built.
#[derive(Debug)]
pub(crate) struct PcapFile {
    w: Writer,
    nanos: bool,
    snaplen: u32,
}

impl PcapFile {
    /// A file of link type `linktype`, little-endian with microsecond timestamps.
    pub(crate) fn new(linktype: u32) -> PcapFile {
        PcapFile::with(linktype, false, false, 262_144)
    }

    /// A file with every header choice spelled out.
    pub(crate) fn with(linktype: u32, big: bool, nanos: bool, snaplen: u32) -> PcapFile {
        let mut w = Writer {
            big,
            out: Vec::new(),
        };
        w.u32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        w.u16(2);
        w.u16(4);
        w.u32(0);
        w.u32(0);
        w.u32(snaplen);
        w.u32(linktype);
        PcapFile { w, nanos, snaplen }
    }

    /// Adds a packet captured at `ts`, cut to the snap length.
    pub(crate) fn packet(mut self, ts: Duration, frame: &[u8]) -> PcapFile {
        let caplen = frame.len().min(self.snaplen as usize);
        self.w.u32(ts.as_secs() as u32);
        self.w.u32(if self.nanos {
            ts.subsec_nanos()
        } else {
            ts.subsec_micros()
        });
        self.w.u32(caplen as u32);
        self.w.u32(frame.len() as u32);
        self.w.out.extend_from_slice(&frame[..caplen]);
        self
    }

    /// Adds a record header claiming `caplen` bytes, followed by `data` whatever its length.
    pub(crate) fn raw_record(mut self, caplen: u32, origlen: u32, data: &[u8]) -> PcapFile {
        self.w.u32(1);
        self.w.u32(0);
        self.w.u32(caplen);
        self.w.u32(origlen);
        self.w.out.extend_from_slice(data);
        self
    }

    /// The file's bytes.
    pub(crate) fn bytes(self) -> Vec<u8> {
        self.w.out
    }
}

/// A pcapng file being built; sections may change byte order.
#[derive(Debug, Default)]
pub(crate) struct PcapngFile {
    w: Writer,
}

/// One pcapng option: code and value (padded when written).
pub(crate) type NgOption<'a> = (u16, &'a [u8]);

impl PcapngFile {
    /// An empty file; start it with [`PcapngFile::section`].
    pub(crate) fn new() -> PcapngFile {
        PcapngFile::default()
    }

    /// Writes a block of `block_type` with `body` (padded to 4) and `options`.
    pub(crate) fn block(
        mut self,
        block_type: u32,
        body: &[u8],
        options: &[NgOption<'_>],
    ) -> PcapngFile {
        let mut opts = Writer {
            big: self.w.big,
            out: Vec::new(),
        };
        for (code, value) in options {
            opts.u16(*code);
            opts.u16(value.len() as u16);
            opts.out.extend_from_slice(value);
            opts.out.resize(opts.out.len().next_multiple_of(4), 0);
        }
        if !options.is_empty() {
            opts.u32(0);
        }
        let padded = body.len().next_multiple_of(4);
        let total = (12 + padded + opts.out.len()) as u32;
        self.w.u32(block_type);
        self.w.u32(total);
        self.w.out.extend_from_slice(body);
        self.w.out.resize(self.w.out.len() + padded - body.len(), 0);
        self.w.out.extend_from_slice(&opts.out);
        self.w.u32(total);
        self
    }

    /// Starts a section in the given byte order.
    pub(crate) fn section(mut self, big: bool) -> PcapngFile {
        self.w.big = big;
        let mut body = Writer {
            big,
            out: Vec::new(),
        };
        body.u32(0x1a2b_3c4d);
        body.u16(1);
        body.u16(0);
        body.i64(-1);
        self.block(0x0a0d_0d0a, &body.out, &[])
    }

    /// Describes an interface; `tsresol` and `tsoffset` become options when given.
    pub(crate) fn interface(
        self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> PcapngFile {
        let mut body = Writer {
            big: self.w.big,
            out: Vec::new(),
        };
        body.u16(linktype);
        body.u16(0);
        body.u32(snaplen);
        let resol = tsresol.map(|r| [r]);
        let offset = tsoffset.map(|o| {
            if self.w.big {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            }
        });
        let mut options: Vec<NgOption<'_>> = vec![(2, b"eth0")];
        if let Some(r) = &resol {
            options.push((9, r));
        }
        if let Some(o) = &offset {
            options.push((14, o));
        }
        self.block(1, &body.out, &options)
    }

    /// An Enhanced Packet Block: `ticks` in the interface's resolution; the first `caplen`
    /// bytes of `frame` are kept.
    pub(crate) fn packet(self, if_id: u32, ticks: u64, frame: &[u8], caplen: usize) -> PcapngFile {
        let mut body = Writer {
            big: self.w.big,
            out: Vec::new(),
        };
        body.u32(if_id);
        body.u32((ticks >> 32) as u32);
        body.u32(ticks as u32);
        body.u32(caplen as u32);
        body.u32(frame.len() as u32);
        body.out.extend_from_slice(&frame[..caplen]);
        self.block(6, &body.out, &[])
    }

    /// A Simple Packet Block holding `frame`, of original length `origlen`.
    pub(crate) fn simple_packet(self, frame: &[u8], origlen: u32) -> PcapngFile {
        let mut body = Writer {
            big: self.w.big,
            out: Vec::new(),
        };
        body.u32(origlen);
        body.out.extend_from_slice(frame);
        self.block(3, &body.out, &[])
    }

    /// A Decryption Secrets Block.
    pub(crate) fn secrets(self, kind: u32, data: &[u8]) -> PcapngFile {
        let mut body = Writer {
            big: self.w.big,
            out: Vec::new(),
        };
        body.u32(kind);
        body.u32(data.len() as u32);
        body.out.extend_from_slice(data);
        self.block(10, &body.out, &[])
    }

    /// The file's bytes.
    pub(crate) fn bytes(self) -> Vec<u8> {
        self.w.out
    }
}

/// A `Read` that hands out at most `step` bytes per call, to exercise buffer refills.
pub(crate) struct Trickle<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.max(1).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
