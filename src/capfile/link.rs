//! From a captured frame to its TCP header and payload, for each link type the reader knows:
//! Ethernet (with stacked 802.1Q/802.1ad tags), Linux cooked v1 and v2, raw IP, and BSD
//! loopback. Everything else is a [`Skip`] the reader counts.

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;

use super::packet::TcpFlags;
use etherparse::{
    ether_type, ip_number, EtherType, Ethernet2Slice, LaxIpSlice, SingleVlanSlice, TcpSlice,
};
use std::net::{IpAddr, SocketAddr};

/// The link-layer framing of an interface, from its LINKTYPE_ number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkKind {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113): 16-byte cooked header.
    Sll,
    /// LINKTYPE_LINUX_SLL2 (276): 20-byte cooked header.
    Sll2,
    /// LINKTYPE_RAW (101), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229): the frame is an IP packet.
    RawIp,
    /// LINKTYPE_NULL (0): 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): 4-byte address family in network byte order.
    Loop,
    /// A link type this reader does not decode.
    Other(u32),
}

impl LinkKind {
    /// The framing for a link type field; the bits above the low 16 (FCS length) are ignored.
    pub(super) fn from_linktype(linktype: u32) -> LinkKind {
        match linktype & 0xffff {
            0 => LinkKind::Null,
            1 => LinkKind::Ethernet,
            101 | 228 | 229 => LinkKind::RawIp,
            108 => LinkKind::Loop,
            113 => LinkKind::Sll,
            276 => LinkKind::Sll2,
            other => LinkKind::Other(other),
        }
    }
}

/// Why a frame yields no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Skip {
    /// The frame carries something other than IPv4 or IPv6.
    NotIp,
    /// The IP packet carries something other than TCP.
    NotTcp,
    /// The IP packet is a fragment (reassembling IP fragments is not done).
    Fragment,
    /// A header is cut short or invalid.
    Malformed,
    /// The interface's link type is not decoded.
    UnsupportedLink,
}

/// A decoded TCP segment, with its payload as a range of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decoded {
    pub(super) src: SocketAddr,
    pub(super) dst: SocketAddr,
    pub(super) seq: u32,
    pub(super) ack: u32,
    pub(super) flags: TcpFlags,
    pub(super) window: u16,
    /// Offset of the payload in the frame.
    pub(super) payload_at: usize,
    /// Captured payload bytes.
    pub(super) payload_len: usize,
    /// Payload bytes the IP header claims.
    pub(super) wire_len: u32,
}

/// Most VLAN tags followed before giving up on a frame; real stacks have one or two.
const MAX_VLAN_TAGS: usize = 8;

/// Decodes `frame` of framing `link` down to TCP.
pub(super) fn decode(link: LinkKind, frame: &[u8]) -> Result<Decoded, Skip> {
    let ip = match link {
        LinkKind::Ethernet => {
            let eth = Ethernet2Slice::from_slice_without_fcs(frame).map_err(|_| Skip::Malformed)?;
            let payload = eth.payload();
            ether_payload(payload.ether_type, payload.payload)?
        }
        LinkKind::Sll => {
            let ty = be16(frame, 14).ok_or(Skip::Malformed)?;
            ether_payload(EtherType(ty), frame.get(16..).ok_or(Skip::Malformed)?)?
        }
        LinkKind::Sll2 => {
            let ty = be16(frame, 0).ok_or(Skip::Malformed)?;
            ether_payload(EtherType(ty), frame.get(20..).ok_or(Skip::Malformed)?)?
        }
        LinkKind::RawIp => frame,
        LinkKind::Null | LinkKind::Loop => {
            let head: [u8; 4] = frame
                .get(..4)
                .and_then(|h| h.try_into().ok())
                .ok_or(Skip::Malformed)?;
            let family = if link == LinkKind::Loop {
                u32::from_be_bytes(head)
            } else {
                // Host order of the capturing machine, which the file does not record: a
                // family is a small number, so a value with high bits set was written the
                // other way round.
                let le = u32::from_le_bytes(head);
                if le > 0xffff {
                    le.swap_bytes()
                } else {
                    le
                }
            };
            match family {
                // AF_INET everywhere; AF_INET6 on Linux, the BSDs, FreeBSD and macOS.
                2 | 10 | 24 | 28 | 30 => &frame[4..],
                _ => return Err(Skip::NotIp),
            }
        }
        LinkKind::Other(_) => return Err(Skip::UnsupportedLink),
    };
    ip_tcp(frame, ip)
}

/// Reads a big-endian u16 at `at`.
fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

/// Follows VLAN tags from an EtherType to the IP packet.
fn ether_payload(mut ty: EtherType, mut rest: &[u8]) -> Result<&[u8], Skip> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ty {
            ether_type::IPV4 | ether_type::IPV6 => return Ok(rest),
            ether_type::VLAN_TAGGED_FRAME
            | ether_type::PROVIDER_BRIDGING
            | ether_type::VLAN_DOUBLE_TAGGED_FRAME => {
                let tag = SingleVlanSlice::from_slice(rest).map_err(|_| Skip::Malformed)?;
                let inner = tag.payload();
                ty = inner.ether_type;
                rest = inner.payload;
            }
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::Malformed)
}

/// Decodes the IP packet `ip` (a part of `frame`) down to TCP.
fn ip_tcp(frame: &[u8], ip: &[u8]) -> Result<Decoded, Skip> {
    use etherparse::err::ip::{HeaderError, LaxHeaderSliceError};
    let (packet, stop) = LaxIpSlice::from_slice(ip).map_err(|e| match e {
        LaxHeaderSliceError::Content(HeaderError::UnsupportedIpVersion { .. }) => Skip::NotIp,
        _ => Skip::Malformed,
    })?;
    if stop.is_some() {
        // An IPv6 extension header (or IPv4 authentication header) that does not parse.
        return Err(Skip::Malformed);
    }
    let payload = packet.payload();
    if payload.fragmented {
        return Err(Skip::Fragment);
    }
    if payload.ip_number != ip_number::TCP {
        return Err(Skip::NotTcp);
    }
    let tcp = TcpSlice::from_slice(payload.payload).map_err(|_| Skip::Malformed)?;
    let data = tcp.payload();
    let payload_at = offset_in(frame, data);
    let payload_len = data.len();
    let wire_len = if payload.incomplete {
        // The packet was cut: what the IP header claims, less everything before the payload.
        let claimed_ip_len = match &packet {
            LaxIpSlice::Ipv4(v4) => usize::from(v4.header().total_len()),
            LaxIpSlice::Ipv6(v6) => 40 + usize::from(v6.header().payload_length()),
        };
        claimed_ip_len
            .saturating_sub(offset_in(ip, data))
            .max(payload_len)
    } else {
        payload_len
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = (packet.source_addr(), packet.destination_addr());
    // The flag byte's low five bits are FIN, SYN, RST, PSH and ACK, as TcpFlags lays them out.
    let flags = TcpFlags::from_bits(tcp.header_slice().get(13).copied().unwrap_or(0));
    Ok(Decoded {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        payload_at,
        payload_len,
        wire_len: u32::try_from(wire_len).unwrap_or(u32::MAX),
    })
}

/// Offset of `part` within `whole`; `part` is always a sub-slice handed back by a parser.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}
