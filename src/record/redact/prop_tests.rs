//! Properties of every redactor: for any chunking the output has the input's length,
//! is the same bytes whatever the chunking, holds at most MAX_HOLD, and hostile or
//! mangled input never panics.

use super::http_tests::{client_packets, in_channel, odd_responses, other_schemes, websocket};
use super::test_support::*;
use super::{FlowProto, StreamRedactor, MAX_HOLD};
use crate::decode::http::test_msgs;
use crate::vocab::Dir::{C2S, S2C};
use bytes::Bytes;
use proptest::prelude::*;

/// The scripts the properties run on, with the protocol they carry.
fn scripts() -> Vec<(FlowProto, Vec<Step>)> {
    let (c2s, s2c) = fixture("xrdp-tls-plain-active");
    let (sc2s, ss2c) = fixture("shadow-tls-plain-stop");
    vec![
        (FlowProto::Http, test_msgs::ntlm_out_channel()),
        (FlowProto::Http, test_msgs::websocket_channel()),
        (FlowProto::Http, in_channel(&client_packets())),
        (FlowProto::Http, websocket(&client_packets())),
        (FlowProto::Http, odd_responses()),
        (FlowProto::Http, other_schemes()),
        (FlowProto::Rdp, fixture_steps(&with_secrets(&c2s), &s2c)),
        (FlowProto::Rdp, fixture_steps(&with_secrets(&sc2s), &ss2c)),
    ]
}

/// Runs `script` cutting every step into pieces of the sizes in `sizes`, in turn,
/// checking the hold bound after every feed.
fn run_sizes(proto: FlowProto, script: &[Step], sizes: &[usize]) -> Output {
    let mut r = StreamRedactor::new(proto);
    let mut k = 0;
    let out = run_cut(&mut r, script, &mut |_, n| {
        let mut pieces = Vec::new();
        let mut left = n;
        while left > 0 {
            let size = sizes
                .get(k % sizes.len().max(1))
                .copied()
                .unwrap_or(n)
                .clamp(1, left);
            pieces.push(size);
            left -= size;
            k += 1;
        }
        pieces
    });
    assert!(
        r.held(C2S) == 0 && r.held(S2C) == 0,
        "all released at the end"
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_chunking_gives_the_same_bytes(
        which in 0usize..8,
        sizes in prop::collection::vec(1usize..300, 1..12),
    ) {
        let (proto, script) = scripts().swap_remove(which);
        let whole = run(proto, &script);
        let cut = run_sizes(proto, &script, &sizes);
        prop_assert_eq!(cut.c2s.len(), input(&script, C2S).len());
        prop_assert_eq!(cut.s2c.len(), input(&script, S2C).len());
        prop_assert_eq!(&cut, &whole);
        prop_assert!(whole.scrubbed > 0);
    }

    #[test]
    fn mangled_streams_keep_their_length_and_chunking_independence(
        which in 0usize..8,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut_at in any::<prop::sample::Index>(),
        sizes in prop::collection::vec(1usize..200, 1..8),
    ) {
        let (proto, mut script) = scripts().swap_remove(which);
        for (at, value) in &flips {
            let step = at.index(script.len());
            if let Step::Bytes(_, b) = &mut script[step] {
                if !b.is_empty() {
                    let i = at.index(b.len());
                    b[i] = *value;
                }
            }
        }
        // Cut the conversation short somewhere.
        let keep = cut_at.index(script.len()) + 1;
        script.truncate(keep);
        let whole = run(proto, &script);
        let cut = run_sizes(proto, &script, &sizes);
        prop_assert_eq!(cut.c2s.len(), input(&script, C2S).len());
        prop_assert_eq!(cut.s2c.len(), input(&script, S2C).len());
        prop_assert_eq!(cut, whole);
    }

    #[test]
    fn hostile_bytes_never_panic_and_stay_bounded(
        http in any::<bool>(),
        prefix in 0usize..6,
        body in prop::collection::vec(any::<u8>(), 0..4000),
        sizes in prop::collection::vec(1usize..500, 1..8),
    ) {
        let prefixes: [&[u8]; 6] = [
            b"",
            b"RDG_IN_DATA / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x82\xff",
            b"\x03\x00\x00\x13\x02\xf0\x80\x64\x00\x07\x03\xeb\x70\x81\xff\x40\x00",
            b"\x30\x84\x00\x00\x10\x00",
            b"\x03\x00\x00\x07\x02\xf0\x80\x0c\xff",
        ];
        let proto = if http { FlowProto::Http } else { FlowProto::Rdp };
        let stream = [prefixes[prefix], &body[..]].concat();
        let script = vec![
            bytes(C2S, &stream),
            bytes(S2C, &stream),
            bytes(C2S, &stream),
        ];
        let whole = run(proto, &script);
        let cut = run_sizes(proto, &script, &sizes);
        prop_assert_eq!(cut.c2s.len(), 2 * stream.len());
        prop_assert_eq!(cut, whole);
    }
}

#[test]
fn a_frame_larger_than_the_hold_is_let_through() {
    // A TSRequest claiming 1 MiB: too big to hold, so the client direction gives up.
    let mut r = StreamRedactor::new(FlowProto::Rdp);
    let mut out = Vec::new();
    r.feed(
        C2S,
        Bytes::from_static(b"\x30\x83\x10\x00\x00\xa2"),
        &mut out,
    );
    assert!(r.lost_sync(C2S));
    // A TUNNEL_CREATE spread over one-byte chunks (6 wire bytes per payload byte) lets
    // that packet through once it spans more than MAX_HOLD, and the stream stays in
    // sync for the next one.
    let mut r = StreamRedactor::new(FlowProto::Http);
    let cookie = "c".repeat(30_000);
    let big = crate::decode::tsgu::packet::build::tunnel_create(
        crate::decode::tsgu::Caps(1),
        Some(&cookie),
    );
    let small = crate::decode::tsgu::packet::build::tunnel_create(
        crate::decode::tsgu::Caps(1),
        Some("second-cookie"),
    );
    let mut body = Vec::new();
    for b in big.iter().chain(&small) {
        body.extend_from_slice(b"1\r\n");
        body.push(*b);
        body.extend_from_slice(b"\r\n");
    }
    let head = test_msgs::request("RDG_IN_DATA", "Transfer-Encoding: chunked\r\n");
    let mut written = Vec::new();
    r.feed(C2S, Bytes::from(head.clone()), &mut written);
    for piece in body.chunks(4096) {
        r.feed(C2S, Bytes::copy_from_slice(piece), &mut written);
        assert!(r.held(C2S) <= MAX_HOLD);
    }
    r.finish(C2S, &mut written);
    let written: Vec<u8> = written.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(written.len(), head.len() + body.len());
    assert!(
        r.lost_sync(C2S),
        "a packet passed unread, and that is reported"
    );
    let payload: Vec<u8> = written[head.len()..].chunks(6).map(|c| c[3]).collect();
    assert!(
        contains(&payload, &utf16(&cookie[..100])),
        "the big one passed"
    );
    assert!(
        !contains(&payload, &utf16("second-cookie")),
        "the next one was scrubbed"
    );
}

/// Writes every script, redacted and as sent (`-orig`), as text2pcap input (one file per script, segments
/// of at most 1400 bytes, `I`/`O` marking the direction) into `$REDACT_DUMP_DIR`, to
/// check by hand that Wireshark dissects redacted streams cleanly:
/// `text2pcap -D -T 80,50000 NAME.txt NAME.pcap` (3389 for RDP), then
/// `tshark -r NAME.pcap -V | grep -E 'Malformed|Expert Info \((Error|Warning)'`.
#[test]
#[ignore = "writes files for a manual tshark check"]
fn dump_for_tshark() {
    let Ok(dir) = std::env::var("REDACT_DUMP_DIR") else {
        return;
    };
    for (i, (proto, script)) in scripts().into_iter().enumerate() {
        let out = run(proto, &script);
        let original = Output {
            c2s: input(&script, C2S),
            s2c: input(&script, S2C),
            scrubbed: 0,
        };
        let kind = match proto {
            FlowProto::Http => "http",
            FlowProto::Rdp => "rdp",
            FlowProto::Raw => "raw",
        };
        for (streams, suffix) in [(&out, ""), (&original, "-orig")] {
            let name = format!("{dir}/{kind}-{i}{suffix}.txt");
            std::fs::write(&name, text2pcap(&script, streams))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

/// The streams as text2pcap input, in the order of the script's steps.
fn text2pcap(script: &[Step], streams: &Output) -> String {
    let mut text = String::new();
    let mut at = [0usize; 2];
    for step in script {
        let Step::Bytes(d, b) = step else { continue };
        let k = d.idx();
        for seg in streams.dir(*d)[at[k]..at[k] + b.len()].chunks(1400) {
            text.push_str(if *d == C2S { "O\n" } else { "I\n" });
            for (n, line) in seg.chunks(16).enumerate() {
                let hex: Vec<String> = line.iter().map(|x| format!("{x:02x}")).collect();
                text.push_str(&format!("{:06x} {}\n", n * 16, hex.join(" ")));
            }
        }
        at[k] += b.len();
    }
    text
}
