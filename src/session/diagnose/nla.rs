//! Inferring the CredSSP round from the shape of encrypted records.
//!
//! Under NLA in passthrough, CredSSP runs inside TLS where rdptap cannot read it. The
//! exchange strictly alternates, one message per flight:
//! client NEGOTIATE → server CHALLENGE → client AUTHENTICATE (+pubKeyAuth) →
//! server pubKeyAuth → client credentials → (HYBRID_EX only) server Early User
//! Authorization Result. Counting flights tells which round a close followed.

use super::seen::{Rec, Seen};
use crate::decode::tls::{CipherSuite, TlsVersion};
use crate::vocab::Dir;

/// A run of consecutive records in one direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Flight {
    pub dir: Dir,
    pub records: Vec<Rec>,
}

impl Flight {
    /// Total ciphertext bytes in the flight.
    pub fn bytes(&self) -> u32 {
        self.records.iter().map(|r| r.len as u32).sum()
    }
}

/// The CredSSP message each flight carries, by position.
pub const ROUNDS: [&str; 6] = [
    "NEGOTIATE",
    "CHALLENGE",
    "AUTHENTICATE",
    "pubKeyAuth",
    "credentials",
    "Early User Authorization Result",
];

/// Group the records seen before `until` into flights. Under TLS 1.3 the server's
/// session tickets can arrive before the client's first CredSSP message; a server
/// flight before any client flight is dropped for that reason.
pub fn flights(seen: &Seen, until: std::time::Duration) -> Vec<Flight> {
    let mut out: Vec<Flight> = Vec::new();
    for r in seen
        .records
        .iter()
        .filter(|r| r.at.at <= until && !r.alert_like)
    {
        if out.is_empty() && r.dir == Dir::S2C {
            continue;
        }
        match out.last_mut() {
            Some(f) if f.dir == r.dir => f.records.push(*r),
            _ => out.push(Flight {
                dir: r.dir,
                records: vec![*r],
            }),
        }
    }
    out
}

/// Bytes a record adds around its plaintext, for suites where that is fixed.
pub fn aead_overhead(version: Option<TlsVersion>, suite: Option<CipherSuite>) -> Option<u16> {
    let version = version?;
    if version.0 == 0x0304 {
        // Inner content type byte plus a 16-byte tag, for every TLS 1.3 suite.
        return Some(17);
    }
    let name = suite?.to_string().to_ascii_uppercase();
    if name.contains("CHACHA20") {
        Some(16)
    } else if name.contains("GCM") || name.contains("CCM") && !name.contains("CCM_8") {
        // 8-byte explicit nonce plus 16-byte tag.
        Some(24)
    } else {
        None
    }
}

/// True when a record's plaintext is most likely the 4-byte Early User Authorization
/// Result.
pub fn is_early_auth_sized(len: u16, overhead: Option<u16>) -> bool {
    match overhead {
        Some(o) => len == 4 + o,
        // Unknown suite: accept the sizes the common AEAD suites give.
        None => matches!(len, 20 | 21 | 28),
    }
}

/// How many flights a complete CredSSP exchange has.
pub fn rounds_needed(hybrid_ex: bool) -> usize {
    if hybrid_ex {
        6
    } else {
        5
    }
}

/// Name a flight by its position, with its size.
pub fn describe(i: usize, f: &Flight) -> String {
    let name = ROUNDS.get(i).copied().unwrap_or("post-authentication");
    let n = f.records.len();
    if n == 1 {
        format!("{name}-sized record ({} bytes)", f.bytes())
    } else {
        format!("{name} flight ({n} records, {} bytes)", f.bytes())
    }
}

/// What a close right after flight `i` most likely means.
pub fn meaning(i: usize, closer: Dir, last: Dir) -> &'static str {
    match (closer, last, i) {
        (Dir::S2C, Dir::C2S, 0) => {
            "the server rejected the authentication package offered (NTLM or Kerberos)"
        }
        (Dir::S2C, Dir::C2S, 2) => "credentials rejected, or an account restriction",
        (Dir::S2C, Dir::C2S, 4) => {
            "the server refused the delegated credentials (logon failure or policy)"
        }
        (Dir::S2C, Dir::S2C, _) => {
            "the server answered with a short CredSSP message, likely a TSRequest carrying an error code (wrong password, locked or restricted account), and closed"
        }
        (Dir::C2S, Dir::S2C, 1) => {
            "the client gave up after the server's challenge (no usable credentials, or it rejected the server)"
        }
        (Dir::C2S, Dir::S2C, 3) => {
            "the client rejected the server's pubKeyAuth (the TLS key binding did not match: an intercepting device on the path?)"
        }
        (Dir::C2S, Dir::S2C, _) => {
            "the client gave up after the server's reply, most likely an authentication error it received"
        }
        _ => "authentication did not complete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::diagnose::seen::At;
    use std::time::Duration;

    fn rec(seq: usize, dir: Dir, len: u16) -> Rec {
        Rec {
            at: At {
                seq,
                at: Duration::from_millis(seq as u64),
            },
            dir,
            len,
            alert_like: false,
        }
    }

    #[test]
    fn flights_group_and_skip_leading_server_tickets() {
        let seen = Seen {
            records: vec![
                rec(1, Dir::S2C, 200),
                rec(2, Dir::C2S, 80),
                rec(3, Dir::S2C, 300),
                rec(4, Dir::S2C, 40),
                rec(5, Dir::C2S, 500),
            ],
            ..Default::default()
        };
        let f = flights(&seen, Duration::from_secs(1));
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].records.len(), 2);
        assert_eq!(describe(2, &f[2]), "AUTHENTICATE-sized record (500 bytes)");
    }

    #[test]
    fn early_auth_size() {
        assert!(is_early_auth_sized(21, Some(17)));
        assert!(!is_early_auth_sized(60, Some(17)));
        assert!(is_early_auth_sized(28, None));
        assert_eq!(aead_overhead(Some(TlsVersion(0x0304)), None), Some(17));
    }
}
