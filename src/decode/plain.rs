//! The RDP stream after X.224, read in the clear: slow-path TPKT/X.224/MCS PDUs and
//! fast-path PDUs, under standard RDP security (where MCS is never encrypted) or as
//! the plaintext rdptap gets when it terminates TLS on both legs.
//!
//! Per direction, a framer splits the stream into PDUs (TPKT or fast-path); each
//! slow-path PDU is decoded down to MCS. The decoder follows the channel ids the
//! connect PDUs and the attach set up, hands Send Data payloads on the I/O channel to
//! [`IoDecoder`], and only counts fast-path PDUs and virtual channel traffic.

use super::mcs::channels::ChannelMap;
use super::mcs::domain::{self, DomainPdu, SendData};
use super::mcs::gcc::ServerData;
use super::mcs::{self, ChannelName, ConnectPdu, McsEvent};
use super::pdu::{IoDecoder, Protection};
use super::reassembly::{Pushed, Reassembler, Step};
use super::x224::{self, Tpdu};
use super::{tpkt, DecodeError, DecodeEvent, Decoded};
use crate::vocab::{Dir, Layer};
use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// The most channels counted one by one; traffic on others goes to `other_channels`.
/// A connection has at most 31 static channels plus I/O, user and message.
const MAX_CHANNEL_STATS: usize = 40;

/// How the connection is secured, which decides how I/O channel payloads are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Standard RDP security: MCS is in the clear, and the server security data says
    /// whether the payloads are encrypted.
    Standard,
    /// Enhanced RDP security (TLS), terminated by rdptap: the stream is the plaintext.
    Enhanced,
}

/// A count of PDUs and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// How many PDUs.
    pub pdus: u64,
    /// How many bytes they held.
    pub bytes: u64,
}

impl Counter {
    fn add(&mut self, bytes: usize) {
        self.pdus = self.pdus.saturating_add(1);
        self.bytes = self
            .bytes
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
    }
}

/// What one direction of the stream carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStats {
    /// Slow-path TPKT frames (whole frame bytes).
    pub slow_path: Counter,
    /// Fast-path PDUs, counted and never decoded (whole PDU bytes).
    pub fast_path: Counter,
    /// Send Data PDUs on the I/O channel: the slow-path RDP PDUs (payload bytes).
    pub io: Counter,
    /// Send Data PDUs on static virtual channels (payload bytes).
    pub virtual_channels: Counter,
    /// Send Data PDUs on the user or message channel, or on a channel no connect PDU
    /// set up (payload bytes).
    pub other_channels: Counter,
}

/// Send Data traffic on one named channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// The MCS channel id.
    pub id: u16,
    /// What the channel is for.
    pub name: ChannelName,
    /// Client-to-server Send Data Requests (payload bytes).
    pub c2s: Counter,
    /// Server-to-client Send Data Indications (payload bytes).
    pub s2c: Counter,
}

/// Counters of the plaintext/MCS stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlainStats {
    /// What the client sent.
    pub c2s: FlowStats,
    /// What the server sent.
    pub s2c: FlowStats,
    /// Per named channel (I/O, user, message and static virtual channels), in the
    /// order their first PDU was seen.
    pub channels: Vec<ChannelStats>,
}

impl PlainStats {
    /// The counters of one direction.
    pub fn dir(&self, dir: Dir) -> &FlowStats {
        match dir {
            Dir::C2S => &self.c2s,
            Dir::S2C => &self.s2c,
        }
    }

    /// The counters of the channel with this name, if it carried anything.
    pub fn channel(&self, name: &ChannelName) -> Option<&ChannelStats> {
        self.channels.iter().find(|c| &c.name == name)
    }

    fn dir_mut(&mut self, dir: Dir) -> &mut FlowStats {
        match dir {
            Dir::C2S => &mut self.c2s,
            Dir::S2C => &mut self.s2c,
        }
    }
}

#[derive(Debug)]
struct Side {
    reasm: Reassembler,
    /// Stream offset of this decoder's first byte, for error offsets.
    base: u64,
    /// A TPKT frame was seen; fast-path is only believable after one.
    slow_seen: bool,
    done: bool,
}

impl Side {
    fn new() -> Self {
        Side {
            reasm: Reassembler::new(tpkt::MAX_TPKT),
            base: 0,
            slow_seen: false,
            done: false,
        }
    }
}

/// Decodes both directions of the post-X.224 RDP stream.
#[derive(Debug)]
pub struct PlainDecoder {
    security: Security,
    sides: [Side; 2],
    channels: ChannelMap,
    io: Option<IoDecoder>,
    stats: PlainStats,
}

impl PlainDecoder {
    /// A decoder for a stream secured as `security`, at its first byte.
    pub fn new(security: Security) -> Self {
        PlainDecoder {
            security,
            sides: [Side::new(), Side::new()],
            channels: ChannelMap::new(),
            io: None,
            stats: PlainStats::default(),
        }
    }

    /// Says that `dir`'s stream starts `offset` bytes into the connection, so error
    /// offsets count from the connection's first byte.
    pub fn start_at(&mut self, dir: Dir, offset: u64) {
        self.sides[dir.idx()].base = offset;
    }

    /// The channels seen so far.
    pub fn channels(&self) -> &ChannelMap {
        &self.channels
    }

    /// The protection the I/O channel decoder was set up with, once the Connect
    /// Response was seen.
    pub fn protection(&self) -> Option<Protection> {
        self.io.as_ref().map(IoDecoder::protection)
    }

    /// The counters so far.
    pub fn stats(&self) -> PlainStats {
        self.stats.clone()
    }

    /// Bytes held across chunks, for checking the memory bound.
    pub fn buffered(&self) -> usize {
        self.sides.iter().map(|s| s.reasm.buffered()).sum()
    }

    /// True when `dir` will decode nothing more (it met bytes it could not parse).
    pub fn finished(&self, dir: Dir) -> bool {
        self.sides[dir.idx()].done
    }

    /// Feed the next chunk of `dir`'s stream; decoded events are appended to `out`.
    pub fn feed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) {
        let i = dir.idx();
        if self.sides[i].done || data.is_empty() {
            return;
        }
        let mut reasm = std::mem::replace(&mut self.sides[i].reasm, Reassembler::new(0));
        // Until a TPKT frame is seen, only TPKT framing is accepted: the stream must
        // open with an MCS connect PDU, and this catches a stream that is not RDP at
        // once instead of misreading it as fast-path.
        let slow_seen = Cell::new(self.sides[i].slow_seen);
        let mut failed = None;
        let pushed = reasm.push(
            data,
            |b: &[u8]| {
                if slow_seen.get() {
                    tpkt::pdu_hint(b)
                } else {
                    tpkt::tpkt_hint(b)
                }
            },
            |at, frame| {
                if frame.first() == Some(&tpkt::TPKT_VERSION) {
                    slow_seen.set(true);
                }
                match self.frame(dir, frame, out) {
                    Ok(()) => Step::Continue,
                    Err(reason) => {
                        failed = Some((at, reason));
                        Step::Stop
                    }
                }
            },
        );
        self.sides[i].reasm = reasm;
        self.sides[i].slow_seen = slow_seen.get();
        if let Some((at, reason)) = failed {
            self.fail(dir, at, reason, out);
        } else if let Pushed::Invalid { offset, reason } = pushed {
            self.fail(dir, offset, reason, out);
        }
    }

    /// Decodes one whole PDU.
    fn frame(&mut self, dir: Dir, frame: &[u8], out: &mut Vec<Decoded>) -> Result<(), String> {
        let flow = self.stats.dir_mut(dir);
        if frame.first() != Some(&tpkt::TPKT_VERSION) {
            flow.fast_path.add(frame.len());
            return Ok(());
        }
        flow.slow_path.add(frame.len());
        match x224::decode_tpdu(frame)? {
            Tpdu::Event(ev) => {
                // A Disconnect Request, typically; worth reporting wherever it comes.
                out.push(Decoded {
                    dir,
                    event: DecodeEvent::X224(ev),
                });
                Ok(())
            }
            Tpdu::Data(data) => self.mcs(dir, data, out),
        }
    }

    /// Decodes one MCS PDU from X.224 Data user data.
    fn mcs(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Decoded>) -> Result<(), String> {
        let push = |out: &mut Vec<Decoded>, ev| {
            out.push(Decoded {
                dir,
                event: DecodeEvent::Mcs(ev),
            })
        };
        if data.first() == Some(&mcs::CONNECT_PDU_FIRST_BYTE) {
            let Some(pdu) = mcs::decode_connect(data)? else {
                return Ok(());
            };
            let mut ev = pdu.event();
            match &pdu {
                ConnectPdu::Initial(client) => self.channels.connect_initial(client),
                ConnectPdu::Response { server, .. } => {
                    self.channels.connect_response(server);
                    self.io = Some(IoDecoder::new(self.protection_for(server)));
                }
            }
            if let McsEvent::ConnectResponse { channels, .. } = &mut ev {
                self.channels.name_channels(channels);
            }
            push(out, ev);
            return Ok(());
        }
        let pdu = domain::decode_domain(data)?;
        if let DomainPdu::SendData(sd) = &pdu {
            self.send_data(dir, sd, out);
        } else if let Some(mut ev) = mcs::domain_event(&pdu) {
            self.channels.domain(&pdu, &mut ev);
            push(out, ev);
        }
        Ok(())
    }

    /// How I/O payloads are protected, once the server's security data is known.
    fn protection_for(&self, server: &ServerData) -> Protection {
        match self.security {
            Security::Enhanced => Protection::Enhanced,
            // Method 0 or level NONE: the server set up no keys, so nothing is encrypted.
            // Without security data at all, assume encryption: reading ciphertext as
            // cleartext would report nonsense.
            Security::Standard => match (server.encryption_method, server.encryption_level) {
                (Some(0), _) | (_, Some(0)) => Protection::StandardClear,
                _ => Protection::StandardEncrypted,
            },
        }
    }

    /// Counts a Send Data PDU and routes an I/O channel payload to the I/O decoder.
    fn send_data(&mut self, dir: Dir, sd: &SendData<'_>, out: &mut Vec<Decoded>) {
        // The client sends no data before it has joined every channel it wants, so its
        // first Send Data Request closes the join phase.
        if dir == Dir::C2S && !sd.indication {
            if let Some(ev) = self.channels.summary() {
                out.push(Decoded {
                    dir,
                    event: DecodeEvent::Mcs(ev),
                });
            }
        }
        let len = sd.user_data.len();
        let name = self.channels.name(sd.channel_id);
        let flow = self.stats.dir_mut(dir);
        match &name {
            Some(ChannelName::Io) => {
                flow.io.add(len);
                if let Some(io) = self.io.as_mut() {
                    let mut events = Vec::new();
                    io.feed(dir, sd.user_data, &mut events);
                    out.extend(events.into_iter().map(|e| Decoded {
                        dir,
                        event: DecodeEvent::Rdp(e),
                    }));
                }
            }
            Some(ChannelName::Virtual(_)) => flow.virtual_channels.add(len),
            _ => flow.other_channels.add(len),
        }
        if let Some(name) = name {
            self.count_channel(sd.channel_id, name, dir, len);
        }
    }

    /// Adds one PDU to a named channel's counters, within the bound on entries.
    fn count_channel(&mut self, id: u16, name: ChannelName, dir: Dir, len: usize) {
        let channels = &mut self.stats.channels;
        let at = match channels.iter().position(|c| c.id == id) {
            Some(at) => at,
            None if channels.len() < MAX_CHANNEL_STATS => {
                channels.push(ChannelStats {
                    id,
                    name,
                    c2s: Counter::default(),
                    s2c: Counter::default(),
                });
                channels.len() - 1
            }
            None => return,
        };
        if let Some(c) = channels.get_mut(at) {
            match dir {
                Dir::C2S => c.c2s.add(len),
                Dir::S2C => c.s2c.add(len),
            }
        }
    }

    /// Stops decoding `dir` and reports why.
    fn fail(&mut self, dir: Dir, offset: u64, reason: String, out: &mut Vec<Decoded>) {
        let side = &mut self.sides[dir.idx()];
        side.done = true;
        side.reasm = Reassembler::new(0);
        out.push(Decoded {
            dir,
            event: DecodeEvent::Error(DecodeError {
                layer: Layer::Mcs,
                offset: side.base.saturating_add(offset),
                reason,
            }),
        });
    }
}

#[cfg(test)]
#[path = "plain_tests.rs"]
pub(crate) mod tests;
