//! Properties of reassembly over arbitrary segmentations, orders, retransmissions and
//! losses of one stream.

use crate::capfile::tcp::harness::{rebuild, Ev, Harness};
use crate::capfile::testkit::{ACK, FIN};
use crate::vocab::Dir::C2S;
use proptest::prelude::*;

/// A stream, a starting sequence number, and the segments to send as (offset, length) in
/// send order: every byte at least once, some twice (with the same bytes), shuffled.
fn scenario() -> impl Strategy<Value = (Vec<u8>, u32, Vec<(usize, usize)>)> {
    (
        proptest::collection::vec(any::<u8>(), 1..2000),
        any::<u32>(),
    )
        .prop_flat_map(|(data, isn)| {
            let len = data.len();
            let cuts = proptest::collection::vec(1..len.max(2), 0..12);
            let extra = proptest::collection::vec((0..len, 1..200usize), 0..6);
            (Just(data), Just(isn), cuts, extra)
        })
        .prop_flat_map(|(data, isn, mut cuts, extra)| {
            let len = data.len();
            cuts.push(0);
            cuts.push(len);
            cuts.sort_unstable();
            cuts.dedup();
            let mut segments: Vec<(usize, usize)> =
                cuts.windows(2).map(|w| (w[0], w[1] - w[0])).collect();
            segments.extend(extra.into_iter().map(|(at, n)| (at, n.min(len - at))));
            (Just(data), Just(isn), Just(segments).prop_shuffle())
        })
}

/// Sends the handshake, then `segments` of `data` from the client; with `fin`, every
/// segment that ends the stream carries FIN, wherever the shuffle put it.
fn replay(h: &mut Harness, data: &[u8], isn: u32, segments: &[(usize, usize)], fin: bool) {
    h.handshake(isn, 7);
    let base = isn.wrapping_add(1);
    for &(at, n) in segments {
        let flags = if fin && at + n == data.len() {
            FIN | ACK
        } else {
            ACK
        };
        h.c2s(base.wrapping_add(at as u32), 8, flags, &data[at..at + n]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_segmentation_order_and_retransmission_rebuilds_the_stream((data, isn, segments) in scenario()) {
        let mut h = Harness::new();
        replay(&mut h, &data, isn, &segments, true);
        h.finish();
        let events = h.take();
        let stream = rebuild(&events, 0, C2S);
        prop_assert_eq!(stream, data.iter().map(|b| Some(*b)).collect::<Vec<_>>());
        let conflicts = events.iter().filter(|e| matches!(e, Ev::Conflict { .. })).count();
        prop_assert_eq!(conflicts, 0);
        let fin = Ev::Fin { id: 0, dir: C2S, bytes: data.len() as u64 };
        prop_assert!(events.contains(&fin), "no FIN at the end");
        prop_assert_eq!(h.r.buffered_bytes(), 0);
    }

    #[test]
    fn with_losses_data_and_gaps_tile_the_stream_and_data_is_true(
        (data, isn, segments) in scenario(),
        keep in proptest::collection::vec(any::<bool>(), 20),
        acks in any::<bool>(),
    ) {
        let mut h = Harness::new();
        let kept: Vec<(usize, usize)> = segments.iter().enumerate().filter(|(i, _)| keep[i % keep.len()]).map(|(_, s)| *s).collect();
        replay(&mut h, &data, isn, &kept, false);
        if acks {
            // The receiver acknowledges everything, proving every hole lost.
            h.s2c(8, isn.wrapping_add(1).wrapping_add(data.len() as u32), ACK, b"");
        }
        h.finish();
        let events = h.take();
        let stream = rebuild(&events, 0, C2S);
        let covered = kept.iter().map(|(at, n)| at + n).max().unwrap_or(0);
        let expect_len = if acks { data.len() } else { covered };
        prop_assert_eq!(stream.len(), expect_len);
        for (i, byte) in stream.iter().enumerate() {
            if let Some(b) = byte {
                prop_assert_eq!(*b, data[i]);
            }
        }
        prop_assert_eq!(h.r.buffered_bytes(), 0);
    }
}

/// One arbitrary segment: direction, sequence and acknowledgment near the handshake's,
/// flags, payload length and how much of it the capture kept.
fn hostile_segment() -> impl Strategy<Value = (bool, u32, u32, u8, usize, usize)> {
    (
        any::<bool>(),
        0u32..4000,
        0u32..4000,
        any::<u8>(),
        0usize..300,
        0usize..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_segments_never_panic_and_memory_comes_back(
        segments in proptest::collection::vec(hostile_segment(), 0..60),
        base in prop_oneof![Just(0u32), Just(u32::MAX - 1000), any::<u32>()],
        syn_first in any::<bool>(),
    ) {
        let cfg = crate::capfile::tcp::ReassemblyConfig {
            max_buffered_per_dir: 1000,
            max_buffered_total: 1500,
            history_per_dir: 100,
            max_history_total: 250,
            max_open_connections: 2,
            ..Default::default()
        };
        let mut h = Harness::with(cfg);
        if syn_first {
            h.handshake(base, base.wrapping_add(50_000));
        }
        let payload = [0x5au8; 300];
        for (i, (to_server, seq, ack, flags, len, kept)) in segments.into_iter().enumerate() {
            if i % 17 == 16 {
                h.client.set_port(h.client.port().wrapping_add(1));
            }
            let dir = if to_server { C2S } else { crate::vocab::Dir::S2C };
            let (seq, ack) = if to_server {
                (base.wrapping_add(seq), base.wrapping_add(50_000).wrapping_add(ack))
            } else {
                (base.wrapping_add(50_000).wrapping_add(seq), base.wrapping_add(ack))
            };
            h.send(dir, seq, ack, flags & 0x1f, &payload[..kept.min(len)], len as u32);
        }
        h.finish();
        let events = h.take();
        let mut open = std::collections::HashSet::new();
        for e in &events {
            match e {
                Ev::Opened { id, .. } => prop_assert!(open.insert(*id)),
                Ev::Ended { id, .. } => prop_assert!(open.remove(id)),
                _ => {}
            }
        }
        prop_assert!(open.is_empty(), "every connection ends");
        let ids: std::collections::HashSet<u64> = events.iter().filter_map(|e| match e {
            Ev::Opened { id, .. } => Some(*id),
            _ => None,
        }).collect();
        for id in ids {
            for dir in [C2S, crate::vocab::Dir::S2C] {
                rebuild(&events, id, dir);
            }
        }
        prop_assert_eq!(h.r.held_bytes(), 0);
    }
}
