//! Why a capture file could not be read further: the file, the byte offset and the reason.

use std::fmt;
use std::io;

/// A capture file that cannot be read past `offset`, and why.
///
/// Its `Display` reads `capture.pcap: byte offset 123456: the block claims 4294967295 bytes,
/// more than the file holds (1000 bytes remain)`.
#[derive(Debug)]
pub struct CaptureError {
    /// The file's name as given to the reader.
    pub file: String,
    /// Byte offset in the file of the block (or header) that could not be read.
    pub offset: u64,
    /// What is wrong there.
    pub kind: CaptureErrorKind,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: byte offset {}: {}",
            self.file, self.offset, self.kind
        )
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CaptureErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The kinds of block or header a reading error can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockName {
    /// The classic pcap file header (24 bytes).
    PcapHeader,
    /// A classic pcap packet record.
    PcapRecord,
    /// A pcapng Section Header Block.
    SectionHeader,
    /// A pcapng Interface Description Block.
    InterfaceDescription,
    /// A pcapng Enhanced Packet Block.
    EnhancedPacket,
    /// A pcapng Simple Packet Block.
    SimplePacket,
    /// A pcapng Decryption Secrets Block.
    DecryptionSecrets,
    /// Any other pcapng block.
    Other,
}

impl fmt::Display for BlockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockName::PcapHeader => "pcap file header",
            BlockName::PcapRecord => "pcap packet record",
            BlockName::SectionHeader => "section header block",
            BlockName::InterfaceDescription => "interface description block",
            BlockName::EnhancedPacket => "enhanced packet block",
            BlockName::SimplePacket => "simple packet block",
            BlockName::DecryptionSecrets => "decryption secrets block",
            BlockName::Other => "block",
        })
    }
}

/// What is wrong at the offset of a [`CaptureError`].
#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file holds no bytes.
    Empty,
    /// The file does not start with a pcap or pcapng magic number; holds its first bytes.
    NotCapture {
        /// Up to the first 16 bytes of the file.
        start: Vec<u8>,
    },
    /// The file ends inside a block's fixed-size header.
    HeaderCut {
        /// The header that was cut.
        block: BlockName,
        /// Bytes of it present.
        have: u64,
        /// Bytes it needs.
        need: u64,
    },
    /// A block claims more bytes than remain in the file.
    BlockPastEnd {
        /// The block's length as it claims it, header included.
        claimed: u64,
        /// Bytes left in the file from the block's start.
        remaining: u64,
    },
    /// A block claims more bytes than this reader holds in memory at once.
    BlockTooLarge {
        /// The block's length as it claims it.
        claimed: u64,
        /// The largest block the reader accepts.
        limit: u64,
    },
    /// A pcapng block claims fewer bytes than its own header and trailer take.
    BlockTooShort {
        /// The block's length as it claims it.
        claimed: u64,
        /// The smallest length a block of its type can have.
        min: u64,
    },
    /// A pcapng block length that is not a multiple of 4.
    BlockUnaligned {
        /// The block's length as it claims it.
        claimed: u64,
    },
    /// A pcapng block whose trailing length differs from its leading length.
    LengthMismatch {
        /// The length at the block's start.
        leading: u32,
        /// The length at the block's end.
        trailing: u32,
    },
    /// A section header block with an unknown byte-order magic.
    BadByteOrder {
        /// The byte-order magic as read (little-endian).
        magic: u32,
    },
    /// A file or section of a version this reader does not know.
    UnsupportedVersion {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// A block whose contents do not parse.
    Malformed {
        /// Which block.
        block: BlockName,
    },
    /// A pcapng section describes more interfaces than the reader keeps.
    TooManyInterfaces {
        /// The most interfaces a section may have.
        limit: usize,
    },
    /// A packet block appears before any section header block.
    NoSection,
    /// Reading the file failed.
    Io(io::Error),
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureErrorKind::Empty => f.write_str("the file is empty"),
            CaptureErrorKind::NotCapture { start } => {
                write!(f, "not a pcap or pcapng file: it starts with {}", Shown(start))
            }
            CaptureErrorKind::HeaderCut { block, have, need } => write!(
                f,
                "the file ends inside a {block} header ({have} of its {need} bytes are there)"
            ),
            CaptureErrorKind::BlockPastEnd { claimed, remaining } => write!(
                f,
                "the block claims {claimed} bytes, more than the file holds ({remaining} bytes remain)"
            ),
            CaptureErrorKind::BlockTooLarge { claimed, limit } => write!(
                f,
                "the block claims {claimed} bytes, more than the largest block this reader accepts ({limit} bytes)"
            ),
            CaptureErrorKind::BlockTooShort { claimed, min } => write!(
                f,
                "the block claims {claimed} bytes, fewer than the {min} its header and trailer take"
            ),
            CaptureErrorKind::BlockUnaligned { claimed } => write!(
                f,
                "the block claims {claimed} bytes, which is not a multiple of 4 as pcapng requires"
            ),
            CaptureErrorKind::LengthMismatch { leading, trailing } => write!(
                f,
                "the block's length at its end ({trailing}) differs from the length at its start ({leading})"
            ),
            CaptureErrorKind::BadByteOrder { magic } => write!(
                f,
                "the section header's byte-order magic is {magic:#010x}, neither 0x1a2b3c4d nor its byte swap"
            ),
            CaptureErrorKind::UnsupportedVersion { format, major, minor } => {
                write!(f, "{format} version {major}.{minor} is not supported")
            }
            CaptureErrorKind::Malformed { block } => {
                write!(f, "the {block} is malformed: its contents do not fit its length")
            }
            CaptureErrorKind::TooManyInterfaces { limit } => write!(
                f,
                "the section describes more than {limit} interfaces, more than this reader keeps"
            ),
            CaptureErrorKind::NoSection => {
                f.write_str("a block appears before any section header block")
            }
            CaptureErrorKind::Io(e) => write!(f, "reading failed: {e}"),
        }
    }
}

/// The first bytes of a file, as quoted text when they are printable and as hex otherwise.
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let printable = |b: &u8| b.is_ascii_graphic() || *b == b' ';
        let text_len = self.0.iter().take_while(|b| printable(b)).count();
        // Text files are the common mistake; show them as text so the user recognises them.
        if text_len >= 4 || (text_len == self.0.len() && text_len > 0) {
            let text: String = self.0[..text_len].iter().map(|&b| b as char).collect();
            return write!(f, "the text \"{text}\"");
        }
        f.write_str("the bytes")?;
        for b in self.0.iter().take(8) {
            write!(f, " {b:02x}")?;
        }
        Ok(())
    }
}
