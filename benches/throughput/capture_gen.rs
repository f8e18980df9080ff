//! Writes the capture the analyze benchmark reads: RDP over real TLS, as a client-side
//! capture of a LAN would show it, and the NSS key log that decrypts it.
//!
//! Every connection is one rustls client and server in memory (so each has its own
//! ClientHello random and keys), its bytes cut into TCP segments by [`TcpConn`]:
//! - the TCP handshake, the X.224 Connection Request and Confirm selecting PROTOCOL_SSL,
//!   and a full TLS handshake (1.3 and 1.2 in turn, RSA certificate as RDP servers have);
//! - inside TLS, the connection sequence of a real xrdp session (the committed plaintext
//!   fixture: MCS Connect-Initial and Response, the joins, licensing, capabilities,
//!   finalization), replayed in request/response turns;
//! - then graphics: bursts of fast-path update PDUs (surface bits up to 16 KiB, orders,
//!   pointer moves), one TLS record each, mostly server to client, with the client's
//!   fast-path input now and then and its ACKs;
//! - close_notify and FIN from the client, then from the server.
//!
//! A few big connections run from the start to the end of the file; smaller ones open and
//! close in between. All run interleaved, a burst each in turn.

use crate::pcap_write::{PcapOut, TcpConn};
use crate::tls_peer::AcceptAnyCert;
use crate::Res;
use rdptap::vocab::Dir;
use rustls::client::Resumption;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The plaintext of a real xrdp session inside TLS (see tests/data/README.md).
const OPENING_C2S: &[u8] = include_bytes!("../../tests/data/xrdp-tls-plain-active.plain.c2s.bin");
const OPENING_S2C: &[u8] = include_bytes!("../../tests/data/xrdp-tls-plain-active.plain.s2c.bin");
/// The bench's throwaway RSA key, shared with the decryptor's tests.
const RSA_KEY_PEM: &str = include_str!("../../src/decrypt/testdata/rsa2048.key.pem");
/// X.224 Connection Request with a cookie and an RDP_NEG_REQ for PROTOCOL_SSL, as mstsc
/// sends it when NLA is off.
const COOKIE: &[u8] = b"Cookie: mstshash=benchuser\r\n";
/// The largest fast-path PDU written: one TLS record's worth of plaintext.
const MAX_PDU: usize = 16 * 1024 - 5;
/// Random bytes the update bodies are cut from (compressed graphics look random).
const POOL: usize = 1 << 20;
/// A pause between the turns of the connection sequence: a LAN round trip and the peer's
/// work.
const TURN_NS: u64 = 300_000;

/// What to generate.
pub(crate) struct Plan {
    /// Write until the file holds at least this many bytes.
    pub(crate) bytes: u64,
    /// Connections that last the whole file.
    pub(crate) big: usize,
    /// Connections that open and close in between.
    pub(crate) small: usize,
}

/// What was generated.
pub(crate) struct Generated {
    /// The file's size.
    pub(crate) bytes: u64,
    /// Frames in it.
    pub(crate) packets: u64,
    /// RDP connections in it, and how many of them use TLS 1.3 (the others 1.2).
    pub(crate) conns: usize,
    pub(crate) tls13: usize,
    /// TLS payload (records) both ways, and the plaintext inside.
    pub(crate) tls_bytes: u64,
    pub(crate) plain_bytes: u64,
    /// Seconds of capture time the file spans.
    pub(crate) span_secs: f64,
    /// Wall-clock seconds the generation took.
    pub(crate) secs: f64,
}

/// Collects key log lines as the clients report them: an SSLKEYLOGFILE in memory.
#[derive(Debug, Default)]
struct KeyLines(Mutex<String>);

impl rustls::KeyLog for KeyLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = write!(s, "{label} ");
        client_random.iter().for_each(|b| {
            let _ = write!(s, "{b:02x}");
        });
        s.push(' ');
        secret.iter().for_each(|b| {
            let _ = write!(s, "{b:02x}");
        });
        s.push('\n');
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// xorshift64: deterministic, so two runs write the same file.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A uniform integer in `lo..=hi`.
fn between(state: &mut u64, lo: usize, hi: usize) -> usize {
    lo + (next(state) % (hi - lo + 1) as u64) as usize
}

/// The TLS configurations every connection is made from.
struct Tls {
    server: Arc<ServerConfig>,
    /// A client that offers TLS 1.3 only, and one that offers TLS 1.2 only.
    clients: [Arc<ClientConfig>; 2],
    keys: Arc<KeyLines>,
}

impl Tls {
    fn new() -> Res<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key =
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(RSA_KEY_PEM, &rcgen::PKCS_RSA_SHA256)?;
        let cert = rcgen::CertificateParams::new(vec!["rdp-host.bench.example".into()])?
            .self_signed(&key)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)?;
        // RDP clients do not resume; tickets would only be bytes no one uses.
        server.send_tls13_tickets = 0;
        let keys = Arc::new(KeyLines::default());
        let client = |v: &'static rustls::SupportedProtocolVersion| -> Res<Arc<ClientConfig>> {
            let mut c = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[v])?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider.clone())))
                .with_no_client_auth();
            c.resumption = Resumption::disabled();
            c.key_log = keys.clone();
            Ok(Arc::new(c))
        };
        Ok(Tls {
            server: Arc::new(server),
            clients: [
                client(&rustls::version::TLS13)?,
                client(&rustls::version::TLS12)?,
            ],
            keys,
        })
    }
}

/// Splits a fixture stream into its PDUs (TPKT or fast-path).
fn pdus(mut d: &[u8]) -> Res<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !d.is_empty() {
        let n = match d {
            [3, _, hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
            [_, l1, l2, ..] if l1 & 0x80 != 0 => (usize::from(l1 & 0x7f) << 8) | usize::from(*l2),
            [_, l1, ..] => usize::from(*l1),
            _ => 0,
        };
        if n < 2 || n > d.len() {
            return Err("the plaintext fixture does not split into PDUs".into());
        }
        out.push(&d[..n]);
        d = &d[n..];
    }
    Ok(out)
}

/// Who sent how many of the fixture's PDUs in turn: Connect-Initial / Response, Erect
/// Domain and Attach User / Confirm, six Channel Joins each answered, Client Info /
/// License Request, New License Request / Error Alert and Demand Active, Confirm Active
/// and finalization / the server's finalization and first updates, the client's first
/// input and channel data; the rest of the server's PDUs (the login screen) follow.
fn turns() -> Vec<(Dir, usize)> {
    let mut t = vec![(Dir::C2S, 1), (Dir::S2C, 1), (Dir::C2S, 2), (Dir::S2C, 1)];
    for _ in 0..6 {
        t.extend([(Dir::C2S, 1), (Dir::S2C, 1)]);
    }
    t.extend([
        (Dir::C2S, 1),
        (Dir::S2C, 1),
        (Dir::C2S, 1),
        (Dir::S2C, 2),
        (Dir::C2S, 5),
        (Dir::S2C, 9),
        (Dir::C2S, 6),
    ]);
    t
}

/// The fixture's PDUs in the order the turns give; fails if the fixture changed.
fn opening() -> Res<Vec<(Dir, &'static [u8])>> {
    let mut sides = [
        pdus(OPENING_C2S)?.into_iter(),
        pdus(OPENING_S2C)?.into_iter(),
    ];
    let mut out = Vec::new();
    for (dir, n) in turns() {
        for _ in 0..n {
            let p = sides[dir.idx()]
                .next()
                .ok_or("the plaintext fixture has fewer PDUs")?;
            out.push((dir, p));
        }
    }
    // The server's login screen follows (slow-path updates); it closes the opening.
    out.extend(sides[1].by_ref().map(|p| (Dir::S2C, p)));
    if sides[0].next().is_some() || out.first().map(|(_, p)| &p[7..9]) != Some(&[0x7f, 0x65]) {
        return Err("the plaintext fixture no longer matches the turns".into());
    }
    Ok(out)
}

/// Appends a fast-path header of `len` bytes in all (the 2-byte length form when needed).
fn fast_path_header(out: &mut Vec<u8>, first: u8, len: usize) {
    if len + 2 < 0x80 {
        out.extend_from_slice(&[first, (len + 2) as u8]);
    } else {
        out.push(first);
        out.extend_from_slice(&((len + 3) as u16 | 0x8000).to_be_bytes());
    }
}

/// One server-to-client fast-path output PDU: surface bits, orders or a pointer move.
fn update_pdu(rng: &mut u64, pool: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut body = Vec::with_capacity(32);
    let roll = next(rng) % 100;
    let (code, data_len) = if roll < 65 {
        // TS_SURFCMD_STREAM_SURF_BITS: cmdType, the destination rectangle, then a
        // TS_BITMAP_DATA_EX (32 bpp, codec 3) holding the encoded tile data.
        let data_len = between(rng, 2048, MAX_PDU - 3 - 3 - 22);
        let (x, y) = (between(rng, 0, 1856) as u16, between(rng, 0, 1016) as u16);
        body.extend_from_slice(&6u16.to_le_bytes());
        for v in [x, y, x + 64, y + 64] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(&[32, 0, 0, 3]);
        body.extend_from_slice(&64u16.to_le_bytes());
        body.extend_from_slice(&64u16.to_le_bytes());
        body.extend_from_slice(&(data_len as u32).to_le_bytes());
        (0x4, data_len)
    } else if roll < 92 {
        // Drawing orders: the count, then the orders themselves.
        body.extend_from_slice(&(between(rng, 1, 40) as u16).to_le_bytes());
        (0x0, between(rng, 40, 1200))
    } else {
        // A pointer position: x and y.
        body.extend_from_slice(&(between(rng, 0, 1919) as u16).to_le_bytes());
        body.extend_from_slice(&(between(rng, 0, 1079) as u16).to_le_bytes());
        (0x8, 0)
    };
    let update = body.len() + data_len;
    fast_path_header(out, 0x00, 3 + update);
    // updateHeader: the code, a single fragment, no compression; then the size.
    out.push(code);
    out.extend_from_slice(&(update as u16).to_le_bytes());
    out.extend_from_slice(&body);
    let at = (next(rng) as usize) % (pool.len() - data_len);
    out.extend_from_slice(&pool[at..at + data_len]);
}

/// One client-to-server fast-path input PDU: a mouse move, or a key press and release.
fn input_pdu(rng: &mut u64, out: &mut Vec<u8>) {
    out.clear();
    if next(rng).is_multiple_of(4) {
        let key = between(rng, 0x02, 0x39) as u8;
        // Two scancode events: down (flags 0), up (KBDFLAGS_RELEASE).
        fast_path_header(out, 2 << 2, 4);
        out.extend_from_slice(&[0x00, key, 0x01, key]);
    } else {
        let (x, y) = (between(rng, 0, 1919) as u16, between(rng, 0, 1079) as u16);
        // One mouse event: PTRFLAGS_MOVE at (x, y).
        fast_path_header(out, 1 << 2, 7);
        out.push(0x20);
        out.extend_from_slice(&0x0800u16.to_le_bytes());
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    }
}

/// One connection being written.
struct Conn {
    tcp: TcpConn,
    client: ClientConnection,
    server: ServerConnection,
    /// Server plaintext still to send; None: until the file is full.
    budget: Option<u64>,
    rng: u64,
    tls: Vec<u8>,
    pdu: Vec<u8>,
}

impl Conn {
    /// Writes `plain` from `dir`'s side as one TLS write, then its records to the wire.
    fn write(&mut self, out: &mut PcapOut, dir: Dir, plain: &[u8], g: &mut Generated) -> Res<()> {
        match dir {
            Dir::C2S => self.client.writer().write_all(plain)?,
            Dir::S2C => self.server.writer().write_all(plain)?,
        }
        g.plain_bytes += plain.len() as u64;
        self.flush(out, dir, g)
    }

    /// Sends whatever TLS records `dir`'s side has ready, as one burst.
    fn flush(&mut self, out: &mut PcapOut, dir: Dir, g: &mut Generated) -> Res<()> {
        self.tls.clear();
        match dir {
            Dir::C2S => {
                while self.client.wants_write() {
                    self.client.write_tls(&mut self.tls)?;
                }
            }
            Dir::S2C => {
                while self.server.wants_write() {
                    self.server.write_tls(&mut self.tls)?;
                }
            }
        }
        g.tls_bytes += self.tls.len() as u64;
        self.tcp.send(out, dir, &self.tls)?;
        Ok(())
    }

    /// TCP handshake, X.224, TLS handshake and the RDP connection sequence.
    fn open(&mut self, out: &mut PcapOut, opening: &[(Dir, &[u8])], g: &mut Generated) -> Res<()> {
        self.tcp.open(out)?;
        let mut cr = vec![0x03, 0x00, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        cr.extend_from_slice(COOKIE);
        cr.extend_from_slice(&[0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00]);
        let n = cr.len();
        cr[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        cr[4] = (n - 5) as u8;
        self.tcp.send(out, Dir::C2S, &cr)?;
        self.tcp.send(out, Dir::S2C, &crate::tls_peer::CC_SSL)?;
        // Each flight goes to the wire and to the peer, until neither has more to say.
        loop {
            let mut moved = false;
            for dir in [Dir::C2S, Dir::S2C] {
                self.flush(out, dir, g)?;
                if self.tls.is_empty() {
                    continue;
                }
                moved = true;
                let mut rd = &self.tls[..];
                while !rd.is_empty() {
                    match dir {
                        Dir::C2S => {
                            self.server.read_tls(&mut rd)?;
                            self.server.process_new_packets()?;
                        }
                        Dir::S2C => {
                            self.client.read_tls(&mut rd)?;
                            self.client.process_new_packets()?;
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
        if self.client.is_handshaking() || self.server.is_handshaking() {
            return Err("the in-memory TLS handshake did not finish".into());
        }
        // From here nothing is read back: each side only encrypts what it sends.
        let mut last = None;
        for &(dir, pdu) in opening {
            if last.is_some_and(|d| d != dir) {
                out.idle(TURN_NS);
            }
            last = Some(dir);
            self.write(out, dir, pdu, g)?;
        }
        self.tcp.ack(out, Dir::C2S)?;
        Ok(())
    }

    /// One burst of graphics, the client's ACKs and sometimes its input. Returns false
    /// when the connection's budget is spent.
    fn burst(&mut self, out: &mut PcapOut, pool: &[u8], g: &mut Generated) -> Res<bool> {
        let n = between(&mut self.rng, 1, 6);
        let mut sent = 0;
        for _ in 0..n {
            update_pdu(&mut self.rng, pool, &mut self.pdu);
            self.server.writer().write_all(&self.pdu)?;
            sent += self.pdu.len() as u64;
        }
        g.plain_bytes += sent;
        self.flush(out, Dir::S2C, g)?;
        self.tcp.ack(out, Dir::C2S)?;
        if next(&mut self.rng).is_multiple_of(3) {
            input_pdu(&mut self.rng, &mut self.pdu);
            let pdu = std::mem::take(&mut self.pdu);
            self.write(out, Dir::C2S, &pdu, g)?;
            self.pdu = pdu;
        }
        Ok(match &mut self.budget {
            Some(b) => {
                *b = b.saturating_sub(sent);
                *b > 0
            }
            None => true,
        })
    }

    /// close_notify and FIN from the client, then the same from the server.
    fn close(&mut self, out: &mut PcapOut, g: &mut Generated) -> Res<()> {
        self.tcp.ack(out, Dir::C2S)?;
        self.client.send_close_notify();
        self.flush(out, Dir::C2S, g)?;
        self.tcp.fin(out, Dir::C2S)?;
        self.server.send_close_notify();
        self.flush(out, Dir::S2C, g)?;
        self.tcp.fin(out, Dir::S2C)?;
        self.tcp.ack(out, Dir::C2S)?;
        Ok(())
    }
}

/// Writes the capture to `path` and its key log to `keys`.
pub(crate) fn generate(path: &Path, keys: &Path, plan: &Plan) -> Res<Generated> {
    let started = Instant::now();
    let tls = Tls::new()?;
    let opening = opening()?;
    let mut rng = 0x5eed_f0dd_ba11_cafe_u64;
    let pool: Vec<u8> = (0..POOL).map(|_| next(&mut rng) as u8).collect();
    let mut out = PcapOut::create(path)?;
    let mut g = Generated {
        bytes: 0,
        packets: 0,
        conns: plan.big + plan.small,
        tls13: 0,
        tls_bytes: 0,
        plain_bytes: 0,
        span_secs: 0.0,
        secs: 0.0,
    };
    // The small connections open at even steps through the first 90% of the file, each
    // carrying 1/128 of it.
    let small_budget = (plan.bytes / 128).max(64 << 10);
    let starts: Vec<u64> = (0..plan.big)
        .map(|_| 0)
        .chain((0..plan.small).map(|k| plan.bytes * 9 / 10 * k as u64 / plan.small as u64))
        .collect();
    let mut started_conns = 0;
    let mut active: Vec<Conn> = Vec::new();
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 20, 0, 5), 3389);
    while started_conns < starts.len() || !active.is_empty() {
        while started_conns < starts.len() && starts[started_conns] <= out.bytes {
            let i = started_conns;
            started_conns += 1;
            let version = i % 2;
            g.tls13 += usize::from(version == 0);
            let client = SocketAddrV4::new(
                Ipv4Addr::new(10, 20, 1, 10 + i as u8),
                50_000 + 7 * i as u16,
            );
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
            let isn = [next(&mut seed) as u32, next(&mut seed) as u32];
            let name = ServerName::try_from("rdp-host.bench.example")?;
            let mut c = Conn {
                tcp: TcpConn::new(client, server, isn),
                client: ClientConnection::new(tls.clients[version].clone(), name)?,
                server: ServerConnection::new(tls.server.clone())?,
                budget: (i >= plan.big).then_some(small_budget),
                rng: seed,
                tls: Vec::with_capacity(128 << 10),
                pdu: Vec::with_capacity(MAX_PDU),
            };
            // A burst writes several records before they go to the wire.
            c.server.set_buffer_limit(None);
            c.open(&mut out, &opening, &mut g)?;
            active.push(c);
        }
        // One burst per connection in turn; the big ones stop once the file is full.
        let full = out.bytes >= plan.bytes;
        let mut k = 0;
        while k < active.len() {
            let c = &mut active[k];
            let more = !(full && c.budget.is_none()) && c.burst(&mut out, &pool, &mut g)?;
            if more {
                k += 1;
            } else {
                c.close(&mut out, &mut g)?;
                active.swap_remove(k);
            }
        }
    }
    g.span_secs = out.clock_ns() as f64 / 1e9;
    g.packets = out.packets;
    g.bytes = out.finish()?;
    let text = tls.keys.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    std::fs::write(keys, text)?;
    g.secs = started.elapsed().as_secs_f64();
    Ok(g)
}

/// One line on what was generated and how long that took.
pub(crate) fn describe(g: &Generated) -> String {
    format!(
        "{:.0} MiB, {} packets, {} connections ({} TLS 1.3, {} TLS 1.2), {:.0} MiB of TLS, {:.1} s of capture time; generated in {:.1} s",
        g.bytes as f64 / (1 << 20) as f64,
        g.packets,
        g.conns,
        g.tls13,
        g.conns - g.tls13,
        g.tls_bytes as f64 / (1 << 20) as f64,
        g.span_secs,
        g.secs
    )
}
