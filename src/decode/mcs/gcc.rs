//! RDP's GCC user data blocks (MS-RDPBCGR 2.2.1.3 client, 2.2.1.4 server).
//!
//! Each block is `u16 type, u16 length` (little-endian, length including the header)
//! followed by its fields. Blocks may come in any order, and later fields of a block
//! are optional, so every field is read only if the block is long enough to hold it.

use crate::decode::names;
use crate::decode::wire::{le_u16, le_u32};

/// Client core data block type.
pub const CS_CORE: u16 = 0xC001;
/// Client security data block type (encryption methods).
pub const CS_SECURITY: u16 = 0xC002;
/// Client network data block type (static virtual channels).
pub const CS_NET: u16 = 0xC003;
/// Client cluster data block type (redirection support).
pub const CS_CLUSTER: u16 = 0xC004;
/// Client monitor data block type.
pub const CS_MONITOR: u16 = 0xC005;
/// Client message channel data block type.
pub const CS_MCS_MSGCHANNEL: u16 = 0xC006;
/// Server core data block type.
pub const SC_CORE: u16 = 0x0C01;
/// Server security data block type (encryption method and level).
pub const SC_SECURITY: u16 = 0x0C02;
/// Server network data block type (channel ids).
pub const SC_NET: u16 = 0x0C03;
/// Server message channel data block type.
pub const SC_MCS_MSGCHANNEL: u16 = 0x0C04;

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

/// Offset of TS_UD_SC_CORE clientRequestedProtocols from the start of the block header.
pub const SC_CORE_REQUESTED_PROTOCOLS: usize = 8;
/// Offset of TS_UD_SC_CORE earlyCapabilityFlags.
const SC_CORE_EARLY_CAPS: usize = 12;

/// Client cluster data flags (MS-RDPBCGR 2.2.1.3.5); the version field is named apart.
const CLUSTER_FLAGS: &[(u32, &str)] = &[
    (0x01, "REDIRECTION_SUPPORTED"),
    (0x02, "REDIRECTED_SESSIONID_FIELD_VALID"),
    (0x40, "REDIRECTED_SMARTCARD"),
];
/// ServerSessionRedirectionVersionMask: a 4-bit version number, not flags.
const CLUSTER_VERSION_MASK: u32 = 0x3C;

/// CHANNEL_DEF options (MS-RDPBCGR 2.2.1.3.4.1), without the CHANNEL_OPTION_ prefix.
const CHANNEL_OPTIONS: &[(u32, &str)] = &[
    (0x8000_0000, "INITIALIZED"),
    (0x4000_0000, "ENCRYPT_RDP"),
    (0x2000_0000, "ENCRYPT_SC"),
    (0x1000_0000, "ENCRYPT_CS"),
    (0x0800_0000, "PRI_HIGH"),
    (0x0400_0000, "PRI_MED"),
    (0x0200_0000, "PRI_LOW"),
    (0x0080_0000, "COMPRESS_RDP"),
    (0x0040_0000, "COMPRESS"),
    (0x0020_0000, "SHOW_PROTOCOL"),
    (0x0010_0000, "REMOTE_CONTROL_PERSISTENT"),
];

/// Server core data earlyCapabilityFlags (MS-RDPBCGR 2.2.1.4.2).
pub const SERVER_EARLY_CAPABILITY_FLAGS: &[(u32, &str)] = &[
    (0x01, "EDGE_ACTIONS_SUPPORTED_V1"),
    (0x02, "DYNAMIC_DST_SUPPORTED"),
    (0x04, "EDGE_ACTIONS_SUPPORTED_V2"),
    (0x08, "SKIP_CHANNELJOIN_SUPPORTED"),
];

/// One static channel the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChannel {
    /// The channel name (up to 7 ANSI characters).
    pub name: String,
    /// The CHANNEL_DEF options.
    pub options: u32,
}

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
    /// CS_NET channel definitions, in order.
    pub channels: Vec<ClientChannel>,
    /// CS_SECURITY encryptionMethods.
    pub encryption_methods: Option<u32>,
    /// CS_CLUSTER Flags.
    pub cluster_flags: Option<u32>,
    /// CS_MONITOR monitorCount.
    pub monitor_count: Option<u32>,
    /// True when a CS_MCS_MSGCHANNEL block was sent.
    pub message_channel: bool,
}

impl ClientData {
    /// The channel names, in order.
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }
}

/// What the server's data blocks said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerData {
    /// SC_CORE version.
    pub version: Option<u32>,
    /// SC_CORE clientRequestedProtocols.
    pub client_requested_protocols: Option<u32>,
    /// SC_CORE earlyCapabilityFlags.
    pub early_caps: Option<u32>,
    /// SC_SECURITY encryptionMethod.
    pub encryption_method: Option<u32>,
    /// SC_SECURITY encryptionLevel.
    pub encryption_level: Option<u32>,
    /// SC_NET MCSChannelId: the I/O channel.
    pub io_channel: Option<u16>,
    /// SC_NET channelIdArray, in the order of the client's CS_NET channels.
    pub channel_ids: Vec<u16>,
    /// SC_MCS_MSGCHANNEL MCSChannelID.
    pub message_channel: Option<u16>,
}

/// Reads the client data blocks (Conference Create Request user data).
pub fn client_data(data: &[u8]) -> ClientData {
    let mut out = ClientData::default();
    for (_, kind, block) in Blocks::new(data) {
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
            CS_SECURITY => out.encryption_methods = le_u32(block, 4),
            CS_NET => out.channels = channels(block),
            CS_CLUSTER => out.cluster_flags = le_u32(block, 4),
            // TS_UD_CS_MONITOR: header, flags, then monitorCount.
            CS_MONITOR => out.monitor_count = le_u32(block, 8),
            CS_MCS_MSGCHANNEL => out.message_channel = true,
            _ => {}
        }
    }
    out
}

/// Reads the server data blocks (Conference Create Response user data).
pub fn server_data(data: &[u8]) -> ServerData {
    let mut out = ServerData::default();
    for (_, kind, block) in Blocks::new(data) {
        match kind {
            SC_CORE => {
                out.version = le_u32(block, 4);
                out.client_requested_protocols = le_u32(block, SC_CORE_REQUESTED_PROTOCOLS);
                out.early_caps = le_u32(block, SC_CORE_EARLY_CAPS);
            }
            SC_SECURITY => {
                out.encryption_method = le_u32(block, 4);
                out.encryption_level = le_u32(block, 8);
            }
            SC_NET => {
                out.io_channel = le_u16(block, 4);
                out.channel_ids = channel_ids(block);
            }
            SC_MCS_MSGCHANNEL => out.message_channel = le_u16(block, 4),
            _ => {}
        }
    }
    out
}

/// Names of the client cluster flags, with the redirection version as
/// "REDIRECTION_VERSIONn" (the 4-bit field holds n - 1).
pub fn cluster_flag_names(flags: u32) -> Vec<String> {
    let mut out = names::flag_names(flags & !CLUSTER_VERSION_MASK, CLUSTER_FLAGS);
    if flags & 0x01 != 0 {
        let version = (flags & CLUSTER_VERSION_MASK) >> 2;
        out.push(format!("REDIRECTION_VERSION{}", version + 1));
    }
    out
}

/// Names of CHANNEL_DEF option flags.
pub fn channel_option_names(options: u32) -> Vec<String> {
    names::flag_names(options, CHANNEL_OPTIONS)
}

/// The channel definitions of a CS_NET block: channelCount, then CHANNEL_DEFs.
fn channels(block: &[u8]) -> Vec<ClientChannel> {
    let count = capped_count(le_u32(block, 4).unwrap_or(0));
    block
        .get(8..)
        .unwrap_or(&[])
        .chunks_exact(CHANNEL_DEF_LEN)
        .take(count)
        .map(|def| {
            let name = def.get(..8).unwrap_or(&[]);
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            ClientChannel {
                name: names::wire_text(name.get(..end).unwrap_or(&[]), 8),
                options: le_u32(def, 8).unwrap_or(0),
            }
        })
        .collect()
}

/// The channelIdArray of an SC_NET block: u16 MCSChannelId, u16 channelCount, ids.
fn channel_ids(block: &[u8]) -> Vec<u16> {
    let count = capped_count(u32::from(le_u16(block, 6).unwrap_or(0)));
    block
        .get(8..)
        .unwrap_or(&[])
        .chunks_exact(2)
        .take(count)
        .filter_map(|id| le_u16(id, 0))
        .collect()
}

/// A wire channel count, never trusted for allocation: capped at CHANNEL_MAX_COUNT.
fn capped_count(count: u32) -> usize {
    usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(MAX_CHANNELS)
}

/// Iterates `(offset, type, block)` over concatenated data blocks; `block` includes its
/// header and is cut short if the data ends first, and `offset` is where it starts in
/// the data. Stops at a header that cannot be right.
pub struct Blocks<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Blocks<'a> {
    /// An iterator over the blocks in `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Blocks { data, at: 0 }
    }
}

impl<'a> Iterator for Blocks<'a> {
    type Item = (usize, u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let kind = le_u16(self.data, 0)?;
        let len = usize::from(le_u16(self.data, 2)?);
        // A length below the header size would loop forever or misalign everything after.
        if len < 4 {
            self.data = &[];
            return None;
        }
        let take = len.min(self.data.len());
        let (block, rest) = self.data.split_at(take);
        let at = self.at;
        self.data = rest;
        self.at += take;
        Some((at, kind, block))
    }
}

#[cfg(test)]
#[path = "gcc_tests.rs"]
mod tests;
