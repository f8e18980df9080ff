//! Which bytes of an NTLMSSP message are secret (MS-NLMP 2.2.1.3): in an AUTHENTICATE,
//! the LM and NT challenge responses (an offline password guess can be checked
//! against them), the encrypted random session key, and the MIC keyed by it. User,
//! domain, workstation, flags and version stay: they are what a reader diagnoses
//! (under `--redact-users` the domain and user names go too).

use crate::decode::wire::{le_u16, le_u32};
use std::ops::Range;

/// The 8-byte signature that starts every NTLMSSP message.
pub(super) const SIGNATURE: &[u8] = b"NTLMSSP\0";
/// LmChallengeResponseFields, NtChallengeResponseFields and
/// EncryptedRandomSessionKeyFields: where each security buffer header sits.
const SECRET_FIELDS: [usize; 3] = [12, 20, 52];
/// Every security buffer header of an AUTHENTICATE (the three above plus domain,
/// user and workstation): the smallest payload offset among them says where the
/// fixed part ends.
const ALL_FIELDS: [usize; 6] = [12, 20, 28, 36, 44, 52];
/// DomainNameFields and UserNameFields (`--redact-users`).
const NAME_FIELDS: [usize; 2] = [28, 36];
/// Where the MIC sits, after the flags and the 8-byte version.
const MIC: Range<usize> = 72..88;

/// The message type (1, 2 or 3) of the NTLMSSP message at the start of `msg`.
pub(super) fn message_type(msg: &[u8]) -> Option<u32> {
    if msg.starts_with(SIGNATURE) {
        le_u32(msg, 8)
    } else {
        None
    }
}

/// The first position of the NTLMSSP signature in `blob`.
pub(super) fn find(blob: &[u8]) -> Option<usize> {
    blob.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)
}

/// The secret ranges of the AUTHENTICATE message at the start of `msg`, clamped to
/// `msg`; empty when it is not one. With `names`, the domain and user names too.
pub(super) fn authenticate_secrets(msg: &[u8], names: bool) -> Vec<Range<usize>> {
    if message_type(msg) != Some(3) {
        return Vec::new();
    }
    let names: &[usize] = if names { &NAME_FIELDS } else { &[] };
    let mut out: Vec<Range<usize>> = SECRET_FIELDS
        .iter()
        .chain(names)
        .filter_map(|&at| buffer(msg, at))
        .filter(|r| !r.is_empty())
        .collect();
    // The MIC is there when the payload starts after it (Windows since Vista: the
    // fixed part is 88 bytes). Older messages put payload at 64 or 72.
    let payload_start = ALL_FIELDS
        .iter()
        .filter_map(|&at| {
            let len = le_u16(msg, at)?;
            let off = usize::try_from(le_u32(msg, at + 4)?).ok()?;
            (len > 0).then_some(off)
        })
        .min();
    if payload_start.is_some_and(|p| p >= MIC.end) && msg.len() > MIC.start {
        out.push(MIC.start..MIC.end.min(msg.len()));
    }
    out
}

/// The bytes a security buffer (len u16, maxlen u16, offset u32) points at, clamped.
fn buffer(msg: &[u8], at: usize) -> Option<Range<usize>> {
    let len = usize::from(le_u16(msg, at)?);
    let off = usize::try_from(le_u32(msg, at + 4)?).ok()?;
    let start = off.min(msg.len());
    Some(start..off.saturating_add(len).min(msg.len()))
}

/// Zeroes the AUTHENTICATE secrets of an NTLMSSP message found anywhere in `blob`
/// (raw, or wrapped in SPNEGO: NTLM offsets are relative to its own signature).
/// Returns how many secret fields were found, or None when `blob` holds no NTLMSSP.
pub(super) fn zero_in(blob: &mut [u8], names: bool) -> Option<(u32, u64)> {
    let at = find(blob)?;
    let msg = blob.get_mut(at..)?;
    let ty = message_type(msg).unwrap_or(0);
    let ranges = authenticate_secrets(msg, names);
    for r in &ranges {
        if let Some(s) = msg.get_mut(r.clone()) {
            s.fill(0);
        }
    }
    Some((ty, ranges.len() as u64))
}

/// The secret ranges of an NTLMSSP AUTHENTICATE found in `blob`, as offsets in `blob`.
pub(super) fn secrets_in(blob: &[u8], names: bool) -> Vec<Range<usize>> {
    let Some(at) = find(blob) else {
        return Vec::new();
    };
    authenticate_secrets(blob.get(at..).unwrap_or(&[]), names)
        .into_iter()
        .map(|r| r.start + at..r.end + at)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::http::ntlm_message;
    use crate::record::redact::test_support::{ntlm_type3, ntlm_type3_mic};

    #[test]
    fn authenticate_loses_responses_but_keeps_names() {
        let msg = ntlm_type3("labuser", "LAB", "WS01", true);
        let mut scrubbed = msg.clone();
        // LM and NT responses; this message has no session key and no MIC.
        assert_eq!(zero_in(&mut scrubbed, false), Some((3, 2)));
        assert_eq!(scrubbed.len(), msg.len());
        let info = ntlm_message(&scrubbed).expect("still NTLM");
        assert_eq!(info.user.as_deref(), Some("labuser"));
        assert_eq!(info.domain.as_deref(), Some("LAB"));
        assert_eq!(info.workstation.as_deref(), Some("WS01"));
        assert!(!scrubbed.windows(4).any(|w| w == [0xA5; 4]));
        // Only the response bytes changed.
        let changed = msg.iter().zip(&scrubbed).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 24, "the LM response was zero already");
    }

    #[test]
    fn windows_authenticate_loses_key_and_mic_too() {
        let msg = ntlm_type3_mic("labuser", "LAB");
        let ranges = authenticate_secrets(&msg, false);
        assert_eq!(ranges.len(), 4, "{ranges:?}");
        let mut scrubbed = msg.clone();
        zero_in(&mut scrubbed, false);
        for b in [0xB1u8, 0xA5, 0xC3, 0xD7] {
            assert!(!scrubbed.contains(&b), "{b:#x} left");
        }
        let info = ntlm_message(&scrubbed).expect("still NTLM");
        assert_eq!(info.user.as_deref(), Some("labuser"));
    }

    #[test]
    fn names_go_too_under_redact_users() {
        let msg = ntlm_type3("labuser", "LAB", "WS01", true);
        let mut scrubbed = msg.clone();
        assert_eq!(zero_in(&mut scrubbed, true), Some((3, 4)));
        let info = ntlm_message(&scrubbed).expect("still NTLM");
        for name in [info.user.as_deref(), info.domain.as_deref()] {
            // Zeroed: the decoder shows no letter of it.
            assert!(
                !name.unwrap_or("").chars().any(char::is_alphanumeric),
                "{name:?}"
            );
        }
        assert_eq!(info.workstation.as_deref(), Some("WS01"));
    }

    #[test]
    fn other_types_and_garbage_are_left_alone() {
        let mut t1 = b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2".to_vec();
        let before = t1.clone();
        assert_eq!(zero_in(&mut t1, false), Some((1, 0)));
        assert_eq!(t1, before);
        assert_eq!(zero_in(&mut [1, 2, 3], false), None);
        // A type 3 whose buffers point anywhere, even past the end, never panics.
        let mut bad = b"NTLMSSP\0\x03\0\0\0".to_vec();
        bad.extend_from_slice(&[0xFF; 60]);
        zero_in(&mut bad, false);
        assert!(secrets_in(&bad, false).iter().all(|r| r.end <= bad.len()));
    }
}
