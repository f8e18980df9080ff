//! Parsers for the handshake messages a passive observer can read: ClientHello,
//! ServerHello (including HelloRetryRequest) and the TLS 1.2 Certificate message.
//!
//! All reads go through the shared [`wire::Reader`], which checks every length against
//! the bytes actually present, so a lying length field yields an error, never a panic or
//! an allocation of the claimed size.

use super::names::{CipherSuite, TlsVersion};
use super::TlsEvent;
use crate::decode::wire::{self, Prefix, Short};
use crate::decode::x509;

/// Extension type of server_name (SNI).
const EXT_SERVER_NAME: u16 = 0;
/// Extension type of application_layer_protocol_negotiation.
const EXT_ALPN: u16 = 16;
/// Extension type of supported_versions.
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// First 7 bytes of the downgrade sentinel ("DOWNGRD"); the 8th says which.
const DOWNGRADE_PREFIX: [u8; 7] = *b"DOWNGRD";

/// A message body read through the shared [`wire::Reader`] (big-endian, as TLS is),
/// with errors that name the message.
struct Reader<'a> {
    r: wire::Reader<'a>,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader {
            r: wire::Reader::new(buf),
            what,
        }
    }

    /// The words for a read past the end, which event files keep.
    fn short(what: &'static str) -> impl FnOnce(Short) -> String {
        move |s| {
            format!(
                "truncated {what}: needed {} more bytes, {} left",
                s.need, s.left
            )
        }
    }

    fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// The bytes left, unread.
    fn bytes(&self) -> &'a [u8] {
        self.r.unread()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        self.r.take(n).map_err(Self::short(self.what))
    }

    fn u8(&mut self) -> Result<u8, String> {
        self.r.u8().map_err(Self::short(self.what))
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.r.u16_be().map_err(Self::short(self.what))
    }

    /// A sub-reader over a vector whose length prefix is `width` bytes.
    fn vec(&mut self, width: usize) -> Result<Reader<'a>, String> {
        let prefix = match width {
            1 => Prefix::U8,
            2 => Prefix::U16Be,
            _ => Prefix::U24Be,
        };
        let body = self.r.prefixed(prefix).map_err(Self::short(self.what))?;
        Ok(Reader::new(body, self.what))
    }
}

/// The ServerHello facts the decoder's state machine needs besides the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// Negotiated version (supported_versions over legacy_version).
    pub version: TlsVersion,
    /// The chosen suite.
    pub cipher_suite: CipherSuite,
    /// This is a HelloRetryRequest, not a real ServerHello.
    pub hello_retry_request: bool,
}

/// Walks an extensions block, calling `f(type, body)` per extension.
///
/// Extensions are optional in hellos from old peers, so an absent block is fine.
fn extensions<'a>(
    r: &mut Reader<'a>,
    mut f: impl FnMut(u16, Reader<'a>) -> Result<(), String>,
) -> Result<(), String> {
    if r.is_empty() {
        return Ok(());
    }
    let mut exts = r.vec(2)?;
    while !exts.is_empty() {
        let ty = exts.u16()?;
        let body = exts.vec(2)?;
        f(ty, body)?;
    }
    Ok(())
}

/// Parses a ClientHello body into its event.
pub fn client_hello(body: &[u8]) -> Result<TlsEvent, String> {
    let mut r = Reader::new(body, "ClientHello");
    let legacy_version = TlsVersion(r.u16()?);
    r.take(32)?; // random
    r.vec(1)?; // legacy_session_id
    let mut suites_r = r.vec(2)?;
    let mut cipher_suites = Vec::new();
    let mut cipher_suites_omitted = 0u32;
    while !suites_r.is_empty() {
        let suite = CipherSuite(suites_r.u16()?);
        if cipher_suites.len() < super::MAX_LISTED_SUITES {
            cipher_suites.push(suite);
        } else {
            cipher_suites_omitted += 1;
        }
    }
    r.vec(1)?; // legacy_compression_methods
    let mut sni = None;
    let mut alpn = Vec::new();
    let mut versions = Vec::new();
    extensions(&mut r, |ty, mut e| {
        match ty {
            // An empty server_name extension is legal (it is how a server acknowledges
            // SNI), so only look inside a non-empty one.
            EXT_SERVER_NAME if !e.is_empty() => {
                let mut list = e.vec(2)?;
                while !list.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec(2)?;
                    if name_type == 0 && sni.is_none() {
                        sni = Some(String::from_utf8_lossy(name.bytes()).into_owned());
                    }
                }
            }
            EXT_ALPN => {
                let mut list = e.vec(2)?;
                while !list.is_empty() {
                    let proto = list.vec(1)?;
                    alpn.push(String::from_utf8_lossy(proto.bytes()).into_owned());
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                let mut list = e.vec(1)?;
                while !list.is_empty() {
                    versions.push(TlsVersion(list.u16()?));
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    if versions.is_empty() {
        versions.push(legacy_version);
    }
    Ok(TlsEvent::ClientHello {
        legacy_version,
        versions,
        cipher_suites,
        cipher_suites_omitted: Some(cipher_suites_omitted),
        sni,
        alpn,
    })
}

/// Parses a ServerHello (or HelloRetryRequest) body into its event and key facts.
pub fn server_hello(body: &[u8]) -> Result<(TlsEvent, ServerHelloInfo), String> {
    let mut r = Reader::new(body, "ServerHello");
    let legacy_version = TlsVersion(r.u16()?);
    let random = r.take(32)?;
    r.vec(1)?; // legacy_session_id_echo
    let cipher_suite = CipherSuite(r.u16()?);
    r.u8()?; // legacy_compression_method
    let mut selected = None;
    extensions(&mut r, |ty, mut e| {
        if ty == EXT_SUPPORTED_VERSIONS {
            selected = Some(TlsVersion(e.u16()?));
        }
        Ok(())
    })?;
    let version = selected.unwrap_or(legacy_version);
    let hello_retry_request = random == HRR_RANDOM;
    let downgrade_sentinel = downgrade(random);
    let info = ServerHelloInfo {
        version,
        cipher_suite,
        hello_retry_request,
    };
    let event = TlsEvent::ServerHello {
        version,
        cipher_suite,
        hello_retry_request,
        downgrade_sentinel,
    };
    Ok((event, info))
}

/// Reads the RFC 8446 downgrade sentinel from the last 8 bytes of the server random.
///
/// A TLS 1.3-capable server that negotiates lower sets it; seeing it while the client
/// offered 1.3 means something in the path stripped the 1.3 offer.
fn downgrade(random: &[u8]) -> Option<String> {
    let tail = random.get(24..32)?;
    if tail[..7] != DOWNGRADE_PREFIX {
        return None;
    }
    match tail[7] {
        1 => Some("tls12".to_string()),
        0 => Some("tls11_or_below".to_string()),
        _ => None,
    }
}

/// Parses a TLS 1.2-style Certificate body into the chain event.
///
/// Certificates are parsed in order; at the first one x509-parser rejects, the chain is
/// cut there, so the event never shows an intermediate in the leaf's place.
pub fn certificate(body: &[u8]) -> Result<TlsEvent, String> {
    let mut r = Reader::new(body, "Certificate");
    let mut list = r.vec(3)?;
    let mut chain = Vec::new();
    while !list.is_empty() {
        let der = list.vec(3)?;
        match x509::parse(der.bytes()) {
            Ok(info) => chain.push(info),
            Err(_) => break,
        }
    }
    Ok(TlsEvent::Certificate { chain })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_hellos_are_errors_not_panics() {
        let mut ch = vec![3, 3];
        ch.extend_from_slice(&[0; 32]);
        ch.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        assert!(client_hello(&ch).is_ok());
        for cut in 0..ch.len() {
            assert!(client_hello(&ch[..cut]).is_err(), "cut {cut}");
        }
        // A lying length does not allocate or panic.
        ch.extend_from_slice(&[0xff, 0xff]);
        assert!(client_hello(&ch).is_err());
        assert!(server_hello(&[3, 3, 1]).is_err());
        assert!(certificate(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn short_reads_name_the_message() {
        let words = |r: Result<TlsEvent, String>| r.expect_err("short");
        assert_eq!(
            words(client_hello(&[3, 3, 0])),
            "truncated ClientHello: needed 32 more bytes, 1 left"
        );
        let mut ch = vec![3, 3];
        ch.extend_from_slice(&[0; 32]);
        ch.extend_from_slice(&[5, 1, 2]);
        assert_eq!(
            words(client_hello(&ch)),
            "truncated ClientHello: needed 5 more bytes, 2 left"
        );
        assert_eq!(
            server_hello(&[3]).map(|_| ()),
            Err("truncated ServerHello: needed 2 more bytes, 1 left".to_string())
        );
        assert_eq!(
            words(certificate(&[0, 0, 4, 0, 0, 9, 1])),
            "truncated Certificate: needed 9 more bytes, 1 left"
        );
    }

    #[test]
    fn downgrade_sentinels() {
        let mut random = [0u8; 32];
        assert_eq!(downgrade(&random), None);
        random[24..31].copy_from_slice(b"DOWNGRD");
        random[31] = 1;
        assert_eq!(downgrade(&random).as_deref(), Some("tls12"));
        random[31] = 0;
        assert_eq!(downgrade(&random).as_deref(), Some("tls11_or_below"));
        random[31] = 2;
        assert_eq!(downgrade(&random), None);
    }
}
