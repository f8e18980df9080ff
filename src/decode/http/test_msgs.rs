//! Hand-built NTLMSSP, SPNEGO and RD Gateway HTTP messages shared by the tests.

use super::*;
use crate::vocab::Dir::{C2S, S2C};
use base64::Engine;

/// base64 (standard, padded).
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A stand-in NT response: if it ever shows up in an event, a secret leaked.
pub const NT_RESPONSE: [u8; 24] = [0xA5; 24];

/// Text as NTLM encodes it: UTF-16LE or OEM (ASCII here).
fn enc(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

/// Writes a security buffer (len, maxlen, offset).
fn sec_buf(out: &mut Vec<u8>, len: usize, offset: usize) {
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&(offset as u32).to_le_bytes());
}

/// The NEGOTIATE message xfreerdp sends (from the gateway samples).
pub const TYPE1_B64: &str = "TlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==";

/// A CHALLENGE message naming target `target` (Unicode).
pub fn ntlm_type2(target: &str) -> Vec<u8> {
    let name = enc(target, true);
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    sec_buf(&mut m, name.len(), 56);
    m.extend_from_slice(&0xE288_8215u32.to_le_bytes()); // flags, Unicode set
    m.extend_from_slice(&[0x11; 8]); // server challenge
    m.extend_from_slice(&[0; 8]); // reserved
    sec_buf(&mut m, 0, 56 + name.len()); // target info (empty)
    m.extend_from_slice(&[10, 0, 0x61, 0x4A, 0, 0, 0, 15]); // version
    m.extend_from_slice(&name);
    m
}

/// An AUTHENTICATE message for `domain\user` from `ws`.
pub fn ntlm_type3(user: &str, domain: &str, ws: &str, unicode: bool) -> Vec<u8> {
    let (d, u, w) = (enc(domain, unicode), enc(user, unicode), enc(ws, unicode));
    let lm = [0u8; 24];
    let header = 72;
    let d_off = header;
    let u_off = d_off + d.len();
    let w_off = u_off + u.len();
    let lm_off = w_off + w.len();
    let nt_off = lm_off + lm.len();
    let end = nt_off + NT_RESPONSE.len();
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    sec_buf(&mut m, lm.len(), lm_off);
    sec_buf(&mut m, NT_RESPONSE.len(), nt_off);
    sec_buf(&mut m, d.len(), d_off);
    sec_buf(&mut m, u.len(), u_off);
    sec_buf(&mut m, w.len(), w_off);
    sec_buf(&mut m, 0, end); // encrypted random session key
    let flags: u32 = if unicode { 0xE288_8215 } else { 0xE288_8214 };
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&[10, 0, 0x61, 0x4A, 0, 0, 0, 15]);
    assert_eq!(m.len(), header);
    for part in [&d[..], &u, &w, &lm, &NT_RESPONSE] {
        m.extend_from_slice(part);
    }
    m
}

/// DER TLV with a short or long length.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

const SPNEGO_OID: &[u8] = &[0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x02];
const NTLM_OID: &[u8] = &[
    0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0A,
];
const KRB5_OID: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02,
];
const MS_KRB5_OID: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x82, 0xF7, 0x12, 0x01, 0x02, 0x02,
];

/// A SPNEGO NegTokenInit offering `mechs` with `token` as the optimistic mechToken.
pub fn spnego_init(mechs: &[&[u8]], token: &[u8]) -> Vec<u8> {
    let mech_list = der(0x30, &mechs.concat());
    let body = [der(0xA0, &mech_list), der(0xA2, &der(0x04, token))].concat();
    let neg_token_init = der(0xA0, &der(0x30, &body));
    der(0x60, &[SPNEGO_OID, &neg_token_init].concat())
}

/// A Negotiate token wrapping an NTLM NEGOTIATE in SPNEGO.
pub fn spnego_ntlm(ntlm: &[u8]) -> Vec<u8> {
    spnego_init(&[NTLM_OID], ntlm)
}

/// A Negotiate token carrying a (fake) Kerberos AP-REQ, as Windows clients send.
pub fn spnego_kerberos() -> Vec<u8> {
    let ap_req = der(0x60, &[KRB5_OID, &[0x01, 0x00], &[0x6E; 40]].concat());
    spnego_init(&[MS_KRB5_OID, KRB5_OID, NTLM_OID], &ap_req)
}

/// The HTTP transport's first request (copied from an xfreerdp capture).
pub const SAMPLE_HTTP: &str = "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n\
Cache-Control: no-cache\r\n\
Pragma: no-cache\r\n\
Accept: */*\r\n\
User-Agent: MS-RDGateway/1.0\r\n\
Host: 127.0.0.1\r\n\
Connection: Keep-Alive\r\n\
RDG-Connection-Id: {bfbe6f46-87c6-b653-1076-aa725b6f9e0b}\r\n\
Content-Length: 0\r\n\
Authorization: NTLM TlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n\
\r\n";

/// The legacy RPC-over-HTTP first request (copied from an xfreerdp capture).
pub const SAMPLE_RPC: &str = "RPC_IN_DATA /rpc/rpcproxy.dll?localhost:3388 HTTP/1.1\r\n\
Cache-Control: no-cache\r\n\
Pragma: ResourceTypeUuid=44e265dd-7daf-42cd-8560-3cdb6e7a2729, SessionId=fbd9c34f-397d-471d-a109-1b08cc554624\r\n\
Accept: application/rpc\r\n\
User-Agent: MSRPC\r\n\
Host: 127.0.0.1\r\n\
Connection: Keep-Alive\r\n\
Content-Length: 0\r\n\
Authorization: NTLM TlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n\
\r\n";

/// The WebSocket transport's first request (copied from an xfreerdp capture).
pub const SAMPLE_WS: &str = "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n\
Cache-Control: no-cache\r\n\
Pragma: no-cache\r\n\
Accept: */*\r\n\
User-Agent: MS-RDGateway/1.0\r\n\
Host: 127.0.0.1\r\n\
Connection: Upgrade\r\n\
Upgrade: websocket\r\n\
Sec-Websocket-Version: 13\r\n\
Sec-Websocket-Key: FN[SBOVE@\\ZNWDC\r\n\
RDG-Connection-Id: {74258260-b98c-6150-4539-d431dc44ac85}\r\n\
Content-Length: 0\r\n\
Authorization: NTLM TlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n\
\r\n";

/// Collects sink bytes per direction.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collect {
    pub c2s: Vec<u8>,
    pub s2c: Vec<u8>,
}

/// Events and bodies apart, as the tests compare them.
pub struct Both<'a> {
    pub events: &'a mut Vec<HttpEvent>,
    pub bodies: &'a mut Collect,
}

impl HttpSink for Both<'_> {
    fn event(&mut self, ev: HttpEvent) {
        self.events.push(ev);
    }
    fn body(&mut self, dir: Dir, bytes: &[u8]) {
        self.bodies.body(dir, bytes);
    }
}

impl Collect {
    fn body(&mut self, dir: Dir, bytes: &[u8]) {
        match dir {
            C2S => self.c2s.extend_from_slice(bytes),
            S2C => self.s2c.extend_from_slice(bytes),
        }
    }
}

/// One step of a script: bytes in a direction, or the end of a direction.
#[derive(Debug, Clone)]
pub enum Step {
    Bytes(Dir, Vec<u8>),
    Fin(Dir),
}

pub fn bytes(dir: Dir, b: impl AsRef<[u8]>) -> Step {
    Step::Bytes(dir, b.as_ref().to_vec())
}

/// Cuts step `i`'s bytes into the pieces to feed.
pub type Cutter<'a> = &'a mut dyn FnMut(usize, &[u8]) -> Vec<Vec<u8>>;

/// Runs a script, feeding every Bytes step in pieces given by `cut`.
pub fn run_with(script: &[Step], cut: Cutter<'_>) -> (Vec<HttpEvent>, Collect, bool) {
    let mut conn = HttpConn::new();
    let mut events = Vec::new();
    let mut sink = Collect::default();
    for (i, step) in script.iter().enumerate() {
        match step {
            Step::Bytes(dir, b) => {
                for piece in cut(i, b) {
                    let mut both = Both {
                        events: &mut events,
                        bodies: &mut sink,
                    };
                    conn.feed(*dir, &piece, &mut both);
                }
            }
            Step::Fin(dir) => conn.finish(*dir, &mut events),
        }
    }
    (events, sink, conn.upgraded())
}

pub fn run(script: &[Step]) -> (Vec<HttpEvent>, Collect) {
    let (e, s, _) = run_with(script, &mut |_, b| vec![b.to_vec()]);
    (e, s)
}

/// Every event's JSON, for secret checks.
pub fn json(events: &[HttpEvent]) -> String {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `kind`s of the events.
pub fn kinds(events: &[HttpEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match serde_json::to_value(e) {
            Ok(serde_json::Value::Object(m)) => m
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        })
        .collect()
}

pub fn request(method: &str, extra: &str) -> String {
    format!("{method} /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw.lab\r\n{extra}\r\n")
}

pub const IIS_401_PAGE: &str = "<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title><style>body{margin:0}</style></head><body><h2>You do not have permission to view this directory or page using the credentials that you supplied.</h2></body></html>";

/// The HTTP transport's OUT channel: NTLM NEGOTIATE → 401 CHALLENGE → AUTHENTICATE →
/// 200 chunked (10-byte seed, then a packet), then the tunnel ends.
pub fn ntlm_out_channel() -> Vec<Step> {
    let user_id = b64(&"labuser"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect::<Vec<u8>>());
    let t3 = b64(&ntlm_type3("labuser", "LAB", "WS01", true));
    vec![
        bytes(C2S, SAMPLE_HTTP),
        bytes(
            S2C,
            format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nServer: Microsoft-IIS/10.0\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: {}\r\n\r\n{IIS_401_PAGE}",
                b64(&ntlm_type2("LAB")),
                IIS_401_PAGE.len()
            ),
        ),
        bytes(
            C2S,
            request(
                "RDG_OUT_DATA",
                &format!("RDG-Connection-Id: {{bfbe6f46-87c6-b653-1076-aa725b6f9e0b}}\r\nRDG-User-Id: {user_id}\r\nCookie: RDGSESS=s3cretvalue\r\nContent-Length: 0\r\nAuthorization: NTLM {t3}\r\n"),
            ),
        ),
        bytes(
            S2C,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: RDGSESS=n3wsecret; path=/\r\n\r\n",
        ),
        bytes(S2C, b"a;seed\r\n\xAB\xCD\xAB\xCD\xAB\xCD\xAB\xCD\xAB\xCD\r\n"),
        bytes(S2C, b"10\r\n\x02\x00\x00\x00\x10\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\r\n"),
        bytes(S2C, "0\r\nX-Trailer: done\r\n\r\n"),
        Step::Fin(C2S),
        Step::Fin(S2C),
    ]
}

/// The WebSocket transport: 401 round, then 101 and frames both ways.
pub fn websocket_channel() -> Vec<Step> {
    let t3 = b64(&ntlm_type3("labuser", "LAB", "WS01", true));
    vec![
        bytes(C2S, SAMPLE_WS),
        bytes(
            S2C,
            format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM {}\r\nContent-Length: 0\r\n\r\n",
                b64(&ntlm_type2("LAB"))
            ),
        ),
        bytes(
            C2S,
            request(
                "RDG_OUT_DATA",
                &format!("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\nAuthorization: NTLM {t3}\r\n"),
            ),
        ),
        bytes(
            S2C,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x82\x02\x01\x02",
        ),
        bytes(C2S, b"\x82\x82\x00\x00\x00\x00\x03\x04"),
        bytes(S2C, b"\x82\x01\x05"),
        Step::Fin(C2S),
        Step::Fin(S2C),
    ]
}
