//! The capture reader: detects pcap or pcapng by the magic number, walks the records or
//! blocks in one large buffer, and yields the TCP segments and decryption secrets in them.
//! Memory stays bounded by [`MAX_BLOCK`] plus two read chunks, whatever the file's size.

#[cfg(test)]
#[path = "read_tests.rs"]
pub(super) mod tests;

#[cfg(test)]
#[path = "read_error_tests.rs"]
mod error_tests;

use super::buffer::InputBuffer;
use super::error::{BlockName, CaptureError, CaptureErrorKind};
use super::link::{self, Decoded, LinkKind, Skip};
use super::packet::{Record, Secrets, SecretsKind, TcpSegment};
use super::pcap::{self, PcapFormat};
use super::pcapng::{NgItem, PcapngState, BLOCK_HEAD};
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

/// Bytes asked of the source per read.
pub const READ_CHUNK: usize = 1 << 20;

/// The largest record or block the reader accepts, header included. Real packets are at
/// most 256 KiB; this leaves room for large key logs while bounding memory.
pub const MAX_BLOCK: u64 = 64 << 20;

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic pcap.
    Pcap {
        /// Written big-endian.
        big_endian: bool,
        /// Nanosecond rather than microsecond timestamps.
        nanos: bool,
    },
    /// pcapng.
    Pcapng,
}

/// What the reader has seen and what it left out, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packets in the file (records or packet blocks), whatever they carry.
    pub frames: u64,
    /// TCP segments yielded.
    pub tcp_segments: u64,
    /// Of those, segments whose payload the snap length cut short.
    pub truncated_payloads: u64,
    /// Packets carrying something other than IPv4 or IPv6 (ARP, LLDP, ...).
    pub not_ip: u64,
    /// IP packets carrying something other than TCP (UDP, ICMP, ...).
    pub not_tcp: u64,
    /// IP fragments, which are not reassembled.
    pub ip_fragments: u64,
    /// Packets whose link, IP or TCP header is cut short or invalid.
    pub malformed: u64,
    /// Packets on interfaces of a link type the reader does not decode.
    pub unsupported_link: u64,
    /// pcapng packets naming an interface their section does not describe.
    pub unknown_interface: u64,
    /// Decryption secrets blocks yielded.
    pub secrets_blocks: u64,
    /// pcapng blocks of other types skipped (statistics, name resolution, custom, ...).
    pub other_blocks: u64,
    /// pcapng sections.
    pub sections: u64,
    /// File bytes read past.
    pub bytes: u64,
}

/// The reader's knowledge of the container.
enum Format {
    /// Nothing read yet.
    Unknown,
    Pcap(PcapFormat),
    Pcapng(PcapngState),
}

/// Where the next record lies in the buffer, found without holding a borrow of it.
enum Found {
    Tcp {
        decoded: Decoded,
        /// Index of the frame's first byte in the buffer.
        frame_at: usize,
        ts: Duration,
        frame: u64,
        block_offset: u64,
        trace_conn: Option<u64>,
    },
    Secrets {
        kind: SecretsKind,
        data: Range<usize>,
        block_offset: u64,
    },
}

/// What one record or block amounted to.
enum Step {
    Found(Found),
    Skipped,
    End,
}

/// Reads a capture file record by record; see [`CaptureReader::next_record`].
pub struct CaptureReader<R> {
    name: String,
    src: R,
    buf: InputBuffer,
    total_len: Option<u64>,
    format: Format,
    stats: ReadStats,
    done: bool,
}

/// Opens the capture file at `path`; its name in errors is the path as given.
pub fn open(path: impl AsRef<Path>) -> Result<CaptureReader<File>, CaptureError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let fail = |e| CaptureError {
        file: name.clone(),
        offset: 0,
        kind: CaptureErrorKind::Io(e),
    };
    let file = File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    Ok(CaptureReader::new(name, file).with_total_len(len))
}

impl<R: Read> CaptureReader<R> {
    /// A reader over `src`, called `name` in errors.
    pub fn new(name: impl Into<String>, src: R) -> CaptureReader<R> {
        CaptureReader {
            name: name.into(),
            src,
            buf: InputBuffer::new(READ_CHUNK),
            total_len: None,
            format: Format::Unknown,
            stats: ReadStats::default(),
            done: false,
        }
    }

    /// Tells the reader the source's length, so a block claiming more than the file holds is
    /// reported as such before any of it is read.
    pub fn with_total_len(mut self, len: u64) -> CaptureReader<R> {
        self.total_len = Some(len);
        self
    }

    /// The file's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts of what was read and skipped so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The container format, once the first record has been asked for.
    pub fn format(&self) -> Option<FileFormat> {
        match &self.format {
            Format::Unknown => None,
            Format::Pcap(f) => Some(FileFormat::Pcap {
                big_endian: f.big_endian,
                nanos: f.nanos,
            }),
            Format::Pcapng(_) => Some(FileFormat::Pcapng),
        }
    }

    /// The next TCP segment or secrets block; `None` at the end of the file. An error comes
    /// after every record before it, and ends the reading.
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(found)) => Some(Ok(self.view(found))),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(kind) => {
                self.done = true;
                Some(Err(CaptureError {
                    file: self.name.clone(),
                    offset: self.buf.offset(),
                    kind,
                }))
            }
        }
    }

    /// Turns a found position into a record borrowing the buffer.
    fn view(&self, found: Found) -> Record<'_> {
        let data = self.buf.data();
        match found {
            Found::Tcp {
                decoded: d,
                frame_at,
                ts,
                frame,
                block_offset,
                trace_conn,
            } => {
                let at = frame_at + d.payload_at;
                Record::Tcp(TcpSegment {
                    frame,
                    block_offset,
                    ts,
                    src: d.src,
                    dst: d.dst,
                    seq: d.seq,
                    ack: d.ack,
                    flags: d.flags,
                    window: d.window,
                    payload: &data[at..at + d.payload_len],
                    wire_len: d.wire_len,
                    trace_conn,
                })
            }
            Found::Secrets {
                kind,
                data: range,
                block_offset,
            } => Record::Secrets(Secrets {
                kind,
                data: &data[range],
                block_offset,
            }),
        }
    }

    /// Reads past records until one is worth yielding. Errors leave the buffer at the
    /// offending block, so its offset is the error's.
    fn advance(&mut self) -> Result<Option<Found>, CaptureErrorKind> {
        loop {
            let step = match &self.format {
                Format::Unknown => {
                    self.detect()?;
                    Step::Skipped
                }
                Format::Pcap(f) => {
                    let f = *f;
                    self.pcap_record(f)?
                }
                Format::Pcapng(_) => self.pcapng_block()?,
            };
            match step {
                Step::Found(found) => return Ok(Some(found)),
                Step::Skipped => {}
                Step::End => return Ok(None),
            }
        }
    }

    /// Reads the magic number and, for pcap, the file header.
    fn detect(&mut self) -> Result<(), CaptureErrorKind> {
        let have = self
            .buf
            .fill(&mut self.src, 4)
            .map_err(CaptureErrorKind::Io)?;
        if have == 0 {
            return Err(CaptureErrorKind::Empty);
        }
        let head = self.buf.available();
        let magic = head
            .get(..4)
            .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        match magic {
            Some(pcapng_magic) if pcapng_magic == pcap_parser::SHB_MAGIC => {
                self.format = Format::Pcapng(PcapngState::default());
            }
            Some(m) if pcap::is_pcap_magic(m) => {
                self.head(pcap::FILE_HEADER, BlockName::PcapHeader)?;
                let format = PcapFormat::from_header(self.buf.available())?;
                self.buf.consume(pcap::FILE_HEADER);
                self.stats.bytes += pcap::FILE_HEADER as u64;
                self.format = Format::Pcap(format);
            }
            _ => {
                let have = self
                    .buf
                    .fill(&mut self.src, 16)
                    .map_err(CaptureErrorKind::Io)?;
                let start = self.buf.available()[..have.min(16)].to_vec();
                return Err(CaptureErrorKind::NotCapture { start });
            }
        }
        Ok(())
    }

    /// Makes a fixed-size header of `n` bytes available; false at a clean end of file.
    fn head(&mut self, n: usize, block: BlockName) -> Result<bool, CaptureErrorKind> {
        let have = self
            .buf
            .fill(&mut self.src, n)
            .map_err(CaptureErrorKind::Io)?;
        if have == 0 {
            return Ok(false);
        }
        if have < n {
            return Err(CaptureErrorKind::HeaderCut {
                block,
                have: have as u64,
                need: n as u64,
            });
        }
        Ok(true)
    }

    /// Says why a block claiming `claimed` bytes cannot be read, if it is too large.
    fn check_claim(&self, claimed: u64) -> Result<(), CaptureErrorKind> {
        if let Some(total) = self.total_len {
            let remaining = total.saturating_sub(self.buf.offset());
            if claimed > remaining {
                return Err(CaptureErrorKind::BlockPastEnd { claimed, remaining });
            }
        }
        if claimed > MAX_BLOCK {
            return Err(CaptureErrorKind::BlockTooLarge {
                claimed,
                limit: MAX_BLOCK,
            });
        }
        Ok(())
    }

    /// Makes a whole block of `claimed` bytes available, or says why it cannot be.
    fn body(&mut self, claimed: u64) -> Result<usize, CaptureErrorKind> {
        self.check_claim(claimed)?;
        let len = claimed as usize;
        let have = self
            .buf
            .fill(&mut self.src, len)
            .map_err(CaptureErrorKind::Io)?;
        if have < len {
            return Err(CaptureErrorKind::BlockPastEnd {
                claimed,
                remaining: have as u64,
            });
        }
        Ok(len)
    }

    /// Reads one classic pcap record.
    fn pcap_record(&mut self, format: PcapFormat) -> Result<Step, CaptureErrorKind> {
        let head_len = format.record_header();
        if !self.head(head_len, BlockName::PcapRecord)? {
            return Ok(Step::End);
        }
        let caplen = format
            .caplen(self.buf.available())
            .ok_or(CaptureErrorKind::Malformed {
                block: BlockName::PcapRecord,
            })?;
        let len = self.body(head_len as u64 + u64::from(caplen))?;
        let record = format.record(&self.buf.available()[..len])?;
        let block_offset = self.buf.offset();
        let record_at = self.buf.position();
        self.buf.consume(len);
        self.stats.bytes += len as u64;
        self.stats.frames += 1;
        let frame_at = record_at + record.data.start;
        let frame = &self.buf.data()[frame_at..record_at + record.data.end];
        let found = packet(format.link, frame, record.wire_len, &mut self.stats);
        Ok(found.map_or(Step::Skipped, |decoded| {
            Step::Found(Found::Tcp {
                decoded,
                frame_at,
                ts: record.ts,
                frame: self.stats.frames,
                block_offset,
                trace_conn: None,
            })
        }))
    }

    /// Reads one pcapng block.
    fn pcapng_block(&mut self) -> Result<Step, CaptureErrorKind> {
        if !self.head(BLOCK_HEAD, BlockName::Other)? {
            return Ok(Step::End);
        }
        let Format::Pcapng(state) = &self.format else {
            return Ok(Step::End);
        };
        let (block_type, claimed, big) = state.block_header(self.buf.available())?;
        let claimed = u64::from(claimed);
        if claimed < 12 {
            return Err(CaptureErrorKind::BlockTooShort { claimed, min: 12 });
        }
        self.check_claim(claimed)?;
        if claimed % 4 != 0 {
            return Err(CaptureErrorKind::BlockUnaligned { claimed });
        }
        let len = self.body(claimed)?;
        let block = &self.buf.available()[..len];
        let mut tail = [0u8; 4];
        tail.copy_from_slice(&block[len - 4..]);
        let trailing = if big {
            u32::from_be_bytes(tail)
        } else {
            u32::from_le_bytes(tail)
        };
        if u64::from(trailing) != claimed {
            return Err(CaptureErrorKind::LengthMismatch {
                leading: claimed as u32,
                trailing,
            });
        }
        let Format::Pcapng(state) = &mut self.format else {
            return Ok(Step::End);
        };
        let item = state.block(block)?;
        let block_offset = self.buf.offset();
        let block_at = self.buf.position();
        self.buf.consume(len);
        self.stats.bytes += len as u64;
        let stats = &mut self.stats;
        Ok(match item {
            NgItem::Packet {
                trace_conn,
                link,
                ts,
                data,
                wire_len,
            } => {
                stats.frames += 1;
                let frame = &self.buf.data()[block_at + data.start..block_at + data.end];
                match packet(link, frame, wire_len, stats) {
                    Some(decoded) => Step::Found(Found::Tcp {
                        decoded,
                        frame_at: block_at + data.start,
                        ts,
                        frame: stats.frames,
                        block_offset,
                        trace_conn,
                    }),
                    None => Step::Skipped,
                }
            }
            NgItem::UnknownInterface => {
                stats.frames += 1;
                stats.unknown_interface += 1;
                Step::Skipped
            }
            NgItem::Secrets { kind, data } => {
                stats.secrets_blocks += 1;
                Step::Found(Found::Secrets {
                    kind,
                    data: block_at + data.start..block_at + data.end,
                    block_offset,
                })
            }
            NgItem::Structure => {
                if block_type == pcap_parser::SHB_MAGIC {
                    stats.sections += 1;
                }
                Step::Skipped
            }
            NgItem::Other => {
                stats.other_blocks += 1;
                Step::Skipped
            }
        })
    }
}

/// Decodes one captured frame down to TCP, counting what is skipped.
fn packet(
    link: LinkKind,
    frame: &[u8],
    frame_wire_len: u32,
    stats: &mut ReadStats,
) -> Option<Decoded> {
    match link::decode(link, frame) {
        Ok(mut decoded) => {
            // An IP length beyond the captured bytes only means a cut payload when the
            // capture says it cut the frame; otherwise the IP header is lying.
            if frame.len() as u64 >= u64::from(frame_wire_len) {
                decoded.wire_len = decoded.payload_len as u32;
            }
            stats.tcp_segments += 1;
            if (decoded.payload_len as u64) < u64::from(decoded.wire_len) {
                stats.truncated_payloads += 1;
            }
            Some(decoded)
        }
        Err(skip) => {
            let counter = match skip {
                Skip::NotIp => &mut stats.not_ip,
                Skip::NotTcp => &mut stats.not_tcp,
                Skip::Fragment => &mut stats.ip_fragments,
                Skip::Malformed => &mut stats.malformed,
                Skip::UnsupportedLink => &mut stats.unsupported_link,
            };
            *counter += 1;
            None
        }
    }
}
