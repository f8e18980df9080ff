//! The cleartext facts of a handshake: ClientHello and ServerHello parsing (RFC 8446 §4.1.2,
//! §4.1.3; RFC 5246 §7.4.1) and the `HandshakeFacts` they fill in.

use super::hex;
use crate::decode::tls::{CipherSuite, TlsVersion};

/// Most offered suites or versions kept in `HandshakeFacts` (real hellos offer under 100).
pub const MAX_OFFERED: usize = 256;

/// The random a ServerHello carries when it is really a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

/// What the cleartext hellos said, for logging and for choosing keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeFacts {
    /// The ClientHello random: the key log's key for this connection.
    pub client_random: Option<[u8; 32]>,
    /// The ServerHello random.
    pub server_random: Option<[u8; 32]>,
    /// The ClientHello's legacy_version field.
    pub client_version: Option<TlsVersion>,
    /// The versions in the ClientHello's supported_versions extension (empty if absent).
    pub offered_versions: Vec<TlsVersion>,
    /// The suites the client offered, in its order (at most `MAX_OFFERED`).
    pub offered_suites: Vec<CipherSuite>,
    /// The server name (SNI) the client asked for.
    pub server_name: Option<String>,
    /// Whether the client offered TLS 1.3 early data.
    pub offered_early_data: bool,
    /// Whether the server sent a HelloRetryRequest.
    pub hello_retry: bool,
    /// The negotiated version (supported_versions wins over legacy_version).
    pub version: Option<TlsVersion>,
    /// The negotiated suite.
    pub suite: Option<CipherSuite>,
    /// Whether the ServerHello accepted encrypt_then_mac (RFC 7366).
    pub encrypt_then_mac: bool,
    /// Whether the ServerHello accepted extended_master_secret (RFC 7627).
    pub extended_master_secret: bool,
    /// Whether the session was resumed (TLS 1.3 PSK, or an abbreviated TLS ≤ 1.2 handshake).
    pub resumed: bool,
}

impl HandshakeFacts {
    /// The client random in lower-case hex, as the key log writes it.
    pub fn client_random_hex(&self) -> Option<String> {
        self.client_random.map(|r| hex::encode(&r))
    }

    /// The server random in lower-case hex.
    pub fn server_random_hex(&self) -> Option<String> {
        self.server_random.map(|r| hex::encode(&r))
    }
}

/// A bounds-checked reader over a message body.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    fn random(&mut self) -> Option<[u8; 32]> {
        let mut r = [0u8; 32];
        r.copy_from_slice(self.bytes(32)?);
        Some(r)
    }

    /// Extensions as (type, body) pairs; an absent block (old hellos) is empty.
    fn extensions(&mut self) -> Option<Vec<(u16, &'a [u8])>> {
        if self.0.is_empty() {
            return Some(Vec::new());
        }
        let mut block = Cursor(self.vec16()?);
        let mut out = Vec::new();
        while !block.0.is_empty() {
            let kind = block.u16()?;
            out.push((kind, block.vec16()?));
        }
        Some(out)
    }
}

/// The parts of a ClientHello this module uses.
pub(super) struct ClientHello {
    pub session_id: Vec<u8>,
}

/// Parses a ClientHello body into `facts`; `None` (and `facts` untouched) if malformed.
pub(super) fn client_hello(body: &[u8], facts: &mut HandshakeFacts) -> Option<ClientHello> {
    let mut parsed = facts.clone();
    let hello = parse_client_hello(body, &mut parsed)?;
    *facts = parsed;
    Some(hello)
}

fn parse_client_hello(body: &[u8], facts: &mut HandshakeFacts) -> Option<ClientHello> {
    let mut c = Cursor(body);
    let legacy_version = c.u16()?;
    let random = c.random()?;
    let session_id = c.vec8()?.to_vec();
    let suites = c.vec16()?;
    c.vec8()?; // compression methods
    let extensions = c.extensions()?;

    facts.client_random = Some(random);
    facts.client_version = Some(TlsVersion(legacy_version));
    facts.offered_suites = suites
        .chunks_exact(2)
        .take(MAX_OFFERED)
        .map(|p| CipherSuite(u16::from_be_bytes([p[0], p[1]])))
        .collect();
    facts.offered_versions.clear();
    facts.offered_early_data = false;
    for (kind, data) in extensions {
        match kind {
            ext::SUPPORTED_VERSIONS => {
                let list = Cursor(data).vec8()?;
                facts.offered_versions = list
                    .chunks_exact(2)
                    .take(MAX_OFFERED)
                    .map(|p| TlsVersion(u16::from_be_bytes([p[0], p[1]])))
                    .collect();
            }
            ext::SERVER_NAME => facts.server_name = server_name(data),
            ext::EARLY_DATA => facts.offered_early_data = true,
            _ => {}
        }
    }
    Some(ClientHello { session_id })
}

/// The host name from a server_name extension (RFC 6066 §3), lossily as UTF-8.
fn server_name(data: &[u8]) -> Option<String> {
    let mut list = Cursor(Cursor(data).vec16()?);
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    None
}

/// A parsed ServerHello.
pub(super) enum ServerHello {
    /// A HelloRetryRequest, with the suite it picked.
    Retry(CipherSuite),
    /// The real ServerHello; the facts are filled in.
    Final {
        /// The negotiated version.
        version: TlsVersion,
        /// The chosen suite.
        suite: CipherSuite,
        /// Its legacy session id (echoed on TLS ≤ 1.2 resumption).
        session_id: Vec<u8>,
    },
}

/// Parses a ServerHello body (into `facts` unless it is a HelloRetryRequest).
pub(super) fn server_hello(body: &[u8], facts: &mut HandshakeFacts) -> Option<ServerHello> {
    let mut c = Cursor(body);
    let legacy_version = c.u16()?;
    let random = c.random()?;
    let session_id = c.vec8()?.to_vec();
    let suite = CipherSuite(c.u16()?);
    c.u8()?; // compression method
    let extensions = c.extensions()?;
    if random == HRR_RANDOM {
        return Some(ServerHello::Retry(suite));
    }
    let mut version = TlsVersion(legacy_version);
    let (mut etm, mut ems, mut psk) = (false, false, false);
    for (kind, data) in extensions {
        match kind {
            ext::SUPPORTED_VERSIONS => version = TlsVersion(Cursor(data).u16()?),
            ext::ENCRYPT_THEN_MAC => etm = true,
            ext::EXTENDED_MASTER_SECRET => ems = true,
            ext::PRE_SHARED_KEY => psk = true,
            _ => {}
        }
    }
    facts.server_random = Some(random);
    facts.version = Some(version);
    facts.suite = Some(suite);
    facts.encrypt_then_mac = etm;
    facts.extended_master_secret = ems;
    facts.resumed = version == TlsVersion::TLS13 && psk;
    Some(ServerHello::Final {
        version,
        suite,
        session_id,
    })
}
