//! The script format: a fuzz input read as chunks of two directions.
//!
//! Shared by the fuzz targets and by the seed writer (`examples/fuzz_seeds.rs` in
//! rdptap, which includes this file), so the seeds and the targets read one format.

use rdptap::vocab::Dir;

/// Bytes of a chunk's header: a control byte and a little-endian u16 length.
pub const HEADER: usize = 3;

/// Control bit: the chunk travels server to client (else client to server).
pub const S2C: u8 = 0x01;
/// Control bit: the chunk's direction ends after it.
pub const END: u8 = 0x02;

/// One step of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The direction the bytes travel.
    pub dir: Dir,
    /// The bytes (possibly empty).
    pub data: &'a [u8],
    /// The direction's stream ends after these bytes.
    pub end: bool,
    /// The control byte's spare bits, for targets that want a knob per chunk.
    pub spare: u8,
}

/// Reads `data` as a script: `[control][len lo][len hi][len bytes]…`. A length that
/// runs past the end takes what is left, and a trailing header of fewer than three
/// bytes is ignored, so every input is a valid script.
pub fn script(mut data: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    while data.len() >= HEADER {
        let ctl = data[0];
        let len = usize::from(u16::from_le_bytes([data[1], data[2]]));
        let body = &data[HEADER..];
        let take = len.min(body.len());
        out.push(Chunk {
            dir: if ctl & S2C != 0 { Dir::S2C } else { Dir::C2S },
            data: &body[..take],
            end: ctl & END != 0,
            spare: ctl >> 2,
        });
        data = &body[take..];
    }
    out
}

/// Writes a script: the inverse of [`script`]. Chunks longer than 65,535 bytes are
/// cut; `end` marks the last piece.
pub fn encode(chunks: &[(Dir, &[u8], bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(dir, data, end) in chunks {
        let pieces: Vec<&[u8]> = if data.is_empty() {
            vec![data]
        } else {
            data.chunks(usize::from(u16::MAX)).collect()
        };
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut ctl = if dir == Dir::S2C { S2C } else { 0 };
            if end && i == last {
                ctl |= END;
            }
            out.push(ctl);
            out.extend_from_slice(&(piece.len() as u16).to_le_bytes());
            out.extend_from_slice(piece);
        }
    }
    out
}

/// Splits one stream into pieces whose sizes come from the fuzzer: the first byte of
/// `data` picks a piece size (1 to 256), the rest is the stream. Suits the one-way
/// decoders (WebSocket frames, MS-TSGU packets, lab parsers).
pub fn pieces(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&size, rest)) => (usize::from(size) + 1, rest),
        None => (1, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_script_gives_the_chunks_back() {
        let big = vec![7u8; 70_000];
        let enc = encode(&[
            (Dir::C2S, b"hello", false),
            (Dir::S2C, &big, true),
            (Dir::C2S, b"", true),
        ]);
        let s = script(&enc);
        assert_eq!(s.len(), 4, "the big chunk is cut in two");
        assert_eq!(s[0].data, b"hello");
        assert_eq!(s[0].dir, Dir::C2S);
        assert!(!s[1].end && s[2].end);
        assert_eq!(s[1].data.len() + s[2].data.len(), 70_000);
        assert!(s[3].end && s[3].data.is_empty());
    }

    #[test]
    fn any_input_is_a_script() {
        assert!(script(&[]).is_empty());
        assert!(script(&[1, 2]).is_empty());
        let s = script(&[0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(s[0].data, &[1, 2]);
        assert_eq!(s[0].spare, 0x3f);
    }
}
