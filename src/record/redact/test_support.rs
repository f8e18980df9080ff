//! Shared by the redaction tests: feeding a redactor in pieces, and the messages
//! (borrowed from the decoders' own test builders) that carry known secrets.

use super::{FlowProto, StreamRedactor};
use crate::decode::gateway::{GwChannel, PacketSink};
use crate::decode::plain::{PlainDecoder, Security};
use crate::decode::tsgu::Packet;
use crate::decode::Decoded;
use crate::vocab::Dir;
use bytes::Bytes;

pub use crate::decode::http::test_msgs::{
    b64, bytes, der, ntlm_type2, ntlm_type3, spnego_kerberos, spnego_ntlm, Step, NT_RESPONSE,
};

/// What a redactor wrote, per direction, and how many fields it scrubbed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub c2s: Vec<u8>,
    pub s2c: Vec<u8>,
    pub scrubbed: u64,
}

impl Output {
    /// The bytes written in `dir`.
    pub fn dir(&self, dir: Dir) -> &[u8] {
        match dir {
            Dir::C2S => &self.c2s,
            Dir::S2C => &self.s2c,
        }
    }
}

/// Runs `script` through a fresh redactor, cutting each Bytes step with `cut` (which
/// returns the lengths of the pieces); ends both directions at the end.
pub fn run_cut(
    redactor: &mut StreamRedactor,
    script: &[Step],
    cut: &mut dyn FnMut(usize, usize) -> Vec<usize>,
) -> Output {
    let mut out = Output::default();
    let emit = |dir: Dir, pieces: Vec<Bytes>, out: &mut Output| {
        for p in pieces {
            match dir {
                Dir::C2S => out.c2s.extend_from_slice(&p),
                Dir::S2C => out.s2c.extend_from_slice(&p),
            }
        }
    };
    for (i, step) in script.iter().enumerate() {
        match step {
            Step::Bytes(dir, b) => {
                let mut at = 0;
                for n in cut(i, b.len()) {
                    let end = (at + n).min(b.len());
                    let mut pieces = Vec::new();
                    redactor.feed(*dir, Bytes::copy_from_slice(&b[at..end]), &mut pieces);
                    assert!(redactor.held(*dir) <= super::MAX_HOLD);
                    emit(*dir, pieces, &mut out);
                    at = end;
                }
                if at < b.len() {
                    let mut pieces = Vec::new();
                    redactor.feed(*dir, Bytes::copy_from_slice(&b[at..]), &mut pieces);
                    emit(*dir, pieces, &mut out);
                }
            }
            Step::Fin(dir) => {
                let mut pieces = Vec::new();
                redactor.finish(*dir, &mut pieces);
                emit(*dir, pieces, &mut out);
            }
        }
    }
    for dir in [Dir::C2S, Dir::S2C] {
        let mut pieces = Vec::new();
        redactor.finish(dir, &mut pieces);
        emit(dir, pieces, &mut out);
    }
    out.scrubbed = redactor.scrubbed();
    out
}

/// Runs `script` with names hidden too (`--redact-users`), fed whole and in pieces of
/// each of `sizes` bytes; checks every cut gives the same output, and returns it.
pub fn run_names(proto: FlowProto, script: &[Step], sizes: &[usize]) -> Output {
    let fresh = || StreamRedactor::new(proto).hiding_names(true);
    let whole = run_cut(&mut fresh(), script, &mut |_, n| vec![n]);
    for &size in sizes {
        let cut = run_cut(&mut fresh(), script, &mut |_, n| {
            vec![size; n.div_ceil(size)]
        });
        assert_eq!(cut, whole, "pieces of {size}");
    }
    whole
}

/// An X.224 Connection Request (TPKT included) with an mstshash cookie for `user`.
pub fn x224_request(user: &str) -> Vec<u8> {
    let mut x = vec![0xE0, 0, 0, 0, 0, 0];
    x.extend_from_slice(format!("Cookie: mstshash={user}\r\n").as_bytes());
    x.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
    let mut p = vec![3, 0];
    p.extend_from_slice(&((x.len() + 5) as u16).to_be_bytes());
    p.push(x.len() as u8);
    p.extend(x);
    p
}

/// A little-endian connection-oriented RPC PDU of type `ptype` with `body`, then (if
/// `auth` is not empty) an NTLM auth verifier at packet privacy.
pub fn rpc_pdu(ptype: u8, body: &[u8], auth: &[u8]) -> Vec<u8> {
    let trailer = if auth.is_empty() { 0 } else { 8 + auth.len() };
    let frag = 16 + body.len() + trailer;
    let mut p = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
    p.extend_from_slice(&(frag as u16).to_le_bytes());
    p.extend_from_slice(&(auth.len() as u16).to_le_bytes());
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(body);
    if !auth.is_empty() {
        // RPC_C_AUTHN_WINNT, RPC_C_AUTHN_LEVEL_PKT_PRIVACY.
        p.extend_from_slice(&[10, 6, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(auth);
    }
    p
}

/// Runs `script` with every step fed whole.
pub fn run(proto: FlowProto, script: &[Step]) -> Output {
    run_cut(&mut StreamRedactor::new(proto), script, &mut |_, n| vec![n])
}

/// Runs `script` with every step fed in pieces of `size` bytes.
pub fn run_pieces(proto: FlowProto, script: &[Step], size: usize) -> Output {
    run_cut(&mut StreamRedactor::new(proto), script, &mut |_, n| {
        vec![size.max(1); n.div_ceil(size.max(1))]
    })
}

/// The bytes sent in `dir` by `script`, as they were before redaction.
pub fn input(script: &[Step], dir: Dir) -> Vec<u8> {
    script
        .iter()
        .filter_map(|s| match s {
            Step::Bytes(d, b) if *d == dir => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// UTF-16LE of `s`.
pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An AUTHENTICATE with an 88-byte fixed part (version and MIC), as Windows sends,
/// whose NTLMv2 response, session key and MIC are filled with recognisable bytes.
pub fn ntlm_type3_mic(user: &str, domain: &str) -> Vec<u8> {
    let (d, u, w) = (utf16(domain), utf16(user), utf16("WS01"));
    let lm = [0xB1u8; 24];
    let nt = [0xA5u8; 48];
    let key = [0xC3u8; 16];
    let mut payload = Vec::new();
    let mut fields = Vec::new();
    for part in [&lm[..], &nt, &d, &u, &w, &key] {
        fields.push((part.len(), 88 + payload.len()));
        payload.extend_from_slice(part);
    }
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    for (len, off) in fields {
        m.extend_from_slice(&(len as u16).to_le_bytes());
        m.extend_from_slice(&(len as u16).to_le_bytes());
        m.extend_from_slice(&(off as u32).to_le_bytes());
    }
    m.extend_from_slice(&0xE288_8215u32.to_le_bytes());
    m.extend_from_slice(&[10, 0, 0x61, 0x4A, 0, 0, 0, 15]);
    m.extend_from_slice(&[0xD7; 16]);
    m.extend_from_slice(&payload);
    m
}

/// Collects the packets a gateway channel finds.
#[derive(Default)]
pub struct Packets(pub Vec<(Dir, Packet)>);

impl PacketSink for Packets {
    fn packet(
        &mut self,
        _conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        _frame: &[u8],
        _out: &mut Vec<Decoded>,
    ) {
        self.0.push((dir, packet));
    }
}

/// What rdptap's gateway decoder makes of a conversation given as per-direction
/// streams replayed in the order of `script`'s steps (same step lengths).
pub fn gateway_decode(
    script: &[Step],
    c2s: &[u8],
    s2c: &[u8],
) -> (Vec<Decoded>, Vec<(Dir, Packet)>) {
    let mut ch = GwChannel::new();
    let mut out = Vec::new();
    let mut packets = Packets::default();
    let mut at = [0usize; 2];
    for step in script {
        match step {
            Step::Bytes(dir, b) => {
                let src = if *dir == Dir::C2S { c2s } else { s2c };
                let i = dir.idx();
                let piece = src.get(at[i]..at[i] + b.len()).unwrap_or(&[]);
                ch.feed(*dir, piece, &mut out, &mut packets);
                at[i] += b.len();
            }
            Step::Fin(dir) => ch.finish(*dir, &mut out, &mut packets),
        }
    }
    (out, packets.0)
}

/// What rdptap's plaintext decoder makes of (direction, bytes) steps.
pub fn plain_decode(steps: &[(Dir, Vec<u8>)]) -> Vec<Decoded> {
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    for (dir, b) in steps {
        d.feed(*dir, b, &mut out);
    }
    out
}

/// The positions where `a` and `b` differ (they have the same length).
pub fn changed(a: &[u8], b: &[u8]) -> Vec<usize> {
    a.iter()
        .zip(b)
        .enumerate()
        .filter_map(|(i, (x, y))| (x != y).then_some(i))
        .collect()
}

/// A Send Data Request (c2s) or Indication (s2c) from user 1007 on `channel`, in
/// X.224 Data and TPKT.
pub fn send_data(dir: Dir, channel: u16, payload: &[u8]) -> Vec<u8> {
    let choice = if dir == Dir::C2S { 0x64 } else { 0x68 };
    let mut v = vec![choice, 0x00, 0x06];
    v.extend_from_slice(&channel.to_be_bytes());
    v.push(0x70);
    if payload.len() < 0x80 {
        v.push(payload.len() as u8);
    } else {
        v.extend_from_slice(&(0x8000 | payload.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(payload);
    crate::decode::mcs::test_support::in_tpkt(&v)
}

/// The two plaintext streams of fixture `name` (tests/data/NAME.plain.*.bin).
pub fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
    let read = |dir: &str| {
        let path = format!(
            "{}/tests/data/{name}.plain.{dir}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    (read("c2s"), read("s2c"))
}

/// The whole TPKT and fast-path frames of a plaintext stream.
pub fn frames(stream: &[u8]) -> Vec<Vec<u8>> {
    use crate::decode::reassembly::Hint;
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let Hint::Frame(len) = crate::decode::tpkt::pdu_hint(&stream[at..]) else {
            panic!("the stream does not frame at {at}");
        };
        out.push(stream[at..at + len].to_vec());
        at += len;
    }
    out
}

/// A fixture conversation in causal order: the client's Connect-Initial, everything
/// the server sent, then the rest of what the client sent.
pub fn fixture_steps(c2s: &[u8], s2c: &[u8]) -> Vec<Step> {
    let first = frames(c2s)[0].len();
    vec![
        bytes(Dir::C2S, &c2s[..first]),
        bytes(Dir::S2C, s2c),
        bytes(Dir::C2S, &c2s[first..]),
    ]
}

/// The password seeded into the fixtures' Client Info.
pub const FIXTURE_PASSWORD: &str = "labpass";
/// The auto-reconnect verifier seeded into the fixtures' Client Info.
pub const FIXTURE_VERIFIER: &[u8; 16] = b"VERIFIER-SECRET!";

/// `c2s` with its Client Info rebuilt to carry [`FIXTURE_PASSWORD`] and an
/// auto-reconnect cookie (the captures were made without either).
pub fn with_secrets(c2s: &[u8]) -> Vec<u8> {
    let le16 = |b: &[u8], at: usize| usize::from(u16::from_le_bytes([b[at], b[at + 1]]));
    let mut out = Vec::new();
    for frame in frames(c2s) {
        let is_info = frame.len() > 20 && frame[7] == 0x64 && frame[15..17] == [0x40, 0x00];
        if !is_info {
            out.extend_from_slice(&frame);
            continue;
        }
        let channel = u16::from_be_bytes([frame[10], frame[11]]);
        let mut p = frame[15..].to_vec();
        let i = 4;
        assert_eq!(le16(&p, i + 12), 0, "the capture has no password");
        let pw = utf16(FIXTURE_PASSWORD);
        p[i + 12..i + 14].copy_from_slice(&(pw.len() as u16).to_le_bytes());
        let at = i + 18 + le16(&p, i + 8) + 2 + le16(&p, i + 10) + 2;
        p.splice(at..at, pw.iter().copied());
        // Past the password, shell and directory to the extended info's cookie count.
        let mut a = at + pw.len() + 2 + le16(&p, i + 14) + 2 + le16(&p, i + 16) + 2;
        a += 4 + le16(&p, a + 2);
        a += 2 + le16(&p, a) + 172 + 8;
        assert_eq!(le16(&p, a), 0, "the capture has no cookie");
        p[a..a + 2].copy_from_slice(&28u16.to_le_bytes());
        let mut arc = Vec::new();
        for v in [28u32, 1, 3] {
            arc.extend_from_slice(&v.to_le_bytes());
        }
        arc.extend_from_slice(FIXTURE_VERIFIER);
        p.splice(a + 2..a + 2, arc);
        out.extend(send_data(Dir::C2S, channel, &p));
    }
    out
}
