//! Just enough DER to find secrets inside SPNEGO tokens and CredSSP TSRequests while
//! keeping their structure, so dissectors still walk them.

use std::ops::Range;

/// DER of OID 1.3.6.1.5.5.2 (SPNEGO).
const SPNEGO_OID: &[u8] = &[0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x02];
/// The GSS-API InitialContextToken tag ([APPLICATION 0], constructed).
const GSS_TOKEN: u8 = 0x60;
/// NegotiationToken choices: negTokenInit [0] and negTokenResp [1].
const NEG_TOKEN_INIT: u8 = 0xA0;
const NEG_TOKEN_RESP: u8 = 0xA1;
/// SEQUENCE and OCTET STRING.
pub(super) const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;

/// The value range (start, end) of the DER element at `at`; the end may lie past the
/// bytes there (a cut element).
pub(super) fn element(f: &[u8], at: usize) -> Option<(usize, usize)> {
    let l = *f.get(at + 1)?;
    if l & 0x80 == 0 {
        return Some((at + 2, at + 2 + usize::from(l)));
    }
    let n = usize::from(l & 0x7F);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*f.get(at + 2 + i)?);
    }
    let start = at + 2 + n;
    Some((start, start.checked_add(len)?))
}

/// The elements of the constructed value `start..end`, as (tag, value start, value
/// end); stops at the first element that cannot be read.
pub(super) fn children(f: &[u8], start: usize, end: usize) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end.min(f.len()) {
        let Some((vs, ve)) = element(f, at) else {
            break;
        };
        out.push((f.get(at).copied().unwrap_or(0), vs, ve));
        at = ve;
    }
    out
}

/// The contents of the OCTET STRING that is the value of a context tag at `vs`, or the
/// whole value when it holds something else.
pub(super) fn octets_in(f: &[u8], vs: usize, ve: usize) -> Range<usize> {
    match element(f, vs).filter(|_| f.get(vs) == Some(&OCTET_STRING)) {
        Some((s, e)) => s..e,
        None => vs..ve,
    }
}

/// In a SPNEGO token (negTokenInit in its GSS-API wrapper, or a bare negTokenResp):
/// the contents of mechToken / responseToken [2] and mechListMIC [3]. The mechanism
/// list, negState and supportedMech stay. Empty when `blob` is not SPNEGO.
pub(super) fn spnego_secrets(blob: &[u8]) -> Vec<Range<usize>> {
    let seq = match blob.first() {
        Some(&GSS_TOKEN) => {
            let Some((vs, _)) = element(blob, 0) else {
                return Vec::new();
            };
            let oid_end = vs + SPNEGO_OID.len();
            if blob.get(vs..oid_end) != Some(SPNEGO_OID)
                || blob.get(oid_end) != Some(&NEG_TOKEN_INIT)
            {
                return Vec::new();
            }
            element(blob, oid_end).map(|(s, _)| s)
        }
        Some(&NEG_TOKEN_RESP) => element(blob, 0).map(|(s, _)| s),
        _ => None,
    };
    let Some(seq) = seq.filter(|&s| blob.get(s) == Some(&SEQUENCE)) else {
        return Vec::new();
    };
    let Some((s, e)) = element(blob, seq) else {
        return Vec::new();
    };
    children(blob, s, e)
        .into_iter()
        .filter(|(tag, _, _)| matches!(tag, 0xA2 | 0xA3))
        .map(|(_, vs, ve)| octets_in(blob, vs, ve))
        .map(|r| r.start.min(blob.len())..r.end.min(blob.len()))
        .filter(|r| !r.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::redact::test_support::spnego_kerberos;

    #[test]
    fn spnego_keeps_its_mechanisms_and_loses_its_token() {
        let token = spnego_kerberos();
        let ranges = spnego_secrets(&token);
        assert_eq!(ranges.len(), 1);
        let r = ranges[0].clone();
        // The mechToken is the Kerberos GSS token: it starts with 0x60 and runs to the end.
        assert_eq!((token[r.start], r.end), (0x60, token.len()));
        assert!(spnego_secrets(b"NTLMSSP\0").is_empty());
        assert!(spnego_secrets(&[0x60, 0x82, 0xff]).is_empty());
        // A negTokenResp carrying a responseToken.
        let resp = [
            0xA1, 0x0B, 0x30, 0x09, 0xA2, 0x07, 0x04, 0x05, 1, 2, 3, 4, 5,
        ];
        let token = 8..13;
        assert_eq!(spnego_secrets(&resp), vec![token]);
    }
}
