//! From logged secrets to one direction's record cipher: the TLS ≤ 1.2 key block
//! (RFC 5246 §6.3) and TLS 1.3 traffic keys and key updates (RFC 8446 §7.2, §7.3).

use super::aead::{AeadCipher, AeadStyle};
use super::cbc::CbcCipher;
use super::event::FailCause;
use super::kdf::{self, Prf};
use super::keylog::Secret;
use super::suite::{Bulk, SuiteInfo};
use crate::decode::tls::TlsVersion;
use crate::vocab::Dir;
use std::ops::Range;

/// One direction's record protection (boxed: key schedules are large).
pub(super) enum RecordCipher {
    Aead(Box<AeadCipher>),
    Cbc(Box<CbcCipher>),
}

impl RecordCipher {
    /// Decrypts `record` (header and body) in place: the content type and where the
    /// plaintext lies in `record`.
    pub fn open(&mut self, seq: u64, record: &mut [u8]) -> Result<(u8, Range<usize>), FailCause> {
        match self {
            RecordCipher::Aead(c) => c.open(seq, record),
            RecordCipher::Cbc(c) => c.open(seq, record),
        }
    }
}

/// What the TLS ≤ 1.2 key block needs beyond the master secret.
pub(super) struct Tls12Params<'a> {
    pub version: TlsVersion,
    pub suite: &'a SuiteInfo,
    pub etm: bool,
    pub client_random: &'a [u8; 32],
    pub server_random: &'a [u8; 32],
}

/// The sender's cipher for `dir` in TLS 1.0–1.2, from the master secret.
pub(super) fn tls12(p: &Tls12Params<'_>, master: &[u8], dir: Dir) -> Option<RecordCipher> {
    let bulk = p.suite.bulk;
    let (mac_len, iv_len) = match bulk {
        Bulk::Aes128Gcm | Bulk::Aes256Gcm => (0, 4),
        Bulk::Chacha20Poly1305 => (0, 12),
        // TLS 1.1 and 1.2 derive no CBC IVs; TLS 1.0 takes them from the block's tail.
        Bulk::Aes128Cbc | Bulk::Aes256Cbc => (p.suite.mac.len(), 16),
    };
    let key_len = bulk.key_len();
    let mut block = [0u8; 2 * (48 + 32 + 16)];
    let block = block.get_mut(..2 * (mac_len + key_len + iv_len))?;
    let prf = match p.version {
        TlsVersion::TLS12 => Prf::Tls12(p.suite.prf),
        _ => Prf::Tls10,
    };
    let seed: [&[u8]; 2] = [p.server_random, p.client_random];
    kdf::prf(prf, master, b"key expansion", &seed, block);
    // client MAC, server MAC, client key, server key, client IV, server IV.
    let (macs, rest) = block.split_at(2 * mac_len);
    let (keys, ivs) = rest.split_at(2 * key_len);
    let (mac, key, iv) = (
        pick(macs, mac_len, dir)?,
        pick(keys, key_len, dir)?,
        pick(ivs, iv_len, dir)?,
    );
    if bulk.is_cbc() {
        let chained = if p.version == TlsVersion::TLS10 {
            let mut v = [0u8; 16];
            v.copy_from_slice(iv);
            Some(v)
        } else {
            None
        };
        let cbc = CbcCipher::new(bulk, key, p.suite.mac, mac, chained, p.etm)?;
        return Some(RecordCipher::Cbc(Box::new(cbc)));
    }
    let style = match bulk {
        Bulk::Chacha20Poly1305 => AeadStyle::Tls12Chacha,
        _ => AeadStyle::Tls12Gcm,
    };
    AeadCipher::new(bulk, key, iv, style).map(|c| RecordCipher::Aead(Box::new(c)))
}

/// The client's (first) or server's (second) half of a key block pair.
fn pick(pair: &[u8], n: usize, dir: Dir) -> Option<&[u8]> {
    match dir {
        Dir::C2S => pair.get(..n),
        Dir::S2C => pair.get(n..2 * n),
    }
}

/// A TLS 1.3 cipher from a traffic secret: key and IV by HKDF-Expand-Label.
pub(super) fn tls13(suite: &SuiteInfo, secret: &Secret) -> Option<RecordCipher> {
    let bulk = suite.bulk;
    let mut key = [0u8; 32];
    let key = key.get_mut(..bulk.key_len())?;
    let mut iv = [0u8; 12];
    if !kdf::expand_label(suite.prf, secret.as_bytes(), b"key", key)
        || !kdf::expand_label(suite.prf, secret.as_bytes(), b"iv", &mut iv)
    {
        return None;
    }
    AeadCipher::new(bulk, key, &iv, AeadStyle::Tls13).map(|c| RecordCipher::Aead(Box::new(c)))
}

/// The next application traffic secret after a KeyUpdate.
pub(super) fn next_secret(suite: &SuiteInfo, secret: &Secret) -> Option<Secret> {
    let mut next = [0u8; 48];
    let next = next.get_mut(..secret.as_bytes().len())?;
    if !kdf::expand_label(suite.prf, secret.as_bytes(), b"traffic upd", next) {
        return None;
    }
    Secret::new(next)
}
