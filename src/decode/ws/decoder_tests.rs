use super::*;
use crate::decode::ws::{encode_fragment, encode_frame};
use crate::vocab::Dir::{C2S, S2C};
use proptest::prelude::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Runs `chunks` through a decoder: events, binary payload, stats, error.
fn run(dir: Dir, chunks: &[&[u8]]) -> (Vec<WsEvent>, Vec<u8>, WsStats, Option<String>) {
    let mut d = WsDecoder::new(dir);
    let mut events = Vec::new();
    let mut data = Vec::new();
    for c in chunks {
        d.feed(c, &mut events, &mut |b: &[u8]| data.extend_from_slice(b));
    }
    (events, data, d.stats(), d.error().map(str::to_string))
}

fn frame(op: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut v = Vec::new();
    encode_frame(op, payload, mask, &mut v);
    v
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(reason.as_bytes());
    v
}

/// A client stream exercising every length form, fragmentation and control frames.
fn client_stream() -> (Vec<u8>, Vec<u8>) {
    let small: Vec<u8> = (0..100u8).collect();
    let medium: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let large: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
    let mut s = Vec::new();
    s.extend(frame(Opcode::Binary, &small, Some(KEY)));
    s.extend(frame(Opcode::Ping, b"hb", Some(KEY)));
    encode_fragment(
        false,
        Opcode::Binary,
        &medium[..150],
        Some([1, 2, 3, 4]),
        &mut s,
    );
    s.extend(frame(Opcode::Pong, b"", Some(KEY)));
    encode_fragment(
        true,
        Opcode::Continuation,
        &medium[150..],
        Some([5, 6, 7, 8]),
        &mut s,
    );
    s.extend(frame(Opcode::Binary, &large, Some(KEY)));
    s.extend(frame(Opcode::Close, &close_payload(1000, "bye"), Some(KEY)));
    let want = [small, medium, large].concat();
    (s, want)
}

#[test]
fn masked_client_stream_decodes() {
    let (s, want) = client_stream();
    let (ev, data, st, err) = run(C2S, &[&s]);
    assert_eq!(err, None);
    assert_eq!(data, want);
    assert_eq!(
        ev,
        vec![
            WsEvent::WsPing { len: 2 },
            WsEvent::WsPong { len: 0 },
            WsEvent::WsClose {
                code: Some(1000),
                code_name: Some(CloseCode::NormalClosure),
                reason: "bye".into()
            },
        ]
    );
    assert_eq!(st.frames, 7);
    assert_eq!(st.fragments, 2);
    assert_eq!(st.binary_bytes, want.len() as u64);
    assert_eq!(st.violations, 0);
}

#[test]
fn every_split_gives_the_same_result() {
    let (s, want) = client_stream();
    let (ev, _, st, _) = run(C2S, &[&s]);
    // Every cut near the frame boundaries, and a sample of the rest.
    for cut in (0..s.len()).filter(|c| *c < 600 || c % 997 == 0 || *c > s.len() - 40) {
        let (a, b) = s.split_at(cut);
        let (ev2, data2, st2, _) = run(C2S, &[a, b]);
        assert_eq!(ev2, ev, "cut at {cut}");
        assert_eq!(data2, want, "cut at {cut}");
        assert_eq!(st2, st, "cut at {cut}");
    }
    let singles: Vec<&[u8]> = s.chunks(1).collect();
    let (ev2, data2, _, _) = run(C2S, &singles);
    assert_eq!((ev2, data2), (ev, want));
}

#[test]
fn every_byte_split_of_a_small_stream() {
    let mut s = frame(Opcode::Binary, b"\x0d\0\0\0\x08\0\0\0", Some(KEY));
    s.extend(frame(Opcode::Ping, b"p", Some(KEY)));
    encode_fragment(false, Opcode::Binary, b"abc", Some([9, 8, 7, 6]), &mut s);
    encode_fragment(true, Opcode::Continuation, b"defg", Some(KEY), &mut s);
    s.extend(frame(
        Opcode::Close,
        &close_payload(1001, "away"),
        Some(KEY),
    ));
    let (ev, data, _, _) = run(C2S, &[&s]);
    assert_eq!(data, b"\x0d\0\0\0\x08\0\0\0abcdefg");
    for cut in 0..=s.len() {
        for cut2 in cut..=s.len() {
            let (ev2, data2, _, _) = run(C2S, &[&s[..cut], &s[cut..cut2], &s[cut2..]]);
            assert_eq!((&ev2, &data2), (&ev, &data), "cuts {cut} {cut2}");
        }
    }
}

#[test]
fn server_frames_unmasked_with_16_and_64_bit_lengths() {
    let p16 = vec![0xAB; 65535];
    let p64 = vec![0xCD; 65536];
    let mut s = frame(Opcode::Binary, &p16, None);
    assert_eq!(&s[..4], &[0x82, 126, 0xFF, 0xFF]);
    s.extend(frame(Opcode::Binary, &p64, None));
    let (ev, data, st, _) = run(S2C, &[&s]);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(data.len(), 65535 + 65536);
    assert_eq!(st.frames, 2);
}

#[test]
fn masking_violations_are_reported_and_decoding_goes_on() {
    let (ev, data, st, _) = run(C2S, &[&frame(Opcode::Binary, b"abc", None)]);
    assert_eq!(data, b"abc");
    assert_eq!(
        ev,
        vec![WsEvent::WsViolation {
            reason: "client frame is not masked".into()
        }]
    );
    assert_eq!(st.violations, 1);
    let (ev, data, _, _) = run(S2C, &[&frame(Opcode::Binary, b"abc", Some(KEY))]);
    assert_eq!(data, b"abc", "still unmasked");
    assert_eq!(
        ev,
        vec![WsEvent::WsViolation {
            reason: "server frame is masked".into()
        }]
    );
}

fn reasons(ev: &[WsEvent]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e {
            WsEvent::WsViolation { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn protocol_violations() {
    // Reserved bits.
    let mut f = frame(Opcode::Binary, b"x", None);
    f[0] |= 0x40;
    let (ev, _, _, _) = run(S2C, &[&f]);
    assert!(reasons(&ev)[0].contains("reserved bits 0x4"), "{ev:?}");
    // Reserved opcode: payload skipped.
    let (ev, data, _, _) = run(S2C, &[&frame(Opcode::Reserved(3), b"zz", None)]);
    assert!(reasons(&ev)[0].contains("reserved opcode 0x3"), "{ev:?}");
    assert!(data.is_empty());
    // Fragmented control frame.
    let mut f = Vec::new();
    encode_fragment(false, Opcode::Ping, b"x", None, &mut f);
    let (ev, _, _, _) = run(S2C, &[&f]);
    assert!(
        reasons(&ev)[0].contains("ping frame is fragmented"),
        "{ev:?}"
    );
    // Oversized control frame: reported, bounded, and the stream goes on.
    let mut f = frame(Opcode::Close, &[b'a'; 300], None);
    f.extend(frame(Opcode::Binary, b"after", None));
    let (ev, data, _, _) = run(S2C, &[&f]);
    assert!(
        reasons(&ev).iter().any(|r| r.contains("300 bytes")),
        "{ev:?}"
    );
    assert_eq!(data, b"after");
    assert!(
        reasons(&ev)
            .iter()
            .any(|r| r.contains("after the close frame")),
        "{ev:?}"
    );
    // Continuation with nothing to continue, and a new message mid-fragment.
    let mut f = frame(Opcode::Continuation, b"c", None);
    encode_fragment(false, Opcode::Binary, b"a", None, &mut f);
    f.extend(frame(Opcode::Binary, b"b", None));
    let (ev, data, _, _) = run(S2C, &[&f]);
    let r = reasons(&ev);
    assert!(r[0].contains("no message to continue"), "{r:?}");
    assert!(
        r[1].contains("while a fragmented message is unfinished"),
        "{r:?}"
    );
    assert_eq!(data, b"cab");
    // A 64-bit length with the top bit set stops decoding.
    let mut f = vec![0x82, 127];
    f.extend_from_slice(&(1u64 << 63).to_be_bytes());
    f.extend(frame(Opcode::Binary, b"lost", None));
    let (ev, data, _, err) = run(S2C, &[&f]);
    assert!(reasons(&ev)[0].contains("most significant bit"), "{ev:?}");
    assert!(err.is_some());
    assert!(data.is_empty());
}

#[test]
fn close_codes_and_reasons() {
    let cases: Vec<(Vec<u8>, Option<u16>, &str, usize)> = vec![
        (vec![], None, "", 0),
        (close_payload(1011, "oops"), Some(1011), "oops", 0),
        (close_payload(1006, ""), Some(1006), "", 1),
        (vec![0x03], None, "", 1),
        (
            close_payload(1000, "bad\u{1b}[31m"),
            Some(1000),
            "bad\\u{1b}[31m",
            0,
        ),
        (
            [&[0x03, 0xE8][..], &[0xFF, 0xFE, b'x']].concat(),
            Some(1000),
            "\u{FFFD}\u{FFFD}x",
            0,
        ),
    ];
    for (payload, code, reason, violations) in cases {
        let (ev, _, st, _) = run(S2C, &[&frame(Opcode::Close, &payload, None)]);
        let close: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, WsEvent::WsClose { .. }))
            .collect();
        assert_eq!(
            close,
            vec![&WsEvent::WsClose {
                code,
                code_name: code.map(CloseCode::from_u16),
                reason: reason.to_string()
            }],
            "{payload:?}"
        );
        assert_eq!(st.violations, violations as u64, "{ev:?}");
    }
    let v = serde_json::to_value(WsEvent::WsClose {
        code: Some(1011),
        code_name: Some(CloseCode::InternalError),
        reason: String::new(),
    })
    .unwrap_or_default();
    assert_eq!(v["kind"], "ws_close");
    assert_eq!(v["code_name"], "server error");
}

#[test]
fn text_frames_are_counted_not_passed_on() {
    let mut s = Vec::new();
    encode_fragment(false, Opcode::Text, b"he", None, &mut s);
    encode_fragment(true, Opcode::Continuation, b"llo", None, &mut s);
    let (ev, data, st, _) = run(S2C, &[&s]);
    assert!(data.is_empty());
    assert_eq!(
        ev,
        vec![WsEvent::WsText { len: 2 }, WsEvent::WsText { len: 3 }]
    );
    assert_eq!(st.text_frames, 2);
    assert_eq!(st.fragments, 2);
}

#[test]
fn repeated_events_are_capped() {
    let one = frame(Opcode::Ping, b"", None);
    let s = one.repeat(100);
    let (ev, _, st, _) = run(S2C, &[&s]);
    assert_eq!(ev.len(), MAX_EVENTS_PER_KIND as usize);
    assert_eq!(st.pings, 100);
    assert_eq!(st.suppressed_events, 100 - MAX_EVENTS_PER_KIND);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
        let at = cut.min(bytes.len());
        for dir in [C2S, S2C] {
            let (ev, _, _, _) = run(dir, &[&bytes[..at], &bytes[at..]]);
            for e in &ev {
                let _ = serde_json::to_string(e);
            }
        }
    }

    #[test]
    fn masked_payloads_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..600), key in any::<[u8; 4]>(), cut in 0usize..700) {
        let f = frame(Opcode::Binary, &payload, Some(key));
        let at = cut.min(f.len());
        let (ev, data, _, _) = run(C2S, &[&f[..at], &f[at..]]);
        prop_assert!(ev.is_empty());
        prop_assert_eq!(data, payload);
    }
}

#[test]
fn tsgu_packets_split_across_frames_reassemble() {
    use crate::decode::tsgu::packet::build;
    use crate::decode::tsgu::{ExtendedAuth, Packet, TsguFramer};
    let stream = [
        build::handshake_request(ExtendedAuth::NONE),
        build::tunnel_auth("WS01"),
        build::data(&[7; 300]),
        build::keepalive(),
    ]
    .concat();
    let mut ws = Vec::new();
    for (i, piece) in stream.chunks(37).enumerate() {
        ws.extend(frame(Opcode::Binary, piece, Some([i as u8, 1, 2, 3])));
    }
    let mut d = WsDecoder::new(C2S);
    let mut framer = TsguFramer::new();
    let mut packets = Vec::new();
    let mut events = Vec::new();
    for c in ws.chunks(11) {
        d.feed(c, &mut events, &mut |b: &[u8]| {
            framer.push(b, &mut |p: &[u8]| packets.push(Packet::decode(p)));
        });
    }
    assert!(events.is_empty());
    let types: Vec<_> = packets
        .iter()
        .map(|p| {
            p.as_ref()
                .map(|p| p.packet_type().to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        types,
        ["HANDSHAKE_REQUEST", "TUNNEL_AUTH", "DATA", "KEEPALIVE"]
    );
}
