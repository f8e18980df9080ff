//! Key derivation: the TLS 1.2 PRF (RFC 5246 §5), the TLS 1.0/1.1 PRF that XORs an MD5 and a
//! SHA-1 stream (RFC 2246 §5), and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1).

use super::suite::Hash;
use md5::{Digest, Md5};
use ring::{hkdf, hmac};

/// Which PRF a TLS ≤ 1.2 connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prf {
    /// TLS 1.0 and 1.1: P_MD5 XOR P_SHA1 over the two halves of the secret.
    Tls10,
    /// TLS 1.2: P_SHA256, or P_SHA384 for the suites that name it.
    Tls12(Hash),
}

/// Longest HMAC output used here (SHA-384).
const MAX_MAC: usize = 48;

/// One HMAC key: *ring* for the SHA family; MD5 is built here because *ring* has no MD5.
enum Mac {
    Ring(hmac::Key),
    Md5 { inner: [u8; 64], outer: [u8; 64] },
}

impl Mac {
    fn new(hash: Option<Hash>, key: &[u8]) -> Mac {
        let alg = match hash {
            Some(Hash::Sha1) => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Some(Hash::Sha256) => hmac::HMAC_SHA256,
            Some(Hash::Sha384) => hmac::HMAC_SHA384,
            None => return Mac::md5(key),
        };
        Mac::Ring(hmac::Key::new(alg, key))
    }

    /// HMAC-MD5 (RFC 2104): keys longer than the 64-byte block are hashed first.
    fn md5(key: &[u8]) -> Mac {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..16].copy_from_slice(&Md5::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner = [0x36u8; 64];
        let mut outer = [0x5cu8; 64];
        for ((i, o), k) in inner.iter_mut().zip(outer.iter_mut()).zip(block) {
            *i ^= k;
            *o ^= k;
        }
        Mac::Md5 { inner, outer }
    }

    /// The MAC of the concatenated parts into `out`; returns the output length.
    fn sign(&self, parts: &[&[u8]], out: &mut [u8; MAX_MAC]) -> usize {
        match self {
            Mac::Ring(key) => {
                let mut ctx = hmac::Context::with_key(key);
                for p in parts {
                    ctx.update(p);
                }
                let tag = ctx.sign();
                let tag = tag.as_ref();
                out[..tag.len()].copy_from_slice(tag);
                tag.len()
            }
            Mac::Md5 { inner, outer } => {
                let mut h = Md5::new();
                h.update(inner);
                for p in parts {
                    h.update(p);
                }
                let inner_hash = h.finalize();
                let mut h = Md5::new();
                h.update(outer);
                h.update(inner_hash);
                out[..16].copy_from_slice(&h.finalize());
                16
            }
        }
    }
}

/// P_hash (RFC 5246 §5): A(i) = HMAC(secret, A(i-1)), output HMAC(secret, A(i) + seed)...
/// XORed into `out`, so the TLS 1.0 PRF can combine two streams.
fn p_hash_xor(mac: &Mac, label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 2);
    parts.push(label);
    parts.extend_from_slice(seed);
    let mut a = [0u8; MAX_MAC];
    let mut a_len = mac.sign(&parts, &mut a);
    let mut block = [0u8; MAX_MAC];
    for chunk in out.chunks_mut(a_len) {
        let mut with_a: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        with_a.push(&a[..a_len]);
        with_a.extend_from_slice(&parts);
        mac.sign(&with_a, &mut block);
        for (o, b) in chunk.iter_mut().zip(block) {
            *o ^= b;
        }
        let prev = a;
        a_len = mac.sign(&[&prev[..a_len]], &mut a);
    }
}

/// The TLS PRF: `out` is filled with PRF(secret, label, seed parts concatenated).
pub(super) fn prf(kind: Prf, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    out.fill(0);
    match kind {
        Prf::Tls12(hash) => p_hash_xor(&Mac::new(Some(hash), secret), label, seed, out),
        Prf::Tls10 => {
            // The halves overlap by one byte when the secret's length is odd.
            let half = secret.len().div_ceil(2);
            let s1 = &secret[..half];
            let s2 = &secret[secret.len() - half..];
            p_hash_xor(&Mac::new(None, s1), label, seed, out);
            p_hash_xor(&Mac::new(Some(Hash::Sha1), s2), label, seed, out);
        }
    }
}

/// An HMAC key for record MACs (CBC suites).
pub(super) struct RecordMac {
    mac: Mac,
}

impl RecordMac {
    /// A record MAC key for a CBC suite's hash.
    pub fn new(hash: Hash, key: &[u8]) -> RecordMac {
        RecordMac {
            mac: Mac::new(Some(hash), key),
        }
    }

    /// The MAC of the concatenated parts into `out`; returns the output length.
    pub fn sign(&self, parts: &[&[u8]], out: &mut [u8; MAX_MAC]) -> usize {
        self.mac.sign(parts, out)
    }
}

/// An output length for *ring*'s HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) with the suite's hash (RFC 8446 §7.1).
/// Returns false if the lengths are out of range (never for the lengths TLS uses).
pub(super) fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) -> bool {
    let alg = match hash {
        Hash::Sha384 => hkdf::HKDF_SHA384,
        Hash::Sha256 | Hash::Sha1 => hkdf::HKDF_SHA256,
    };
    let (Ok(out_len), Ok(label_len)) = (u16::try_from(out.len()), u8::try_from(label.len() + 6))
    else {
        return false;
    };
    let out_len = out_len.to_be_bytes();
    let info: [&[u8]; 5] = [&out_len, &[label_len], b"tls13 ", label, &[0]];
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .is_ok()
}
