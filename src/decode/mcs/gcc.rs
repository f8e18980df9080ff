//! RDP's GCC user data blocks (MS-RDPBCGR 2.2.1.3 client, 2.2.1.4 server).
//!
//! Each block is `u16 type, u16 length` (little-endian, length including the header)
//! followed by its fields. Blocks may come in any order, and later fields of a block
//! are optional, so every field is read only if the block is long enough to hold it.

use crate::decode::names;
use crate::decode::wire::{le_u16, le_u32};

/// Client core data block type.
pub const CS_CORE: u16 = 0xC001;
/// Client network data block type (static virtual channels).
pub const CS_NET: u16 = 0xC003;
/// Server core data block type.
pub const SC_CORE: u16 = 0x0C01;

/// The most static channels a client may request (MS-RDPBCGR: CHANNEL_MAX_COUNT).
pub const MAX_CHANNELS: usize = 31;
/// Size of one CHANNEL_DEF: 8-byte name plus u32 options.
const CHANNEL_DEF_LEN: usize = 12;
/// clientName is 32 bytes of UTF-16, so at most 16 characters.
const CLIENT_NAME_CHARS: usize = 16;

// Offsets within TS_UD_CS_CORE, counted from the start of the block header.
const CORE_VERSION: usize = 4;
const CORE_WIDTH: usize = 8;
const CORE_HEIGHT: usize = 10;
const CORE_BUILD: usize = 20;
const CORE_NAME: usize = 24;
const CORE_NAME_LEN: usize = 32;
const CORE_EARLY_CAPS: usize = 144;
const CORE_SELECTED_PROTOCOL: usize = 212;

/// What the client's data blocks said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientData {
    /// CS_CORE version.
    pub version: Option<u32>,
    /// CS_CORE desktopWidth.
    pub width: Option<u16>,
    /// CS_CORE desktopHeight.
    pub height: Option<u16>,
    /// CS_CORE clientBuild.
    pub build: Option<u32>,
    /// CS_CORE clientName.
    pub name: Option<String>,
    /// CS_CORE earlyCapabilityFlags.
    pub early_caps: Option<u16>,
    /// CS_CORE serverSelectedProtocol.
    pub selected_protocol: Option<u32>,
    /// CS_NET channel names.
    pub channels: Vec<String>,
}

/// What the server's data blocks said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerData {
    /// SC_CORE version.
    pub version: Option<u32>,
    /// SC_CORE clientRequestedProtocols.
    pub client_requested_protocols: Option<u32>,
}

/// Reads the client data blocks (Conference Create Request user data).
pub fn client_data(data: &[u8]) -> ClientData {
    let mut out = ClientData::default();
    for (kind, block) in Blocks(data) {
        match kind {
            CS_CORE => {
                out.version = le_u32(block, CORE_VERSION);
                out.width = le_u16(block, CORE_WIDTH);
                out.height = le_u16(block, CORE_HEIGHT);
                out.build = le_u32(block, CORE_BUILD);
                out.name = block
                    .get(CORE_NAME..CORE_NAME + CORE_NAME_LEN)
                    .map(|b| names::utf16_text(b, CLIENT_NAME_CHARS));
                out.early_caps = le_u16(block, CORE_EARLY_CAPS);
                out.selected_protocol = le_u32(block, CORE_SELECTED_PROTOCOL);
            }
            CS_NET => out.channels = channels(block),
            _ => {}
        }
    }
    out
}

/// Reads the server data blocks (Conference Create Response user data).
pub fn server_data(data: &[u8]) -> ServerData {
    let mut out = ServerData::default();
    for (kind, block) in Blocks(data) {
        if kind == SC_CORE {
            out.version = le_u32(block, 4);
            out.client_requested_protocols = le_u32(block, 8);
        }
    }
    out
}

/// The channel names of a CS_NET block: channelCount, then CHANNEL_DEFs.
fn channels(block: &[u8]) -> Vec<String> {
    let count = le_u32(block, 4).unwrap_or(0);
    // Never trust the count for allocation: cap it, and stop at the block's end.
    let count = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(MAX_CHANNELS);
    block
        .get(8..)
        .unwrap_or(&[])
        .chunks_exact(CHANNEL_DEF_LEN)
        .take(count)
        .map(|def| {
            let name = def.get(..8).unwrap_or(&[]);
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            names::wire_text(name.get(..end).unwrap_or(&[]), 8)
        })
        .collect()
}

/// Iterates `(type, block)` over concatenated data blocks; `block` includes its header
/// and is cut short if the data ends first. Stops at a header that cannot be right.
struct Blocks<'a>(&'a [u8]);

impl<'a> Iterator for Blocks<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let kind = le_u16(self.0, 0)?;
        let len = usize::from(le_u16(self.0, 2)?);
        // A length below the header size would loop forever or misalign everything after.
        if len < 4 {
            self.0 = &[];
            return None;
        }
        let take = len.min(self.0.len());
        let (block, rest) = self.0.split_at(take);
        self.0 = rest;
        Some((kind, block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = kind.to_le_bytes().to_vec();
        v.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn net_block_channel_names() {
        let mut body = 3u32.to_le_bytes().to_vec();
        for name in [&b"rdpdr\0\0\0"[..], b"rdpsnd\0\0", b"cliprdr\0"] {
            body.extend_from_slice(name);
            body.extend_from_slice(&0x8080_0000u32.to_le_bytes());
        }
        let d = client_data(&block(CS_NET, &body));
        assert_eq!(d.channels, vec!["rdpdr", "rdpsnd", "cliprdr"]);
    }

    #[test]
    fn channel_count_is_capped_and_bounded_by_data() {
        let mut body = u32::MAX.to_le_bytes().to_vec();
        for _ in 0..40 {
            body.extend_from_slice(b"chan\0\0\0\0\0\0\0\0");
        }
        assert_eq!(
            client_data(&block(CS_NET, &body)).channels.len(),
            MAX_CHANNELS
        );
        let mut body = 5u32.to_le_bytes().to_vec();
        body.extend_from_slice(b"only\0\0\0\0\0\0\0\0one\0");
        assert_eq!(client_data(&block(CS_NET, &body)).channels, vec!["only"]);
        // Names with no NUL and hostile bytes stay bounded and escaped.
        let mut body = 1u32.to_le_bytes().to_vec();
        body.extend_from_slice(b"\x1b[31mXYZ\0\0\0\0");
        assert_eq!(
            client_data(&block(CS_NET, &body)).channels,
            vec!["\\u{1b}[31mXYZ"]
        );
    }

    #[test]
    fn short_core_block_gives_the_fields_it_holds() {
        let body = [0x04, 0x00, 0x08, 0x00, 0x00, 0x05, 0x00];
        let d = client_data(&block(CS_CORE, &body));
        assert_eq!(d.version, Some(0x0008_0004));
        assert_eq!(d.width, Some(0x500));
        assert_eq!(d.height, None);
        assert_eq!(d.name, None);
    }

    #[test]
    fn bad_block_lengths_stop_iteration() {
        let mut data = block(0xC002, &[0; 8]);
        data.extend_from_slice(&[0x03, 0xc0, 0x02, 0x00, 0xff, 0xff]);
        data.extend_from_slice(&block(CS_NET, &[1, 0, 0, 0]));
        assert_eq!(Blocks(&data).count(), 1);
        // A block claiming more than is there is handed out truncated.
        let data = [0x01, 0x0c, 0xff, 0x00, 0x05, 0x00, 0x08, 0x00];
        assert_eq!(server_data(&data).version, Some(0x0008_0005));
        assert_eq!(server_data(&data).client_requested_protocols, None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..2000 {
            let mut v = Vec::new();
            for _ in 0..(x % 300) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(x as u8);
            }
            if let Some(b) = v.get_mut(1) {
                *b = 0xc0;
            }
            let _ = client_data(&v);
            let _ = server_data(&v);
        }
    }
}
