//! The writer's side of each flow: its synthetic TCP state, its redactor, and a watch
//! for the TLS ClientHello so key log lines can be matched to their connection.

use super::FlowKind;
use crate::record::pcapng::tcp::TcpFlow;
use crate::record::redact::{FlowProto, StreamRedactor};

/// How much of a raw leg's first bytes is searched for a ClientHello: the X.224
/// exchange and the hello itself fit well within it.
const HELLO_SEARCH: usize = 16 * 1024;

/// One flow as the writer keeps it.
pub(super) struct WFlow {
    pub conn: u64,
    pub kind: FlowKind,
    pub tcp: TcpFlow,
    pub redactor: Option<StreamRedactor>,
    /// Comments waiting for a packet (the redactor can hold bytes back).
    pub pending: Vec<String>,
    /// Each side has closed (index 0: client).
    pub closed: [bool; 2],
    /// A reset ended the flow.
    pub dead: bool,
    /// The client's first bytes, until its TLS client random is found.
    hello: Option<Vec<u8>>,
}

impl WFlow {
    pub fn new(conn: u64, kind: FlowKind, tcp: TcpFlow, redact: bool, names: bool) -> WFlow {
        let proto = match kind {
            FlowKind::PlainHttp if redact => Some(FlowProto::Http),
            FlowKind::PlainRdp if redact => Some(FlowProto::Rdp),
            // Raw legs are ciphertext after the clear X.224 exchange, and so is the
            // tunnel's RDP (the client's own end-to-end TLS), except under standard RDP
            // security: at encryption level NONE the Client Info's password is in the
            // clear there. The mstshash cookie (a user name) always is.
            FlowKind::Raw | FlowKind::Inner if redact => Some(FlowProto::Raw),
            _ => None,
        };
        let redactor = proto.map(|p| StreamRedactor::new(p).hiding_names(names));
        WFlow {
            conn,
            kind,
            tcp,
            redactor,
            pending: Vec::new(),
            closed: [false; 2],
            dead: false,
            hello: (kind == FlowKind::Raw).then(Vec::new),
        }
    }

    /// Both sides have closed, or a reset ended it.
    pub fn ended(&self) -> bool {
        self.dead || self.closed == [true, true]
    }

    /// Looks for the client random in the client's first bytes; returns it once found.
    pub fn watch_hello(&mut self, from_client: bool, data: &[u8]) -> Option<[u8; 32]> {
        if !from_client {
            return None;
        }
        let buf = self.hello.as_mut()?;
        let room = HELLO_SEARCH.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
        match client_random(buf) {
            Search::Found(r) => {
                self.hello = None;
                Some(r)
            }
            Search::More if buf.len() < HELLO_SEARCH => None,
            _ => {
                self.hello = None;
                None
            }
        }
    }
}

/// What a search of the client's first bytes found.
#[derive(Debug, PartialEq)]
enum Search {
    Found([u8; 32]),
    More,
    NotTls,
}

/// The ClientHello's random, after any TPKT frames (the X.224 exchange of direct RDP).
fn client_random(buf: &[u8]) -> Search {
    let mut pos = 0;
    loop {
        let Some(&first) = buf.get(pos) else {
            return Search::More;
        };
        match first {
            0x03 => {
                let Some(len) = buf.get(pos + 2..pos + 4) else {
                    return Search::More;
                };
                let len = u16::from_be_bytes([len[0], len[1]]) as usize;
                if len < 4 {
                    return Search::NotTls;
                }
                pos += len;
            }
            0x16 => {
                // Record header (5), handshake type and length (4), version (2), random.
                let Some(h) = buf.get(pos..pos + 43) else {
                    return Search::More;
                };
                if h[5] != 0x01 {
                    return Search::NotTls;
                }
                let mut r = [0u8; 32];
                r.copy_from_slice(&h[11..43]);
                return Search::Found(r);
            }
            _ => return Search::NotTls,
        }
    }
}

/// The client random of an NSS key log line (`LABEL <random hex> <secret hex>`).
pub(super) fn line_random(line: &str) -> Option<[u8; 32]> {
    let hex = line.split_whitespace().nth(1)?;
    if hex.len() != 64 {
        return None;
    }
    let mut r = [0u8; 32];
    for (i, b) in r.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(random: u8) -> Vec<u8> {
        let mut v = vec![
            0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03,
        ];
        v.extend([random; 32]);
        v.extend([0u8; 8]);
        v
    }

    #[test]
    fn finds_the_random_after_tpkt_frames() {
        let mut buf = vec![0x03, 0x00, 0x00, 0x08, 0, 0, 0, 0];
        buf.extend(hello(0xAB));
        assert_eq!(client_random(&buf), Search::Found([0xAB; 32]));
        assert_eq!(client_random(&buf[..20]), Search::More);
        assert_eq!(client_random(b"GET / HTTP/1.1\r\n"), Search::NotTls);
        assert_eq!(client_random(&[0x03, 0, 0, 1]), Search::NotTls);
    }

    #[test]
    fn key_lines_name_their_random() {
        let line = format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "cd".repeat(48));
        assert_eq!(line_random(&line), Some([0xAB; 32]));
        assert_eq!(line_random("CLIENT_RANDOM xyz 00"), None);
        assert_eq!(line_random(""), None);
    }
}
