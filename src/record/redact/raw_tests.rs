//! Raw legs: the bytes as relayed, X.224 included. Under standard RDP security at
//! encryption level NONE they carry the session in the clear, so they get the RDP
//! scrubbing; a leg that turns to TLS passes as it came.

use super::test_support::*;
use super::{FlowProto, StreamRedactor};
use crate::vocab::Dir::{C2S, S2C};

/// A raw capture (tests/data/NAME.{c2s,s2c}.bin: X.224 and all).
fn raw(name: &str) -> (Vec<u8>, Vec<u8>) {
    let read = |dir: &str| {
        let path = format!("{}/tests/data/{name}.{dir}.bin", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    (read("c2s"), read("s2c"))
}

/// The client's Connection Request and Connect-Initial, everything the server sent,
/// then the rest of what the client sent: the order the channels are learnt in.
fn steps(c2s: &[u8], s2c: &[u8]) -> Vec<Step> {
    let f = frames(c2s);
    let first = f[0].len() + f[1].len();
    vec![
        bytes(C2S, &c2s[..first]),
        bytes(S2C, s2c),
        bytes(C2S, &c2s[first..]),
    ]
}

#[test]
fn a_clear_standard_security_leg_loses_its_password() {
    // xrdp with security_layer=rdp and crypt_level=none: the Client Info is in the
    // clear on the wire. The capture has no password; one is seeded.
    let (c2s, s2c) = raw("xrdp-rdp-clear");
    let seeded = with_secrets(&c2s);
    assert!(contains(&seeded, &utf16(FIXTURE_PASSWORD)));
    let script = steps(&seeded, &s2c);
    let out = run(FlowProto::Raw, &script);
    assert_eq!(out.c2s.len(), seeded.len());
    assert!(!contains(&out.c2s, &utf16(FIXTURE_PASSWORD)));
    assert!(!contains(&out.c2s, FIXTURE_VERIFIER));
    assert_eq!(out.s2c, s2c, "nothing secret from the server");
    assert!(out.scrubbed >= 2, "{}", out.scrubbed);
    // The same at any cut.
    for size in [1, 5, 100, 1400] {
        assert_eq!(run_pieces(FlowProto::Raw, &script, size), out, "{size}");
    }
    // With --redact-users the cookie and the Client Info's user go as well.
    let named = run_names(FlowProto::Raw, &script, &[7]);
    assert!(!contains(&named.c2s, b"labuser"));
    assert!(!contains(&named.c2s, &utf16("labuser")));
}

#[test]
fn a_tls_leg_passes_as_it_came_and_keeps_sync() {
    for name in ["xrdp-tls12-ok", "xrdp-tls13-ok", "shadow-nla-ok"] {
        let (c2s, s2c) = raw(name);
        let script = vec![bytes(C2S, &c2s), bytes(S2C, &s2c)];
        let mut r = StreamRedactor::new(FlowProto::Raw);
        let out = run_cut(&mut r, &script, &mut |_, n| vec![1000; n.div_ceil(1000)]);
        assert_eq!((out.c2s, out.s2c), (c2s, s2c), "{name}");
        assert_eq!(out.scrubbed, 0, "{name}");
        assert!(!r.lost_sync(C2S) && !r.lost_sync(S2C), "{name}");
        // Past the handshake nothing is held back.
        assert_eq!((r.held(C2S), r.held(S2C)), (0, 0), "{name}");
    }
}
