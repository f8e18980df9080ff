//! Block encoder: each function appends one whole, little-endian pcapng block to a buffer.
//!
//! A block is `type, total length, body, total length`, its body padded to a multiple of
//! four bytes. The length is written at both ends so that a reader can walk the file in
//! either direction, and so that a block cut short by a crash is recognisable as torn.

/// Section Header Block.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block.
pub const IDB: u32 = 0x0000_0001;
/// Enhanced Packet Block.
pub const EPB: u32 = 0x0000_0006;
/// Decryption Secrets Block.
pub const DSB: u32 = 0x0000_000A;

/// Byte-order magic of a section header, as written in the writer's byte order.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Link type of raw IPv4/IPv6 packets: no link-layer header at all.
pub const LINKTYPE_RAW: u16 = 101;
/// Secrets type of an NSS key log ("TLSK").
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544C_534B;
/// Snapshot length of our interfaces: 0 means "no limit"; every packet is whole.
pub const SNAPLEN: u32 = 0;
/// Timestamp resolution written in `if_tsresol`: 10^-6 s, i.e. microseconds.
pub const TSRESOL_MICROS: u8 = 6;

/// Option codes used here (the spec numbers options per block type, except the first few).
pub mod opt {
    /// End of options.
    pub const END: u16 = 0;
    /// A UTF-8 comment, valid in every block.
    pub const COMMENT: u16 = 1;
    /// SHB: the application that wrote the section.
    pub const SHB_USERAPPL: u16 = 4;
    /// IDB: interface name.
    pub const IF_NAME: u16 = 2;
    /// IDB: interface description.
    pub const IF_DESCRIPTION: u16 = 3;
    /// IDB: timestamp resolution.
    pub const IF_TSRESOL: u16 = 9;
}

/// Largest value an option can carry: its length field is 16 bits.
const MAX_OPTION: usize = u16::MAX as usize;

/// Appends a Section Header Block: version 1.0, unknown section length, `shb_userappl = app`.
pub fn section_header(out: &mut Vec<u8>, app: &str) {
    let start = begin(out, SHB);
    put_u32(out, BYTE_ORDER_MAGIC);
    put_u16(out, 1);
    put_u16(out, 0);
    // -1: the section's length is not known when its header is written.
    out.extend_from_slice(&(-1i64).to_le_bytes());
    option(out, start, opt::SHB_USERAPPL, text(app));
    end_options(out);
    finish(out, start);
}

/// Appends an Interface Description Block for raw IP packets with microsecond timestamps.
pub fn interface(out: &mut Vec<u8>, name: &str, description: &str) {
    let start = begin(out, IDB);
    put_u16(out, LINKTYPE_RAW);
    put_u16(out, 0);
    put_u32(out, SNAPLEN);
    option(out, start, opt::IF_NAME, text(name));
    option(out, start, opt::IF_DESCRIPTION, text(description));
    option(out, start, opt::IF_TSRESOL, &[TSRESOL_MICROS]);
    end_options(out);
    finish(out, start);
}

/// Appends an Enhanced Packet Block whose data is the concatenation of `parts`, captured
/// whole, with one `opt_comment` per comment.
///
/// The packet must be shorter than 4 GiB; ours are at most one IP datagram.
pub fn packet(out: &mut Vec<u8>, iface: u32, ts_micros: u64, parts: &[&[u8]], comments: &[&str]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let opts: usize = comments
        .iter()
        .map(|c| 4 + padded(text(c).len()))
        .sum::<usize>()
        + if comments.is_empty() { 0 } else { 4 };
    // One reservation per block: the payload copy is the hot path of a capture.
    out.reserve(32 + padded(len) + opts);
    let start = begin(out, EPB);
    put_u32(out, iface);
    put_u32(out, (ts_micros >> 32) as u32);
    put_u32(out, ts_micros as u32);
    put_u32(out, len as u32);
    put_u32(out, len as u32);
    for part in parts {
        out.extend_from_slice(part);
    }
    pad(out, start);
    for comment in comments {
        option(out, start, opt::COMMENT, text(comment));
    }
    if !comments.is_empty() {
        end_options(out);
    }
    finish(out, start);
}

/// Appends a Decryption Secrets Block holding an NSS key log, with an optional comment
/// (by convention the `if_name` of the connection the keys belong to).
pub fn secrets(out: &mut Vec<u8>, keylog: &[u8], comment: Option<&str>) {
    let start = begin(out, DSB);
    put_u32(out, SECRETS_TLS_KEY_LOG);
    put_u32(out, keylog.len() as u32);
    out.extend_from_slice(keylog);
    pad(out, start);
    if let Some(c) = comment {
        option(out, start, opt::COMMENT, text(c));
        end_options(out);
    }
    finish(out, start);
}

/// Rounds a length up to the next multiple of four.
pub const fn padded(len: usize) -> usize {
    (len + 3) & !3
}

/// Writes the block type and a placeholder total length; returns where the block starts.
fn begin(out: &mut Vec<u8>, kind: u32) -> usize {
    let start = out.len();
    put_u32(out, kind);
    put_u32(out, 0);
    start
}

/// Writes the trailing total length and patches the leading one.
fn finish(out: &mut Vec<u8>, start: usize) {
    let total = (out.len() - start + 4) as u32;
    out[start + 4..start + 8].copy_from_slice(&total.to_le_bytes());
    put_u32(out, total);
}

fn option(out: &mut Vec<u8>, start: usize, code: u16, value: &[u8]) {
    put_u16(out, code);
    put_u16(out, value.len() as u16);
    out.extend_from_slice(value);
    pad(out, start);
}

fn end_options(out: &mut Vec<u8>) {
    put_u32(out, u32::from(opt::END));
}

/// A string option's bytes, cut at a character boundary if it exceeds an option's limit.
fn text(s: &str) -> &[u8] {
    if s.len() <= MAX_OPTION {
        return s.as_bytes();
    }
    let mut end = MAX_OPTION;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

/// Pads to a multiple of four bytes from the block's start (the buffer may hold anything
/// before it).
fn pad(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    let n = padded(len) - len;
    out.extend_from_slice(&[0u8; 3][..n]);
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Checks the framing every block shares and returns its body.
    fn framed(block: &[u8], kind: u32) -> &[u8] {
        assert_eq!(block.len() % 4, 0, "block length is a multiple of 4");
        assert_eq!(u32_at(block, 0), kind);
        let total = u32_at(block, 4) as usize;
        assert_eq!(total, block.len());
        assert_eq!(u32_at(block, total - 4) as usize, total);
        &block[8..total - 4]
    }

    #[test]
    fn section_header_layout() {
        let mut b = Vec::new();
        section_header(&mut b, "rdptap 0.1.0");
        let body = framed(&b, SHB);
        assert_eq!(&body[..4], &[0x4D, 0x3C, 0x2B, 0x1A]);
        assert_eq!(&body[4..8], &[1, 0, 0, 0]);
        assert_eq!(&body[8..16], &[0xFF; 8]);
        // shb_userappl: 12 bytes, no padding needed; then end of options.
        assert_eq!(&body[16..20], &[4, 0, 12, 0]);
        assert_eq!(&body[20..32], b"rdptap 0.1.0");
        assert_eq!(&body[32..], &[0, 0, 0, 0]);
    }

    #[test]
    fn interface_options_are_padded() {
        let mut b = Vec::new();
        interface(&mut b, "rdptap-conn-7", "connection 7");
        let body = framed(&b, IDB);
        assert_eq!(&body[..8], &[101, 0, 0, 0, 0, 0, 0, 0]);
        // if_name: 13 bytes padded to 16.
        assert_eq!(&body[8..12], &[2, 0, 13, 0]);
        assert_eq!(&body[12..25], b"rdptap-conn-7");
        assert_eq!(&body[25..28], &[0, 0, 0]);
        // if_description: 12 bytes.
        assert_eq!(&body[28..32], &[3, 0, 12, 0]);
        assert_eq!(&body[32..44], b"connection 7");
        // if_tsresol: one byte, 6, padded.
        assert_eq!(&body[44..52], &[9, 0, 1, 0, 6, 0, 0, 0]);
        assert_eq!(&body[52..], &[0, 0, 0, 0]);
    }

    #[test]
    fn packet_concatenates_parts_and_pads() {
        for len in 0..9usize {
            let data: Vec<u8> = (0..len as u8).collect();
            let (a, z) = data.split_at(len / 2);
            let mut b = vec![0xEE; 3]; // appending keeps what the buffer held
            packet(&mut b, 2, 0x1_0000_0005, &[a, &[], z], &[]);
            assert_eq!(&b[..3], &[0xEE; 3]);
            let body = framed(&b[3..], EPB);
            assert_eq!(u32_at(body, 0), 2);
            assert_eq!(u32_at(body, 4), 1, "timestamp high word");
            assert_eq!(u32_at(body, 8), 5, "timestamp low word");
            assert_eq!(u32_at(body, 12) as usize, len);
            assert_eq!(u32_at(body, 16) as usize, len);
            assert_eq!(&body[20..20 + len], &data[..]);
            // No options at all: no end-of-options either.
            assert_eq!(body.len(), 20 + padded(len));
            assert!(body[20 + len..].iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn packet_comments_then_end_of_options() {
        let mut b = Vec::new();
        packet(&mut b, 0, 1, &[b"abcd"], &["rdptap: x", "é"]);
        let body = framed(&b, EPB);
        let opts = &body[24..];
        assert_eq!(&opts[..4], &[1, 0, 9, 0]);
        assert_eq!(&opts[4..13], b"rdptap: x");
        assert_eq!(&opts[13..16], &[0, 0, 0]);
        assert_eq!(&opts[16..20], &[1, 0, 2, 0]);
        assert_eq!(&opts[20..22], "é".as_bytes());
        assert_eq!(&opts[22..], &[0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn secrets_layout() {
        let keys = b"CLIENT_RANDOM 00 11\n";
        let mut b = Vec::new();
        secrets(&mut b, keys, Some("rdptap-conn-1"));
        let body = framed(&b, DSB);
        assert_eq!(u32_at(body, 0), SECRETS_TLS_KEY_LOG);
        assert_eq!(&body[..4], b"KSLT", "TLSK in little-endian order");
        assert_eq!(u32_at(body, 4) as usize, keys.len());
        assert_eq!(&body[8..8 + keys.len()], keys);
        let opts = &body[8 + padded(keys.len())..];
        assert_eq!(&opts[..4], &[1, 0, 13, 0]);
        assert_eq!(&opts[opts.len() - 4..], &[0, 0, 0, 0]);

        let mut b = Vec::new();
        secrets(&mut b, b"x", None);
        assert_eq!(framed(&b, DSB).len(), 12);
    }

    #[test]
    fn long_comment_is_cut_at_a_character_boundary() {
        let long = "é".repeat(40_000); // 80,000 bytes
        let cut = text(&long);
        assert!(cut.len() <= MAX_OPTION && cut.len() > MAX_OPTION - 2);
        assert!(std::str::from_utf8(cut).is_ok());
        let mut b = Vec::new();
        packet(&mut b, 0, 0, &[], &[&long]);
        framed(&b, EPB);
    }
}
