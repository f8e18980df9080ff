//! Where TLS begins in a captured stream: after the X.224 exchange of a direct RDP
//! connection (a preconnection PDU, then one TPKT each way), or at the first TLS record
//! boundary of a connection whose start was not captured.

use crate::decode::x224;

/// The most bytes looked at for a start.
const LOOK: usize = 64 * 1024;

/// PROTOCOL_SSL: TLS without CredSSP, the one protocol whose plaintext is MCS at once.
const PROTOCOL_SSL: u32 = 1;

/// What the X.224 exchange at the start of a direction says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// More bytes are needed.
    NotYet,
    /// The direction's TLS starts at this stream offset (the bytes before are X.224).
    TlsAt(u64),
    /// No TLS follows (standard RDP security, or not RDP).
    NoTls,
}

/// The client's X.224 prefix: an optional preconnection PDU, then the Connection Request.
pub fn client_prefix(head: &[u8]) -> Start {
    let pcb = if head.first() != Some(&0x03) && x224::looks_like_preconnection(head) {
        match head.get(..4) {
            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
            None => return Start::NotYet,
        }
    } else {
        0
    };
    match tpkt_len(head.get(pcb..).unwrap_or_default()) {
        Some(Some(n)) => Start::TlsAt((pcb + n) as u64),
        Some(None) => Start::NoTls,
        None if head.len() >= LOOK => Start::NoTls,
        None => Start::NotYet,
    }
}

/// The server's Connection Confirm: TLS follows only when it selected PROTOCOL_SSL
/// (CredSSP's plaintext is not RDP, and standard security has no TLS at all).
pub fn server_prefix(head: &[u8]) -> Start {
    match tpkt_len(head) {
        Some(Some(n)) => {
            let cc = &head[..n];
            // TPKT (4) + X.224 CC (7), then RDP_NEG_RSP: type 2, flags, length, protocol.
            let selected = (cc.get(11) == Some(&0x02))
                .then(|| cc.get(15..19))
                .flatten()
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if selected == Some(PROTOCOL_SSL) {
                Start::TlsAt(n as u64)
            } else {
                Start::NoTls
            }
        }
        Some(None) => Start::NoTls,
        None if head.len() >= LOOK => Start::NoTls,
        None => Start::NotYet,
    }
}

/// The length of the whole TPKT at the start of `b`: `Some(None)` when it is not a
/// TPKT, `None` while it is not whole.
fn tpkt_len(b: &[u8]) -> Option<Option<usize>> {
    let h = b.get(..4)?;
    if h[0] != 0x03 {
        return Some(None);
    }
    let n = u16::from_be_bytes([h[2], h[3]]) as usize;
    if n < 7 {
        return Some(None);
    }
    (b.len() >= n).then_some(Some(n))
}

/// Where TLS records can be followed from in the first bytes of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// At this offset: a plausible record header whose successor is plausible too (or
    /// ends exactly at the end of the bytes).
    At(usize),
    /// A plausible header at this offset whose record runs past the bytes so far: more
    /// bytes would confirm it.
    Maybe(usize),
    /// Nowhere in the bytes so far.
    None,
}

/// The first place in `b` where TLS records can be followed from.
pub fn record_boundary(b: &[u8]) -> Boundary {
    let plausible = |at: usize| -> Option<usize> {
        let h = b.get(at..at + 5)?;
        let ok = (0x14..=0x17).contains(&h[0]) && h[1] == 3 && h[2] <= 4;
        let len = u16::from_be_bytes([h[3], h[4]]) as usize;
        (ok && len > 0 && len <= (1 << 14) + 2048).then_some(at + 5 + len)
    };
    let mut maybe = None;
    for i in 0..b.len().min(LOOK) {
        match plausible(i) {
            Some(next) if next == b.len() || plausible(next).is_some() => return Boundary::At(i),
            // A second header cannot be checked yet; the first such spot is the best guess.
            Some(next) if next > b.len() => {
                maybe.get_or_insert(i);
            }
            _ => {}
        }
    }
    maybe.map_or(Boundary::None, Boundary::Maybe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::test_support::fixture;

    #[test]
    fn a_tls_session_starts_after_its_x224_exchange() {
        let (c, s) = fixture("xrdp-tls12-ok");
        let Start::TlsAt(ct) = client_prefix(&c) else {
            panic!()
        };
        let Start::TlsAt(st) = server_prefix(&s) else {
            panic!()
        };
        assert_eq!(c[ct as usize], 0x16);
        assert_eq!(s[st as usize], 0x16);
        assert_eq!(client_prefix(&c[..3]), Start::NotYet);
    }

    #[test]
    fn nla_and_standard_security_are_not_decrypted() {
        let (_, s) = fixture("shadow-nla-ok");
        assert_eq!(server_prefix(&s), Start::NoTls);
        let (_, s) = fixture("xrdp-rdp-security");
        assert_eq!(server_prefix(&s), Start::NoTls);
    }

    #[test]
    fn a_stream_picked_up_midway_resumes_at_a_record() {
        let (c, _) = fixture("xrdp-tls12-ok");
        let Start::TlsAt(t) = client_prefix(&c) else {
            panic!()
        };
        let tls = &c[t as usize..];
        // Cut into the middle of the first record: the next boundary is found.
        let first = 5 + u16::from_be_bytes([tls[3], tls[4]]) as usize;
        let cut = &tls[7..];
        assert_eq!(record_boundary(cut), Boundary::At(first - 7));
        assert_eq!(record_boundary(&[0xff; 100]), Boundary::None);
        // A header whose record runs past the bytes so far needs more to be sure.
        assert_eq!(record_boundary(&tls[..100]), Boundary::Maybe(0));
    }
}
