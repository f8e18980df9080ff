//! Tests for the post-X.224 plaintext decoder, on hand-built PDU sequences and on the
//! cleartext connect PDUs of the standard-security capture.

use super::*;
use crate::decode::mcs::test_support::{
    block, client_blocks, connect_initial_pdu, connect_response_with, in_tpkt, server_blocks,
};
use crate::decode::mcs::{gcc, McsResult};
use crate::decode::reassembly::Hint;

/// The first `n` TPKT frames of a captured stream, after its X.224 frame.
fn captured_frames(stream: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while out.len() <= n {
        let Hint::Frame(len) = tpkt::pdu_hint(&stream[at..]) else {
            panic!("capture does not frame at {at}");
        };
        out.push(stream[at..at + len].to_vec());
        at += len;
    }
    out.remove(0);
    out
}

const C2S_CAPTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/xrdp-rdp-security.c2s.bin"
));
const S2C_CAPTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/xrdp-rdp-security.s2c.bin"
));

/// A Send Data Request (c2s) or Indication (s2c) from user 1008 on `channel`.
fn send_data(dir: Dir, channel: u16, payload: &[u8]) -> Vec<u8> {
    let choice = if dir == Dir::C2S { 0x64 } else { 0x68 };
    let mut v = vec![choice, 0x00, 0x07];
    v.extend_from_slice(&channel.to_be_bytes());
    v.push(0x70);
    if payload.len() < 0x80 {
        v.push(payload.len() as u8);
    } else {
        v.extend_from_slice(&(0x8000 | payload.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(payload);
    in_tpkt(&v)
}

/// A whole intercepted connection, as (direction, PDU) in causal order: the captured
/// Connect Initial/Response, Erect Domain, Attach User, joins of user, I/O and the four
/// static channels, then I/O and virtual channel data and fast-path output.
pub(crate) fn plaintext_sequence() -> Vec<(Dir, Vec<u8>)> {
    let c = captured_frames(C2S_CAPTURE, 1);
    let s = captured_frames(S2C_CAPTURE, 1);
    let mut seq = vec![
        (Dir::C2S, c[0].clone()),
        (Dir::S2C, s[0].clone()),
        (Dir::C2S, in_tpkt(&[0x04, 0x01, 0x00, 0x01, 0x00])),
        (Dir::C2S, in_tpkt(&[0x28])),
        (Dir::S2C, in_tpkt(&[0x2e, 0x00, 0x00, 0x07])),
    ];
    for id in [0xf0u8, 0xeb, 0xec, 0xed, 0xee, 0xef] {
        seq.push((Dir::C2S, in_tpkt(&[0x38, 0x00, 0x07, 0x03, id])));
        seq.push((
            Dir::S2C,
            in_tpkt(&[0x3e, 0x00, 0x00, 0x07, 0x03, id, 0x03, id]),
        ));
    }
    // A fake Client Info-sized payload on I/O, a large one back, then rdpdr traffic.
    seq.push((
        Dir::C2S,
        send_data(Dir::C2S, 1003, &[0x40, 0x00, 0x00, 0x00, 1, 2]),
    ));
    seq.push((Dir::S2C, send_data(Dir::S2C, 1003, &[0x55; 300])));
    seq.push((Dir::S2C, send_data(Dir::S2C, 1004, &[7; 20])));
    seq.push((Dir::C2S, send_data(Dir::C2S, 1004, &[8; 12])));
    seq.push((Dir::S2C, vec![0x00, 0x05, 1, 2, 3]));
    seq.push((Dir::C2S, vec![0x44, 0x04, 9, 9]));
    seq
}

fn run(seq: &[(Dir, Vec<u8>)], step: usize) -> (PlainDecoder, Vec<Decoded>) {
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    for (dir, pdu) in seq {
        for chunk in pdu.chunks(step) {
            d.feed(*dir, chunk, &mut out);
        }
    }
    (d, out)
}

fn kinds(ev: &[Decoded]) -> Vec<String> {
    ev.iter()
        .map(|d| format!("{}:{}", d.dir, d.event.kind()))
        .collect()
}

#[test]
fn intercepted_sequence_names_every_channel() {
    let (d, out) = run(&plaintext_sequence(), usize::MAX);
    let k = kinds(&out);
    assert!(!k.iter().any(|x| x.ends_with("decode_error")), "{k:?}");
    assert_eq!(
        &k[..5],
        [
            "c2s:connect_initial",
            "s2c:connect_response",
            "c2s:erect_domain",
            "c2s:attach_user_request",
            "s2c:attach_user_confirm"
        ]
    );
    let joins: Vec<(u16, String)> = out
        .iter()
        .filter_map(|e| match &e.event {
            DecodeEvent::Mcs(McsEvent::ChannelJoinConfirm {
                channel_id,
                channel: Some(name),
                ..
            }) => Some((*channel_id, name.to_string())),
            _ => None,
        })
        .collect();
    let want = [
        (1008, "user"),
        (1003, "I/O"),
        (1004, "rdpdr"),
        (1005, "rdpsnd"),
        (1006, "cliprdr"),
        (1007, "drdynvc"),
    ];
    assert_eq!(joins, want.map(|(i, n)| (i, n.to_string())).to_vec());
    // The summary comes once, right before the client's first Send Data Request.
    assert_eq!(k[17], "c2s:channels_joined");
    // The fake I/O payloads reach the I/O channel decoder, which calls them malformed.
    assert_eq!(
        &k[18..],
        ["c2s:malformed_pdu", "s2c:malformed_pdu"],
        "{k:?}"
    );
    let DecodeEvent::Mcs(McsEvent::ChannelsJoined {
        joined,
        refused,
        not_requested,
        join_skipped,
    }) = &out[17].event
    else {
        panic!("{:?}", out[17]);
    };
    assert_eq!(joined.len(), 6);
    assert!(refused.is_empty() && not_requested.is_empty() && !join_skipped);
    assert_eq!(d.protection(), Some(Protection::Enhanced));
    assert_eq!(d.channels().user(), Some(1008));
}

#[test]
fn intercepted_sequence_counts_traffic() {
    let (d, _) = run(&plaintext_sequence(), usize::MAX);
    let st = d.stats();
    assert_eq!(st.c2s.io, Counter { pdus: 1, bytes: 6 });
    assert_eq!(
        st.s2c.io,
        Counter {
            pdus: 1,
            bytes: 300
        }
    );
    assert_eq!(st.s2c.virtual_channels, Counter { pdus: 1, bytes: 20 });
    assert_eq!(st.c2s.virtual_channels, Counter { pdus: 1, bytes: 12 });
    assert_eq!(st.s2c.fast_path, Counter { pdus: 1, bytes: 5 });
    assert_eq!(st.c2s.fast_path, Counter { pdus: 1, bytes: 4 });
    // Connect Initial, Erect Domain, Attach User, six joins, two Send Data.
    assert_eq!(st.c2s.slow_path.pdus, 11);
    let rdpdr = st
        .channel(&ChannelName::Virtual("rdpdr".into()))
        .expect("rdpdr counted");
    assert_eq!((rdpdr.id, rdpdr.c2s.bytes, rdpdr.s2c.bytes), (1004, 12, 20));
    assert_eq!(st.channel(&ChannelName::Io).map(|c| c.s2c.pdus), Some(1));
    assert_eq!(st.dir(Dir::S2C).io.pdus, 1);
}

#[test]
fn chunking_does_not_change_events_or_counters() {
    let seq = plaintext_sequence();
    let (whole_d, whole) = run(&seq, usize::MAX);
    for step in [1, 2, 3, 7, 64] {
        let (d, out) = run(&seq, step);
        assert_eq!(out, whole, "step {step}");
        assert_eq!(d.stats(), whole_d.stats(), "step {step}");
    }
    // After the connect PDUs, one chunk holding every later PDU of a direction.
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    for (dir, pdu) in &seq[..2] {
        d.feed(*dir, pdu, &mut out);
    }
    let all = |dir| -> Vec<u8> {
        seq[2..]
            .iter()
            .filter(|p| p.0 == dir)
            .flat_map(|p| p.1.clone())
            .collect()
    };
    d.feed(Dir::S2C, &all(Dir::S2C), &mut out);
    d.feed(Dir::C2S, &all(Dir::C2S), &mut out);
    assert!(!kinds(&out).iter().any(|k| k.ends_with("decode_error")));
    assert_eq!(d.stats(), whole_d.stats());
}

#[test]
fn every_prefix_of_every_pdu_is_safe() {
    let seq = plaintext_sequence();
    for cut_at in 0..seq.len() {
        let (dir, pdu) = &seq[cut_at];
        for cut in 0..pdu.len() {
            let mut d = PlainDecoder::new(Security::Enhanced);
            let mut out = Vec::new();
            for (dir, p) in &seq[..cut_at] {
                d.feed(*dir, p, &mut out);
            }
            d.feed(*dir, &pdu[..cut], &mut out);
            // A cut PDU is only waited for: nothing is reported for it yet.
            assert!(d.buffered() <= cut);
            assert!(!kinds(&out).iter().any(|k| k.ends_with("decode_error")));
        }
    }
}

#[test]
fn cut_pdus_inside_whole_frames_are_errors() {
    // A Channel Join Request cut short inside a well-formed TPKT frame.
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    d.start_at(Dir::C2S, 100);
    let first = in_tpkt(&connect_initial_pdu(&client_blocks()));
    d.feed(Dir::C2S, &first, &mut out);
    d.feed(Dir::C2S, &in_tpkt(&[0x38, 0x00, 0x07, 0x03]), &mut out);
    let Some(DecodeEvent::Error(e)) = out.last().map(|d| &d.event) else {
        panic!("{:?}", kinds(&out));
    };
    assert_eq!(e.layer, Layer::Mcs);
    assert_eq!(e.offset, 100 + first.len() as u64);
    assert!(e.reason.contains("Channel Join Request"), "{}", e.reason);
    assert!(d.finished(Dir::C2S) && !d.finished(Dir::S2C));
    // The stopped direction decodes nothing more and holds nothing.
    let n = out.len();
    d.feed(Dir::C2S, &in_tpkt(&[0x28]), &mut out);
    assert_eq!(out.len(), n);
    assert_eq!(d.buffered(), 0);
    d.feed(Dir::S2C, &in_tpkt(&[0x2e, 0x00, 0x00, 0x07]), &mut out);
    assert_eq!(out.len(), n + 1);
}

#[test]
fn plaintext_that_is_not_tpkt_stops_at_once() {
    // CredSSP (a DER SEQUENCE) where MCS was expected: refused, not read as fast-path.
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    d.feed(Dir::C2S, &[0x30, 0x82, 0x01, 0x00, 0xa0, 0x03], &mut out);
    assert!(matches!(&out[..], [Decoded { event: DecodeEvent::Error(e), .. }] if e.offset == 0));
    assert_eq!(d.stats().c2s.fast_path.pdus, 0);
    // A hostile TPKT length waits for at most one frame.
    let mut d = PlainDecoder::new(Security::Enhanced);
    d.feed(
        Dir::S2C,
        &[0x03, 0x00, 0xff, 0xff, 0x02, 0xf0, 0x80],
        &mut out,
    );
    d.feed(Dir::S2C, &vec![0u8; 70_000], &mut out);
    assert!(d.buffered() <= tpkt::MAX_TPKT);
}

#[test]
fn standard_security_protection_follows_the_server() {
    let cases = [
        ([0u8, 0, 0, 0, 0, 0, 0, 0], Protection::StandardClear),
        ([2, 0, 0, 0, 2, 0, 0, 0], Protection::StandardEncrypted),
        ([0x10, 0, 0, 0, 4, 0, 0, 0], Protection::StandardEncrypted),
    ];
    for (sec, want) in cases {
        let mut blocks = block(gcc::SC_CORE, &[4, 0, 8, 0]);
        blocks.extend(block(gcc::SC_SECURITY, &sec));
        blocks.extend(block(gcc::SC_NET, &[0xeb, 0x03, 0, 0]));
        let mut d = PlainDecoder::new(Security::Standard);
        let mut out = Vec::new();
        d.feed(
            Dir::S2C,
            &in_tpkt(&connect_response_with(0, &blocks)),
            &mut out,
        );
        assert_eq!(d.protection(), Some(want), "{sec:?}");
        // Under interception the same response means enhanced security.
        let mut d = PlainDecoder::new(Security::Enhanced);
        d.feed(
            Dir::S2C,
            &in_tpkt(&connect_response_with(0, &blocks)),
            &mut out,
        );
        assert_eq!(d.protection(), Some(Protection::Enhanced));
    }
    // No security data at all: assume the payloads are encrypted.
    let mut d = PlainDecoder::new(Security::Standard);
    let blocks = block(gcc::SC_NET, &[0xeb, 0x03, 0, 0]);
    d.feed(
        Dir::S2C,
        &in_tpkt(&connect_response_with(0, &blocks)),
        &mut Vec::new(),
    );
    assert_eq!(d.protection(), Some(Protection::StandardEncrypted));
}

#[test]
fn data_before_the_connect_response_is_counted_not_routed() {
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    d.feed(
        Dir::C2S,
        &in_tpkt(&connect_initial_pdu(&client_blocks())),
        &mut out,
    );
    d.feed(Dir::C2S, &send_data(Dir::C2S, 1003, &[1, 2, 3]), &mut out);
    assert_eq!(d.protection(), None);
    let st = d.stats();
    assert_eq!(st.c2s.io.pdus, 0);
    assert_eq!(st.c2s.other_channels, Counter { pdus: 1, bytes: 3 });
    assert!(st.channels.is_empty());
    // The response names the channels it assigns after the client's (rdpdr, rdpsnd).
    d.feed(
        Dir::S2C,
        &in_tpkt(&connect_response_with(0, &server_blocks())),
        &mut out,
    );
    let Some(DecodeEvent::Mcs(McsEvent::ConnectResponse { channels, .. })) =
        out.last().map(|d| &d.event)
    else {
        panic!("{:?}", kinds(&out));
    };
    let names: Vec<String> = channels
        .iter()
        .map(|c| c.name.as_ref().map(|n| n.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(names, ["rdpdr", "rdpsnd"]);
}

#[test]
fn refused_joins_and_disconnects_are_reported() {
    let mut d = PlainDecoder::new(Security::Enhanced);
    let mut out = Vec::new();
    d.feed(
        Dir::S2C,
        &in_tpkt(&[0x3c, 0x60, 0x00, 0x07, 0x03, 0xf5]),
        &mut out,
    );
    d.feed(Dir::S2C, &in_tpkt(&[0x21, 0x80]), &mut out);
    d.feed(
        Dir::S2C,
        &[0x03, 0x00, 0x00, 0x0b, 0x06, 0x80, 0, 0, 0, 0, 0],
        &mut out,
    );
    assert_eq!(
        kinds(&out),
        [
            "s2c:channel_join_confirm",
            "s2c:disconnect_provider_ultimatum",
            "s2c:disconnect_request"
        ]
    );
    assert!(matches!(
        &out[0].event,
        DecodeEvent::Mcs(McsEvent::ChannelJoinConfirm { result, channel: None, .. }) if *result == McsResult(3)
    ));
}

#[test]
fn random_bytes_after_a_valid_start_never_panic() {
    let mut x: u32 = 0x1357_9bdf;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let seq = plaintext_sequence();
    for _ in 0..300 {
        let mut d = PlainDecoder::new(Security::Standard);
        let mut out = Vec::new();
        for (dir, pdu) in &seq {
            let mut p = pdu.clone();
            // Corrupt one byte past the TPKT header now and then.
            if rnd() % 4 == 0 && p.len() > 4 {
                let i = 4 + rnd() as usize % (p.len() - 4);
                p[i] = rnd() as u8;
            }
            d.feed(*dir, &p, &mut out);
            assert!(d.buffered() <= 2 * tpkt::MAX_TPKT);
        }
    }
}
