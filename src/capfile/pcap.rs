//! Classic pcap framing: the 24-byte file header (either byte order, microsecond or
//! nanosecond timestamps) and the packet records after it. Parsing is `pcap-parser`'s.

use super::error::{BlockName, CaptureErrorKind};
use super::link::LinkKind;
use pcap_parser::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};
use std::ops::Range;
use std::time::Duration;

/// Size of the file header.
pub(super) const FILE_HEADER: usize = 24;

/// The format of one classic pcap file, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PcapFormat {
    pub(super) big_endian: bool,
    pub(super) nanos: bool,
    /// The "modified" (Kuznetzov) format, whose records carry 8 more header bytes.
    pub(super) modified: bool,
    pub(super) link: LinkKind,
}

/// A record's header fields and where its data lies, relative to the record's first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PcapRecord {
    pub(super) ts: Duration,
    pub(super) data: Range<usize>,
    pub(super) wire_len: u32,
}

/// Whether `magic` (the first four bytes, read little-endian) is a classic pcap magic.
pub(super) fn is_pcap_magic(magic: u32) -> bool {
    matches!(
        magic,
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1
    )
}

impl PcapFormat {
    /// Reads the file header (at least [`FILE_HEADER`] bytes).
    pub(super) fn from_header(head: &[u8]) -> Result<PcapFormat, CaptureErrorKind> {
        let (_, header) = parse_pcap_header(head).map_err(|_| CaptureErrorKind::Malformed {
            block: BlockName::PcapHeader,
        })?;
        if header.version_major != 2 {
            return Err(CaptureErrorKind::UnsupportedVersion {
                format: "pcap",
                major: header.version_major,
                minor: header.version_minor,
            });
        }
        Ok(PcapFormat {
            big_endian: header.is_bigendian(),
            nanos: header.is_nanosecond_precision(),
            modified: header.is_modified_format(),
            link: LinkKind::from_linktype(header.network.0 as u32),
        })
    }

    /// Size of a record header.
    pub(super) fn record_header(&self) -> usize {
        if self.modified {
            24
        } else {
            16
        }
    }

    /// The captured length a record header states.
    pub(super) fn caplen(&self, head: &[u8]) -> Option<u32> {
        let b: [u8; 4] = head.get(8..12)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Parses one whole record (header and data).
    pub(super) fn record(&self, record: &[u8]) -> Result<PcapRecord, CaptureErrorKind> {
        let parsed = if self.modified {
            parse_pcap_frame_modified(record)
        } else if self.big_endian {
            parse_pcap_frame_be(record)
        } else {
            parse_pcap_frame(record)
        };
        let (_, frame) = parsed.map_err(|_| CaptureErrorKind::Malformed {
            block: BlockName::PcapRecord,
        })?;
        let per_tick = if self.nanos { 1 } else { 1_000 };
        let nanos = u64::from(frame.ts_usec) * per_tick;
        let ts = Duration::from_secs(u64::from(frame.ts_sec)) + Duration::from_nanos(nanos);
        let start = self.record_header();
        Ok(PcapRecord {
            ts,
            data: start..start + frame.data.len(),
            wire_len: frame.origlen.max(frame.caplen),
        })
    }
}
