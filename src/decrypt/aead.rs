//! AEAD record protection: TLS 1.2 AES-GCM (4-byte salt plus an 8-byte explicit nonce in
//! each record, RFC 5288), TLS 1.2 ChaCha20-Poly1305 (IV XOR sequence number, RFC 7905),
//! and TLS 1.3 (IV XOR sequence number, header as AAD, inner content type, RFC 8446 §5.2).

use super::event::FailCause;
use super::suite::Bulk;
use ring::aead;
use std::ops::Range;

/// Bytes of an AEAD tag (all suites here use 16).
const TAG: usize = 16;
/// Bytes of the explicit nonce in a TLS 1.2 GCM record.
const EXPLICIT: usize = 8;
/// Bytes of a record header.
const HDR: usize = 5;

/// How the nonce and additional data are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AeadStyle {
    /// TLS 1.2 AES-GCM: salt from the key block, explicit nonce from the record.
    Tls12Gcm,
    /// TLS 1.2 ChaCha20-Poly1305: a 12-byte IV XOR the sequence number.
    Tls12Chacha,
    /// TLS 1.3: a 12-byte IV XOR the sequence number; content type inside.
    Tls13,
}

/// One direction's AEAD key and IV.
pub(super) struct AeadCipher {
    key: aead::LessSafeKey,
    iv: [u8; 12],
    style: AeadStyle,
}

impl AeadCipher {
    /// A cipher for `bulk` with this key and IV (4 bytes for TLS 1.2 GCM, else 12).
    pub fn new(bulk: Bulk, key: &[u8], iv: &[u8], style: AeadStyle) -> Option<AeadCipher> {
        let alg = match bulk {
            Bulk::Aes128Gcm => &aead::AES_128_GCM,
            Bulk::Aes256Gcm => &aead::AES_256_GCM,
            Bulk::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => return None,
        };
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, key).ok()?);
        let mut full = [0u8; 12];
        full.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(AeadCipher {
            key,
            iv: full,
            style,
        })
    }

    /// Decrypts `record` (header and body) in place; the content type and where the
    /// plaintext lies in `record`.
    pub fn open(&self, seq: u64, record: &mut [u8]) -> Result<(u8, Range<usize>), FailCause> {
        let (header, body) = record.split_at_mut_checked(HDR).ok_or(FailCause::Length)?;
        let content_type = header[0];
        match self.style {
            AeadStyle::Tls12Gcm => {
                let plain_len = body
                    .len()
                    .checked_sub(EXPLICIT + TAG)
                    .ok_or(FailCause::Length)?;
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&self.iv[..4]);
                nonce[4..].copy_from_slice(&body[..EXPLICIT]);
                let aad = tls12_aad(seq, header, plain_len)?;
                self.open_at(nonce, &aad, &mut body[EXPLICIT..])?;
                let start = HDR + EXPLICIT;
                Ok((content_type, start..start + plain_len))
            }
            AeadStyle::Tls12Chacha => {
                let plain_len = body.len().checked_sub(TAG).ok_or(FailCause::Length)?;
                let aad = tls12_aad(seq, header, plain_len)?;
                self.open_at(self.xor_nonce(seq), &aad, body)?;
                Ok((content_type, HDR..HDR + plain_len))
            }
            AeadStyle::Tls13 => {
                let inner_len = body.len().checked_sub(TAG).ok_or(FailCause::Length)?;
                let aad: [u8; HDR] = [header[0], header[1], header[2], header[3], header[4]];
                self.open_at(self.xor_nonce(seq), &aad, body)?;
                // TLSInnerPlaintext: content, then the real type, then zero padding.
                let inner = &body[..inner_len];
                let end = inner
                    .iter()
                    .rposition(|&b| b != 0)
                    .ok_or(FailCause::NoContentType)?;
                Ok((inner[end], HDR..HDR + end))
            }
        }
    }

    fn xor_nonce(&self, seq: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    fn open_at(&self, nonce: [u8; 12], aad: &[u8], in_out: &mut [u8]) -> Result<(), FailCause> {
        let nonce = aead::Nonce::assume_unique_for_key(nonce);
        self.key
            .open_in_place(nonce, aead::Aad::from(aad), in_out)
            .map(|_| ())
            .map_err(|_| FailCause::Tag)
    }
}

/// TLS 1.2 additional data: sequence number, type, version, plaintext length.
fn tls12_aad(seq: u64, header: &[u8], plain_len: usize) -> Result<[u8; 13], FailCause> {
    let len = u16::try_from(plain_len).map_err(|_| FailCause::Length)?;
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8..11].copy_from_slice(header.get(..3).ok_or(FailCause::Length)?);
    aad[11..].copy_from_slice(&len.to_be_bytes());
    Ok(aad)
}
