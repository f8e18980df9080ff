//! pcapng framing: sections and their byte order, interfaces with their link types and
//! timestamp resolutions, and the blocks that carry packets and secrets. The block parsing
//! itself is `pcap-parser`'s; this module keeps the per-section state it needs.

use super::error::{BlockName, CaptureErrorKind};
use super::link::LinkKind;
use super::packet::SecretsKind;
use pcap_parser::pcapng::{parse_sectionheaderblock, Block, OptionCode, SecretsType};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{
    parse_block_be, parse_block_le, DSB_MAGIC, EPB_MAGIC, IDB_MAGIC, SHB_MAGIC, SPB_MAGIC,
};
use std::ops::Range;
use std::time::Duration;

/// The most interfaces one section may describe; each costs a few bytes, and a hostile file
/// could otherwise describe millions.
pub(super) const MAX_INTERFACES: usize = 1 << 16;

/// Byte-order magic of a section header, as a little-endian reader sees it in a
/// little-endian section.
const BOM_LE: u32 = 0x1a2b_3c4d;

/// The bytes a block header needs to be read: type, length, and for a section header its
/// byte-order magic.
pub(super) const BLOCK_HEAD: usize = 12;

/// What a capture interface contributes to decoding its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Interface {
    pub(super) link: LinkKind,
    /// Snap length; 0 means none.
    pub(super) snaplen: u32,
    /// `if_tsresol`: high bit clear for 10^-n seconds, set for 2^-n seconds.
    pub(super) tsresol: u8,
    /// `if_tsoffset`: seconds to add to every timestamp.
    pub(super) tsoffset: i64,
    /// In a trace rdptap wrote, the connection this interface holds (`rdptap-conn-N`).
    pub(super) trace_conn: Option<u64>,
}

/// One section: its byte order and interfaces.
#[derive(Debug)]
struct Section {
    big_endian: bool,
    interfaces: Vec<Interface>,
}

/// What a block amounts to for the reader; ranges are relative to the block's first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NgItem {
    /// A packet on an interface.
    Packet {
        trace_conn: Option<u64>,
        link: LinkKind,
        ts: Duration,
        data: Range<usize>,
        wire_len: u32,
    },
    /// A packet naming an interface the section does not describe.
    UnknownInterface,
    /// Decryption secrets.
    Secrets {
        kind: SecretsKind,
        data: Range<usize>,
    },
    /// A section header or interface description, now taken into account.
    Structure,
    /// A block of a type the reader skips.
    Other,
}

/// The pcapng state carried from block to block.
#[derive(Debug, Default)]
pub(super) struct PcapngState {
    section: Option<Section>,
    /// Timestamp of the last timestamped packet, for Simple Packet Blocks, which have none.
    last_ts: Duration,
}

impl PcapngState {
    /// The type, total length and byte order of the block starting with `head`
    /// ([`BLOCK_HEAD`] bytes).
    pub(super) fn block_header(&self, head: &[u8]) -> Result<(u32, u32, bool), CaptureErrorKind> {
        let word = |at: usize, big: bool| -> u32 {
            let mut b = [0u8; 4];
            b.copy_from_slice(&head[at..at + 4]);
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        if head.len() < BLOCK_HEAD {
            return Err(CaptureErrorKind::HeaderCut {
                block: BlockName::Other,
                have: head.len() as u64,
                need: BLOCK_HEAD as u64,
            });
        }
        // The section header's type reads the same both ways; its own byte-order magic says
        // how to read its length and everything in the section.
        if word(0, false) == SHB_MAGIC {
            let big = match word(8, false) {
                BOM_LE => false,
                m if m == BOM_LE.swap_bytes() => true,
                magic => return Err(CaptureErrorKind::BadByteOrder { magic }),
            };
            return Ok((SHB_MAGIC, word(4, big), big));
        }
        let big = match &self.section {
            Some(section) => section.big_endian,
            None => return Err(CaptureErrorKind::NoSection),
        };
        Ok((word(0, big), word(4, big), big))
    }

    /// Takes in one whole block (its trailer already checked).
    pub(super) fn block(&mut self, block: &[u8]) -> Result<NgItem, CaptureErrorKind> {
        let (block_type, _, big) = self.block_header(block)?;
        let name = block_name(block_type);
        let malformed = || CaptureErrorKind::Malformed { block: name };
        if block_type == SHB_MAGIC {
            let (_, shb) = parse_sectionheaderblock(block).map_err(|_| malformed())?;
            if shb.major_version != 1 {
                return Err(CaptureErrorKind::UnsupportedVersion {
                    format: "pcapng",
                    major: shb.major_version,
                    minor: shb.minor_version,
                });
            }
            self.section = Some(Section {
                big_endian: big,
                interfaces: Vec::new(),
            });
            return Ok(NgItem::Structure);
        }
        let section = self.section.as_mut().ok_or(CaptureErrorKind::NoSection)?;
        if !matches!(block_type, IDB_MAGIC | EPB_MAGIC | SPB_MAGIC | DSB_MAGIC) {
            // Not parsed at all: a damaged statistics or name block must not stop the reading.
            return Ok(NgItem::Other);
        }
        let parsed = if big {
            parse_block_be(block)
        } else {
            parse_block_le(block)
        };
        let (_, parsed) = parsed.map_err(|_| malformed())?;
        match parsed {
            Block::InterfaceDescription(idb) => {
                if section.interfaces.len() >= MAX_INTERFACES {
                    return Err(CaptureErrorKind::TooManyInterfaces {
                        limit: MAX_INTERFACES,
                    });
                }
                // pcap-parser reads if_tsoffset as little-endian whatever the section's byte
                // order, so read it here.
                let tsoffset = idb
                    .options
                    .iter()
                    .find(|o| o.code == OptionCode::IfTsoffset)
                    .and_then(|o| o.value.get(..8))
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .map(|v| {
                        if big {
                            i64::from_be_bytes(v)
                        } else {
                            i64::from_le_bytes(v)
                        }
                    })
                    .unwrap_or(0);
                // rdptap writes one interface per connection, named rdptap-conn-N, so
                // its traces say which flows (both legs, decrypted) are one connection.
                let trace_conn = idb
                    .options
                    .iter()
                    .find(|o| o.code == OptionCode::IfName)
                    .and_then(|o| std::str::from_utf8(&o.value).ok())
                    .and_then(|n| n.trim_end_matches('\0').strip_prefix("rdptap-conn-"))
                    .and_then(|n| n.parse().ok());
                section.interfaces.push(Interface {
                    link: LinkKind::from_linktype(idb.linktype.0 as u32),
                    snaplen: idb.snaplen,
                    tsresol: idb.if_tsresol,
                    tsoffset,
                    trace_conn,
                });
                Ok(NgItem::Structure)
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = section.interfaces.get(epb.if_id as usize) else {
                    return Ok(NgItem::UnknownInterface);
                };
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = ticks_to_duration(ticks, iface.tsresol, iface.tsoffset);
                self.last_ts = ts;
                let data = epb.packet_data();
                Ok(NgItem::Packet {
                    trace_conn: iface.trace_conn,
                    link: iface.link,
                    ts,
                    data: range_in(block, data),
                    wire_len: epb.origlen.max(data.len() as u32),
                })
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = section.interfaces.first() else {
                    return Ok(NgItem::UnknownInterface);
                };
                // The block holds min(original length, snap length) bytes plus padding.
                let mut len = (spb.origlen as usize).min(spb.data.len());
                if iface.snaplen != 0 {
                    len = len.min(iface.snaplen as usize);
                }
                let data = &spb.data[..len];
                Ok(NgItem::Packet {
                    trace_conn: iface.trace_conn,
                    link: iface.link,
                    ts: self.last_ts,
                    data: range_in(block, data),
                    wire_len: spb.origlen.max(len as u32),
                })
            }
            Block::DecryptionSecrets(dsb) => {
                let SecretsType(code) = dsb.secrets_type;
                let len = (dsb.secrets_len as usize).min(dsb.data.len());
                Ok(NgItem::Secrets {
                    kind: SecretsKind::from_code(code),
                    data: range_in(block, &dsb.data[..len]),
                })
            }
            _ => Ok(NgItem::Other),
        }
    }
}

/// The name of a block type, for error messages.
fn block_name(block_type: u32) -> BlockName {
    match block_type {
        SHB_MAGIC => BlockName::SectionHeader,
        IDB_MAGIC => BlockName::InterfaceDescription,
        EPB_MAGIC => BlockName::EnhancedPacket,
        SPB_MAGIC => BlockName::SimplePacket,
        DSB_MAGIC => BlockName::DecryptionSecrets,
        _ => BlockName::Other,
    }
}

/// The range `part` occupies in `whole`; `part` is always a sub-slice of `whole`.
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
}

/// A timestamp of `ticks` units of `tsresol` plus `tsoffset` seconds, as time since the
/// epoch; nanosecond precision, never panicking whatever the values.
pub(super) fn ticks_to_duration(ticks: u64, tsresol: u8, tsoffset: i64) -> Duration {
    const NS: u128 = 1_000_000_000;
    let exp = u32::from(tsresol & 0x7f);
    let ticks = u128::from(ticks);
    let nanos: u128 = if tsresol & 0x80 == 0 {
        // 10^-exp seconds per tick.
        if exp <= 9 {
            ticks * 10u128.pow(9 - exp)
        } else {
            10u128.checked_pow(exp - 9).map_or(0, |div| ticks / div)
        }
    } else {
        // 2^-exp seconds per tick: ticks * 10^9 fits easily in 128 bits.
        (ticks * NS).checked_shr(exp).unwrap_or(0)
    };
    let total = (nanos as i128)
        .saturating_add(i128::from(tsoffset) * NS as i128)
        .max(0) as u128;
    let secs = u64::try_from(total / NS).unwrap_or(u64::MAX);
    Duration::new(secs, (total % NS) as u32)
}
