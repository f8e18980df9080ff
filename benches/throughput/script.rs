//! The RDP-shaped traffic: the opening cut from a real xrdp / xfreerdp capture, bulk
//! application-data records, and the small ping record.

use crate::Res;
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// A real xrdp / xfreerdp TLS 1.2 connection, one file per direction.
const FIXTURE_C2S: &[u8] = include_bytes!("../../tests/data/xrdp-tls12-ok.c2s.bin");
const FIXTURE_S2C: &[u8] = include_bytes!("../../tests/data/xrdp-tls12-ok.s2c.bin");
/// Application-data payload per bulk record: the TLS maximum, as RDP bulk
/// (bitmaps, file copies) fills records.
const RECORD_PAYLOAD: usize = 16 * 1024;
/// Size of one small ping-pong message, TLS record header included.
pub(crate) const PING: usize = 64;

/// The RDP-shaped opening, cut from the fixture: X.224 CR/CC, then the TLS 1.2
/// handshake as two flights per side.
pub(crate) struct Script {
    pub(crate) cr: Vec<u8>,
    pub(crate) cc: Vec<u8>,
    /// ClientHello; then ClientKeyExchange, ChangeCipherSpec, Finished.
    pub(crate) client: [Vec<u8>; 2],
    /// ServerHello … ServerHelloDone; then NewSessionTicket, ChangeCipherSpec, Finished.
    pub(crate) server: [Vec<u8>; 2],
}

impl Script {
    pub(crate) fn from_fixture() -> Res<Script> {
        let (cr, c) = handshake(FIXTURE_C2S)?;
        let (cc, s) = handshake(FIXTURE_S2C)?;
        // The CC must select PROTOCOL_SSL, or rdptap would not expect TLS next.
        let selected = cc
            .get(15..19)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if cc.len() != 19 || cc[11] != 0x02 || selected != Some(1) {
            return Err("fixture CC does not select PROTOCOL_SSL".into());
        }
        if c[0][0] != 22 || c[0][5] != 1 {
            return Err("fixture c2s does not start its TLS with a ClientHello".into());
        }
        // The server's first flight ends with ServerHelloDone (handshake type 14);
        // the client answers only after it.
        let done = s
            .iter()
            .position(|r| r[0] == 22 && r.get(5) == Some(&14))
            .ok_or("no ServerHelloDone in fixture s2c")?;
        Ok(Script {
            cr,
            cc,
            client: [c[..1].concat(), c[1..].concat()],
            server: [s[..=done].concat(), s[done + 1..].concat()],
        })
    }

    pub(crate) fn client_handshake(&self, s: &mut TcpStream) -> io::Result<()> {
        s.write_all(&self.cr)?;
        expect(s, &self.cc)?;
        s.write_all(&self.client[0])?;
        expect(s, &self.server[0])?;
        s.write_all(&self.client[1])?;
        expect(s, &self.server[1])
    }

    pub(crate) fn server_handshake(&self, s: &mut TcpStream) -> io::Result<()> {
        expect(s, &self.cr)?;
        s.write_all(&self.cc)?;
        expect(s, &self.client[0])?;
        s.write_all(&self.server[0])?;
        expect(s, &self.client[1])?;
        s.write_all(&self.server[1])
    }
}

/// One side's opening TPKT frame, and its TLS records up to and including the
/// first record after its ChangeCipherSpec (the Finished).
fn handshake(d: &[u8]) -> Res<(Vec<u8>, Vec<&[u8]>)> {
    let tpkt = d
        .get(2..4)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
    let tpkt = tpkt
        .filter(|&n| n >= 4 && n <= d.len())
        .ok_or("bad TPKT in fixture")?;
    let mut recs = Vec::new();
    let mut i = tpkt;
    let mut after_ccs = false;
    while i + 5 <= d.len() {
        let end = i + 5 + u16::from_be_bytes([d[i + 3], d[i + 4]]) as usize;
        let rec = d.get(i..end).ok_or("truncated TLS record in fixture")?;
        recs.push(rec);
        if after_ccs {
            return Ok((d[..tpkt].to_vec(), recs));
        }
        after_ccs = rec[0] == 20;
        i = end;
    }
    Err("fixture has no ChangeCipherSpec followed by a record".into())
}

pub(crate) fn expect(s: &mut TcpStream, want: &[u8]) -> io::Result<()> {
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got)?;
    if got != want {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "relayed bytes differ from those sent",
        ));
    }
    Ok(())
}

/// 1 MiB of payload per write: raw bytes, or 64 application-data records.
pub(crate) fn bulk_chunk(rdp: bool) -> Vec<u8> {
    let fill = |n: usize| (0..n).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8);
    if !rdp {
        return fill(1 << 20).collect();
    }
    let mut v = Vec::with_capacity(64 * (5 + RECORD_PAYLOAD));
    for _ in 0..64 {
        v.extend_from_slice(&[0x17, 0x03, 0x03]);
        v.extend_from_slice(&(RECORD_PAYLOAD as u16).to_be_bytes());
        v.extend(fill(RECORD_PAYLOAD));
    }
    v
}

pub(crate) fn ping_record() -> [u8; PING] {
    let mut m = [0x5au8; PING];
    m[..5].copy_from_slice(&[0x17, 0x03, 0x03, 0x00, (PING - 5) as u8]);
    m
}
