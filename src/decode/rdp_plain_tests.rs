//! Tests for the MCS stream inside the direct-RDP decoder: the cleartext one of
//! standard RDP security, and the plaintext fed after rdptap terminated TLS.

use super::tests::{fixture, kinds, replay_with, units};
use super::*;
use crate::decode::mcs::{ChannelName, McsEvent, McsResult};
use crate::decode::pdu::Protection;
use crate::decode::plain::tests::plaintext_sequence;
use crate::decode::plain::Counter;

const NAMES: [(u16, &str); 6] = [
    (1008, "user"),
    (1003, "I/O"),
    (1004, "rdpdr"),
    (1005, "rdpsnd"),
    (1006, "cliprdr"),
    (1007, "drdynvc"),
];

#[test]
fn standard_security_capture_shows_the_domain_pdus() {
    let (d, ev) = replay_with("xrdp-rdp-security", 13);
    let k = kinds(&ev);
    assert!(!k.iter().any(|x| x.ends_with("decode_error")), "{k:?}");
    let user = ev.iter().find_map(|e| match &e.event {
        DecodeEvent::Mcs(McsEvent::AttachUserConfirm {
            result, user_id, ..
        }) if e.dir == Dir::S2C => Some((*result, *user_id)),
        _ => None,
    });
    assert_eq!(user, Some((McsResult::SUCCESSFUL, Some(1008))));
    let requests: Vec<(u16, String)> = ev
        .iter()
        .filter_map(|e| match &e.event {
            DecodeEvent::Mcs(McsEvent::ChannelJoinRequest {
                user_id: 1008,
                channel_id,
                channel: Some(c),
            }) => Some((*channel_id, c.to_string())),
            _ => None,
        })
        .collect();
    let want: Vec<(u16, String)> = NAMES.iter().map(|&(i, n)| (i, n.into())).collect();
    assert_eq!(requests, want);
    let confirms: Vec<(u16, String)> = ev
        .iter()
        .filter_map(|e| match &e.event {
            DecodeEvent::Mcs(McsEvent::ChannelJoinConfirm {
                result_code: 0,
                channel_id,
                channel: Some(c),
                ..
            }) => Some((*channel_id, c.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(confirms, want);
    // The summary comes once, from the client, after the last join confirm.
    let at = k
        .iter()
        .position(|x| x == "c2s:channels_joined")
        .expect("summary");
    assert_eq!(
        k.iter().filter(|x| x.ends_with("channels_joined")).count(),
        1
    );
    assert!(
        k[..at]
            .iter()
            .filter(|x| x.ends_with("channel_join_confirm"))
            .count()
            == 6
    );
    // The Connect Response names the static channels after the client's list.
    let named = ev.iter().find_map(|e| match &e.event {
        DecodeEvent::Mcs(McsEvent::ConnectResponse { channels, .. }) => Some(
            channels
                .iter()
                .map(|c| (c.id, c.name.clone()))
                .collect::<Vec<_>>(),
        ),
        _ => None,
    });
    let vcs: Vec<(u16, Option<ChannelName>)> = NAMES[2..]
        .iter()
        .map(|&(i, n)| (i, Some(ChannelName::Virtual(n.into()))))
        .collect();
    assert_eq!(named, Some(vcs));
    // xrdp's crypt_level=fips: only the Security Exchange is readable.
    assert_eq!(d.io_protection(), Some(Protection::StandardEncrypted));
}

#[test]
fn standard_security_capture_counters() {
    let (d, _) = replay_with("xrdp-rdp-security", 100);
    let st = d.plain_stats();
    // Client: Security Exchange, Client Info, licensing and the rest, all on I/O.
    assert_eq!(st.c2s.io.pdus, 8);
    assert_eq!(st.c2s.io.bytes, 272 + 344 + 160 + 552 + 40 + 3 * 48);
    assert_eq!(st.c2s.fast_path, Counter::default());
    assert_eq!(st.s2c.io.pdus, 7);
    assert_eq!(st.s2c.virtual_channels.pdus, 1);
    assert_eq!(st.s2c.fast_path.pdus, 3);
    assert_eq!(st.s2c.fast_path.bytes, 23 + 199 + 239);
    // CC excluded: Connect Response, Attach User Confirm, six joins, eight data PDUs.
    assert_eq!(st.s2c.slow_path.pdus, 16);
    let drdynvc = st.channel(&ChannelName::Virtual("drdynvc".into())).unwrap();
    assert_eq!(
        (drdynvc.id, drdynvc.s2c.pdus, drdynvc.c2s.pdus),
        (1007, 1, 0)
    );
    assert_eq!(
        st.dir(Dir::C2S).io,
        st.channel(&ChannelName::Io).unwrap().c2s
    );
}

#[test]
fn standard_security_capture_is_chunking_invariant() {
    let (whole_d, whole) = replay_with("xrdp-rdp-security", usize::MAX);
    for step in [1, 2, 5, 333] {
        let (d, ev) = replay_with("xrdp-rdp-security", step);
        assert_eq!(ev, whole, "step {step}");
        assert_eq!(d.plain_stats(), whole_d.plain_stats(), "step {step}");
    }
    // CR, CC, the connect PDUs, Erect Domain, Attach User, 12 joins and the summary,
    // then the licensing PDUs and Security Exchange in the clear until encryption starts.
    let k = kinds(&whole);
    assert_eq!(whole.len(), 24, "{k:?}");
    for want in [
        "c2s:security_exchange",
        "s2c:license",
        "c2s:encrypted_from_here",
    ] {
        assert!(k.iter().any(|x| x == want), "{want} missing: {k:?}");
    }
}

#[test]
fn standard_security_capture_cut_anywhere_is_safe() {
    let (c, s) = fixture("xrdp-rdp-security");
    for (cut_c2s, len) in [(true, c.len()), (false, s.len())] {
        for cut in 0..=len {
            let (cc, ss) = if cut_c2s {
                (&c[..cut], &s[..])
            } else {
                (&c[..], &s[..cut])
            };
            let (cu, su) = (units(cc), units(ss));
            let mut d = RdpDecoder::new();
            let mut out = Vec::new();
            for i in 0..cu.len().max(su.len()) {
                for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
                    if let Some(u) = u {
                        d.feed(dir, u, &mut out);
                    }
                }
            }
            // A stream that just ends is waited on, never an error.
            assert!(
                !kinds(&out).iter().any(|k| k.ends_with("decode_error")),
                "cut {cut}"
            );
            assert!(d.buffered() <= 2 * tpkt::MAX_TPKT);
        }
    }
}

/// A decoder past a TLS-selecting X.224 exchange (the TLS 1.2 capture's CR and CC).
fn past_negotiation() -> (RdpDecoder, Vec<Decoded>) {
    let (c, s) = fixture("xrdp-tls12-ok");
    let (cu, su) = (units(&c), units(&s));
    let mut d = RdpDecoder::new();
    let mut out = Vec::new();
    d.feed(Dir::C2S, cu[0], &mut out);
    d.feed(Dir::S2C, su[0], &mut out);
    (d, out)
}

#[test]
fn intercepted_plaintext_is_decoded() {
    let (mut d, mut out) = past_negotiation();
    // Plaintext before the interception is announced has nowhere to go.
    d.feed_plain(Dir::C2S, &plaintext_sequence()[0].1, &mut out);
    assert_eq!(out.len(), 2);
    d.tls_intercepted();
    assert!(!d.finished());
    for (dir, pdu) in plaintext_sequence() {
        d.feed_plain(dir, &pdu, &mut out);
    }
    let k = kinds(&out);
    assert!(!k.iter().any(|x| x.ends_with("decode_error")), "{k:?}");
    for want in [
        "c2s:connect_initial",
        "s2c:connect_response",
        "c2s:erect_domain",
        "s2c:attach_user_confirm",
        "c2s:channel_join_request",
        "s2c:channel_join_confirm",
        "c2s:channels_joined",
    ] {
        assert!(k.iter().any(|x| x == want), "{want} missing from {k:?}");
    }
    // The fake Send Data Request reached the I/O channel decoder.
    assert_eq!(d.io_protection(), Some(Protection::Enhanced));
    let st = d.plain_stats();
    assert_eq!(st.c2s.io, Counter { pdus: 1, bytes: 6 });
    assert_eq!(st.s2c.fast_path.pdus, 1);
    // A second call keeps the state.
    d.tls_intercepted();
    assert_eq!(d.plain_stats(), st);
}

#[test]
fn intercepted_plaintext_is_buffered_and_bounded() {
    let (mut d, mut out) = past_negotiation();
    d.tls_intercepted();
    let before = d.buffered();
    let first = &plaintext_sequence()[0].1;
    d.feed_plain(Dir::C2S, &first[..100], &mut out);
    assert_eq!(d.buffered(), before + 100);
    d.feed_plain(Dir::C2S, &first[100..], &mut out);
    assert_eq!(d.buffered(), before);
    // Garbage plaintext stops that direction with an error; the other goes on.
    d.feed_plain(Dir::S2C, b"HTTP/1.1 400 Bad Request\r\n", &mut out);
    assert!(matches!(
        out.last().map(|e| &e.event),
        Some(DecodeEvent::Error(DecodeError {
            layer: Layer::Mcs,
            ..
        }))
    ));
    let n = out.len();
    d.feed_plain(Dir::S2C, &plaintext_sequence()[1].1, &mut out);
    assert_eq!(out.len(), n);
    d.feed_plain(
        Dir::C2S,
        &[0x03, 0x00, 0x00, 0x08, 0x02, 0xf0, 0x80, 0x28],
        &mut out,
    );
    assert_eq!(kinds(&out[n..]), ["c2s:attach_user_request"]);
}
