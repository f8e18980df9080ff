//! AES-CBC record protection with an HMAC: MAC-then-encrypt (RFC 5246 §6.2.3.2) or
//! encrypt-then-MAC (RFC 7366), with the explicit per-record IV of TLS 1.1/1.2 or the
//! TLS 1.0 chained IV (each record's IV is the previous record's last ciphertext block).
//!
//! This runs offline on captured bytes, so there is no padding oracle to defend against and
//! the checks need not be constant-time.

use super::event::FailCause;
use super::kdf::RecordMac;
use super::suite::{Bulk, Hash};
use aes::cipher::{generic_array::GenericArray, BlockDecrypt, KeyInit};
use std::ops::Range;

const BLOCK: usize = 16;
const HDR: usize = 5;

// Boxed: the expanded key schedules are large and the enums holding them are moved.
enum Aes {
    Aes128(Box<aes::Aes128>),
    Aes256(Box<aes::Aes256>),
}

/// One direction's CBC key, MAC key and IV state.
pub(super) struct CbcCipher {
    aes: Aes,
    mac: RecordMac,
    mac_len: usize,
    /// TLS 1.0: the IV for the next record; `None` when each record carries its IV.
    chained_iv: Option<[u8; BLOCK]>,
    etm: bool,
}

impl CbcCipher {
    /// A cipher for `bulk` with an HMAC over `mac_hash`; `chained_iv` is the key block IV for
    /// TLS 1.0 and `None` for TLS 1.1 and 1.2; `etm` if encrypt_then_mac was negotiated.
    pub fn new(
        bulk: Bulk,
        key: &[u8],
        mac_hash: Hash,
        mac_key: &[u8],
        chained_iv: Option<[u8; BLOCK]>,
        etm: bool,
    ) -> Option<CbcCipher> {
        let aes = match bulk {
            Bulk::Aes128Cbc => Aes::Aes128(Box::new(aes::Aes128::new_from_slice(key).ok()?)),
            Bulk::Aes256Cbc => Aes::Aes256(Box::new(aes::Aes256::new_from_slice(key).ok()?)),
            _ => return None,
        };
        Some(CbcCipher {
            aes,
            mac: RecordMac::new(mac_hash, mac_key),
            mac_len: mac_hash.len(),
            chained_iv,
            etm,
        })
    }

    /// Decrypts `record` (header and body) in place and checks its MAC and padding; the
    /// content type and where the plaintext lies in `record`.
    pub fn open(&mut self, seq: u64, record: &mut [u8]) -> Result<(u8, Range<usize>), FailCause> {
        let (header, body) = record.split_at_mut_checked(HDR).ok_or(FailCause::Length)?;
        let mut prefix = [0u8; 11];
        prefix[..8].copy_from_slice(&seq.to_be_bytes());
        prefix[8..].copy_from_slice(&header[..3]);
        let (body, mac_after) = if self.etm {
            // The MAC follows the ciphertext and covers the IV and ciphertext.
            let split = body
                .len()
                .checked_sub(self.mac_len)
                .ok_or(FailCause::Length)?;
            let (sealed, tag) = body.split_at_mut(split);
            let len = u16::try_from(sealed.len()).map_err(|_| FailCause::Length)?;
            self.check_mac(&[&prefix, &len.to_be_bytes(), sealed], tag)?;
            (sealed, false)
        } else {
            (body, true)
        };
        let (iv, ct_start) = match self.chained_iv {
            Some(iv) => (iv, 0),
            None => {
                let iv = body.get(..BLOCK).ok_or(FailCause::Length)?;
                let mut copy = [0u8; BLOCK];
                copy.copy_from_slice(iv);
                (copy, BLOCK)
            }
        };
        let ct = &mut body[ct_start..];
        if ct.is_empty() || ct.len() % BLOCK != 0 {
            return Err(FailCause::Length);
        }
        if self.chained_iv.is_some() {
            let mut next = [0u8; BLOCK];
            next.copy_from_slice(&ct[ct.len() - BLOCK..]);
            self.chained_iv = Some(next);
        }
        self.decrypt(iv, ct);
        let pad = usize::from(ct[ct.len() - 1]);
        let unpadded = ct.len().checked_sub(pad + 1).ok_or(FailCause::Padding)?;
        if ct[unpadded..].iter().any(|&b| usize::from(b) != pad) {
            return Err(FailCause::Padding);
        }
        let content_len = if mac_after {
            let content_len = unpadded
                .checked_sub(self.mac_len)
                .ok_or(FailCause::Length)?;
            let (content, rest) = ct.split_at(content_len);
            let len = u16::try_from(content_len).map_err(|_| FailCause::Length)?;
            self.check_mac(
                &[&prefix, &len.to_be_bytes(), content],
                &rest[..self.mac_len],
            )?;
            content_len
        } else {
            unpadded
        };
        let start = HDR + ct_start;
        Ok((header[0], start..start + content_len))
    }

    fn check_mac(&self, parts: &[&[u8]], tag: &[u8]) -> Result<(), FailCause> {
        let mut out = [0u8; 48];
        let n = self.mac.sign(parts, &mut out);
        if out.get(..n) == Some(tag) {
            Ok(())
        } else {
            Err(FailCause::Mac)
        }
    }

    fn decrypt(&self, iv: [u8; BLOCK], ct: &mut [u8]) {
        let mut prev = iv;
        for block in ct.chunks_exact_mut(BLOCK) {
            let mut this = [0u8; BLOCK];
            this.copy_from_slice(block);
            let b = GenericArray::from_mut_slice(block);
            match &self.aes {
                Aes::Aes128(k) => k.decrypt_block(b),
                Aes::Aes256(k) => k.decrypt_block(b),
            }
            for (x, p) in block.iter_mut().zip(prev) {
                *x ^= p;
            }
            prev = this;
        }
    }
}
