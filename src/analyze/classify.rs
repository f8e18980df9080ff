//! What a TCP connection in a capture carries, told from its first bytes: RDP (an X.224
//! Connection Request, or a preconnection PDU), TLS (to an RD Gateway, or to a host
//! named with `--target`), an RD Gateway's HTTP in the clear (rdptap's own decrypted
//! flows), the plaintext of an intercepted RDP connection (likewise), or something else.
//! The port does not matter: RDP on 443 and gateways on 8443 are found all the same.

use crate::decode::tls::{TlsDecoder, TlsEvent};
use crate::decode::x224;
use crate::vocab::Dir;

/// Bytes of a direction looked at, at most, before deciding.
pub const LOOK: usize = 64 * 1024;

/// What a connection carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Direct RDP: X.224 (or a preconnection PDU) from the client.
    Rdp,
    /// TLS from the first byte, with the ClientHello's server name when it sent one:
    /// an RD Gateway's HTTPS (or a host that is not RDP at all).
    Tls {
        /// The ClientHello's SNI.
        sni: Option<String>,
    },
    /// RD Gateway HTTP in the clear: `RDG_*` or `RPC_*` requests.
    GatewayHttp,
    /// The plaintext of an RDP connection after TLS (it starts with MCS Connect-Initial).
    PlainRdp,
    /// None of these.
    Other,
}

/// The verdict of [`classify`] on what has come so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// More bytes are needed.
    NotYet,
    /// The connection carries `kind`; when `swap` is true the side thought to be the
    /// client is the server (the capture missed the SYN and the guess was wrong).
    Is {
        /// What it carries.
        kind: Kind,
        /// The roles must be swapped.
        swap: bool,
    },
}

/// Decides what a connection carries from the first bytes of each direction, `first` as
/// [c2s, s2c] by the current guess of the roles. `ended` says a direction can bring no
/// more.
pub fn classify(first: [&[u8]; 2], ended: [bool; 2]) -> Decision {
    let mut undecided = false;
    for (dir, swap) in [(Dir::C2S, false), (Dir::S2C, true)] {
        match client_start(first[dir.idx()]) {
            Some(Some(kind)) => return Decision::Is { kind, swap },
            Some(None) => {}
            None if ended[dir.idx()] || first[dir.idx()].len() >= LOOK => {}
            None => undecided = true,
        }
    }
    if undecided {
        Decision::NotYet
    } else {
        Decision::Is {
            kind: Kind::Other,
            swap: false,
        }
    }
}

/// What a client's first bytes say: `Some(Some(kind))` when they start a known
/// protocol, `Some(None)` when they cannot be a client's start, `None` when more bytes
/// are needed.
fn client_start(b: &[u8]) -> Option<Option<Kind>> {
    let first = *b.first()?;
    match first {
        0x03 => {
            // TPKT: version 3, reserved, length; then the X.224 TPDU code.
            let code = *b.get(5)?;
            Some(match code & 0xF0 {
                0xE0 => Some(Kind::Rdp),
                // X.224 Data carrying MCS Connect-Initial (7f 65): an intercepted
                // connection's plaintext.
                0xF0 => {
                    let mcs = b.get(7..9)?;
                    (mcs == [0x7f, 0x65]).then_some(Kind::PlainRdp)
                }
                _ => None,
            })
        }
        0x16 => {
            // A handshake record that starts a connection carries the ClientHello (type
            // 1); any other is the middle of one whose start was not captured.
            let head = b.get(..6)?;
            if head[1] != 0x03 || head[2] > 0x04 || head[5] != 0x01 {
                return Some(None);
            }
            Some(Some(Kind::Tls {
                sni: client_hello_sni(b)?,
            }))
        }
        b'R' | b'G' => {
            const METHODS: [&[u8]; 4] = [
                b"RDG_OUT_DATA ",
                b"RDG_IN_DATA ",
                b"RPC_IN_DATA ",
                b"RPC_OUT_DATA ",
            ];
            for m in METHODS {
                let n = m.len().min(b.len());
                if b[..n] == m[..n] {
                    return if b.len() >= m.len() {
                        Some(Some(Kind::GatewayHttp))
                    } else {
                        None
                    };
                }
            }
            Some(None)
        }
        _ if x224::looks_like_preconnection(b) => Some(Some(Kind::Rdp)),
        // A preconnection PDU needs its whole 16-byte header to be recognised.
        _ if b.len() < 16 => None,
        _ => Some(None),
    }
}

/// The server name in a ClientHello at the start of `b`: `Some(name)` once the hello
/// is whole (`Some(None)` without SNI), `None` while it is not.
fn client_hello_sni(b: &[u8]) -> Option<Option<String>> {
    let mut d = TlsDecoder::new();
    let mut out = Vec::new();
    let fed = d.feed(Dir::C2S, b, &mut out);
    for ev in out {
        if let TlsEvent::ClientHello { sni, .. } = ev {
            return Some(sni);
        }
    }
    // A hello that cannot be read still makes the connection TLS.
    if fed.is_err() || b.len() >= LOOK {
        return Some(None);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is(kind: Kind, swap: bool) -> Decision {
        Decision::Is { kind, swap }
    }

    #[test]
    fn each_start_is_recognised_on_any_port() {
        let cr = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
        assert_eq!(classify([&cr, b""], [false; 2]), is(Kind::Rdp, false));
        // The client's request seen on the side first guessed to be the server.
        assert_eq!(classify([b"", &cr], [false; 2]), is(Kind::Rdp, true));
        let plain = [3, 0, 1, 0xd3, 2, 0xf0, 0x80, 0x7f, 0x65, 0x82];
        assert_eq!(
            classify([&plain, b""], [false; 2]),
            is(Kind::PlainRdp, false)
        );
        assert_eq!(
            classify(
                [b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n", b""],
                [false; 2]
            ),
            is(Kind::GatewayHttp, false)
        );
        assert_eq!(
            classify([b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n"], [false; 2]),
            is(Kind::Other, false)
        );
    }

    #[test]
    fn partial_starts_wait_for_more() {
        assert_eq!(classify([&[3, 0, 0], b""], [false; 2]), Decision::NotYet);
        assert_eq!(classify([b"RDG_OU", b""], [false; 2]), Decision::NotYet);
        assert_eq!(
            classify([&[0x16, 3, 1, 0, 200, 1], b""], [false; 2]),
            Decision::NotYet
        );
        // Nothing more can come: not RDP.
        assert_eq!(
            classify([&[3, 0, 0], b""], [true, true]),
            is(Kind::Other, false)
        );
    }

    #[test]
    fn a_tls_start_gives_its_server_name() {
        let (c, _) = crate::decode::test_support::fixture("xrdp-tls12-ok");
        // The fixture's TLS starts after the X.224 exchange (19 bytes of request here).
        let cr_len = u16::from_be_bytes([c[2], c[3]]) as usize;
        let tls = &c[cr_len..];
        match classify([tls, b""], [false; 2]) {
            Decision::Is {
                kind: Kind::Tls { .. },
                swap: false,
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_other() {
        assert_eq!(
            classify([&[0xff; 40], &[0xee; 40]], [false; 2]),
            is(Kind::Other, false)
        );
    }
}
