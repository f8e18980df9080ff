//! A minimal reader for the files this crate writes: little-endian sections, and the
//! three block types of [`super::block`]. Any damage (such as a final block torn by a
//! crash) ends the walk with an error; nothing here panics on bad input.

use super::block::{opt, BYTE_ORDER_MAGIC, DSB, EPB, IDB, SHB};
use super::tcp::ACK;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a file could not be read further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The data does not start with a section header.
    NotPcapng,
    /// A section was written big-endian, which this reader does not handle.
    BigEndian {
        /// Byte offset of the section header.
        offset: usize,
    },
    /// The file ends inside a block, as when the writer was killed mid-block.
    Torn {
        /// Byte offset of the incomplete block.
        offset: usize,
    },
    /// A block's length fields are impossible or disagree.
    BadLength {
        /// Byte offset of the block.
        offset: usize,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotPcapng => {
                f.write_str("not a pcapng file (no section header at the start)")
            }
            ReadError::BigEndian { offset } => {
                write!(f, "big-endian section at byte {offset} is not supported")
            }
            ReadError::Torn { offset } => {
                write!(f, "file cut short inside the block at byte {offset}")
            }
            ReadError::BadLength { offset } => write!(f, "corrupt block length at byte {offset}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// One block of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// Block type, e.g. [`EPB`].
    pub kind: u32,
    /// What lies between the leading length and the trailing one.
    pub body: &'a [u8],
    /// The whole block, for copying it unchanged.
    pub raw: &'a [u8],
    /// Byte offset of the block in the file.
    pub offset: usize,
}

/// Iterates over the blocks of a file; yields at most one error, then stops.
pub fn blocks(data: &[u8]) -> Blocks<'_> {
    Blocks {
        data,
        pos: 0,
        done: false,
    }
}

/// Iterator returned by [`blocks`].
#[derive(Debug, Clone)]
pub struct Blocks<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos == self.data.len() {
            return None;
        }
        let r = self.read_one();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl<'a> Blocks<'a> {
    fn read_one(&mut self) -> Result<Block<'a>, ReadError> {
        let offset = self.pos;
        let rest = &self.data[offset..];
        let torn = ReadError::Torn { offset };
        let kind = u32_at(rest, 0).ok_or(torn.clone())?;
        if offset == 0 && kind != SHB {
            return Err(ReadError::NotPcapng);
        }
        if kind == SHB {
            // The magic decides the byte order of the whole section; only ours is read.
            match u32_at(rest, 8) {
                Some(BYTE_ORDER_MAGIC) => {}
                Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => {
                    return Err(ReadError::BigEndian { offset })
                }
                Some(_) => return Err(ReadError::BadLength { offset }),
                None => return Err(torn),
            }
        }
        let len = u32_at(rest, 4).ok_or(torn.clone())? as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err(ReadError::BadLength { offset });
        }
        if rest.len() < len {
            return Err(torn);
        }
        if u32_at(rest, len - 4) != Some(len as u32) {
            return Err(ReadError::BadLength { offset });
        }
        self.pos += len;
        Ok(Block {
            kind,
            body: &rest[8..len - 4],
            raw: &rest[..len],
            offset,
        })
    }
}

/// The options of a block, from `at` in its body: `(code, value)` up to the end marker.
/// Malformed options end the list.
pub fn options(body: &[u8], at: usize) -> Options<'_> {
    Options { body, pos: at }
}

/// Iterator returned by [`options`].
#[derive(Debug, Clone)]
pub struct Options<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = u16_at(self.body, self.pos)?;
        let len = usize::from(u16_at(self.body, self.pos + 2)?);
        if code == opt::END {
            return None;
        }
        let start = self.pos + 4;
        let value = self.body.get(start..start + len)?;
        self.pos = start + super::block::padded(len);
        Some((code, value))
    }
}

/// An Enhanced Packet Block, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Interface id: the index of its IDB in the section.
    pub iface: u32,
    /// Timestamp in the interface's units (microseconds in our files).
    pub ts: u64,
    /// Captured packet data.
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// `opt_comment` values that are valid UTF-8.
    pub comments: Vec<&'a str>,
}

/// Parses an EPB body, or `None` if it is not one or is malformed.
pub fn packet<'a>(b: &Block<'a>) -> Option<Packet<'a>> {
    if b.kind != EPB {
        return None;
    }
    let body = b.body;
    let cap = u32_at(body, 12)? as usize;
    let data = body.get(20..20usize.checked_add(cap)?)?;
    let comments = options(body, 20 + super::block::padded(cap))
        .filter(|(code, _)| *code == opt::COMMENT)
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .collect();
    Some(Packet {
        iface: u32_at(body, 0)?,
        ts: (u64::from(u32_at(body, 4)?) << 32) | u64::from(u32_at(body, 8)?),
        data,
        orig_len: u32_at(body, 16)?,
        comments,
    })
}

/// An Interface Description Block, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface<'a> {
    /// Link type (101 for raw IP).
    pub link_type: u16,
    /// Snapshot length; 0 means no limit.
    pub snaplen: u32,
    /// `if_name`, if present and UTF-8.
    pub name: Option<&'a str>,
    /// `if_description`, if present and UTF-8.
    pub description: Option<&'a str>,
}

/// Parses an IDB body, or `None` if it is not one or is malformed.
pub fn interface<'a>(b: &Block<'a>) -> Option<Interface<'a>> {
    if b.kind != IDB {
        return None;
    }
    let text = |code| {
        options(b.body, 8)
            .find(|(c, _)| *c == code)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    };
    Some(Interface {
        link_type: u16_at(b.body, 0)?,
        snaplen: u32_at(b.body, 4)?,
        name: text(opt::IF_NAME),
        description: text(opt::IF_DESCRIPTION),
    })
}

/// A Decryption Secrets Block, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets<'a> {
    /// Secrets type, e.g. [`super::block::SECRETS_TLS_KEY_LOG`].
    pub kind: u32,
    /// The secrets themselves.
    pub data: &'a [u8],
    /// The first `opt_comment`, if present and UTF-8.
    pub comment: Option<&'a str>,
}

/// Parses a DSB body, or `None` if it is not one or is malformed.
pub fn secrets<'a>(b: &Block<'a>) -> Option<Secrets<'a>> {
    if b.kind != DSB {
        return None;
    }
    let len = u32_at(b.body, 4)? as usize;
    let data = b.body.get(8..8usize.checked_add(len)?)?;
    let comment = options(b.body, 8 + super::block::padded(len))
        .find(|(c, _)| *c == opt::COMMENT)
        .and_then(|(_, v)| std::str::from_utf8(v).ok());
    Some(Secrets {
        kind: u32_at(b.body, 0)?,
        data,
        comment,
    })
}

/// A TCP segment inside a raw IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (0 when the ACK flag is clear).
    pub ack: u32,
    /// TCP flags (low eight bits of the flags field).
    pub flags: u8,
    /// TCP payload, bounded by the IP length.
    pub payload: &'a [u8],
}

/// Parses an IPv4 or IPv6 packet carrying TCP (no IPv6 extension headers), or `None`.
pub fn segment(data: &[u8]) -> Option<Segment<'_>> {
    let (src, dst, tcp) = match data.first()? >> 4 {
        4 => {
            let ihl = usize::from(data[0] & 0x0F) * 4;
            let total = usize::from(u16_be(data, 2)?);
            if data.get(9)? != &6 || ihl < 20 || total < ihl {
                return None;
            }
            let src: [u8; 4] = data.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = data.get(16..20)?.try_into().ok()?;
            (
                IpAddr::from(Ipv4Addr::from(src)),
                IpAddr::from(Ipv4Addr::from(dst)),
                data.get(ihl..total)?,
            )
        }
        6 => {
            let len = usize::from(u16_be(data, 4)?);
            if data.get(6)? != &6 {
                return None;
            }
            let src: [u8; 16] = data.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = data.get(24..40)?.try_into().ok()?;
            (
                IpAddr::from(Ipv6Addr::from(src)),
                IpAddr::from(Ipv6Addr::from(dst)),
                data.get(40..40 + len)?,
            )
        }
        _ => return None,
    };
    let off = usize::from(tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    let ack = u32_be(tcp, 8)?;
    Some(Segment {
        src: SocketAddr::new(src, u16_be(tcp, 0)?),
        dst: SocketAddr::new(dst, u16_be(tcp, 2)?),
        seq: u32_be(tcp, 4)?,
        ack: if flags & ACK != 0 { ack } else { 0 },
        flags,
        payload: tcp.get(off.max(20)..)?,
    })
}

/// Copies a file keeping only some connections: the section headers, every IDB (so the
/// interface ids of kept packets stay valid), the EPBs of interfaces whose `if_name`
/// `keep_iface` accepts (an IDB without a name is passed ""), and the DSBs whose comment
/// `keep_iface` accepts or that have none. Other block types are left out. A torn or
/// corrupt tail is dropped: the copy ends with the last whole block.
///
/// The kept DSBs move to the start of their section, right after its header. Wireshark
/// (4.0 at least, in one pass or two) only uses keys it has read before the TLS handshake
/// they belong to, while a recorder learns them only as that handshake goes by.
pub fn rewrite(data: &[u8], keep_iface: impl Fn(&str) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let whole: Vec<Block> = blocks(data).map_while(Result::ok).collect();
    // A readable file starts with an SHB, so every block belongs to the section of the
    // nearest SHB before it.
    let mut starts: Vec<usize> = whole
        .iter()
        .enumerate()
        .filter(|(_, b)| b.kind == SHB)
        .map(|(i, _)| i)
        .collect();
    starts.push(whole.len());
    for w in starts.windows(2) {
        let section = &whole[w[0]..w[1]];
        out.extend_from_slice(section[0].raw);
        for b in section.iter().filter(|b| b.kind == DSB) {
            if secrets(b).is_some_and(|s| s.comment.is_none_or(&keep_iface)) {
                out.extend_from_slice(b.raw);
            }
        }
        // Interface ids count from zero in each section.
        let mut kept: Vec<bool> = Vec::new();
        for b in &section[1..] {
            let keep = match b.kind {
                IDB => {
                    kept.push(keep_iface(interface(b).and_then(|i| i.name).unwrap_or("")));
                    true
                }
                EPB => u32_at(b.body, 0).is_some_and(|id| kept.get(id as usize) == Some(&true)),
                _ => false,
            };
            if keep {
                out.extend_from_slice(b.raw);
            }
        }
    }
    out
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
